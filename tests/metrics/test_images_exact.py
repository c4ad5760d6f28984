"""image_report, fetch_classifier, class_histogram and _rows against exact expectations.

No network and no MNIST: the "classifier" is an identity body on 2-D "images" (so its features
are the images themselves) and the target is a small stand-in with named splits. What each
report entry must equal is computed here from the documented recipe: a reference of n real
images drawn with the generator, a disjoint second set of n for ``fd_real``, at most
``max_memo`` samples and held-out images (also drawn with the generator) for memorisation.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from pushforward.errors import DataError
from pushforward.metrics import images
from pushforward.metrics.images import (
    CLASSIFIERS,
    Classifier,
    class_histogram,
    classifier_path,
    fetch_classifier,
    frechet_distance,
    image_report,
    nearest_distances,
)
from pushforward.metrics.precision_recall import density_coverage, precision_recall
from tests.generators import gen


class Splits:
    """An image-distribution stand-in: named splits of images `[m, d]`, one of them its own."""

    def __init__(self, data: dict[str, torch.Tensor], split: str) -> None:
        self.data, self.split = data, split
        self.splits = tuple(data)
        self.images = data[split]

    def tensors(self, split: str | None = None):
        x = self.data[split or self.split]  # an unknown split is a KeyError, as the real check
        return x, torch.zeros(len(x), dtype=torch.long)


def identity_classifier(name: str = "digits", dim: int = 2) -> Classifier:
    """Features = the images; a fixed head whose argmax splits the plane into classes."""
    model = Classifier(nn.Identity(), dim, name)
    with torch.no_grad():
        model.head.weight.copy_(torch.randn(10, dim, generator=gen(99)))
        model.head.bias.zero_()
    model.test_accuracy = 0.5
    return model.eval()


def points(n: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    return torch.randn(n, 2, generator=gen(seed)) + shift


def expected_memorisation(samples, train, held, seed, n_reference, max_memo):
    """(sample distances, held-out distances) to `train`, drawing as the report does."""
    g = gen(seed)
    torch.randperm(n_reference, generator=g)  # the reference draw comes first

    def rows(x):
        return x if len(x) <= max_memo else x[torch.randperm(len(x), generator=g)[:max_memo]]

    dist = nearest_distances(rows(samples), train)
    return dist, (None if held is None else nearest_distances(rows(held), train))


def test_image_report_fd_uses_n_drawn_reference_images_and_fd_real_the_next_n_of_them():
    """mnist's reference is its test split: fd against perm[:n], fd_real perm[n:2n] against it."""
    data = {"train": points(40, 1), "test": points(35, 2, 0.3)}
    target, model = Splits(data, "train"), identity_classifier("mnist")
    samples = points(10, 3, 1.0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(12345)  # a global draw in place of the generator's would differ
        report = image_report(samples, model, target, generator=gen(7), k=3)
    perm = torch.randperm(35, generator=gen(7))
    real, other = data["test"][perm[:10]], data["test"][perm[10:20]]
    assert report["fd"] == pytest.approx(frechet_distance(samples, real), rel=1e-9)
    assert report["fd_real"] == pytest.approx(frechet_distance(other, real), rel=1e-9)
    assert report["classifier_accuracy"] == 0.5


def test_image_report_without_a_generator_draws_as_a_generator_seeded_with_0():
    data = {"all": points(30, 1), "train": points(20, 2, 0.5), "test": points(25, 4, -0.5)}
    target, model = Splits(data, "train"), identity_classifier("digits")
    samples = points(12, 3, 1.0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(4321)
        default = image_report(samples, model, target, max_memo=5, k=3)
    seeded = image_report(samples, model, target, generator=gen(0), max_memo=5, k=3)
    assert default == seeded
    other = image_report(samples, model, target, generator=gen(1), max_memo=5, k=3)
    assert other["fd"] != seeded["fd"]  # the generator does choose the reference


def test_image_report_has_fd_real_exactly_when_the_reference_holds_two_disjoint_sets_of_n():
    samples, model = points(8, 3, 1.0), identity_classifier("digits")
    enough = Splits({"all": points(16, 1), "train": points(10, 2)}, "train")
    short = Splits({"all": points(15, 1), "train": points(10, 2)}, "train")
    assert "fd_real" in image_report(samples, model, enough, generator=gen(0), k=3)
    assert "fd_real" not in image_report(samples, model, short, generator=gen(0), k=3)


def test_image_report_defaults_are_10000_reference_images_and_1000_memorisation_samples():
    """n = 10 001 samples: the reference has 10 000 (so 20 000 images suffice for fd_real) and
    the memorisation check uses 1000 of the samples."""
    data = {"all": points(20_000, 1), "train": points(50, 2), "test": points(40, 4)}
    target, model = Splits(data, "train"), identity_classifier("digits")
    samples = points(10_001, 3, 0.2)
    report = image_report(samples, model, target, generator=gen(5), k=20_000)
    assert "fd_real" in report
    explicit = image_report(samples, model, target, generator=gen(5), k=20_000, max_real=10_000,
                            max_memo=1000)  # fmt: skip
    assert report == explicit
    dist, _ = expected_memorisation(samples, data["train"], None, 5, 20_000, 1000)
    assert report["nn_train_dist_mean"] == pytest.approx(float(dist.mean()), rel=1e-6)


def test_image_report_feature_support_metrics_use_k_neighbours_with_k_5_by_default():
    data = {"all": points(30, 1), "train": points(20, 2)}
    target, model = Splits(data, "train"), identity_classifier("digits")
    samples = points(20, 3, 0.4)
    real = data["all"][torch.randperm(30, generator=gen(2))[:20]]
    for k, kwargs in ((3, {"k": 3}), (5, {})):
        report = image_report(samples, model, target, generator=gen(2), **kwargs)
        pr, dc = precision_recall(real, samples, k=k), density_coverage(real, samples, k=k)
        assert {key: report[f"feat_{key}"] for key in ("precision", "recall")} == pr
        assert {key: report[f"feat_{key}"] for key in ("density", "coverage")} == dc
    assert image_report(samples, model, target, generator=gen(2), k=6) != report


def test_image_report_skips_feature_support_metrics_unless_samples_and_reference_exceed_k():
    target = Splits({"all": points(30, 1), "train": points(20, 2)}, "train")
    model = identity_classifier("digits")
    keys = {"feat_precision", "feat_recall", "feat_density", "feat_coverage"}
    assert keys <= set(image_report(points(5, 3), model, target, generator=gen(0), k=4))
    assert not keys & set(image_report(points(4, 3), model, target, generator=gen(0), k=4))
    few_real = image_report(points(9, 3), model, target, generator=gen(0), k=4, max_real=4)
    assert not keys & set(few_real)


def test_image_report_memorisation_compares_with_the_test_split_when_there_is_one():
    """Splits train / val / test, trained on train: the held-out baseline is test, not val;
    samples and held-out images are subsampled to max_memo with the generator."""
    data = {"train": points(30, 1), "val": points(12, 2, 3.0), "test": points(14, 4, 0.5)}
    target, model = Splits(data, "train"), identity_classifier("mnist")
    samples = points(9, 3, 0.2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(777)
        report = image_report(samples, model, target, generator=gen(6), max_memo=5, k=3)
    dist, base = expected_memorisation(samples, data["train"], data["test"], 6, 14, 5)
    assert report["nn_train_dist_mean"] == pytest.approx(float(dist.mean()), rel=1e-6)
    ratio = float(dist.mean() / base.mean())
    assert report["nn_train_dist_ratio"] == pytest.approx(ratio, rel=1e-6)
    share = float((dist < torch.quantile(base, 0.05)).double().mean())
    assert report["near_copy_share"] == share


def test_image_report_memorisation_baseline_is_the_first_held_out_split_other_than_all():
    """Splits all / train / val (no test), trained on train: the baseline is val; "all" (which
    contains the training images) is never a held-out split."""
    data = {"all": points(40, 1), "train": points(30, 2), "val": points(12, 4, 2.0)}
    target, model = Splits(data, "train"), identity_classifier("digits")
    samples = points(9, 3, 0.2)
    report = image_report(samples, model, target, generator=gen(6), max_memo=20, k=3)
    dist, base = expected_memorisation(samples, data["train"], data["val"], 6, 40, 20)
    ratio = float(dist.mean() / base.mean())
    assert report["nn_train_dist_ratio"] == pytest.approx(ratio, rel=1e-6)


def test_image_report_has_no_memorisation_ratio_for_a_model_trained_on_all_images():
    data = {"all": points(40, 1), "train": points(30, 2), "test": points(10, 4)}
    report = image_report(points(9, 3), identity_classifier("digits"), Splits(data, "all"),
                          generator=gen(0), k=3)  # fmt: skip
    assert "nn_train_dist_mean" in report
    assert "nn_train_dist_ratio" not in report and "near_copy_share" not in report


def test_near_copy_share_counts_only_samples_strictly_closer_than_the_held_out_5_percent_quantile():
    """Every held-out image and every sample is exactly 1 from the one training image, so the
    threshold is 1 and no sample is strictly closer."""
    train = torch.tensor([[0.0, 0.0]])
    held = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    data = {"all": torch.cat([train, held]), "train": train, "test": held}
    samples = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.0, -1.0]])
    report = image_report(samples, identity_classifier("mnist"), Splits(data, "train"),
                          generator=gen(0), k=3)  # fmt: skip
    assert report["nn_train_dist_ratio"] == 1.0
    assert report["near_copy_share"] == 0.0


@pytest.fixture
def tiny_digits(tmp_path, monkeypatch):
    """The digits recipe on 40 random 8x8 "images" for 2 epochs; the default cache is empty."""
    g = gen(0)
    fake = (torch.rand(40, 64, generator=g), torch.arange(40) % 10,
            torch.rand(20, 64, generator=g), torch.arange(20) % 10)  # fmt: skip
    spec = dataclasses.replace(CLASSIFIERS["digits"], data=lambda root: fake, epochs=2)
    monkeypatch.setitem(CLASSIFIERS, "digits", spec)
    monkeypatch.setenv("PUSHFORWARD_CACHE", str(tmp_path / "default-cache"))
    return tmp_path / "root"


def test_fetch_classifier_trains_into_root_and_reports_each_epoch_when_absent(tiny_digits, capsys):
    path = fetch_classifier("digits", tiny_digits)
    assert path == classifier_path("digits", tiny_digits) and path.exists()
    assert not (tiny_digits.parent / "default-cache").exists()
    err = capsys.readouterr().err
    assert "digits classifier: epoch 1/2" in err and "digits classifier: epoch 2/2" in err


def test_fetch_classifier_verifies_the_copy_in_root_and_retrains_only_when_forced(
    tiny_digits, capsys
):
    path = fetch_classifier("digits", tiny_digits)
    capsys.readouterr()
    assert fetch_classifier("digits", tiny_digits) == path  # verified in root, not retrained
    assert "epoch" not in capsys.readouterr().err
    assert fetch_classifier("digits", tiny_digits, force=True) == path
    assert "digits classifier: epoch 2/2" in capsys.readouterr().err
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    with pytest.raises(DataError, match="does not match the recorded"):
        fetch_classifier("digits", tiny_digits)


def test_class_histogram_has_n_classes_entries_and_refuses_no_labels():
    assert class_histogram(torch.tensor([1])) == [0.0, 1.0] + [0.0] * 8
    assert class_histogram(torch.tensor([0, 1, 1, 2]), n_classes=4) == [0.25, 0.5, 0.25, 0.0]
    with pytest.raises(ValueError, match="^class_histogram needs at least one label$"):
        class_histogram(torch.tensor([], dtype=torch.long))


def test_rows_keeps_up_to_max_n_rows_in_order_and_draws_larger_sets_from_the_generator():
    x = torch.arange(12.0).reshape(6, 2)
    g = gen(3)
    assert torch.equal(images._rows(x, 6, g), x)
    assert torch.equal(g.get_state(), gen(3).get_state())  # nothing drawn
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        picked = images._rows(x, 4, gen(3))
    assert torch.equal(picked, x[torch.randperm(6, generator=gen(3))[:4]])


def test_image_report_clamps_samples_into_the_pixel_range_for_fd_clamped():
    """fd_clamped is the FD of the samples clamped into [0, 1] against the same reference,
    out_of_range_share the share of values outside; in-range samples give fd_clamped == fd."""
    data = {"train": points(40, 1).sigmoid(), "test": points(35, 2).sigmoid()}
    target, model = Splits(data, "train"), identity_classifier("mnist")
    inside = points(10, 3).sigmoid()
    report = image_report(inside, model, target, generator=gen(7), k=3)
    assert report["out_of_range_share"] == 0.0
    assert report["fd_clamped"] == report["fd"]
    samples = torch.tensor([[-0.5, 0.2], [0.3, 1.5], [0.1, 0.9], [2.0, -1.0], [0.4, 0.6]])
    report = image_report(samples, model, target, generator=gen(7), k=3)
    real = data["test"][torch.randperm(35, generator=gen(7))[:5]]
    assert report["out_of_range_share"] == pytest.approx(4 / 10)
    assert report["fd"] == pytest.approx(frechet_distance(samples, real), rel=1e-9)
    clamped = frechet_distance(samples.clamp(0, 1), real)
    assert report["fd_clamped"] == pytest.approx(clamped, rel=1e-9)
    assert report["fd_clamped"] != pytest.approx(report["fd"])


def test_out_of_range_share_ignores_float_rounding_of_a_clamped_sampler():
    """A value beyond [0, 1] by float32 rounding (1.2e-7) is not out of range; by 1e-4 it is."""
    data = {"train": points(40, 1).sigmoid(), "test": points(35, 2).sigmoid()}
    target, model = Splits(data, "train"), identity_classifier("mnist")
    samples = points(10, 3).sigmoid()
    samples[0, 0], samples[1, 1] = 1.0 + 1.2e-7, -1.2e-7
    report = image_report(samples, model, target, generator=gen(7), k=3)
    assert report["out_of_range_share"] == 0.0
    samples[2, 0] = 1.0 + 1e-4
    report = image_report(samples, model, target, generator=gen(7), k=3)
    assert report["out_of_range_share"] == pytest.approx(1 / 20)


def test_classifier_confidence_and_score_closed_forms():
    # uniform predictions: confidence 1/C, score 1; one-hot and balanced: confidence 1, score C
    assert images.classifier_confidence(torch.zeros(7, 10)) == pytest.approx(
        {"class_confidence": 0.1, "classifier_score": 1.0}
    )
    sharp = 50.0 * torch.eye(10).repeat(3, 1)  # [30, 10], every class three times
    assert images.classifier_confidence(sharp) == pytest.approx(
        {"class_confidence": 1.0, "classifier_score": 10.0}, rel=1e-6
    )
    one_class = 50.0 * torch.eye(10)[[4] * 6]  # confident but all one digit: score 1
    assert images.classifier_confidence(one_class)["classifier_score"] == pytest.approx(1.0)
    # two samples, p = (0.75, 0.25) and (0.25, 0.75): the marginal is (0.5, 0.5)
    logits = torch.log(torch.tensor([[0.75, 0.25], [0.25, 0.75]]))
    kl = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    got = images.classifier_confidence(logits)
    assert got["class_confidence"] == pytest.approx(0.75)
    assert got["classifier_score"] == pytest.approx(math.exp(kl))


def test_image_report_confidence_is_that_of_the_head_on_samples_and_reference():
    data = {"train": points(40, 1), "test": points(35, 2, 0.3)}
    target, model = Splits(data, "train"), identity_classifier("mnist")
    samples = points(10, 3, 1.0)
    report = image_report(samples, model, target, generator=gen(7), k=3)
    real = data["test"][torch.randperm(35, generator=gen(7))[:10]]
    with torch.no_grad():
        want = images.classifier_confidence(model.head(samples))
        want_real = images.classifier_confidence(model.head(real))["class_confidence"]
    assert report["class_confidence"] == pytest.approx(want["class_confidence"])
    assert report["classifier_score"] == pytest.approx(want["classifier_score"])
    assert report["class_confidence_real"] == pytest.approx(want_real)
