"""The MNIST classifier's data: train and test splits read from a (fake, small) cached mnist.npz."""

import json

import numpy as np
import torch

from pushforward.data import cache
from pushforward.data.cache import sha256_file
from pushforward.metrics.images import _mnist_data

SMALL = {"train": 5, "val": 3, "test": 4}


def _fake_cache(root, monkeypatch):
    """mnist.npz + sidecar; each split's pixels and labels set apart (train 1, val 2, test 3)."""
    monkeypatch.setattr(cache, "MNIST_SPLITS", SMALL)
    arrays = {}
    for label, (split, n) in enumerate(SMALL.items(), start=1):
        pixels = np.arange(n * 784, dtype=np.float32).reshape(n, 784) / (n * 784)
        arrays[f"{split}_x"] = (pixels + label) / 4  # in [0, 1): (label + [0, 1)) / 4
        arrays[f"{split}_y"] = np.full(n, label, dtype=np.int64)
    np.savez(root / "mnist.npz", **arrays)
    sidecar = {"sha256": sha256_file(root / "mnist.npz")}
    (root / "mnist.json").write_text(json.dumps(sidecar))
    return arrays


def test_mnist_data_returns_train_and_test_tensors_from_the_cache(tmp_path, monkeypatch):
    arrays = _fake_cache(tmp_path, monkeypatch)
    train_x, train_y, test_x, test_y = _mnist_data(tmp_path)
    assert train_x.shape == (5, 784) and test_x.shape == (4, 784)
    assert train_x.dtype == test_x.dtype == torch.float32
    assert train_y.dtype == test_y.dtype == torch.int64
    assert train_y.tolist() == [1] * 5 and test_y.tolist() == [3] * 4  # not the val split (2)
    assert torch.equal(train_x, torch.from_numpy(arrays["train_x"]))
    assert torch.equal(test_x, torch.from_numpy(arrays["test_x"]))
