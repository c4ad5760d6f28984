"""Reports of a run directory: a self-contained interactive HTML page and static PNGs.

A slider moves through the training snapshots; each panel (``sample``, ``latent``, ``forward``,
``inverse``, ``field``) is a subplot with one trace per point set. Derived panels join them: every
drift-field variant on one frame for a 2-D drifting run (`report.drift_variants`), and the
Lyapunov section where `pushforward lyapunov` saved its results (`report.lyapunov`). Reads only
the run directory (docs/architecture.md), so it can run on its own, during or after training.

Example:
    >>> from pushforward.report import write_report
    >>> path = write_report("runs/drift-bimodal")  # doctest: +SKIP
"""

from pushforward.report.command import report_command
from pushforward.report.html import write_comparison, write_report
from pushforward.report.load import Run, load_run, require_run_dir

__all__ = [
    "write_report",
    "write_comparison",
    "report_command",
    "load_run",
    "require_run_dir",
    "Run",
]
