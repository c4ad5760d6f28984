"""Candidates for a fused drift-field backend, measured on the reduction every field needs.

The paper field's first pass is two log-sum-exps of the Laplace logits l_ij = −‖x_i − y_j‖/τ
over an [N, 2N] matrix: one over each row, one over each column. This script times that pass
with each candidate that runs here, as a multiple of one `torch.exp` pass over [N, 2N] entries
(the unit of `pushforward bench field`), and checks each against float64:

* `torch (dense)`: `torch.cdist`, then `logsumexp` over both axes (skipped above 2 GiB);
* `torch.compile`: the same formula on row blocks, compiled once with dynamic shapes;
* `keops`: `pykeops` LazyTensors (only where `pykeops` imports; `pip install pykeops`);
* `fused`: `pushforward.fields.fused.reduce` (CPU, where the kernels build);
* `flex attention`: `torch.nn.attention.flex_attention` with a `score_mod` for the Laplace
  kernel and `return_lse` (CUDA only: torch 2.13's CPU flex attention has no `return_lse`).

Usage:
    python scripts/field_candidates.py [--device cpu|cuda] [--n 4096] [--threads 1]
        [--only "torch (dense)" fused ...]
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import torch
from torch import Tensor

from pushforward.fields import fused
from pushforward.perf.field import exp_seconds
from pushforward.perf.measure import best_time

Pass = Callable[[Tensor, Tensor, float], tuple[Tensor, Tensor]]


def dense(x: Tensor, y: Tensor, tau: float) -> tuple[Tensor, Tensor]:
    """Row and column log-sum-exps `([n], [m])` of the dense logits."""
    logits = torch.cdist(x, y).div_(-tau)
    return logits.logsumexp(1), logits.logsumexp(0)


def _block(x: Tensor, y: Tensor, tau: float) -> tuple[Tensor, Tensor]:
    logits = -(x[:, None, :] - y[None, :, :]).square().sum(-1).sqrt() / tau
    return logits.logsumexp(1), logits.logsumexp(0)


def compiled() -> Pass:
    """Row blocks of 512 through one `torch.compile`d function (dynamic shapes)."""
    block = torch.compile(_block, dynamic=True)

    def run(x: Tensor, y: Tensor, tau: float) -> tuple[Tensor, Tensor]:
        rows, cols = [], None
        for s in range(0, x.shape[0], 512):
            r, c = block(x[s : s + 512], y, tau)
            rows.append(r)
            cols = c if cols is None else torch.logaddexp(cols, c)
        return torch.cat(rows), cols

    return run


def keops() -> Pass | None:
    """The pass by KeOps LazyTensors, or None where pykeops does not import."""
    try:
        from pykeops.torch import LazyTensor
    except ImportError:
        return None

    def run(x: Tensor, y: Tensor, tau: float) -> tuple[Tensor, Tensor]:
        logits = -((LazyTensor(x[:, None, :]) - LazyTensor(y[None, :, :])) ** 2).sum(-1).sqrt()
        logits = logits / tau
        return logits.logsumexp(1).flatten(), logits.logsumexp(0).flatten()

    return run


def fused_pass(x: Tensor, y: Tensor, tau: float) -> tuple[Tensor, Tensor]:
    """The pass by the fused kernels: rows, then the rows of the transposed problem."""
    return fused.reduce(x, y, tau, "laplace")[0], fused.reduce(y, x, tau, "laplace")[0]


def flex() -> Pass:
    """The pass by flex attention: head dim padded to 16, the Laplace kernel as a score_mod."""
    from torch.nn.attention.flex_attention import flex_attention

    attend = torch.compile(flex_attention)

    def lse(q: Tensor, k: Tensor, tau: float) -> Tensor:
        qn, kn = q.square().sum(1), k.square().sum(1)

        def laplace(score: Tensor, b: Tensor, h: Tensor, i: Tensor, j: Tensor) -> Tensor:
            return -torch.sqrt(torch.clamp(qn[i] + kn[j] - 2.0 * score, min=0.0)) / tau

        def pad(t: Tensor) -> Tensor:
            return torch.nn.functional.pad(t, (0, 16 - t.shape[1]))[None, None]

        _, out = attend(pad(q), pad(k), pad(k), score_mod=laplace, scale=1.0, return_lse=True)
        return out[0, 0]

    return lambda x, y, tau: (lse(x, y, tau), lse(y, x, tau))


def main(argv: list[str] | None = None) -> None:
    """Print one Markdown table: candidate, time over one exp pass, error, first-call time."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--n", type=int, default=4096)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", nargs="+", help="the candidates to run (default: every one)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    dev, n, d = torch.device(args.device), args.n, 2
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=g).to(dev)
    y = torch.cat([x, (torch.randn(n, d, generator=g) + 0.5).to(dev)])
    tau = 0.1 * math.sqrt(2.0 * d)
    truth = dense(x.double(), y.double(), tau) if n * 2 * n * 8 <= 2**31 else None
    exp_pass = exp_seconds(n, dev)
    candidates: dict[str, Pass | None] = {}
    if n * 2 * n * 4 <= 2**31:
        candidates["torch (dense)"] = dense
    candidates["torch.compile"] = compiled
    candidates["keops"] = keops
    if dev.type == "cpu" and fused.available():
        candidates["fused"] = fused_pass
    if dev.type == "cuda":
        candidates["flex attention"] = flex
    print(f"N = {n}, d = {d}, [N, 2N] logits, device {dev}, {args.threads} thread(s)\n")
    print("| candidate | first call s | time / exp pass | max error vs float64 |")
    print("|---|---:|---:|---:|")
    for name, candidate in candidates.items():
        if args.only and name not in args.only:
            continue
        run = candidate() if candidate in (compiled, keops, flex) else candidate
        if run is None:
            print(f"| {name} | – | not installed | – |")
            continue
        try:
            tic = time.perf_counter()
            rows, cols = run(x, y, tau)
            first = time.perf_counter() - tic
            seconds = best_time(lambda run=run: run(x, y, tau), dev, 3)
        except Exception as e:  # a candidate that fails is a result too
            print(f"| {name} | – | failed: {type(e).__name__}: {str(e)[:80]} | – |")
            continue
        err = "–"
        if truth is not None:
            worst = max(
                (rows.double() - truth[0]).abs().max(), (cols.double() - truth[1]).abs().max()
            )
            err = f"{float(worst):.2e}"
        print(f"| {name} | {first:.2f} | {seconds / exp_pass:.2f} | {err} |")


if __name__ == "__main__":
    main()
