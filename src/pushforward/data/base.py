"""The `Distribution` contract and the parameter checks every distribution shares.

A distribution is plain Python state (no `nn.Module`): an ambient dimension `dim`, a sampler
that takes a `torch.Generator` for every random draw, and, where known, `log_prob`, `modes`
(centres for mode coverage), a `manifold` and an `image_shape`. Parameters arrive from TOML,
so vectors and matrices may be lists; they are checked here, where they enter, and a wrong
value raises `ConfigError` naming the distribution, the key and what is expected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from scipy.special import gammaincinv
from torch import Tensor

from pushforward.errors import ConfigError, suggest

__all__ = [
    "Distribution",
    "check_keys",
    "check_float",
    "check_int",
    "check_choice",
    "check_tensor",
    "check_weights",
    "bump_radius",
    "jsonable",
]


class Distribution:
    """A probability distribution on R^d: `sample(n, generator) -> [n, d]` and, where known, more.

    Subclasses set the attributes in `__init__` and implement `sample`; `log_prob` is optional.
    `params` holds the checked parameters (the ones that rebuild it with `make_distribution`).
    """

    name: str = "distribution"
    dim: int
    modes: Tensor | None = None
    mode_weights: Tensor | None = None
    mode_radius: float | None = None
    manifold: Any = None
    image_shape: tuple[int, ...] | None = None
    n_classes: int = 0  # labelled data: `sample_labeled` gives labels in 0..n_classes-1
    params: dict[str, Any]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw `n` samples `[n, d]` float32; the same generator state gives the same samples."""
        raise NotImplementedError(f"{self.name} does not implement sample")

    def sample_labeled(
        self, n: int, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """`n` samples `[n, d]` and their class labels `[n]` int64 (labelled data only); the
        samples are the ones `sample` draws from the same generator state."""
        raise ConfigError(
            f"{self.name} has no class labels: class-conditional generation needs labelled "
            "data (mnist, digits, a Gaussian mixture such as 8gaussians: its labels are the "
            "components)"
        )

    def log_prob(self, x: Tensor) -> Tensor:
        """Log density `[n]` of points `x [n, d]`; raises NotImplementedError where unknown."""
        raise NotImplementedError(f"{self.name} has no closed-form log_prob")

    def describe(self) -> dict[str, Any]:
        """`{"name": ..., **params}`, JSON-able; `make_distribution(**d.describe())` rebuilds it."""
        return {"name": self.name, **jsonable(getattr(self, "params", {}))}

    def __repr__(self) -> str:
        """`name(key=value, ...)`."""
        args = ", ".join(f"{k}={v!r}" for k, v in jsonable(getattr(self, "params", {})).items())
        return f"{type(self).__name__}({args})"


def jsonable(value: Any) -> Any:
    """Tensors, tuples and NumPy values turned into lists and Python scalars, recursively."""
    if isinstance(value, Tensor):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    return value


def _where(name: str, key: str) -> str:
    return f"{name}: parameter {key!r}"


def check_keys(where: str, params: Mapping[str, Any], valid: Sequence[str]) -> None:
    """ConfigError for the first key of `params` not in `valid`: the nearest key and the list."""
    for key in params:
        if key not in valid:
            raise ConfigError(
                f"{where}: unknown parameter {key!r}{suggest(key, valid)}; "
                f"valid parameters of {where}: {', '.join(valid) or '(none)'}"
            )


def check_float(
    name: str, key: str, value: Any, *, min: float | None = None, positive: bool = False
) -> float:
    """A finite real number (`> 0` if positive, `>= min` if given), else ConfigError."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{_where(name, key)} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"{_where(name, key)} must be finite, got {value!r}")
    if positive and value <= 0:
        raise ConfigError(f"{_where(name, key)} must be > 0, got {value!r}")
    if min is not None and value < min:
        raise ConfigError(f"{_where(name, key)} must be >= {min}, got {value!r}")
    return value


def check_int(name: str, key: str, value: Any, *, min: int | None = None) -> int:
    """An integer (`>= min` if given), else ConfigError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{_where(name, key)} must be an integer, got {value!r}")
    if min is not None and value < min:
        raise ConfigError(f"{_where(name, key)} must be >= {min}, got {value!r}")
    return value


def check_choice(name: str, key: str, value: Any, choices: Sequence[str]) -> str:
    """One of `choices`, else ConfigError listing them."""
    if value not in choices:
        raise ConfigError(
            f"{_where(name, key)} must be one of {', '.join(map(repr, choices))}, got {value!r}"
        )
    return value


def check_tensor(
    name: str,
    key: str,
    value: Any,
    shape: Sequence[int | None] | None,
    *,
    positive: bool = False,
    what: str | None = None,
) -> Tensor:
    """A float32 tensor of `shape` (a None size: any; shape None: any shape) from a list or number.

    A scalar is broadcast to `shape` when every size in it is known; a wrong shape, a
    non-number or (if positive) an entry `<= 0` raises ConfigError saying what is expected.
    """
    if shape is None:
        what = what or "a number or a list of numbers"
    else:
        expected = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
        what = what or f"a list of shape {expected}"
    try:
        t = torch.as_tensor(value.tolist() if hasattr(value, "tolist") else value)
    except (TypeError, ValueError, RuntimeError):
        raise ConfigError(f"{_where(name, key)} must be {what}, got {value!r}") from None
    if t.dtype == torch.bool or t.is_complex():
        raise ConfigError(f"{_where(name, key)} must be numbers ({what}), got {value!r}")
    t = t.to(torch.float32)
    if shape is None:
        pass
    elif t.dim() == 0 and all(s is not None for s in shape):
        t = t.expand(*shape).clone()  # type: ignore[misc]
    elif t.dim() != len(shape) or any(
        s is not None and s != k for s, k in zip(shape, t.shape, strict=True)
    ):
        raise ConfigError(
            f"{_where(name, key)} must be {what}, got shape {list(t.shape)}: {value!r}"
        )
    if not torch.isfinite(t).all():
        raise ConfigError(f"{_where(name, key)} must be finite, got {value!r}")
    if positive and (t <= 0).any():
        raise ConfigError(f"{_where(name, key)} must be > 0 everywhere, got {value!r}")
    return t


def check_weights(name: str, key: str, value: Any, m: int) -> Tensor:
    """Mixture weights `[m]`: None means uniform; non-negative, positive sum, normalised."""
    if value is None:
        return torch.full((m,), 1.0 / m)
    w = check_tensor(name, key, value, (m,), what=f"{m} non-negative weights")
    if (w < 0).any() or w.sum() <= 0:
        raise ConfigError(
            f"{_where(name, key)} must be {m} non-negative weights with a positive sum, "
            f"got {value!r}"
        )
    return w / w.sum()


def bump_radius(std: float, dim: int, mass: float = 0.99) -> float:
    """Radius holding `mass` of an isotropic Gaussian bump of `std` in `dim` dimensions.

    The `mass` quantile of the chi distribution with `dim` degrees of freedom, times `std`;
    about 3 std in 2-D.
    """
    return float(std * math.sqrt(2.0 * gammaincinv(dim / 2.0, mass)))
