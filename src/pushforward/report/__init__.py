"""Reports of a run directory: a self-contained interactive HTML page and static PNGs.

A slider moves through the training snapshots; each panel (``sample``, ``latent``, ``forward``,
``inverse``, ``field``) is a subplot with one trace per point set. Derived panels join them
where an analysis step stored its results in the run: every drift-field variant on one frame
(`report.drift_variants`), and the Lyapunov section (`report.lyapunov`). The report reads the
run directory through `pushforward.run` and nothing else of ours, so it never recomputes what
an analysis stored and can run on its own, during or after training (docs/architecture.md).

Example:
    >>> from pushforward.report import write_report
    >>> path = write_report("runs/drift-bimodal")  # doctest: +SKIP
"""

from pushforward.report.html import human_size, write_comparison, write_report

__all__ = ["write_report", "write_comparison", "human_size"]
