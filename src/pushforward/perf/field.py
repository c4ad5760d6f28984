"""`pushforward bench field`: the drift field's cost against the two hardware bounds.

For each dimension d and set size N (generated x and data y, N points each, so the field
compares N rows with 2N columns) this measures, in one process:

* the field (`fields.drift_parts`, the paper's bidirectional Laplace field) on each backend
  (`backend`: "torch", the portable code; "fused", `fields.fused`) and the dense reference
  formula (`fields.drift_field_dense`, the authors' demo): best time of `repeat` calls and
  the peak extra memory of one call;
* the Sinkhorn field (`fields.SinkhornField`, Laplace, `sinkhorn_iters` sweeps) on each
  backend up to `sinkhorn_max_n`, with its time over the paper field's on the same backend
  (`time_over_paper`);
* torch.mm of `[N, d] @ [d, 2N]` (the bound for large d, where the field is two such
  products: distances and mean shifts, 4·N·2N·d flops in all), reported as the field's
  GFLOP/s divided by torch.mm's GFLOP/s;
* one torch.exp pass over an `[N, 2N]` matrix (the bound for small d, where the work is
  elementwise), reported as the field's time divided by the pass's time.

Both bounds are computed in row blocks of at most 2²⁶ entries, so they fit in memory at any N.
The reference is skipped where its `[N, 2N]` temporaries would exceed `reference_max_gib`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from pushforward.fields import SinkhornField, drift_field_dense, drift_parts, fused
from pushforward.perf.measure import best_time, peak_memory_mib

__all__ = [
    "DEFAULT_SIZES",
    "FIELD_COLUMNS",
    "backends_on",
    "bench_field",
    "mm_seconds",
    "exp_seconds",
]

DEFAULT_SIZES: dict[int, list[int]] = {
    2: [1024, 2048, 4096, 8192, 16384, 32768, 65536],
    784: [1024, 2048, 4096, 8192, 16384],
}
FIELD_COLUMNS = [
    "d",
    "n",
    "impl",
    "backend",
    "time_s",
    "peak_mib",
    "gflops",
    "mm_gflops",
    "flops_ratio_to_mm",
    "exp_pass_s",
    "time_over_exp_pass",
    "time_over_paper",
]
_BLOCK = 1 << 26  # entries per block of the bound computations
_REFERENCE_COPIES = 6  # [N, 2N] temporaries the dense reference holds at once (measured)


def mm_seconds(n: int, d: int, device: torch.device, repeat: int = 3) -> float:
    """Time of `[n, d] @ [d, 2n]` by torch.mm, in row blocks (one output block reused)."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, d, generator=g).to(device)
    b = torch.randn(d, 2 * n, generator=g).to(device)
    rows = max(1, min(n, _BLOCK // (2 * n)))
    out = torch.empty(rows, 2 * n, device=device)

    def run() -> None:
        for s in range(0, n, rows):
            part = a[s : s + rows]
            torch.mm(part, b, out=out[: part.shape[0]])

    run()  # warm-up
    return best_time(run, device, repeat)


def exp_seconds(n: int, device: torch.device, repeat: int = 3) -> float:
    """Time of one torch.exp pass over `[n, 2n]` entries, in row blocks (in place of a copy)."""
    rows = max(1, min(n, _BLOCK // (2 * n)))
    g = torch.Generator().manual_seed(1)
    src = torch.randn(rows, 2 * n, generator=g).to(device)
    out = torch.empty_like(src)

    def run() -> None:
        for s in range(0, n, rows):
            k = min(rows, n - s)
            torch.exp(src[:k], out=out[:k])

    run()
    return best_time(run, device, repeat)


def _row(
    d: int, n: int, impl: str, backend: str, seconds: float, peak: float | None, bounds: dict
) -> dict:
    """One table row: the field's rates against the bounds for its (d, n)."""
    flops = 4.0 * n * (2 * n) * d  # distances and mean shifts, each [N, d] x [d, 2N]
    mm_gflops = 2.0 * n * (2 * n) * d / bounds["mm"] / 1e9
    return {
        "d": d,
        "n": n,
        "impl": impl,
        "backend": backend,
        "time_s": seconds,
        "peak_mib": peak,
        "gflops": flops / seconds / 1e9,
        "mm_gflops": mm_gflops,
        "flops_ratio_to_mm": flops / seconds / 1e9 / mm_gflops,
        "exp_pass_s": bounds["exp"],
        "time_over_exp_pass": seconds / bounds["exp"],
    }


def backends_on(device: torch.device) -> list[str]:
    """The field backends that run on `device`: "torch", and "fused" on a CPU where it builds."""
    return ["torch", "fused"] if device.type == "cpu" and fused.available() else ["torch"]


def bench_field(
    dims: Sequence[int] = (2, 784),
    sizes: dict[int, Sequence[int]] | None = None,
    *,
    repeat: int = 3,
    device: str = "cpu",
    reference_max_gib: float = 4.0,
    backends: Sequence[str] | None = None,
    sinkhorn_iters: int = 20,
    sinkhorn_max_n: int = 16384,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Rows of FIELD_COLUMNS at each (d, N): the paper field on each of `backends` (None: every
    one that runs on `device`), the dense reference, and the Sinkhorn field (`sinkhorn_iters`
    sweeps; 0 leaves it out) on each backend for N ≤ `sinkhorn_max_n`."""
    dev = torch.device(device)
    sizes = sizes or DEFAULT_SIZES
    backends = list(backends or backends_on(dev))
    rows = []

    def timed(fn: Callable[[], Any], label: str, bounds: dict, backend: str) -> dict:
        _, peak = peak_memory_mib(fn, dev)
        row = _row(d, n, label, backend, best_time(fn, dev, repeat), peak, bounds)
        if progress:
            progress(f"d={d} N={n} {label} ({backend}) {row['time_s']:.3g}s")
        return row

    for d in dims:
        tau = 0.1 * math.sqrt(2.0 * d)  # about a tenth of the typical distance
        for n in sizes.get(d, DEFAULT_SIZES.get(d, [1024])):
            g = torch.Generator().manual_seed(n + d)
            x = torch.randn(n, d, generator=g).to(dev)
            y = (torch.randn(n, d, generator=g) + 0.5).to(dev)
            bounds = {"mm": mm_seconds(n, d, dev, repeat), "exp": exp_seconds(n, dev, repeat)}
            paper = {}
            for backend in backends:
                fn = functools.partial(drift_parts, x, y, temperature=tau, backend=backend)
                paper[backend] = timed(fn, "paper", bounds, backend)  # built by backends_on
                rows.append(paper[backend])
            need_gib = _REFERENCE_COPIES * n * 2 * n * 4 / 2**30
            if need_gib <= reference_max_gib:
                reference = functools.partial(drift_field_dense, x, y, temperature=tau)
                rows.append(timed(reference, "reference", bounds, "-"))
            else:
                rows.append({"d": d, "n": n, "impl": f"reference (skipped: ~{need_gib:.0f} GiB)"})
            if sinkhorn_iters < 1 or n > sinkhorn_max_n:
                continue
            for backend in backends:
                field = SinkhornField("laplace", sinkhorn_iters, backend=backend)
                row = timed(functools.partial(field.parts, x, y, None, tau),
                            f"sinkhorn-{sinkhorn_iters}", bounds, backend)  # fmt: skip
                row["time_over_paper"] = row["time_s"] / paper[backend]["time_s"]
                rows.append(row)
    return rows
