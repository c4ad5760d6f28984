"""Image data sets as distributions over flattened pixels in [0, 1]: `digits` and `mnist`.

An image distribution is the empirical distribution of a fixed set of images: `sample(n)`
draws rows with replacement using the generator. `image_shape` says how to fold a row back
into an image; `tensors(split)` returns the images `[n, d]` and their labels `[n]`.

* `digits`: scikit-learn's bundled 8x8 digits (1797 images, no download), pixels / 16.
* `mnist`: 28x28 MNIST, 50k / 10k / 10k train / val / test, from the cache (see
  `pushforward.data.cache`; run `pushforward data fetch mnist` once).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from pushforward.data.base import Distribution, check_choice, check_tensor
from pushforward.data.cache import load_mnist
from pushforward.data.registry import register
from pushforward.errors import ConfigError

__all__ = ["ImageDistribution", "Digits", "MNIST"]


class ImageDistribution(Distribution):
    """Empirical distribution of images `[N, d]` in [0, 1] with labels `[N]`, per split."""

    splits: tuple[str, ...]
    n_classes = 10  # digit labels 0..9 (kept as they are when `classes` selects some)

    def _setup(self, data: dict[str, tuple[Tensor, Tensor]], split: str, classes: Any) -> None:
        """Check `split` and `classes`, keep only those classes, and pick the split's images."""
        split = check_choice(self.name, "split", split, self.splits)
        if classes is not None:
            c = check_tensor(self.name, "classes", classes, (None,), what="a list of labels 0..9")
            if len(c) == 0 or (c != c.round()).any() or (c < 0).any() or (c > 9).any():
                raise ConfigError(
                    f"{self.name}: parameter 'classes' must be labels in 0..9, got {classes!r}"
                )
            keep = c.long()
            data = {
                s: (x[torch.isin(y, keep)], y[torch.isin(y, keep)]) for s, (x, y) in data.items()
            }
            classes = sorted(int(k) for k in keep.unique())
        self._data = data
        self.split, self.classes = split, classes
        self.images, self.labels = data[split]
        self.dim = self.images.shape[1]
        self.params = {"split": split, "classes": classes}

    def tensors(self, split: str | None = None) -> tuple[Tensor, Tensor]:
        """Images `[n, d]` float32 and labels `[n]` int64 of `split` (default: this one's)."""
        split = check_choice(self.name, "split", split or self.split, self.splits)
        return self._data[split]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """`[n, d]` rows drawn uniformly with replacement from the split's images."""
        return self.sample_labeled(n, generator)[0]

    def sample_labeled(
        self, n: int, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """`[n, d]` rows drawn uniformly with replacement and their digit labels `[n]`."""
        idx = torch.randint(len(self.images), (n,), generator=generator)
        return self.images[idx], self.labels[idx]


@register("digits")
class Digits(ImageDistribution):
    """scikit-learn's 8x8 handwritten digits (1797 images, 64-D, pixels in [0, 1]).

    Arguments:
        split: "all" (default), or a fixed "train" (first 1497 of a seeded permutation) /
            "test" (the other 300) split.
        classes: keep only these labels (e.g. `[0, 1]`); None keeps all ten.
    """

    splits = ("all", "train", "test")
    image_shape = (8, 8)
    n_test = 300

    def __init__(self, split: str = "all", classes: Any = None) -> None:
        """Load the bundled images (no download) and split them with a fixed permutation."""
        from sklearn.datasets import load_digits

        bunch = load_digits()
        x = torch.from_numpy((bunch.data / 16.0).astype(np.float32))
        y = torch.from_numpy(bunch.target.astype(np.int64))
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
        train, test = perm[: -self.n_test], perm[-self.n_test :]
        data = {"all": (x, y), "train": (x[train], y[train]), "test": (x[test], y[test])}
        self._setup(data, split, classes)


@register("mnist")
class MNIST(ImageDistribution):
    """MNIST digits, 28x28 = 784-D, pixels in [0, 1); 50k/10k/10k train/val/test (needs a fetch).

    Arguments:
        split: "train" (default), "val" or "test".
        classes: keep only these labels (e.g. `[0, 1]`); None keeps all ten.
        cache_dir: where `mnist.npz` lives (default `$PUSHFORWARD_CACHE` or
            `~/.cache/pushforward`); a missing file raises DataError saying how to fetch it.
    """

    splits = ("train", "val", "test")
    image_shape = (28, 28)

    def __init__(
        self, split: str = "train", classes: Any = None, cache_dir: str | None = None
    ) -> None:
        """Load the verified arrays from the cache (no pickle)."""
        check_choice(self.name, "split", split, self.splits)
        arrays = load_mnist(cache_dir)
        data = {
            s: (torch.from_numpy(arrays[f"{s}_x"]), torch.from_numpy(arrays[f"{s}_y"]))
            for s in self.splits
        }
        self._setup(data, split, classes)
        self.params["cache_dir"] = cache_dir
