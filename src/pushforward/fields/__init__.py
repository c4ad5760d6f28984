"""Drift fields: one module per family behind one small protocol, chunked (O(N·chunk) memory).

Every family is a frozen dataclass holding exactly the settings it uses, with

    parts(x [n, d], y⁺ [m, d], y⁻ [m', d] | None, τ) -> (b [n, d], s [n]),   V = eˢ·b

(`fields.base.Field`); `drift` sums a family's field over temperatures, each normalised to unit
RMS. Families (`FIELDS`): `paper` (Deng et al. 2026, `fields.paper`), `sinkhorn`
(`fields.sinkhorn`), `score-difference` (`fields.score_difference`) and `mmd-gradient`
(`fields.mmd_gradient`); `fields.dense` holds a dense reference of each, for tests and
benchmarks. Each runs on one of two backends (`backend`, `fields.fused.BACKENDS`): its torch
code (portable, any device and dtype) or the fused CPU kernels of `fields.fused` (distance,
kernel, exp and sums in one loop); "auto" takes the fused one where it applies. `make_field`
builds a family from a learner's settings, passing each family only the settings it has.
Distributed training slices rows outside these families
(`distributed.batch_field`). Families of other packages join through the `pushforward.fields`
entry-point group (`pushforward.plugins`): a frozen dataclass with a `name` equal to the entry
point's and a `parts` method; `make_field` passes it the settings among `kernel`,
`bidirectional`, `chunk`, `iterations`, `mask_self_pairs` and `backend` that it has as
fields, and it appears in `FIELDS` (so `method.field` accepts it and the drift-variants
analysis draws it).

Example:
    >>> import torch
    >>> field = make_field("sinkhorn", kernel="laplace", iterations=20)
    >>> field
    SinkhornField(kernel='laplace', iterations=20, chunk=1024, mask_self_pairs=True, backend='auto')
    >>> x = torch.randn(10, 2, generator=torch.Generator().manual_seed(0))
    >>> drift(field, x, x + 3.0, [0.5])[0].shape
    torch.Size([10, 2])
"""

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

from pushforward import plugins
from pushforward.fields.base import Field, annealed_temperatures, compose, drift, log_rms
from pushforward.fields.dense import dense_field
from pushforward.fields.fused import BACKENDS
from pushforward.fields.kernels import KERNELS, pairwise_logits
from pushforward.fields.mmd_gradient import MMDGradientField
from pushforward.fields.paper import (
    PaperField,
    PaperReferenceField,
    drift_field,
    drift_field_dense,
    drift_parts,
)
from pushforward.fields.score_difference import ScoreDifferenceField
from pushforward.fields.sinkhorn import SinkhornField, sinkhorn_coupling, sinkhorn_potentials

__all__ = [
    "BACKENDS",
    "FIELDS",
    "GAUSSIAN_ONLY",
    "GROUP",
    "KERNELS",
    "Field",
    "MMDGradientField",
    "PaperField",
    "PaperReferenceField",
    "ScoreDifferenceField",
    "SinkhornField",
    "annealed_temperatures",
    "compose",
    "dense_field",
    "drift",
    "drift_field",
    "drift_field_dense",
    "drift_parts",
    "log_rms",
    "make_field",
    "pairwise_logits",
    "sinkhorn_coupling",
    "sinkhorn_potentials",
]

GROUP = "pushforward.fields"
_SHIPPED: dict[str, type] = {
    "paper": PaperField,
    "sinkhorn": SinkhornField,
    "score-difference": ScoreDifferenceField,
    "mmd-gradient": MMDGradientField,
}
_SETTINGS = ("kernel", "bidirectional", "chunk", "iterations", "mask_self_pairs", "backend")


def _check_plugin(name: str, obj: Any) -> None:
    """Accept a plug-in family: a dataclass with `name` equal to the entry point's and `parts`."""
    if not (isinstance(obj, type) and dataclasses.is_dataclass(obj)):
        raise TypeError(f"{obj!r} is not a dataclass (a field family is a frozen dataclass)")
    if not callable(getattr(obj, "parts", None)):
        raise TypeError(f"{obj.__qualname__} has no parts(x, y_pos, y_neg, temperature) method")
    if getattr(obj, "name", None) != name:
        raise ValueError(f"{obj.__qualname__}.name must be {name!r}, the entry point's name")
    if name in _SHIPPED:
        raise ValueError(f"the field name {name!r} is taken by {_SHIPPED[name].__qualname__}")


class _Families(Mapping[str, type]):
    """Name → family class: the shipped ones, then the `pushforward.fields` plug-ins (loaded
    on first use, so importing this package imports no third-party code)."""

    def _all(self) -> dict[str, type]:
        found = plugins.load(GROUP, _check_plugin)
        return {**_SHIPPED, **{name: p.obj for name, p in found.items()}}

    def __getitem__(self, name: str) -> type:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return repr(self._all())


FIELDS: Mapping[str, type] = _Families()
GAUSSIAN_ONLY = ("score-difference", "mmd-gradient")  # families defined for the Gaussian kernel


def make_field(
    name: str,
    *,
    kernel: str = "laplace",
    bidirectional: bool = True,
    chunk: int = 0,
    iterations: int = 50,
    mask_self_pairs: bool = True,
    reference: bool = False,
    backend: str = "auto",
) -> Field:
    """The family `name` built from a learner's settings; each family gets only its own.

    Arguments:
        name: a family of `FIELDS` (plug-ins included).
        kernel: "laplace" or "gaussian" (score-difference and mmd-gradient: gaussian only).
        bidirectional: the paper field's normaliser over both axes of the affinity matrix.
        chunk: rows per block; 0 is automatic (the paper field sizes blocks to the cache, the
            others use 1024 rows).
        iterations: Sinkhorn sweeps.
        mask_self_pairs: Sinkhorn: exclude each sample's pair with itself.
        reference: the dense demo formula of the paper field (Laplace kernel only).
        backend: "auto", "torch" or "fused" (`fields.fused`).

    Returns:
        The field: `parts(x [n, d], y⁺ [m, d], y⁻, τ) -> (b [n, d], s [n])`.
    """
    if name not in FIELDS:
        note = plugins.failure_note(GROUP, name)
        raise ValueError(f"unknown drift field {name!r}; choose one of {tuple(FIELDS)}{note}")
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose one of {KERNELS}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown field backend {backend!r}; choose one of {BACKENDS}")
    if reference:
        if name != "paper" or kernel != "laplace":
            raise ValueError("reference=True is the paper field's Laplace demo formula only")
        return PaperReferenceField(bidirectional)
    rows = chunk or 1024
    if name == "paper":
        return PaperField(kernel, bidirectional, chunk or None, backend)
    if name == "sinkhorn":
        return SinkhornField(kernel, iterations, rows, mask_self_pairs, backend)
    if name not in _SHIPPED:  # a plug-in family: the settings it has as fields
        given = {"kernel": kernel, "bidirectional": bidirectional, "chunk": rows,
                 "iterations": iterations, "mask_self_pairs": mask_self_pairs,
                 "backend": backend}  # fmt: skip
        own = {f.name for f in dataclasses.fields(FIELDS[name])}
        return FIELDS[name](**{k: v for k, v in given.items() if k in own})
    if kernel != "gaussian":
        raise ValueError(f"the {name} field is defined for the gaussian kernel only")
    return FIELDS[name](rows, backend)
