"""Fuzzing every subcommand's arguments and damaged run directories (issue 21).

For each subcommand, hypothesis draws argument lists from pools of valid, borderline and
hostile values (negative, zero, huge and non-numeric numbers, NaN, paths that do not exist,
files where folders are expected, junk `--set` overrides, damaged run directories) and runs
`pushforward` in this process with the working folder, HOME and the data cache inside a
scratch folder. Every run must end with exit status 0 or 2, print no Python traceback, and
leave every file outside the scratch folder untouched (a sentinel folder beside it is
compared byte for byte). Training commands always get tiny budgets so one example takes
seconds. `FUZZ_EXAMPLES` sets the examples per subcommand (default 6; the closing note of
issue 21 lists a run with more).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pushforward.cli import main

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck))  # fmt: skip
COUNTS: Counter = Counter()

TINY = ["--set", "net.width=8", "--set", "net.depth=1", "--set", "train.batch_size=16",
        "--set", "train.snapshots=1", "--set", "train.snapshot_samples=32",
        "--set", "train.eval_samples=32", "--set", "train.threads=1"]  # fmt: skip
INTS = ["-1", "0", "1", "2", "3", "abc", "1e3", "", "99999999999999999999", "2.5", "nan"]
SMALL = ["1", "2"]
FLOATS = ["-1", "0", "1e-3", "1e300", "nan", "inf", "x", ""]
SETS = ["train.lr=1e300", "train.lr=nan", "train.batch_size=10000000000", "method.nope=1",
        "net.width=-3", "train.steps=0", "data.std=inf", "garbage", "=", "train.=1",
        "x.y.z=1", "experiment.seed=99999999999999999999", "net.depth=0", "data.name=5",
        "train.threads=99999999999", "train.device='tpu'", "train.ema=1.5"]  # fmt: skip
NAMES = ["fm-bimodal", "drift-bimodal", "chart-bimodal", "nope", "", "../x.toml", "x.toml"]
DAMAGE = {
    "run.json": ["[]", "null", "", "{", '{"snapshots": 3}', '{"status": "x"}'],
    "config.toml": ["", "[net", "x = 1", "[method]\nname = 3"],
    "checkpoint.safetensors": ["", "garbage"],
    "metrics.jsonl": ["garbage\n{", '{"step": "x"}'],
    "static.safetensors": ["", "junk"],
}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A scratch root: the template runs (trained once), a sentinel folder beside it."""
    root = tmp_path_factory.mktemp("fuzz")
    templates = root / "templates"
    for name, experiment in (("fm", "fm-bimodal"), ("drift", "drift-bimodal")):
        argv = ["run", experiment, "--out", str(templates / name), "--steps", "2", *TINY]
        assert main([*argv, "--quiet", "--no-report"]) == 0
    sentinel = root.parent / f"{root.name}-sentinel"
    sentinel.mkdir()
    (sentinel / "keep.txt").write_text("precious")
    yield root, templates, sentinel
    shutil.rmtree(sentinel, ignore_errors=True)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _runs(draw, templates: Path, work: Path) -> list[str]:
    """Run-directory arguments: good runs, damaged runs and things that are not runs."""
    good = work / "good"
    if not good.exists():
        shutil.copytree(templates / draw(st.sampled_from(["fm", "drift"])), good)
    damaged = work / "damaged"
    if not damaged.exists():
        shutil.copytree(templates / "fm", damaged)
        file = draw(st.sampled_from(sorted(DAMAGE)))
        (damaged / file).write_text(draw(st.sampled_from(DAMAGE[file])))
        if draw(st.booleans()):
            shutil.rmtree(damaged / "snapshots")
    (work / "a-file").write_text("x")
    return [str(good), str(damaged), str(work / "missing"), str(work / "a-file"), str(work)]


def _options(draw, pools: dict[str, list[str]]) -> list[str]:
    """Some of the options, each with a value from its pool (flags: pool None)."""
    argv: list[str] = []
    for option in draw(st.lists(st.sampled_from(sorted(pools)), unique=True, max_size=4)):
        pool = pools[option]
        argv += [option] if pool is None else [option, draw(st.sampled_from(pool))]
    return argv


def _argv(command: str, draw, templates: Path, work: Path) -> list[str]:
    """An argument list for `command` (cheap budgets for anything that trains)."""
    runs = _runs(draw, templates, work)
    out = [str(work / "out"), str(work / "deep" / "er" / "out"), str(work / "a-file"), ""]
    pick = lambda pool: draw(st.sampled_from(pool))  # noqa: E731
    if command == "list":
        return ["list"]
    if command == "run":
        opts = _options(draw, {"--seed": INTS, "--device": ["cpu", "cuda", "tpu", ""],
                               "--set": SETS, "--resume": None, "--overwrite": None,
                               "--out": out, "--no-report": None})  # fmt: skip
        return ["run", pick(NAMES), "--steps", pick(SMALL + ["0", "-1", "x"]), *TINY, *opts]
    if command == "sample":
        opts = _options(draw, {"--seed": INTS, "--solver": ["euler", "rk4", "nope", "dopri5"],
                               "--nfe": INTS, "--device": ["cpu", "tpu"]})  # fmt: skip
        npy = pick([str(work / "s.npy"), str(work / "s.txt"), str(work / "no" / "s.npy")])
        return ["sample", pick(runs), "-n", pick(INTS[:6]), "-o", npy, *opts]
    if command == "report":
        dirs = draw(st.lists(st.sampled_from(runs), min_size=1, max_size=2))
        opts = _options(
            draw,
            {
                "-o": [str(work / "r.html"), str(work / "r.txt"), dirs[0] + "/config.toml"],
                "--max-points": INTS,
            },
        )
        return ["report", *dirs, *opts]
    if command == "data":
        action = pick(["list", "fetch", "sample"])
        if action == "fetch":
            return ["data", "fetch", pick(["nope", "digits", "digits-classifier", "fashion"])]
        if action == "sample":
            name = pick(["moons", "gaussian", "nope", "bimodal"])
            opts = _options(draw, {"--seed": INTS, "--set": ["std=-1", "dim=3", "nope=1", "x"]})
            npy = pick([str(work / "d.npy"), str(work / "d.txt")])
            return ["data", "sample", name, "-n", pick(INTS[:6]), "-o", npy, *opts]
        return ["data", "list"]
    if command == "bench":
        subject = pick(["runs", "field", "train"])
        if subject == "field":
            opts = _options(
                draw,
                {
                    "--repeat": INTS[:5],
                    "--reference-max-gib": FLOATS,
                    "--threads": INTS[:5],
                    "--device": ["cpu", "tpu"],
                },
            )
            return ["bench", "field", "--dims", pick(["2", "0", "x"]), "--sizes",
                    pick(["64", "1", "99999999999"]), "--repeat", "1", *opts]  # fmt: skip
        if subject == "train":
            return [
                "bench",
                "train",
                "--steps",
                pick(["2", "0"]),
                "--batch-size",
                pick(["16", "-2"]),
                *_options(draw, {"--device": ["cpu", "tpu"]}),
            ]
        opts = _options(draw, {"-n": INTS[:6] + ["20"], "--seed": INTS,
                               "--csv": [str(work / "b.csv"), str(work / "b.md")],
                               "--recompute": None})  # fmt: skip
        return ["bench", *draw(st.lists(st.sampled_from(runs), min_size=1, max_size=2)), *opts]
    if command == "collapse-map":
        return ["collapse-map", "--quick", "--steps", pick(["1", "0"]), "--seeds",
                pick(["0", "-1", "a", "0,1"]), "--out", pick(out[:2])]  # fmt: skip
    if command == "distill":
        opts = _options(draw, {"--nfe": INTS[:5], "--solver": ["euler", "nope"],
                               "--pairs": ["64", "0", "99999999999"], "--width": ["8", "0"],
                               "--lr": FLOATS, "--seed": INTS, "--overwrite": None})  # fmt: skip
        return ["distill", pick(runs), "--steps", "1", "--pairs", "64", "--quiet",
                "--no-report", "--out", pick(out), *opts]  # fmt: skip
    if command == "drift-variants":
        study = pick(["map", "8g", "arrows"])
        base = ["drift-variants", study, "--steps", pick(["1", "0"]), "--seeds", "0",
                "--out", pick(out[:2])]  # fmt: skip
        if study == "map":
            base += [
                "--variants",
                pick(["paper", "paper,sinkhorn", "nope"]),
                "--geometry",
                pick(["4:2.5", "x", "4"]),
                "--temperatures",
                pick(["0.05:0.2", "-1:2"]),
            ]
        elif study == "8g":
            base += ["--variants", pick(["paper", "nope"])]
        else:
            base += draw(st.sampled_from([[], ["--run", pick(runs)]]))
        return base
    if command == "eval":
        opts = _options(draw, {"--seed": INTS, "--json": None, "--device": ["cpu", "tpu"],
                               "--nll": None})  # fmt: skip
        return ["eval", pick(runs), "-n", pick(INTS[:6] + ["20"]), *opts]
    if command == "lyapunov":
        opts = _options(draw, {"-k": INTS[:5], "--steps": INTS[:5], "--seed": INTS,
                               "--perturb": None, "--sizes": ["0.1", "-1", "x,1", "inf"],
                               "--threads": INTS[:5], "--no-report": None,
                               "--out": out[:2]})  # fmt: skip
        return ["lyapunov", pick(runs), "-n", pick(["20", "0", "1"]), "--short-steps",
                pick(["0", "2", "-1"]), *opts]  # fmt: skip
    if command == "maps":
        opts = _options(draw, {"--metric": ["fwd_w2", "nope"], "--out": [str(work / "m.md")],
                               "--no-png": None})  # fmt: skip
        return ["maps", *draw(st.lists(st.sampled_from(runs), min_size=1, max_size=2)), *opts]
    if command == "rank":
        return ["rank", pick(["digits", "mnist", "moons", "nope"]), "--splits",
                pick(["train", "train+test", "nope", ""]), "--rank", pick(INTS[:5] + ["20"]),
                "--out", pick(out[:2])]  # fmt: skip
    if command == "sweep":
        sets = draw(
            st.lists(
                st.sampled_from(
                    ["method.bidirectional=true,false", "train.lr=x,", "nope", "train.lr=1e-3"]
                ),
                max_size=2,
            )
        )
        argv = ["sweep", pick(NAMES[:4]), "--steps", "1", "--seeds", pick(["0", "x"]),
                "--out", pick(out[:2])]  # fmt: skip
        for s in sets:
            argv += ["--set", s]
        return argv + [x for s in TINY[1::2] for x in ("--fixed", s)]
    if command == "curves":
        paths = draw(st.lists(st.sampled_from(runs), min_size=1, max_size=2))
        opts = _options(draw, {"--log-y": None, "--out": [str(work / "c"), str(work / "x" / "c")]})
        return ["curves", *paths, "--metric", pick(["energy_distance", "nope", ""]), *opts]
    if command == "latent-dim":
        sets = [x for s in TINY[1::2] for x in ("--set", s)]
        return ["latent-dim", pick(["chart-bimodal", "fm-bimodal", "nope"]), "--dims",
                pick(["1,2", "0", "x", "2"]), "--seeds", pick(["0", "-1"]), "--steps",
                pick(["1", "0"]), "--out", pick(out[:2]), "--quiet", *sets]  # fmt: skip
    if command == "intrinsic-dim":
        opts = _options(draw, {"--noise": ["0,0.1", "-1", "x", "nan"], "--k": ["5,10", "0", "1"],
                               "--seed": INTS, "--threads": INTS[:5]})  # fmt: skip
        return ["intrinsic-dim", pick(["moons", "swissroll3d", "nope", "mnist"]), "-n",
                pick(["200", "0", "3", "x"]), "--out", pick(out[:2]), *opts]  # fmt: skip
    if command == "replicate":
        sets = [x for s in TINY[1::2] for x in ("--set", s)]
        opts = _options(draw, {"--suite": ["full", "quality", "x"], "-n": INTS[:6] + ["50"],
                               "--metric": ["w2", "nope"], "--tag": ["a", ""]})  # fmt: skip
        return ["replicate", pick(NAMES[:4]), "--seeds", pick(["0", "0,1", "x"]), "--steps",
                pick(["1", "0"]), "--out", pick(out[:2]), "--quiet", *sets, *opts]  # fmt: skip
    if command == "reproduce":
        tiny = work / "tiny.toml"  # a two-step claim, so an example takes seconds
        overrides = ", ".join(f'"{s}"' for s in TINY[1::2])
        tiny.write_text(
            '[[claim]]\nid = "t"\nseed = "000"\nclaim = "x."\n'
            f"quick = {{ steps = 2, seeds = 1, overrides = [{overrides}] }}\n"
            f"full = {{ steps = 2, seeds = 1, overrides = [{overrides}] }}\n"
            '[[claim.check]]\nexperiment = "fm-bimodal"\nmetric = "eval:w2"\nop = "<="\n'
            "threshold = 1\n"
        )
        (work / "bad.toml").write_text("[[claim]]\nid = 3\n")
        claims = pick([str(tiny), str(work / "bad.toml"), str(work / "none.toml")])
        opts = _options(draw, {"--seeds": INTS[:5], "--profile": ["quick", "full", "slow"],
                               "--device": ["cpu", "tpu"], "--only": ["t", "nope", "", "t,t"],
                               "--publish": [str(work / "missing")]})  # fmt: skip
        return ["reproduce", "--claims", claims, "--out", pick(out[:2]), "--quiet", *opts]
    if command == "guidance":
        opts = _options(draw, {"--scales": ["0,1", "-1", "x", "nan", ""], "--seed": INTS,
                               "--threads": INTS[:5]})  # fmt: skip
        return ["guidance", pick(runs), "-n", pick(INTS[:6] + ["20"]), *opts]
    if command == "tour":
        return ["tour", pick(["mmd-gaussian", "nope", "inference-cost"]), "--steps",
                pick(["1", "0"]), "--quiet", "--out", pick(out[:2])]  # fmt: skip
    raise AssertionError(command)


COMMANDS = ["list", "run", "sample", "report", "data", "bench", "collapse-map", "curves", "distill",
            "drift-variants", "eval", "guidance", "intrinsic-dim", "latent-dim", "lyapunov", "maps",
            "rank", "replicate", "reproduce", "sweep", "tour"]  # fmt: skip


def test_every_subcommand_is_fuzzed():
    from pushforward.cli import parser

    sub = next(a for a in parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    assert set(sub.choices) == set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_fuzz_subcommand(command, scratch, monkeypatch):
    root, templates, sentinel = scratch
    guarded = _snapshot(sentinel) | _snapshot(templates)
    monkeypatch.setenv("HOME", str(root / "home"))
    monkeypatch.setenv("PUSHFORWARD_CACHE", str(root / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")

    @FUZZ
    @given(st.data())
    def one(data):
        work = root / "work"
        os.chdir(root)  # never sit in a folder that is about to be deleted
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        argv = _argv(command, data.draw, templates, work)
        monkeypatch.chdir(work)
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(argv)
            except SystemExit as e:  # argparse: usage errors exit 2, --help 0
                code = e.code
            except Exception as e:  # a traceback: report the argument list that caused it
                raise AssertionError(f"{argv} raised {type(e).__name__}: {e}") from e
        COUNTS[command] += 1
        assert code in (0, 2), (argv, code, err.getvalue()[-2000:])
        assert "Traceback" not in err.getvalue(), (argv, err.getvalue()[-3000:])

    try:
        one()
    finally:
        monkeypatch.chdir(root)
    assert _snapshot(sentinel) | _snapshot(templates) == guarded  # nothing outside was touched
    report = root / "fuzz-counts.txt"
    report.write_text("".join(f"{k} {v}\n" for k, v in sorted(COUNTS.items())))
