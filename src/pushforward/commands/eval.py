"""`pushforward eval RUN_DIR [-n N] [--seed S] [--json] [--nll]`: every metric that applies.

Loads the trained run, draws `n` samples (timing the sampler and counting network
evaluations), computes `pushforward.analysis.quality.full_metrics` against `n` fresh data samples,
adds the likelihood of those data where the family defines one (`nll` in nats per point,
`bits_per_dim`; a flow above 16 dimensions only with ``--nll``), stores the record as
RUN_DIR/eval.json and prints it as an aligned table, or as one JSON
object with ``--json``.

Example:
    $ pushforward run fm-bimodal
    $ pushforward eval runs/fm-bimodal -n 2000
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from pushforward.analysis.evaluate import evaluate_run
from pushforward.argtypes import add_sampling_arguments
from pushforward.run import EvalRecord
from pushforward.studies.table import format_value

__all__ = ["register", "cmd_eval", "format_record", "GROUPS"]

# (title, test on a metric key), in display order; a key goes to the first group that takes it
GROUPS: list[tuple[str, Any]] = [
    ("distances to data", lambda k: k in ("energy_distance", "mmd", "sliced_w2", "w2", "sinkhorn")),
    ("modes", lambda k: k.startswith(("mode", "dominant_mode", "off_mode"))),
    ("manifold", lambda k: "manifold" in k),
    ("support (k-NN, data space)", lambda k: k in ("precision", "recall", "density", "coverage")),
    ("images (classifier features)", lambda k: k.startswith(("fd", "class", "feat_"))),
    ("memorisation", lambda k: k.startswith(("nn_", "near_copy"))),
    ("intrinsic dimension (samples / data)", lambda k: "id_" in k),
    (
        "likelihood of the reference data (nats)",
        lambda k: k.startswith("nll") or k == "bits_per_dim",
    ),
    ("other", lambda k: True),
]


def format_record(record: EvalRecord) -> str:
    """The eval record as an aligned two-column table, grouped by kind of metric."""
    head = [
        ("run", record.run),
        ("experiment", record.experiment),
        ("method", record.method),
        ("samples", record.n),
        ("step", record.step),
        ("train time (s)", record.train_time_s),
        ("sampling time per 1k (s)", record.sample_s_per_1k),
        ("NFE", record.nfe),
        ("parameters", record.params),
    ]
    rows: list[tuple[str, str]] = [(k, format_value(v)) for k, v in head]
    metrics = dict(record.metrics)
    sections = []
    for title, takes in GROUPS:
        keys = [k for k in metrics if takes(k)]
        if keys:
            sections.append((title, [(k, format_value(metrics.pop(k))) for k in keys]))
    width = max(len(k) for k, _ in rows + [kv for _, items in sections for kv in items])
    lines = [f"{k:<{width}}  {v:>10}" for k, v in rows]
    for title, items in sections:
        lines += ["", f"# {title}"] + [f"{k:<{width}}  {v:>10}" for k, v in items]
    return "\n".join(lines)


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate one run directory, store eval.json and print a table or JSON."""
    record = evaluate_run(args.run_dir, args.n, args.seed, device=args.device, nll=args.nll)
    print(json.dumps(record.to_json()) if args.json else format_record(record))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `pushforward eval`."""
    p = subparsers.add_parser(
        "eval",
        help="every metric that applies to a trained run (stored as RUN_DIR/eval.json)",
        description=__doc__.split("\n\n")[1],
    )
    p.add_argument("run_dir", help="run directory written by `pushforward run`")
    add_sampling_arguments(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument(
        "--nll",
        action="store_true",
        help="also the likelihood of a flow above 16 dimensions (Hutchinson probes; slow)",
    )
    p.set_defaults(func=cmd_eval)
