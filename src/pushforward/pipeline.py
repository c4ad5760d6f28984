"""One experiment end to end: resolve, train into a run directory, analyse, report.

`run(name)` resolves the named experiment (`experiments.resolve`), prepares its run directory
(refusing to clobber one without `--resume` / `--overwrite`), trains it with `train.fit`
(snapshot metrics from `analysis.quality`), stores the derived results that apply (the drift
variants of a 2-D drifting run) and writes the report. `distill(teacher)` does the same for a
one-step map distilled from a trained flow. `report(path)` brings a run's derived results up to
date and rewrites its report: the report itself only draws what the run directory holds.

Example:
    >>> path = run("fm-bimodal", "runs/fm-bimodal", steps=200)  # doctest: +SKIP
    >>> report(path)  # doctest: +SKIP
    PosixPath('runs/fm-bimodal/report.html')
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from pushforward import distributed
from pushforward.analysis import drift_variants
from pushforward.analysis.quality import snapshot_metrics
from pushforward.config import dump_toml
from pushforward.errors import ConfigError
from pushforward.experiments import Built, build, resolve
from pushforward.ode import steps_for_nfe
from pushforward.report import write_report
from pushforward.run import Layout, RunInfo, RunLock, RunReader, RunWriter
from pushforward.runtime import resolve_device, stream_generator
from pushforward.train import fit

__all__ = ["RESUMABLE_TRAIN_KEYS", "run", "report", "distill_config", "distill"]

# [train] keys that may change when a run resumes (a NaN stop asks for on_nan, grad_clip and
# threads; loggers only say where metrics go, and runs older than the key lack it)
RESUMABLE_TRAIN_KEYS = ("steps", "on_nan", "grad_clip", "threads", "loggers")


def run(
    name: str,
    out: str | Path | None = None,
    overrides: list[str] | None = None,
    *,
    steps: int | None = None,
    seed: int | None = None,
    device: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    report: bool = True,
) -> Path:
    """Resolve, build and train experiment `name` into `out` (default runs/NAME); its path.

    `resume` continues the run in `out` from its checkpoint, with the seed it was started with
    unless `seed` says otherwise; `overwrite` replaces `out` if it is provably one of our runs.
    One process writes a run at a time (`run.RunLock`): a second writer is refused.
    """
    config = resolve(name, overrides, steps=steps, seed=seed, device=device)
    resolve_device(config["train"]["device"])
    path = Path(out) if out is not None else Path("runs") / config["experiment"]["name"]
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {path} is a file, not a folder; pick another --out")
    if resume and seed is None and Layout(path).config.is_file():
        started = RunReader(path).config().get("experiment", {}).get("seed")
        if isinstance(started, int) and started != config["experiment"]["seed"]:
            config = resolve(name, overrides, steps=steps, seed=started, device=device)
    built = build(config)  # every check (memory too) before anything on disk changes
    if distributed.launched():
        # torchrun: join the group now, so only rank 0 touches the folder before training
        distributed.setup(resolve_device(config["train"]["device"]))
    if resume and not Layout(path).config.is_file():
        what = "does not exist" if not path.exists() else "holds no run (no config.toml)"
        raise ConfigError(
            f"nothing to resume: {path} {what}; drop --resume to start the run, or point "
            "--out at the run to continue"
        )
    lock = RunLock(path) if distributed.is_main() else None
    existed, locked_before = path.exists(), Layout(path).lock.exists()
    try:
        if lock is not None:
            lock.acquire()
            try:
                _prepare(path, config, resume, overwrite)
            except BaseException:  # a refused run leaves no trace: no folder, no lock file
                lock.release()
                lock = None
                if not locked_before:
                    Layout(path).lock.unlink(missing_ok=True)
                if not existed:
                    path.rmdir()
                raise
        distributed.barrier()
        _train(path, config, built, resume, progress)
        if distributed.is_main():
            _analyse(path)
            if report:
                write_report(path)
        distributed.barrier()
    finally:
        if lock is not None:
            lock.release()
    return path


def _train(path: Path, config: dict[str, Any], built: Built, resume: bool, progress: bool) -> None:
    """Train the built experiment into run directory `path` (snapshot metrics on the way)."""
    shape = built.target.image_shape
    info = RunInfo(
        experiment=config["experiment"]["name"],
        method=built.method.name,
        dim=built.target.dim,
        image_shape=list(shape) if shape else None,
        description=config["experiment"]["description"],
    )
    reference = built.target.sample(built.train.eval_samples, stream_generator(built.seed, 5))
    fit(
        built.method,
        built.target,
        built.train,
        path,
        seed=built.seed,
        resume=resume,
        progress=progress,
        evaluate=lambda x: snapshot_metrics(x, built.target, reference),
        info=info,
    )


def _analyse(path: Path) -> None:
    """Store the derived results that apply to the run (the report draws them)."""
    if drift_variants.applies(path):
        drift_variants.drift_variants_analysis(path)


def report(path: str | Path, out: str | Path | None = None, **options: Any) -> Path:
    """Store any missing derived results of run `path`, then write its report; the HTML path."""
    path = RunReader(path).require().path
    if drift_variants.applies(path) and RunReader(path).analysis("drift_variants") is None:
        drift_variants.drift_variants_analysis(path)
    return write_report(path, out, **options)


def _prepare(path: Path, config: dict[str, Any], resume: bool, overwrite: bool) -> None:
    """Check the run folder against --resume/--overwrite, then create it and its config.toml."""
    writer, reader = RunWriter(path), RunReader(path)
    entries = [p for p in path.iterdir() if p.name != ".lock"] if path.is_dir() else []
    if resume:
        _check_same_config(path, config)
    elif entries:
        if overwrite:
            writer.remove_run()  # refuses, with the reason, unless provably one of our runs
        elif reader.is_ours()[0] or reader.layout.config.is_file():
            raise ConfigError(
                f"{path} already holds a run; pass --resume to continue it, --overwrite "
                "to replace it, or --out DIR for a new one"
            )
        else:
            foreign = reader.foreign_entries()
            shown = ", ".join(foreign[:5]) + (", …" if len(foreign) > 5 else "")
            raise ConfigError(
                f"{path} holds files that are not a pushforward run ({shown}); pick another "
                "--out (a new or empty folder)"
            )
    writer.create()
    writer.write_config(config)


def _check_same_config(path: Path, config: dict[str, Any]) -> None:
    """Refuse to resume a run under a different experiment (see RESUMABLE_TRAIN_KEYS)."""
    reader = RunReader(path)
    if not reader.layout.config.is_file():
        reader.require()  # names what is missing and what to do
    old = reader.config()  # run.json may be missing: killed before it was first written
    differing = []
    for section in sorted(set(old) | set(config)):  # sorted: the same message every time
        a, b = dict(old.get(section, {})), dict(config.get(section, {}))
        if section == "train":
            for key in RESUMABLE_TRAIN_KEYS:
                a.pop(key, None), b.pop(key, None)
        if _normalise(a) != _normalise(b):
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            differing.append(f"[{section}] differs (keys: {', '.join(keys)})")
    if differing:
        raise ConfigError(
            f"cannot resume {path}: {'; '.join(differing)} from the run's config.toml; "
            "drop --resume or use --out DIR"
        )


def _normalise(node: Any) -> Any:
    """Tuples as lists and ints as floats, so a TOML round trip compares equal."""
    if isinstance(node, dict):
        return {k: _normalise(v) for k, v in node.items() if v is not None}
    if isinstance(node, list | tuple):
        return [_normalise(v) for v in node]
    if isinstance(node, int) and not isinstance(node, bool):
        return float(node)
    return node


DISTILLABLE = ("flow-matching", "diffusion")


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
    reader = RunReader(teacher).require()
    if not reader.layout.checkpoint.exists():
        raise ConfigError(f"{reader.path} has no checkpoint: train it first (pushforward run …)")
    old = reader.config()
    if old["method"]["name"] not in DISTILLABLE:
        raise ConfigError(
            f"{reader.path} is a {old['method']['name']!r} run; distil a flow-matching or "
            "diffusion run (a velocity field to integrate)"
        )
    method: dict[str, Any] = {"name": "distillation", "teacher": str(reader.path.resolve())}
    if solver is not None:
        method["solver"] = solver
    if nfe is not None:
        name = solver or old["method"].get("solver", "euler")
        method["steps"] = nfe if name == "dopri5" else steps_for_nfe(name, nfe)
    method["pairs"] = pairs
    net = dict(old["net"])
    net.update({k: v for k, v in (("width", width), ("depth", depth)) if v is not None})
    exp = dict(old["experiment"])
    exp["description"] = f"One-step map distilled from {reader.path.name} ({old['method']['name']})"
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


def distill(
    teacher: str | Path,
    out: str | Path | None = None,
    *,
    overwrite: bool = False,
    progress: bool = True,
    report: bool = True,
    **options: Any,
) -> Path:
    """Distil run `teacher` into run directory `out` (default `TEACHER-distilled`); its path."""
    config = distill_config(teacher, **options)
    name = f"{Path(teacher).resolve().name}-distilled"
    out = Path(out) if out is not None else Path(teacher).resolve().parent / name
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.toml"
        path.write_text(dump_toml(config))
        return run(str(path), out, overwrite=overwrite, progress=progress, report=report)
