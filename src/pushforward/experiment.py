"""Experiments: resolve a TOML file (plus overrides) into objects, train them, reload a run.

`resolve` reads the named experiment shipped in `pushforward/experiments/` (or any TOML
path), applies `--set` overrides and fills every default, checking each key where it enters.
`build` turns the resolved dict into (target, source, method, train config). `run` does both,
trains with `train.fit` into a run directory and writes the report. `load_run` rebuilds a
trained method from a run directory (config.toml + checkpoint.safetensors).
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pushforward import distributed
from pushforward.checkpoint import load_checkpoint, previous_path
from pushforward.config import (
    SECTIONS,
    ExperimentConfig,
    all_finite,
    apply_overrides,
    check_keys,
    check_section,
    load_toml,
)
from pushforward.data import make_distribution
from pushforward.data.base import Distribution
from pushforward.errors import ConfigError, RunDirError, suggest
from pushforward.evaluate import sample_metrics
from pushforward.methods import Method, build_method, method_class
from pushforward.nets import NetConfig
from pushforward.rundir import RunDir
from pushforward.train import TrainConfig, fit, resolve_device, stream_generator

__all__ = ["EXPERIMENTS_DIR", "Built", "experiments", "resolve", "build", "run", "load_run"]

EXPERIMENTS_DIR = Path(__file__).parent / "experiments"


@dataclass
class Built:
    """The objects an experiment names, ready for `train.fit`."""

    config: dict[str, Any]
    target: Distribution
    source: Distribution | None
    method: Method
    train: TrainConfig
    seed: int


def experiments() -> dict[str, str]:
    """Shipped experiments: name → one-line description."""
    out = {}
    for path in sorted(EXPERIMENTS_DIR.glob("*.toml")):
        out[path.stem] = load_toml(path).get("experiment", {}).get("description", "")
    return out


def _experiment_file(name: str) -> Path:
    """Path of a shipped experiment or of a TOML file; an unknown name lists the shipped ones."""
    path = Path(name)
    if path.suffix == ".toml":
        if not path.is_file():
            raise ConfigError(f"experiment file {path} does not exist")
        return path
    shipped = EXPERIMENTS_DIR / f"{name}.toml"
    if not shipped.is_file():
        names = list(experiments())
        raise ConfigError(
            f"unknown experiment {name!r}{suggest(name, names)}; shipped: {', '.join(names)} "
            "(or pass a path to a .toml file; `pushforward list` describes each)"
        )
    return shipped


def resolve(
    name: str,
    overrides: list[str] | None = None,
    *,
    steps: int | None = None,
    seed: int | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """The experiment `name` with overrides applied and every default filled in (a dict)."""
    raw = load_toml(_experiment_file(name))
    check_keys(raw, list(SECTIONS), "experiment file")
    extra = list(overrides or [])
    extra += [f"train.steps={steps}"] if steps is not None else []
    extra += [f"experiment.seed={seed}"] if seed is not None else []
    extra += [f'train.device="{device}"'] if device is not None else []
    raw = apply_overrides(raw, extra)
    for section in ("data", "method"):
        if "name" not in raw.get(section, {}):
            raise ConfigError(f"the experiment file needs [{section}] with a name")
    exp = check_section(ExperimentConfig, raw.get("experiment", {}), "experiment")
    net = check_section(NetConfig, raw.get("net", {}), "net")
    train = check_section(TrainConfig, raw.get("train", {}), "train")
    method_params = dict(raw["method"])
    if not isinstance(method_params["name"], str):
        raise ConfigError(
            f"method.name = {method_params['name']!r} should be a string, e.g. "
            '"flow-matching" (`pushforward list` shows the shipped experiments)'
        )
    cls = method_class(method_params.pop("name"))
    method_cfg = check_section(cls.Config, method_params, "method")
    resolved = {
        "experiment": {"name": Path(name).stem, **asdict(exp)},
        "data": dict(raw["data"]),
        "method": {"name": cls.name, **asdict(method_cfg)},
        "net": asdict(net),
        "train": asdict(train),
    }
    if "source" in raw:
        resolved["source"] = dict(raw["source"])
    _distribution(resolved["data"], "data")  # check the parameters now, not mid-run
    if "source" in resolved:
        _distribution(resolved["source"], "source")
    return resolved


def _distribution(params: dict[str, Any], section: str) -> Distribution:
    """Build a distribution from a `[data]`/`[source]` table; errors name the section."""
    params = dict(params)
    name = params.pop("name", None)
    if name is None:
        raise ConfigError(f"[{section}] needs a name (see `pushforward data list`)")
    if not isinstance(name, str):
        raise ConfigError(
            f"{section}.name = {name!r} should be a string (see `pushforward data list`)"
        )
    for key, value in params.items():
        if not all_finite(value):
            raise ConfigError(f"{section}.{key} = {value!r}: must be a finite number (no nan/inf)")
    try:
        return make_distribution(name, **params)
    except ConfigError as e:
        raise ConfigError(f"[{section}] {e}") from None


def build(config: dict[str, Any]) -> Built:
    """Distributions, method (weights from the seed) and train config of a resolved experiment."""
    seed = config["experiment"]["seed"]
    target = _distribution(config["data"], "data")
    source = _distribution(config["source"], "source") if "source" in config else None
    net = NetConfig(**config["net"])
    method = build_method(config["method"], target, source, net, stream_generator(seed, 0))
    return Built(config, target, source, method, TrainConfig(**config["train"]), seed)


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
) -> RunDir:
    """Resolve, build and train experiment `name` into `out` (default runs/NAME); the run dir."""
    config = resolve(name, overrides, steps=steps, seed=seed, device=device)
    resolve_device(config["train"]["device"])
    rundir = RunDir(out if out is not None else Path("runs") / config["experiment"]["name"])
    if rundir.path.exists() and not rundir.path.is_dir():
        raise ConfigError(f"--out {rundir.path} is a file, not a folder; pick another --out")
    built = build(config)  # every check before anything on disk changes
    if distributed.launched():
        # torchrun: join the group now, so only rank 0 touches the folder before training
        distributed.setup(resolve_device(config["train"]["device"]))
    if distributed.is_main():
        _prepare(rundir, config, resume, overwrite)
    distributed.barrier()
    info = {
        "experiment": config["experiment"]["name"],
        "method": built.method.name,
        "dim": built.target.dim,
        "image_shape": built.target.image_shape,
        "description": config["experiment"]["description"],
    }
    reference = built.target.sample(built.train.eval_samples, stream_generator(built.seed, 5))
    fit(
        built.method,
        built.target,
        built.train,
        rundir,
        seed=built.seed,
        resume=resume,
        progress=progress,
        evaluate=lambda x: sample_metrics(x, built.target, reference),
        info=info,
    )
    if report and distributed.is_main():
        from pushforward.report import write_report

        write_report(rundir.path)
    distributed.barrier()
    return rundir


def _prepare(rundir: RunDir, config: dict[str, Any], resume: bool, overwrite: bool) -> None:
    """Check the run folder against --resume/--overwrite, then create it and its config.toml."""
    if rundir.path.exists() and any(rundir.path.iterdir()):
        if resume:
            _check_same_config(rundir, config)
        elif overwrite:
            if not rundir.config_path.is_file():
                raise ConfigError(
                    f"--overwrite refuses to delete {rundir.path}: it is not a run directory "
                    "(no config.toml); pick another --out"
                )
            shutil.rmtree(rundir.path)
        else:
            raise ConfigError(
                f"{rundir.path} already holds a run; pass --resume to continue it, --overwrite "
                "to replace it, or --out DIR for a new one"
            )
    rundir.create()
    rundir.write_config(config)


# [train] keys that may change when a run resumes (a NaN stop asks for the last three)
RESUMABLE_TRAIN_KEYS = ("steps", "on_nan", "grad_clip", "threads")


def _check_same_config(rundir: RunDir, config: dict[str, Any]) -> None:
    """Refuse to resume a run under a different experiment (see RESUMABLE_TRAIN_KEYS)."""
    if not rundir.config_path.is_file():
        rundir.require()  # names what is missing and what to do
    old = rundir.read_config()  # run.json may be missing: killed before it was first written
    for section in set(old) | set(config):
        a, b = dict(old.get(section, {})), dict(config.get(section, {}))
        if section == "train":
            for key in RESUMABLE_TRAIN_KEYS:
                a.pop(key, None), b.pop(key, None)
        if _normalise(a) != _normalise(b):
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            raise ConfigError(
                f"cannot resume {rundir.path}: [{section}] differs from the run's config.toml "
                f"(keys: {', '.join(keys)}); drop --resume or use --out DIR"
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


def load_run(path: str | Path, *, device: str = "cpu", ema: bool = True) -> Built:
    """Rebuild the trained method of a run directory (EMA weights when the run kept them)."""
    rundir = RunDir(path).require()
    config = rundir.read_config()
    config["train"]["device"] = device
    built = build(config)
    try:
        tensors, _ = load_checkpoint(rundir.checkpoint_path)
    except RunDirError as e:
        prev = previous_path(rundir.checkpoint_path)
        hint = (
            f"; the previous checkpoint {prev} is kept: `pushforward run ... --out {rundir.path}"
            " --resume` continues from it and rewrites the latest"
            if prev.is_file()
            else ""
        )
        raise RunDirError(f"{e}{hint}") from None
    prefix = "ema." if ema and any(k.startswith("ema.") for k in tensors) else "model."
    weights = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    try:
        built.method.load_state_dict(weights, strict=prefix == "model.")
    except RuntimeError as e:
        raise RunDirError(f"{rundir.checkpoint_path} does not match config.toml: {e}") from None
    built.method.to(resolve_device(device)).eval()
    return built
