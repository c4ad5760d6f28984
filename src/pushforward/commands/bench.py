"""`pushforward bench RUN_DIR|NAME...|mnist|field|train [--csv FILE] [--md FILE]`: benchmark tables.

Each argument is a run directory, or an experiment name whose run lives in runs/NAME. A run is
evaluated like `pushforward eval` (reusing its eval.json when it was made with the same `-n`,
`--seed` and training step, unless ``--recompute``); the table has one row per run with the
headline quality metrics, train time, sampling time per 1k samples, NFE and parameter count.
Markdown goes to stdout (and ``--md FILE``); ``--csv FILE`` holds every metric of every run.

The command benchmarks *subjects*: trained runs (:func:`bench_runs`; ``mnist`` names the
eight MNIST runs), the drift field against torch.mm and one exp pass (``field``,
:mod:`pushforward.perf.field`), and flow-matching training steps/s beside torchcfm and
flow_matching, drifting training steps/s of drift-bimodal with the field's share of the step,
plus one-step vs N-step sampling throughput (``train``, :mod:`pushforward.perf.train`). See
docs/benchmarks.md.

Examples:
    $ pushforward bench fm-bimodal drift-bimodal --csv bench.csv
    $ pushforward bench field --dims 2 --sizes 1024 4096 --md field.md
    $ pushforward bench train --device cuda
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from pushforward.analysis.evaluate import evaluate_run, read_eval
from pushforward.argtypes import add_sampling_arguments, int_at_least
from pushforward.errors import ConfigError, RunDirError
from pushforward.fields import BACKENDS, fused
from pushforward.perf.field import DEFAULT_SIZES, FIELD_COLUMNS, bench_field
from pushforward.perf.train import (
    DRIFT_COLUMNS,
    SAMPLING_COLUMNS,
    TRAIN_COLUMNS,
    bench_drift_train,
    bench_sampling,
    bench_train,
)
from pushforward.run import EvalRecord, RunReader
from pushforward.runtime import resolve_device
from pushforward.studies.table import Table

__all__ = ["HEADLINE", "find_run", "run_record", "bench_runs", "cmd_bench", "register"]

# quality metrics shown in the Markdown table, in this order, where any run has them
HEADLINE = [
    "energy_distance",
    "mmd",
    "sliced_w2",
    "w2",
    "sinkhorn",
    "modes_covered",
    "dominant_mode_mass",
    "off_mode_share",
    "mode_mass_tv",
    "manifold_dist_mean",
    "off_manifold_share",
    "precision",
    "recall",
    "fd",
    "class_entropy",
    "feat_precision",
    "feat_recall",
    "nn_train_dist_ratio",
    "id_mle_k20",
]
COST = ["train_time_s", "sample_s_per_1k", "nfe", "params"]
# `pushforward bench mnist`: the runs of the MNIST experiments (issue: latent 12/32/128)
GROUPS = {
    "mnist": [
        "mnist-fm",
        "mnist-chart-12-det",
        "mnist-chart-12-stoch",
        "mnist-chart-32-det",
        "mnist-chart-32-stoch",
        "mnist-chart-128-det",
        "mnist-chart-128-stoch",
        "mnist-drift",
    ]
}
SUBJECTS = ("field", "train")


def find_run(text: str) -> Path:
    """The run directory named by `text`: a path, else runs/TEXT; RunDirError when neither is."""
    path = Path(text)
    if not path.is_dir() and (Path("runs") / text).is_dir():
        path = Path("runs") / text
    if not path.is_dir():
        raise RunDirError(
            f"{text!r} is neither a run directory nor an experiment with a run in runs/{text}; "
            f"train it with `pushforward run {text}` or pass the folder `--out` wrote"
        )
    RunReader(path).require()
    return path


def run_record(path: Path, n: int, seed: int, device: str, recompute: bool) -> EvalRecord:
    """The eval record of run `path`: its eval.json if it is a full evaluation with `n`,
    `seed` and the run's current step, else a new evaluation."""
    cached = None if recompute else read_eval(path)
    step = RunReader(path).info().step
    if cached and (cached.suite, cached.n, cached.seed, cached.step) == ("full", n, seed, step):
        return cached
    return evaluate_run(path, n, seed, device=device)


def bench_runs(
    targets: Sequence[str],
    n: int = 2000,
    seed: int = 0,
    *,
    device: str = "cpu",
    recompute: bool = False,
) -> tuple[Table, Table]:
    """Benchmark trained runs: (headline table, full table with every metric) over `targets`."""
    paths = [find_run(t) for t in targets]  # every name is checked before any work starts
    records = [run_record(p, n, seed, device, recompute) for p in paths]
    rows = []
    for text, record in zip(targets, records, strict=True):
        row = {"run": text, "experiment": record.experiment, "method": record.method}
        row.update(record.metrics)
        row.update({c: getattr(record, c) for c in COST})
        rows.append(row)
    ident = ["run", "experiment", "method"]
    present = [k for k in HEADLINE if any(r.get(k) is not None for r in rows)]
    every = sorted({k for r in rows for k in r} - set(ident) - set(COST))
    return Table(ident + present + COST, rows), Table(ident + every + COST, rows)


def bench_field_table(args: argparse.Namespace) -> Table:
    """The `field` subject: our drift field and the dense reference against the bounds."""
    resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.backends and "fused" in args.backends and args.device != "cpu":
        raise ConfigError("--backends fused runs on the CPU only; leave it out for --device cuda")
    if args.backends and "fused" in args.backends and not fused.available():
        raise ConfigError(f"--backends fused: the fused kernels are unavailable ({fused.reason()})")
    sizes = {d: args.sizes or DEFAULT_SIZES.get(d, [1024, 4096]) for d in args.dims}
    rows = bench_field(
        args.dims,
        sizes,
        repeat=args.repeat,
        device=args.device,
        reference_max_gib=args.reference_max_gib,
        backends=args.backends,
        sinkhorn_iters=args.sinkhorn_iters,
        sinkhorn_max_n=args.sinkhorn_max_n,
        progress=lambda line: print(line, file=sys.stderr),
    )
    return Table(FIELD_COLUMNS, rows)


def bench_train_tables(args: argparse.Namespace) -> tuple[Table, Table, Table]:
    """The `train` subject: FM steps/s vs the peers, drifting steps/s (drift-bimodal) and
    sampling throughput."""
    resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    train = bench_train(steps=args.steps, batch_size=args.batch_size, device=args.device)
    drifting = bench_drift_train(steps=args.steps, batch_size=args.batch_size, device=args.device)
    sampling = bench_sampling(device=args.device)
    return (
        Table(TRAIN_COLUMNS, train),
        Table(DRIFT_COLUMNS, drifting),
        Table(SAMPLING_COLUMNS, sampling),
    )


def cmd_bench(args: argparse.Namespace) -> int:
    """Print the Markdown table(s) of the subject and write the requested files."""
    subject = args.targets[0]
    if subject in SUBJECTS and len(args.targets) > 1:
        raise ConfigError(f"`bench {subject}` takes no other targets, got {args.targets[1:]}")
    if subject == "field":
        tables = [bench_field_table(args)]
    elif subject == "train":
        tables = list(bench_train_tables(args))
    else:
        targets = [name for t in args.targets for name in GROUPS.get(t, [t])]
        headline, full = bench_runs(
            targets, args.n, args.seed, device=args.device, recompute=args.recompute
        )
        tables = [headline]
        if args.csv is not None:
            args.csv.write_text(full.csv())
    markdown = "\n".join(t.markdown() for t in tables)
    print(markdown, end="")
    if args.md is not None:
        args.md.write_text(markdown)
    if args.csv is not None and subject in SUBJECTS:
        args.csv.write_text("\n".join(t.csv() for t in tables))
    return 0


def _output(suffix: str) -> Any:
    """argparse type: an output path ending in `suffix` whose folder exists."""

    def check(text: str) -> Path:
        path = Path(text)
        if path.suffix != suffix:
            raise argparse.ArgumentTypeError(f"expected a {suffix} file, got {text!r}")
        if not path.parent.exists():
            raise argparse.ArgumentTypeError(f"folder {path.parent} does not exist")
        return path

    return check


def _non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


_dim = int_at_least(1, "a dimension >= 1", 1 << 16, "the field benchmark's largest d")
_size = int_at_least(2, "a set size >= 2", 1 << 22, "the field benchmark's largest N")
_repeat = int_at_least(1, "a repeat count >= 1", 100, "best of more is no better")
_train_steps = int_at_least(1, "a positive number of steps", 100_000, "a benchmark, not a run")
_batch = int_at_least(1, "a positive batch size", 1 << 20, "the benchmark's largest batch")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `pushforward bench`."""
    p = subparsers.add_parser(
        "bench",
        help="one table of quality and cost across runs (Markdown, CSV)",
        description=__doc__.split("\n\n")[1],
    )
    p.add_argument(
        "targets",
        nargs="+",
        metavar="RUN",
        help="run directory or experiment name; `mnist` (the MNIST runs), `field` or `train`",
    )
    add_sampling_arguments(p)
    p.add_argument("--csv", type=_output(".csv"), help="write every metric of every run as CSV")
    p.add_argument("--md", type=_output(".md"), help="write the Markdown table")
    p.add_argument("--recompute", action="store_true", help="ignore stored eval.json files")
    g = p.add_argument_group("bench field / bench train")
    g.add_argument("--dims", type=_dim, nargs="+", default=[2, 784], help="field: d")
    g.add_argument("--sizes", type=_size, nargs="+", help="field: set sizes N (default per d)")
    g.add_argument("--repeat", type=_repeat, default=3, help="field: best of this many")
    g.add_argument(
        "--reference-max-gib",
        type=_non_negative_float,
        default=4.0,
        help="field: skip the dense reference above this much memory",
    )
    g.add_argument(
        "--backends",
        nargs="+",
        choices=[b for b in BACKENDS if b != "auto"],
        help="field: the field backends to time (default: every one that runs on the device)",
    )
    g.add_argument(
        "--sinkhorn-iters",
        type=int_at_least(0, "a sweep count >= 0", 10_000, "a benchmark, not a solve"),
        default=20,
        help="field: Sinkhorn sweeps of the Sinkhorn rows (0: no Sinkhorn rows)",
    )
    g.add_argument(
        "--sinkhorn-max-n",
        type=_size,
        default=16384,
        help="field: the largest N with a Sinkhorn row",
    )
    g.add_argument("--steps", type=_train_steps, default=300, help="train: steps per method")
    g.add_argument("--batch-size", type=_batch, default=256, help="train: batch size")
    g.add_argument(
        "--threads",
        type=int_at_least(0, "a thread count >= 0", 1024, "a CPU has fewer threads"),
        default=0,
        help="CPU threads (0: torch's)",
    )
    p.set_defaults(func=cmd_bench)
