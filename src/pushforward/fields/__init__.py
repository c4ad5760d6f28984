"""Drift fields: one module per family behind one small protocol, chunked (O(N·chunk) memory).

Every family is a frozen dataclass holding exactly the settings it uses, with

    parts(x [n, d], y⁺ [m, d], y⁻ [m', d] | None, τ) -> (b [n, d], s [n]),   V = eˢ·b

(`fields.base.Field`); `drift` sums a family's field over temperatures, each normalised to unit
RMS. Families (`FIELDS`): `paper` (Deng et al. 2026, `fields.paper`), `sinkhorn`
(`fields.sinkhorn`), `score-difference` (`fields.score_difference`) and `mmd-gradient`
(`fields.mmd_gradient`); `fields.dense` holds a dense reference of each, for tests and
benchmarks. `make_field` builds a family from a learner's settings, passing each family only
the settings it has. Distributed training slices rows outside these families
(`distributed.batch_field`).

Example:
    >>> import torch
    >>> field = make_field("sinkhorn", kernel="laplace", iterations=20)
    >>> field
    SinkhornField(kernel='laplace', iterations=20, chunk=1024, mask_self_pairs=True)
    >>> x = torch.randn(10, 2, generator=torch.Generator().manual_seed(0))
    >>> drift(field, x, x + 3.0, [0.5])[0].shape
    torch.Size([10, 2])
"""

from pushforward.fields.base import Field, annealed_temperatures, compose, drift, log_rms
from pushforward.fields.dense import dense_field
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
    "FIELDS",
    "GAUSSIAN_ONLY",
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

FIELDS: dict[str, type] = {
    "paper": PaperField,
    "sinkhorn": SinkhornField,
    "score-difference": ScoreDifferenceField,
    "mmd-gradient": MMDGradientField,
}
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
) -> Field:
    """The family `name` built from a learner's settings; each family gets only its own.

    `chunk = 0` is automatic (the paper field sizes blocks to the cache; the others use 1024
    rows); `reference` selects the dense demo formula of the paper field.
    """
    if name not in FIELDS:
        raise ValueError(f"unknown drift field {name!r}; choose one of {tuple(FIELDS)}")
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose one of {KERNELS}")
    if reference:
        if name != "paper" or kernel != "laplace":
            raise ValueError("reference=True is the paper field's Laplace demo formula only")
        return PaperReferenceField(bidirectional)
    rows = chunk or 1024
    if name == "paper":
        return PaperField(kernel, bidirectional, chunk or None)
    if name == "sinkhorn":
        return SinkhornField(kernel, iterations, rows, mask_self_pairs)
    if kernel != "gaussian":
        raise ValueError(f"the {name} field is defined for the gaussian kernel only")
    return FIELDS[name](rows)
