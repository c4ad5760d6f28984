"""`pushforward bench RUN_DIR|NAME... [--csv FILE] [--md FILE]`: one table across runs.

Each argument is a run directory, or an experiment name whose run lives in runs/NAME. A run is
evaluated like `pushforward eval` (reusing its eval.json when it was made with the same `-n`,
`--seed` and training step, unless ``--recompute``); the table has one row per run with the
headline quality metrics, train time, sampling time per 1k samples, NFE and parameter count.
Markdown goes to stdout (and ``--md FILE``); ``--csv FILE`` holds every metric of every run.

The command benchmarks *subjects*; today the only subject is trained runs
(:func:`bench_runs`). Another subject (say the cost of a drift field, or of a training step)
is one more function returning a :class:`Table` and one more branch in :func:`cmd_bench`.

Example:
    $ pushforward bench fm-bimodal drift-bimodal --csv bench.csv
"""

from __future__ import annotations

import argparse
import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pushforward.commands.eval import add_sampling_arguments, format_value
from pushforward.errors import RunDirError

__all__ = ["HEADLINE", "Table", "find_run", "run_record", "bench_runs", "cmd_bench", "register"]

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


@dataclass
class Table:
    """Rows of named values under `columns`, written as Markdown or CSV (missing cells empty)."""

    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def markdown(self) -> str:
        """A GitHub-flavoured Markdown table; numbers to 4 significant digits, missing as '–'."""
        cells = [[format_value(row.get(c)) for c in self.columns] for row in self.rows]
        numeric = [
            all(isinstance(row.get(c), int | float) or row.get(c) is None for row in self.rows)
            for c in self.columns
        ]
        lines = ["| " + " | ".join(self.columns) + " |"]
        lines.append("|" + "|".join("---:" if num else "---" for num in numeric) + "|")
        lines += ["| " + " | ".join(r) + " |" for r in cells]
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        """CSV with a header row; numbers at full precision, missing cells empty."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, self.columns, restval="", lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({c: "" if row.get(c) is None else row[c] for c in self.columns})
        return buf.getvalue()


def find_run(text: str) -> Path:
    """The run directory named by `text`: a path, else runs/TEXT; RunDirError when neither is."""
    from pushforward.rundir import RunDir

    path = Path(text)
    if not path.is_dir() and (Path("runs") / text).is_dir():
        path = Path("runs") / text
    if not path.is_dir():
        raise RunDirError(
            f"{text!r} is neither a run directory nor an experiment with a run in runs/{text}; "
            f"train it with `pushforward run {text}` or pass the folder `--out` wrote"
        )
    RunDir(path).require()
    return path


def run_record(path: Path, n: int, seed: int, device: str, recompute: bool) -> dict[str, Any]:
    """The eval record of run `path`: its eval.json if it matches `n`, `seed` and the step."""
    from pushforward.evaluate import evaluate_run, read_eval
    from pushforward.rundir import RunDir

    cached = None if recompute else read_eval(path)
    step = RunDir(path).read_info().get("step")
    if cached and (cached.get("n"), cached.get("seed"), cached.get("step")) == (n, seed, step):
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
        row = {"run": text, "experiment": record["experiment"], "method": record["method"]}
        row.update(record["metrics"])
        row.update({c: record.get(c) for c in COST})
        rows.append(row)
    ident = ["run", "experiment", "method"]
    present = [k for k in HEADLINE if any(r.get(k) is not None for r in rows)]
    every = sorted({k for r in rows for k in r} - set(ident) - set(COST))
    return Table(ident + present + COST, rows), Table(ident + every + COST, rows)


def cmd_bench(args: argparse.Namespace) -> int:
    """Print the Markdown table of the benchmarked runs and write the requested files."""
    # a new subject is a branch here, before this default: every argument is a run
    headline, full = bench_runs(
        args.targets, args.n, args.seed, device=args.device, recompute=args.recompute
    )
    markdown = headline.markdown()
    print(markdown, end="")
    if args.md is not None:
        args.md.write_text(markdown)
    if args.csv is not None:
        args.csv.write_text(full.csv())
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


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `pushforward bench`."""
    p = subparsers.add_parser(
        "bench",
        help="one table of quality and cost across runs (Markdown, CSV)",
        description=__doc__.split("\n\n")[1],
    )
    p.add_argument("targets", nargs="+", metavar="RUN", help="run directory or experiment name")
    add_sampling_arguments(p)
    p.add_argument("--csv", type=_output(".csv"), help="write every metric of every run as CSV")
    p.add_argument("--md", type=_output(".md"), help="write the Markdown table")
    p.add_argument("--recompute", action="store_true", help="ignore stored eval.json files")
    p.set_defaults(func=cmd_bench)
