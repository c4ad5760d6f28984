"""Command line: `pushforward list | run | sample | report | data`, plus `pushforward.commands`.

Every argument is checked where it enters; a bad one prints `error: …` saying what to do and
exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

import torch

from pushforward import commands, data, distributed, plugins
from pushforward.analysis.sampling import write_npy
from pushforward.argtypes import npy_path, positive, seed
from pushforward.config import parse_override
from pushforward.errors import ConfigError, PushforwardError
from pushforward.experiments import experiments
from pushforward.fields import FIELDS
from pushforward.methods import load_trained, methods
from pushforward.metrics.images import fetch_classifier
from pushforward.ode import SOLVERS, steps_for_nfe
from pushforward.pipeline import report, run
from pushforward.report import human_size, write_comparison
from pushforward.run import Layout

__all__ = ["main", "parser"]


def _plugin_mark(group: str, name: str) -> str:
    """' [plug-in: package version]' for a name an installed plug-in registered, else ''."""
    found = plugins.loaded(group).get(name)
    return f" [plug-in: {found.package}]" if found is not None else ""


def cmd_list(args: argparse.Namespace) -> int:
    """Print the shipped experiments with their one-line descriptions, then the learners and
    drift fields an experiment can name (installed plug-ins marked)."""
    items = experiments()
    width = max(map(len, items), default=0)
    for name, description in items.items():
        print(f"{name:<{width}}  {description}")
    learners = [f"{n}{_plugin_mark('pushforward.methods', n)}" for n in methods()]
    families = [f"{n}{_plugin_mark('pushforward.fields', n)}" for n in FIELDS]
    print(f"\nmethods ([method] name): {', '.join(learners)}")
    print(f"drift fields (method.field): {', '.join(families)}")
    print("distributions ([data] name): see `pushforward data list`")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Train an experiment into a run directory and write its report."""
    path = run(
        args.name,
        args.out,
        args.set,
        steps=args.steps,
        seed=args.seed,
        device=args.device,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=not args.quiet,
        report=not args.no_report,
    )
    if distributed.is_main():
        print(f"run directory: {path}")
    distributed.shutdown()
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    """Draw samples from a trained run into an .npy file."""
    built = load_trained(args.run_dir, device=args.device)
    solver = {}
    if args.solver is not None:
        if args.solver not in SOLVERS:
            raise ConfigError(f"--solver {args.solver!r}: choose one of {', '.join(SOLVERS)}")
        solver["solver"] = args.solver
    if args.nfe is not None:
        name = solver.get("solver", built.config["method"].get("solver", "euler"))
        if name != "dopri5":
            solver["steps"] = steps_for_nfe(name, args.nfe)
    generator = torch.Generator().manual_seed(args.seed)
    method = built.method

    def draw(rows: int, g: torch.Generator) -> torch.Tensor:
        return method.sample(rows, generator=g, **solver)

    x = write_npy(args.o, draw, args.n, built.target.dim, generator)
    print(f"wrote {args.o}: {tuple(x.shape)} float32")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write report.html for one run (+ PNGs), or a comparison page for several."""
    if args.o is not None:
        out = Path(args.o)
        if out.suffix != ".html":
            raise ConfigError(f"-o {out}: the report is HTML; give a path ending in .html")
        for run_dir in args.run_dirs:
            own = {p.resolve() for p in Layout(run_dir).own_files()} - {
                Layout(run_dir).report.resolve()
            }
            if out.resolve() in own:
                raise ConfigError(f"-o {out} is one of the run's own files; pick another path")
    if len(args.run_dirs) > 1 and args.o is None:
        raise ConfigError("a comparison of several runs needs -o FILE.html (where to write it)")
    if len(args.run_dirs) == 1:
        html = report(args.run_dirs[0], args.o, max_points=args.max_points)
        names = ("final.png", "samples_grid.png", "curves.png")  # what write_report writes
        pngs = [n for n in names if (html.parent / n).is_file()]
        print(f"wrote {html} ({human_size(html.stat().st_size)})")
        if pngs:
            print(f"      {', '.join(pngs)} in {html.parent}")
        return 0
    html = write_comparison(args.run_dirs, Path(args.o), max_points=args.max_points)
    print(f"wrote {html} ({human_size(html.stat().st_size)})")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    """List, fetch or sample the registered distributions."""
    if args.data_command == "list":
        items = data.distributions()
        width = max(map(len, items), default=0)
        for name, description in items.items():
            mark = _plugin_mark("pushforward.distributions", name)
            print(f"{name:<{width}}  {description}{mark}")
    elif args.data_command == "fetch":
        if args.name.endswith("-classifier"):
            path = fetch_classifier(args.name.removesuffix("-classifier"))
        else:
            path = data.fetch(args.name)
        where = path if path is not None else "ships with its package, nothing to fetch"
        print(f"{args.name}: {where}")
    else:
        params = {}
        for text in args.set:
            path, value = parse_override(f"data.{text}")
            params[path[-1]] = value
        dist = data.make_distribution(args.name, **params)
        x = write_npy(
            args.o, dist.sample, args.n, dist.dim, torch.Generator().manual_seed(args.seed)
        )
        print(f"wrote {args.o}: {tuple(x.shape)} float32")
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    p = argparse.ArgumentParser(
        prog="pushforward",
        description="Learn maps that push one distribution onto another, and see why they fail.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("list", help="list the shipped experiments")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("run", help="train an experiment into runs/NAME")
    s.add_argument("name", help="experiment name (see `pushforward list`) or a .toml path")
    s.add_argument("--out", help="run directory (default runs/NAME)")
    s.add_argument("--steps", type=positive, help="override train.steps")
    s.add_argument("--seed", type=seed, help="override experiment.seed")
    s.add_argument("--device", help="cpu or cuda (overrides train.device)")
    s.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set train.lr=3e-4 (repeatable)",
    )
    s.add_argument(
        "--resume",
        action="store_true",
        help="continue from the run's checkpoint (from checkpoint.prev if the latest is damaged)",
    )
    s.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    s.add_argument("--no-report", action="store_true", help="skip writing report.html")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("sample", help="draw samples from a trained run into an .npy file")
    s.add_argument("run_dir")
    s.add_argument("-n", type=positive, required=True, help="number of samples")
    s.add_argument("-o", type=npy_path, required=True, help="output FILE.npy ([n, dim] float32)")
    s.add_argument("--seed", type=seed, default=0)
    s.add_argument("--solver", help="flows: euler, heun, rk4 or dopri5")
    s.add_argument("--nfe", type=positive, help="flows: function evaluations (fixed-step solvers)")
    s.add_argument("--device", default="cpu")
    s.set_defaults(func=cmd_sample)

    s = sub.add_parser("report", help="write report.html (or a comparison of several runs)")
    s.add_argument("run_dirs", nargs="+")
    s.add_argument("-o", help="output HTML (default RUN_DIR/report.html; needed for several runs)")
    s.add_argument("--max-points", type=positive, default=2000, help="points per set per frame")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("data", help="list, fetch or sample data sets")
    dsub = s.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    dsub.add_parser("list", help="registered distributions")
    f = dsub.add_parser(
        "fetch", help="download and verify a data set (mnist, mnist-classifier, digits-classifier)"
    )
    f.add_argument("name")
    d = dsub.add_parser("sample", help="sample a distribution into an .npy file")
    d.add_argument("name")
    d.add_argument("-n", type=positive, required=True)
    d.add_argument("-o", type=npy_path, required=True)
    d.add_argument("--seed", type=seed, default=0)
    d.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="distribution parameter, e.g. --set std=0.5",
    )
    s.set_defaults(func=cmd_data)

    for info in pkgutil.iter_modules(commands.__path__):
        importlib.import_module(f"{commands.__name__}.{info.name}").register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `pushforward` console script; returns the exit status."""
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except PushforwardError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; continue with --resume", file=sys.stderr)
        return 130
    except OSError as e:  # disk full, permissions: files already written stay as they were
        print(f"error: {os_error_hint(e, args)}", file=sys.stderr)
        return 2


def os_error_hint(error: OSError, args: argparse.Namespace) -> str:
    """What failed on disk and what to do: --resume only where a run had started training."""
    where = f" ({error.filename})" if error.filename else ""
    text = f"{error.strerror or error}{where}"
    out = getattr(args, "out", None)
    started = args.command in ("run", "distill") and out and Layout(out).checkpoint.is_file()
    if started:
        return f"{text}; fix it, then continue the run with --resume (its checkpoint is kept)"
    return f"{text}; check that the path exists and is writable (or pick another path), then rerun"
