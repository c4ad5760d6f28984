"""Distributions to push between: toy 2-D sets, Gaussians, embedded manifolds and images.

`make_distribution(name, **params)` builds one from the registry; `distributions()` lists
them. Every distribution samples `[n, d]` float32 with a `torch.Generator` and exposes, where
known, `log_prob`, `modes`, `manifold` and `image_shape` (see `Distribution`).

Example:
    >>> import torch
    >>> from pushforward.data import make_distribution
    >>> d = make_distribution("8gaussians", radius=2.0)
    >>> x = d.sample(256, torch.Generator().manual_seed(0))
    >>> x.shape, d.modes.shape
    (torch.Size([256, 2]), torch.Size([8, 2]))
"""

from pushforward.data.base import Distribution
from pushforward.data.cache import cache_dir, fetch, fetch_mnist, load_mnist
from pushforward.data.embedded import EmbeddedMoons, MoonCurve
from pushforward.data.gaussian import (
    Bimodal,
    EightGaussians,
    Gaussian,
    GaussianMixture,
    RingMixture,
)
from pushforward.data.images import MNIST, Digits, ImageDistribution
from pushforward.data.manifolds import (
    MANIFOLDS,
    Manifold,
    ManifoldBumps,
    Sphere,
    SwissRollSurface,
    Torus,
    make_manifold,
)
from pushforward.data.registry import (
    distributions,
    from_table,
    make_distribution,
    parameters,
    register,
)
from pushforward.data.toy import Checkerboard, Line, Moons, Rings, SwissRoll

__all__ = [
    "Distribution",
    "make_distribution",
    "from_table",
    "distributions",
    "parameters",
    "register",
    "Manifold",
    "Sphere",
    "Torus",
    "SwissRollSurface",
    "MANIFOLDS",
    "make_manifold",
    "ManifoldBumps",
    "EmbeddedMoons",
    "MoonCurve",
    "GaussianMixture",
    "Bimodal",
    "EightGaussians",
    "RingMixture",
    "Gaussian",
    "Moons",
    "Checkerboard",
    "SwissRoll",
    "Rings",
    "Line",
    "ImageDistribution",
    "Digits",
    "MNIST",
    "cache_dir",
    "fetch",
    "fetch_mnist",
    "load_mnist",
]
