"""Image metrics: the cached classifier (checksum, retrain), FD, class entropy, memorisation."""

from __future__ import annotations

import json
import math

import pytest
import torch

from pushforward.data import make_distribution
from pushforward.errors import ConfigError, DataError
from pushforward.metrics.images import (
    accuracy,
    class_entropy,
    class_histogram,
    classifier_features,
    classifier_path,
    fetch_classifier,
    frechet_distance,
    image_report,
    load_classifier,
    nearest_distances,
    predict,
    train_classifier,
)
from tests.generators import gen


@pytest.fixture(scope="module")
def digits_cache(tmp_path_factory):
    """A cache folder holding a digits classifier trained for a few epochs (about a second)."""
    root = tmp_path_factory.mktemp("cache")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny MLP: one thread is fastest on a busy machine
    try:
        train_classifier("digits", root, epochs=6)
    finally:
        torch.set_num_threads(threads)
    return root


def test_fetch_classifier_verifies_a_cached_one(digits_cache):
    path = classifier_path("digits", digits_cache)
    before = path.stat().st_mtime_ns
    assert fetch_classifier("digits", digits_cache) == path
    assert path.stat().st_mtime_ns == before  # verified, not retrained


def test_class_entropy_closed_forms():
    assert class_entropy(class_histogram(torch.full((50,), 3))) == 0.0
    assert class_entropy(class_histogram(torch.arange(10).repeat(7))) == pytest.approx(math.log(10))
    assert class_entropy([0.5, 0.5, 0.0]) == pytest.approx(math.log(2))
    hist = class_histogram(torch.tensor([0, 0, 1, 9]))
    assert len(hist) == 10 and hist[0] == 0.5 and hist[9] == 0.25 and sum(hist) == 1.0


def test_nearest_distances_match_brute_force():
    x, ref = torch.randn(37, 5, generator=gen(0)), torch.randn(90, 5, generator=gen(1))
    expected = torch.cdist(x, ref).min(1).values
    assert torch.allclose(nearest_distances(x, ref, chunk=8), expected, atol=1e-4)
    assert torch.allclose(nearest_distances(ref[:10], ref), torch.zeros(10), atol=1e-3)


def test_digits_classifier_fd_halves_small_noise_large(digits_cache):
    model = load_classifier("digits", digits_cache)
    assert model.test_accuracy > 0.85
    x, y = make_distribution("digits").tensors("all")
    perm = torch.randperm(len(x), generator=gen(0))
    a, b = x[perm[:800]], x[perm[800:1600]]
    noise = torch.rand(800, 64, generator=gen(1))
    fa, fb, fn = (classifier_features(model, s) for s in (a, b, noise))
    assert fa.shape == (800, 32)
    halves, to_noise = frechet_distance(fa, fb), frechet_distance(fa, fn)
    assert to_noise > 20 * halves
    assert (predict(model, x[:300]) == y[:300]).double().mean() > 0.85


def test_image_report_one_class_and_memorisation(digits_cache):
    model = load_classifier("digits", digits_cache)
    train = make_distribution("digits", split="train")
    copies = train.sample(300, gen(2))  # samples that copy the training set
    report = image_report(copies, model, train, generator=gen(0))
    assert report["nn_train_dist_mean"] == pytest.approx(0.0, abs=1e-3)
    assert report["nn_train_dist_ratio"] < 0.01 and report["near_copy_share"] == 1.0
    assert report["feat_precision"] > 0.8 and 0 <= report["class_tv"] < 0.2
    assert report["class_entropy"] > 2.0 and report["classifier_accuracy"] > 0.85
    one = make_distribution("digits", classes=[7])
    sevens = one.sample(200, gen(3))
    report = image_report(sevens, model, one, generator=gen(0))
    assert report["class_entropy"] < 0.3 and report["class_hist/7"] > 0.9


def test_mnist_cnn_trains_on_fake_images_and_round_trips(tmp_path):
    x = torch.rand(64, 784, generator=gen(0))
    y = torch.arange(64) % 10
    path = train_classifier("mnist", tmp_path, data=(x, y, x[:20], y[:20]), epochs=1)
    sidecar = json.loads(path.with_suffix(".json").read_text())
    model = load_classifier("mnist", tmp_path)
    assert sidecar["n_train"] == 64
    assert sidecar["test_accuracy"] == accuracy(model, x[:20], y[:20])  # what the model scores
    assert classifier_features(model, x[:5]).shape == (5, 64)
    # same seed, same weights: training twice writes the same file
    first = path.read_bytes()
    train_classifier("mnist", tmp_path, data=(x, y, x[:20], y[:20]), epochs=1)
    assert path.read_bytes() == first


def test_checksum_mismatch_says_how_to_retrain(tmp_path):
    x, y = make_distribution("digits", split="train").tensors()
    path = train_classifier("digits", tmp_path, data=(x[:100], y[:100], x[:20], y[:20]), epochs=1)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="does not match.*pushforward data fetch digits-classifier"):
        load_classifier("digits", tmp_path)
    path.with_suffix(".json").unlink()
    with pytest.raises(DataError, match="missing or corrupt"):
        load_classifier("digits", tmp_path)
    path.unlink()
    with pytest.raises(DataError, match="not in the cache"):
        load_classifier("digits", tmp_path)
    assert classifier_path("digits", tmp_path) == path


def test_unknown_classifier_lists_the_known_ones(tmp_path):
    with pytest.raises(ConfigError, match="mnist, digits"):
        load_classifier("fashion", tmp_path)


@pytest.mark.slow
def test_mnist_fd_halves_small_noise_large():
    """On the real cached MNIST classifier (`pushforward data fetch mnist-classifier`)."""
    try:
        model = load_classifier("mnist")
        test_x, _ = make_distribution("mnist", split="test").tensors()
    except DataError as e:
        pytest.skip(str(e))
    assert model.test_accuracy > 0.97
    perm = torch.randperm(len(test_x), generator=gen(0))  # MNIST test's first half is easier
    fa = classifier_features(model, test_x[perm[:5000]])
    fb = classifier_features(model, test_x[perm[5000:]])
    fn = classifier_features(model, torch.rand(5000, 784, generator=gen(1)))
    assert frechet_distance(fn, fa) > 100 * frechet_distance(fa, fb)
