"""`pushforward distill RUN_DIR`: distil a trained flow into a one-step map, as a new run.

The new run directory has the same contract as any other (config.toml, run.json,
metrics.jsonl, snapshots, checkpoint), so `pushforward sample` and `pushforward report` work
on it. Its experiment is the teacher's data (and source) with `[method] name =
"distillation"` pointing at the teacher.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from pushforward.config import dump_toml
from pushforward.errors import ConfigError
from pushforward.rundir import RunDir

__all__ = ["register", "distill_run", "distill_config"]


def distill_config(
    teacher: str | Path,
    *,
    steps: int = 2000,
    nfe: int | None = None,
    solver: str | None = None,
    pairs: int = 16384,
    width: int | None = None,
    depth: int | None = None,
    lr: float = 1e-3,
    batch_size: int = 256,
    seed: int | None = None,
) -> dict:
    """The experiment (a TOML-ready dict) that distils the run `teacher` into a one-step MLP."""
    from pushforward.ode import steps_for_nfe

    run = RunDir(teacher).require()
    if not run.checkpoint_path.exists():
        raise ConfigError(f"{run.path} has no checkpoint: train it first (pushforward run …)")
    old = run.read_config()
    if old["method"]["name"] not in ("flow-matching", "diffusion"):
        raise ConfigError(
            f"{run.path} is a {old['method']['name']!r} run; distil a flow-matching or "
            "diffusion run (a velocity field to integrate)"
        )
    method = {"name": "distillation", "teacher": str(run.path.resolve())}
    if solver is not None:
        method["solver"] = solver
    if nfe is not None:
        name = solver or old["method"].get("solver", "euler")
        method["steps"] = nfe if name == "dopri5" else steps_for_nfe(name, nfe)
    method["pairs"] = pairs
    net = dict(old["net"])
    net.update({k: v for k, v in (("width", width), ("depth", depth)) if v is not None})
    exp = dict(old["experiment"])
    exp["description"] = f"One-step map distilled from {run.path.name} ({old['method']['name']})"
    exp.pop("name", None)
    if seed is not None:
        exp["seed"] = seed
    train = {
        **old["train"],
        "steps": steps,
        "lr": lr,
        "batch_size": batch_size,
        "ema": 0.0,
        "warmup": 0,
        "schedule": "cosine",
    }
    config = {"experiment": exp, "data": old["data"], "method": method, "net": net}
    if "source" in old:
        config["source"] = old["source"]
    config["train"] = train
    return config


def distill_run(
    teacher: str | Path,
    out: str | Path | None = None,
    *,
    overwrite: bool = False,
    progress: bool = True,
    report: bool = True,
    **options,
) -> RunDir:
    """Distil run `teacher` into run directory `out` (default `TEACHER-distilled`); the run."""
    from pushforward.experiment import run

    config = distill_config(teacher, **options)
    name = f"{Path(teacher).resolve().name}-distilled"
    out = Path(out) if out is not None else Path(teacher).resolve().parent / name
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.toml"
        path.write_text(dump_toml(config))
        return run(str(path), out, overwrite=overwrite, progress=progress, report=report)


def _cmd(args: argparse.Namespace) -> int:
    """Run `distill_run` from parsed arguments."""
    options = {
        k: getattr(args, k)
        for k in ("steps", "nfe", "solver", "pairs", "width", "depth", "lr", "batch_size", "seed")
        if getattr(args, k) is not None
    }
    rundir = distill_run(
        args.run_dir,
        args.out,
        overwrite=args.overwrite,
        progress=not args.quiet,
        report=not args.no_report,
        **options,
    )
    print(f"run directory: {rundir.path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `pushforward distill RUN_DIR [--out DIR] [--steps N] [--nfe K] …`."""
    from pushforward.argtypes import positive, seed

    s = subparsers.add_parser(
        "distill", help="distil a trained flow run into a one-step map (a new run directory)"
    )
    s.add_argument("run_dir", help="a trained flow-matching or diffusion run directory")
    s.add_argument("--out", help="new run directory (default RUN_DIR-distilled beside it)")
    s.add_argument("--steps", type=positive, help="training steps of the student (2000)")
    s.add_argument("--nfe", type=positive, help="teacher evaluations per pair (its solver)")
    s.add_argument("--solver", help="teacher solver for the pairs: euler, heun, rk4, dopri5")
    s.add_argument("--pairs", type=positive, help="number of (noise, endpoint) pairs (16384)")
    s.add_argument("--width", type=positive, help="student MLP width (default: teacher's)")
    s.add_argument("--depth", type=positive, help="student MLP depth (default: teacher's)")
    s.add_argument("--lr", type=float, help="learning rate (1e-3)")
    s.add_argument("--batch-size", type=positive, help="pairs per step (256)")
    s.add_argument("--seed", type=seed, help="seed of the student's weights and batches")
    s.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    s.add_argument("--no-report", action="store_true", help="skip writing report.html")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=_cmd)
