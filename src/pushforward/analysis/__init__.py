"""After training: evaluation and analysis steps that read a run and store what they find.

Each step reads a trained run through `run.RunReader` / `methods.load_trained`, computes once,
and writes its results into the run directory through `run.RunWriter`, so the report only
draws: `evaluate` (eval.json), `lyapunov` (Lyapunov vectors vs tangent spaces),
`drift_variants` (every drift field at a drifting run's samples), `maps` (a flow's forward and
inverse maps). `quality` holds the metrics every study reports, with one seed rule.
"""

from pushforward.analysis.evaluate import evaluate_run, read_eval, time_sampler
from pushforward.analysis.quality import (
    EVAL_STREAMS,
    full_metrics,
    quality,
    snapshot_metrics,
)

__all__ = [
    "EVAL_STREAMS",
    "evaluate_run",
    "full_metrics",
    "quality",
    "read_eval",
    "snapshot_metrics",
    "time_sampler",
]
