"""Image metrics: a small classifier trained once, its feature space, and what it says of samples.

Pixel distances say little about whether a generated digit looks like a digit, so image
samples are compared in the feature space of a small classifier trained once on the real data
(as FID uses Inception, scaled down to MNIST):

* :func:`fetch_classifier` trains the classifier of a data set once (``"mnist"``: a two-layer
  CNN, about a minute on two CPU cores; ``"digits"``: an MLP, a second) and caches it in the
  data cache as ``NAME-classifier.safetensors`` with a sidecar ``NAME-classifier.json`` that
  holds its sha256 and its test accuracy: an explicit step (`pushforward data fetch
  NAME-classifier`, or the evaluation stage before it computes image metrics), never a side
  effect of a metric. :func:`load_classifier` loads it and verifies the checksum; a missing or
  mismatching file is a :class:`~pushforward.errors.DataError` saying how to (re)train.
* :func:`classifier_features` is the penultimate layer `[n, k]`; :func:`frechet_distance` in it
  is the "FD" of :func:`image_report`.
* :func:`class_histogram` / :func:`class_entropy`: predicted-class shares and their entropy
  (ln 10 ≈ 2.303 for a perfectly balanced set, 0 when every sample is one digit: mode collapse).
* :func:`classifier_confidence`: mean top-class probability (does each sample look like a
  digit) and the classifier score, the Inception Score computed with our classifier.
* :func:`nearest_distances`: distance of each sample to its nearest training image, the
  memorisation check (a model that copies its training set has distances far below those of
  held-out real images).

References:
    Heusel, Ramsauer, Unterthiner, Nessler, Hochreiter (2017). GANs Trained by a Two Time-Scale
    Update Rule Converge to a Local Nash Equilibrium. arXiv:1706.08500.
    Salimans, Goodfellow, Zaremba, Cheung, Radford, Chen (2016). Improved Techniques for
    Training GANs. arXiv:1606.03498 (the Inception Score).

Example:
    >>> from pushforward.data import make_distribution
    >>> from pushforward.metrics.images import fetch_classifier, load_classifier, image_report
    >>> import tempfile
    >>> cache = tempfile.mkdtemp()  # the data cache by default
    >>> path = fetch_classifier("digits", cache)  # trains (~1 s) and caches once
    >>> clf = load_classifier("digits", cache)
    >>> real = make_distribution("digits")
    >>> x = real.sample(500, torch.Generator().manual_seed(0))
    >>> image_report(x, clf, real)["class_entropy"] > 2.0
    True
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import Tensor, nn

from pushforward.data.cache import cache_dir, sha256_file
from pushforward.errors import ConfigError, DataError, suggest
from pushforward.metrics.frechet import frechet_distance
from pushforward.metrics.pairwise import row_blocks
from pushforward.metrics.precision_recall import density_coverage, precision_recall
from pushforward.run.files import atomic_write

__all__ = [
    "CLASSIFIERS",
    "Classifier",
    "classifier_path",
    "train_classifier",
    "fetch_classifier",
    "load_classifier",
    "classifier_features",
    "predict",
    "accuracy",
    "class_histogram",
    "class_entropy",
    "classifier_confidence",
    "nearest_distances",
    "image_report",
]

N_CLASSES = 10
PIXEL_RANGE = (0.0, 1.0)  # every image data set's pixels (mnist, digits / 16)
RANGE_TOLERANCE = 1e-5  # out of range means further out than float32 rounding of a clamped value


class Classifier(nn.Module):
    """`body` (images `[n, d]` → features `[n, k]`, the penultimate layer) then a linear `head`."""

    def __init__(self, body: nn.Module, features: int, name: str) -> None:
        super().__init__()
        self.body, self.head, self.name = body, nn.Linear(features, N_CLASSES), name
        self.test_accuracy: float = math.nan

    def features(self, x: Tensor) -> Tensor:
        """Penultimate-layer features `[n, k]` of flattened images `x [n, d]`."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        """Class logits `[n, 10]` of flattened images `x [n, d]`."""
        return self.head(self.body(x))


def _mnist_body() -> tuple[nn.Module, int]:
    """Two 5x5 conv layers (16, 32 channels, ReLU, 2x2 max-pool) and a 64-unit ReLU layer."""
    body = nn.Sequential(
        nn.Unflatten(1, (1, 28, 28)),
        nn.Conv2d(1, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 16 x 12 x 12
        nn.Conv2d(16, 32, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 32 x 4 x 4
        nn.Flatten(),
        nn.Linear(512, 64),
        nn.ReLU(),
    )
    return body, 64


def _digits_body() -> tuple[nn.Module, int]:
    """An MLP 64 → 128 → 32 with ReLU (8x8 images are too small for convolutions to pay)."""
    body = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 32), nn.ReLU())
    return body, 32


def _mnist_data(root: Path | None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    from pushforward.data.cache import load_mnist

    a = load_mnist(root)
    return tuple(torch.from_numpy(a[k]) for k in ("train_x", "train_y", "test_x", "test_y"))


def _digits_data(root: Path | None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    from pushforward.data import make_distribution

    digits = make_distribution("digits")
    return (*digits.tensors("train"), *digits.tensors("test"))


@dataclass(frozen=True)
class ClassifierSpec:
    """How to build and train the classifier of one image data set."""

    build: Callable[[], tuple[nn.Module, int]]
    data: Callable[[Path | None], tuple[Tensor, Tensor, Tensor, Tensor]]
    epochs: int
    batch_size: int
    lr: float
    reference_split: str  # real images the samples are compared with
    description: str


CLASSIFIERS: dict[str, ClassifierSpec] = {
    "mnist": ClassifierSpec(
        _mnist_body,
        _mnist_data,
        2,
        128,
        2e-3,
        "test",
        "2-conv CNN on MNIST train (50k), 64-D features; test accuracy on MNIST test (10k)",
    ),  # fmt: skip
    "digits": ClassifierSpec(
        _digits_body,
        _digits_data,
        20,
        128,
        3e-3,
        "all",
        "MLP on sklearn digits train (1497), 32-D features; test accuracy on digits test (300)",
    ),  # fmt: skip
}
SEED = 0


def _spec(name: str) -> ClassifierSpec:
    if name not in CLASSIFIERS:
        raise ConfigError(
            f"no image classifier for {name!r}{suggest(name, CLASSIFIERS)}; "
            f"image metrics exist for: {', '.join(CLASSIFIERS)}"
        )
    return CLASSIFIERS[name]


def _build(name: str) -> Classifier:
    """The untrained classifier of `name`, initialised from the fixed seed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        body, features = _spec(name).build()
        return Classifier(body, features, name)


def classifier_path(name: str, root: str | Path | None = None) -> Path:
    """`ROOT/NAME-classifier.safetensors` (ROOT: the data cache); its sidecar is `.json`."""
    root = Path(root) if root is not None else cache_dir()
    return root / f"{name}-classifier.safetensors"


@torch.no_grad()
def accuracy(model: Classifier, x: Tensor, y: Tensor, chunk: int = 2000) -> float:
    """Share of images `x [n, d]` whose predicted class equals the label `y [n]`."""
    return float((predict(model, x, chunk) == y.to(torch.long)).double().mean())


@torch.enable_grad()  # callers may sit inside a no_grad block
def train_classifier(
    name: str,
    root: str | Path | None = None,
    *,
    data: tuple[Tensor, Tensor, Tensor, Tensor] | None = None,
    epochs: int | None = None,
    verbose: bool = False,
) -> Path:
    """Train the classifier of `name` once (fixed seed) and write it to the cache; its path.

    Adam on cross-entropy, `epochs` passes over the training images in a seeded order. The
    weights go to `classifier_path(name, root)` as safetensors, the sidecar JSON records their
    sha256, the test accuracy, the training time and the recipe. `data` = (train_x, train_y,
    test_x, test_y) replaces the real data set (tests use small fakes).
    """
    spec = _spec(name)
    train_x, train_y, test_x, test_y = data if data is not None else spec.data(root)
    model = _build(name)
    generator = torch.Generator().manual_seed(SEED)
    optimiser = torch.optim.Adam(model.parameters(), lr=spec.lr)
    epochs = spec.epochs if epochs is None else epochs
    start = time.perf_counter()
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(train_x), generator=generator)
        for rows in row_blocks(len(order), spec.batch_size):
            batch = order[rows]
            loss = nn.functional.cross_entropy(model(train_x[batch]), train_y[batch].long())
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        if verbose:
            print(
                f"{name} classifier: epoch {epoch + 1}/{epochs}, last loss {loss.item():.4f}",
                file=sys.stderr,
            )
    model.eval()
    seconds = time.perf_counter() - start
    test_accuracy = accuracy(model, test_x, test_y)
    path = classifier_path(name, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    payload = save_safetensors(weights, metadata={"name": name})
    atomic_write(path, lambda f: f.write(payload))
    sidecar = {
        "sha256": sha256_file(path),
        "name": name,
        "test_accuracy": test_accuracy,
        "n_train": len(train_x),
        "n_test": len(test_x),
        "epochs": epochs,
        "seed": SEED,
        "train_time_s": round(seconds, 2),
        "recipe": spec.description,
        "torch": torch.__version__,
    }
    text = json.dumps(sidecar, indent=1) + "\n"
    atomic_write(path.with_suffix(".json"), lambda f: f.write(text.encode()))
    return path


def fetch_classifier(name: str, root: str | Path | None = None, *, force: bool = False) -> Path:
    """Train and cache the classifier of `name` unless a verified one is there; its path."""
    path = classifier_path(name, root)
    if force or not path.exists():
        return train_classifier(name, root, verbose=True)
    load_classifier(name, root)  # verifies the checksum
    return path


def load_classifier(name: str, root: str | Path | None = None) -> Classifier:
    """The cached classifier of `name` (``"mnist"``, ``"digits"``), checksum verified, eval mode.

    When absent, a DataError says how to train it (`fetch_classifier`); a checksum mismatch or
    an unreadable file is a DataError that says how to retrain.
    """
    _spec(name)  # an unknown name lists the known ones
    path = classifier_path(name, root)
    how = f"`pushforward data fetch {name}-classifier`"
    retrain = f"delete {path} and {path.with_suffix('.json')} and run {how} to train it again"
    if not path.exists():
        raise DataError(f"the {name} classifier is not in the cache ({path}); run {how}")
    try:
        sidecar = json.loads(path.with_suffix(".json").read_text())
        recorded = sidecar["sha256"]
    except (OSError, ValueError, KeyError) as e:
        raise DataError(
            f"{path.with_suffix('.json')} is missing or corrupt ({e}); {retrain}"
        ) from None
    got = sha256_file(path)
    if got != recorded:
        raise DataError(
            f"{path}: sha256 {got} does not match the recorded {recorded} (corrupt or modified "
            f"file); {retrain}"
        )
    model = _build(name)
    try:
        model.load_state_dict(load_safetensors(path.read_bytes()))
    except Exception as e:  # safetensors and shape errors alike
        raise DataError(f"{path} does not hold the {name} classifier ({e}); {retrain}") from None
    model.test_accuracy = float(sidecar.get("test_accuracy", math.nan))
    return model.eval()


@torch.no_grad()
def _batched(fn: Callable[[Tensor], Tensor], x: Tensor, chunk: int) -> Tensor:
    x = torch.as_tensor(x).detach().float().cpu()
    if x.ndim != 2:
        raise ValueError(f"images must be flattened [n, d], got shape {tuple(x.shape)}")
    return torch.cat([fn(x[rows]) for rows in row_blocks(len(x), chunk)])


def classifier_features(model: Classifier, x: Tensor, chunk: int = 2000) -> Tensor:
    """Penultimate-layer features `[n, k]` (float32, CPU) of flattened images `x [n, d]`."""
    return _batched(model.features, x, chunk)


def predict(model: Classifier, x: Tensor, chunk: int = 2000) -> Tensor:
    """Predicted classes `[n]` (int64) of flattened images `x [n, d]`."""
    return _batched(lambda b: model(b).argmax(1), x, chunk)


def class_histogram(labels: Tensor, n_classes: int = N_CLASSES) -> list[float]:
    """Share of `labels [n]` in each class 0..n_classes−1; a list summing to 1."""
    labels = torch.as_tensor(labels).long().flatten()
    if len(labels) == 0:
        raise ValueError("class_histogram needs at least one label")
    return (torch.bincount(labels, minlength=n_classes).double() / len(labels)).tolist()


def class_entropy(histogram: list[float] | Tensor) -> float:
    r"""Entropy −Σ p_c ln p_c (nats) of a class histogram: ln 10 if balanced, 0 for one class."""
    p = torch.as_tensor(histogram, dtype=torch.float64)
    p = p[p > 0] / p.sum()
    return float(-(p * p.log()).sum()) + 0.0  # + 0.0 turns −0.0 into 0.0


@torch.no_grad()
def classifier_confidence(logits: Tensor) -> dict[str, float]:
    """Mean top-class probability and the classifier score exp E KL(p(y|x) ‖ p(y)) of class
    `logits [n, C]` (the Inception Score: 1 for uninformative or one-class predictions, C for
    confident and balanced ones)."""
    log_p = torch.log_softmax(logits.double(), dim=1)
    log_marginal = torch.logsumexp(log_p, dim=0) - math.log(len(log_p))
    kl = (log_p.exp() * (log_p - log_marginal)).sum(1).mean()
    return {
        "class_confidence": float(log_p.exp().max(1).values.mean()),
        "classifier_score": float(kl.exp()),
    }


@torch.no_grad()
def nearest_distances(x: Tensor, reference: Tensor, chunk: int = 512) -> Tensor:
    """Euclidean distance `[n]` from each `x [n, d]` to its nearest row of `reference [m, d]`.

    Float32 in row chunks (memory O(m·chunk)); for the memorisation check against a training set.
    """
    x, reference = x.detach().float().cpu(), reference.detach().float().cpu()
    ref_sq = reference.square().sum(1)
    out = []
    for rows in row_blocks(len(x), chunk):
        b = x[rows]
        d2 = b.square().sum(1, keepdim=True) + ref_sq - 2.0 * b @ reference.T
        out.append(d2.min(1).values.clamp_min(0.0).sqrt())
    return torch.cat(out)


def _rows(x: Tensor, max_n: int, generator: torch.Generator) -> Tensor:
    if len(x) <= max_n:
        return x
    return x[torch.randperm(len(x), generator=generator)[:max_n]]


def image_report(
    samples: Tensor,
    model: Classifier,
    target: Any,
    *,
    generator: torch.Generator | None = None,
    max_real: int = 10_000,
    max_memo: int = 1000,
    k: int = 5,
) -> dict[str, float]:
    """Classifier metrics of image `samples [n, d]` against an image distribution `target`.

    `target` is a :class:`pushforward.data.ImageDistribution` (its `tensors(split)` gives real
    images and labels). Keys:

    * ``fd``: Fréchet distance of classifier features, samples vs `n` real reference images
      (the data set's test split for MNIST, all images for digits); ``fd_real``: the same between
      two disjoint real halves of the reference (the floor at this sample size, where it has
      2n images);
    * ``class_hist/c``, ``class_entropy`` (nats, ln 10 = 2.303 balanced), ``class_tv``: total
      variation between the predicted-class histograms of samples and real images;
    * ``class_confidence``: the classifier's mean top-class probability on the samples (does
      each sample look like *some* digit; ``class_confidence_real`` on the real reference) and
      ``classifier_score``: exp E_x KL(p(y|x) ‖ p(y)), the Inception Score with our classifier
      (1 to 10: confident per sample and balanced over classes);
    * ``out_of_range_share``: share of sample pixel values outside the data's pixel range
      ``PIXEL_RANGE`` = [0, 1] by more than ``RANGE_TOLERANCE`` (a decoder or flow emits values
      there that no image has; a sampler that clamps and then rounds is not counted);
      ``fd_clamped``: the FD of the samples clamped into that range (what an image viewer shows),
      against the same reference; it equals ``fd`` when nothing is out of range;
    * ``feat_precision``, ``feat_recall``, ``feat_density``, ``feat_coverage``: k-NN support
      metrics in feature space;
    * ``classifier_accuracy``: the classifier's accuracy on the real test images (recorded at
      training time);
    * ``nn_train_dist_mean``: mean distance of (at most `max_memo`) samples to the nearest image
      of the split the model was trained on; ``nn_train_dist_ratio``: the same divided by that of
      held-out real images (≈ 1 is healthy, ≪ 1 memorises), and ``near_copy_share``: share of
      samples closer to a training image than 95 % of held-out images are (≈ 0.05 is healthy).
      The last two only when the target split has held-out images.
    """
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    spec = _spec(model.name)
    samples = torch.as_tensor(samples).detach().float().cpu()
    n = len(samples)
    real_x, _ = target.tensors(spec.reference_split)
    perm = torch.randperm(len(real_x), generator=g)
    real = real_x[perm[: min(n, max_real)]]
    fs, fr = classifier_features(model, samples), classifier_features(model, real)
    out = {"fd": frechet_distance(fs, fr)}
    clamped = samples.clamp(*PIXEL_RANGE)
    overshoot = (samples - clamped).abs()  # 0 inside the range
    out["out_of_range_share"] = float((overshoot > RANGE_TOLERANCE).double().mean())
    out["fd_clamped"] = (
        frechet_distance(classifier_features(model, clamped), fr)
        if (overshoot > 0).any()
        else out["fd"]
    )
    if len(real_x) >= 2 * min(n, max_real):
        other = real_x[perm[min(n, max_real) : 2 * min(n, max_real)]]
        out["fd_real"] = frechet_distance(classifier_features(model, other), fr)
    logits, real_logits = model.head(fs), model.head(fr)
    hist = class_histogram(logits.argmax(1))
    real_hist = class_histogram(real_logits.argmax(1))
    out.update(classifier_confidence(logits))
    out["class_confidence_real"] = classifier_confidence(real_logits)["class_confidence"]
    out.update({f"class_hist/{c}": p for c, p in enumerate(hist)})
    out["class_entropy"] = class_entropy(hist)
    out["class_tv"] = 0.5 * sum(abs(a - b) for a, b in zip(hist, real_hist, strict=True))
    if n > k and len(real) > k:
        pr = precision_recall(fr, fs, k=k)
        dc = density_coverage(fr, fs, k=k)
        out.update({f"feat_{key}": value for key, value in {**pr, **dc}.items()})
    out["classifier_accuracy"] = model.test_accuracy
    train_x = target.images
    memo = _rows(samples, max_memo, g)
    dist = nearest_distances(memo, train_x)
    out["nn_train_dist_mean"] = float(dist.mean())
    held_out = [s for s in target.splits if s not in (target.split, "all")]
    if target.split != "all" and held_out:
        held, _ = target.tensors("test" if "test" in held_out else held_out[0])
        baseline = nearest_distances(_rows(held, max_memo, g), train_x)
        out["nn_train_dist_ratio"] = float(dist.mean() / baseline.mean())
        threshold = torch.quantile(baseline, 0.05)
        out["near_copy_share"] = float((dist < threshold).double().mean())
    return out
