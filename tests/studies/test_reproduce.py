"""`pushforward reproduce`: the claims file is checked, a tiny claim runs end to end into the
three outputs, and a killed reproduce resumes without retraining what it finished."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pushforward.cli import main
from pushforward.errors import ConfigError
from pushforward.experiments import resolve
from pushforward.run import Layout, RunReader
from pushforward.studies.reproduce import (
    OPS,
    README_MARKERS,
    Budget,
    Check,
    CheckResult,
    _run_dir,
    _same_run,
    claims_markdown,
    fill_claims_blocks,
    load_claims,
    reproduce,
    verdict,
)

TINY = json.dumps([
    "net.width=16", "net.depth=2", "train.batch_size=64", "train.snapshots=3",
    "train.snapshot_samples=200", "train.eval_samples=200", "train.threads=1",
    "train.checkpoint_every=10",
])  # fmt: skip
CLAIMS = f"""
[[claim]]
id = "tiny-fm"
seed = "000"
claim = "A tiny flow matching run covers both modes, and collapses onto none."
quick = {{ steps = 40, seeds = 1, overrides = {TINY} }}
full = {{ steps = 60, seeds = 2, overrides = {TINY} }}

[[claim.check]]
experiment = "fm-bimodal"
metric = "eval:modes_covered"
op = ">="
threshold = 2

[[claim.check]]
experiment = "fm-bimodal"
metric = "eval:dominant_mode_mass"
op = ">="
threshold = 0.99
"""


@pytest.fixture()
def claims_file(tmp_path: Path) -> Path:
    path = tmp_path / "claims.toml"
    path.write_text(CLAIMS)
    return path


def test_the_shipped_claims_file_is_valid_and_names_shipped_experiments():
    claims = load_claims()
    assert len(claims) >= 10 and {c.seed for c in claims.values()} == {"000", "001", "002", "003"}
    for claim in claims.values():
        assert claim.full.seeds == 3, claim.id  # every number of a table: three seeds
        assert claim.quick.steps is not None and claim.claim.endswith(".")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("fm-bimodal", "fm-bimodl"), "unknown experiment 'fm-bimodl'.*did you mean"),
        (("eval:modes_covered", "evl:modes_covered"), "SOURCE:KEY"),
        (('op = ">="', 'op = "=>"'), "choose one of"),
        (("threshold = 2", 'threshold = "two"'), "must be a number"),
        (("quick = {", "quik = {"), "unknown key 'quik'"),
        (("seeds = 1,", "seeds = 0,"), "seeds must be an integer in 1"),
    ],
)
def test_a_bad_claims_file_is_a_clear_error(tmp_path, edit, message):
    path = tmp_path / "claims.toml"
    path.write_text(CLAIMS.replace(*edit, 1))
    with pytest.raises(ConfigError, match=message):
        load_claims(path)


def test_unknown_profile_and_claim_are_refused(tmp_path, claims_file):
    with pytest.raises(ConfigError, match="unknown profile"):
        reproduce(tmp_path / "o", profile="medium", claims_file=claims_file)
    with pytest.raises(ConfigError, match="unknown claim 'tiny'.*did you mean 'tiny-fm'"):
        reproduce(tmp_path / "o", only=["tiny"], claims_file=claims_file)


def test_a_tiny_claim_runs_end_to_end_into_the_three_outputs(tmp_path, claims_file):
    out = tmp_path / "out"
    records = reproduce(out, claims_file=claims_file)
    (record,) = records
    first, second = record["checks"]
    assert first["passed"] and not second["passed"] and record["verdict"] == "partly"
    assert first["values"] == [2.0] and second["mean"] < 0.99
    (run,) = first["runs"]
    assert second["runs"] == [run]  # the two checks share one run
    assert run.startswith("runs/fm-bimodal/quick-40steps+") and run.endswith("/seed=0")
    data = json.loads((out / "claims.json").read_text())
    assert data["profile"] == "quick" and data["claims"][0]["id"] == "tiny-fm"
    assert "| `tiny-fm` (seed 000)" in (out / "claims.md").read_text()
    page = (out / "claims.html").read_text()
    assert f"{run}/report.html" in page and "final.png" in page
    assert RunReader(out / first["runs"][0]).info().step == 40


def test_strict_fails_the_command_when_a_claim_is_not_reproduced(tmp_path, claims_file, capsys):
    base = ["reproduce", "--claims", str(claims_file), "--out", str(tmp_path / "o"), "--quiet"]
    assert main(base) == 0  # a verdict table, whatever it says
    (run,) = (tmp_path / "o" / "runs" / "fm-bimodal").glob("quick-40steps+*/seed=0")
    trained = Layout(run).checkpoint.stat().st_mtime_ns
    # the finished run is reused (only the verdict again), though it trained on other threads
    assert main([*base, "--strict", "--threads", "2"]) == 1
    assert Layout(run).checkpoint.stat().st_mtime_ns == trained
    assert "--strict: not reproduced at this budget: tiny-fm" in capsys.readouterr().err


def test_no_train_judges_only_the_finished_runs_and_trains_nothing(tmp_path, claims_file):
    out = tmp_path / "out"
    (record,) = reproduce(out, profile="full", claims_file=claims_file, train=False)
    assert record["verdict"] == "not run" and not (out / "runs").exists()
    assert "**not run**" in (out / "claims.md").read_text()
    reproduce(out, profile="full", seeds=1, claims_file=claims_file)  # seed 0 of the 2 asked
    trained = sorted(out.glob("runs/*/*/seed=*"))
    (record,) = reproduce(out, profile="full", claims_file=claims_file, train=False)
    assert sorted(out.glob("runs/*/*/seed=*")) == trained  # nothing new trained
    assert record["seeds"] == 2 and [len(c["values"]) for c in record["checks"]] == [1, 1]
    assert record["verdict"] == "partly"  # as with one seed: covers both, not collapsed
    assert "1 of 2 seeds run" in (out / "claims.md").read_text()


def test_a_run_folder_names_its_step_budget_and_overrides(tmp_path):
    one = _run_dir(tmp_path, "width-bottleneck", (), "full", Budget(steps=None, seeds=3))
    long = _run_dir(tmp_path, "width-bottleneck", (), "full", Budget(steps=20000, seeds=3))
    wide = _run_dir(tmp_path, "width-bottleneck", ("net.widths=[128, 256, 128]",), "full",
                    Budget(steps=20000))  # fmt: skip
    a = _run_dir(tmp_path, "fm-bimodal", (), "quick", Budget(40, 1, ("net.width=16",)))
    b = _run_dir(tmp_path, "fm-bimodal", (), "quick", Budget(40, 1, ("net.width=32",)))
    assert one.name == "full" and long.name == "full-20000steps"
    assert wide.parent.name == "width-bottleneck+widths=_128__256__128_"
    assert a != b and a.name.startswith("quick-40steps+") and len(a.name) == len(b.name)
    # seeds are not part of the folder: seed=N lies below it
    assert _run_dir(tmp_path, "x", (), "full", Budget(None, 1)) == one.parent.parent / "x" / "full"


def test_verdicts_count_checks_and_the_seeds_a_failing_check_passes_on():
    def R(values, op=">=", threshold=0.95):
        check = Check("drift-bimodal", "eval:dominant_mode_mass", op, threshold)
        mean = sum(values) / len(values)
        return CheckResult(check, values, OPS[op](mean, threshold))

    assert verdict([R([1.0, 1.0]), R([0.97])]) == "reproduced"
    assert verdict([R([1.0]), R([0.5])]) == "partly"
    # collapse on two seeds of three: the mean 0.84 fails, the claim holds on two seeds
    two_of_three = R([1.0, 1.0, 0.513])
    assert not two_of_three.passed and two_of_three.seed_passes == 2
    assert verdict([two_of_three]) == "partly"
    assert verdict([R([0.5, 0.6, 0.513])]) == "not reproduced"
    assert verdict([R([0.2], op="<=", threshold=0.1)]) == "not reproduced"
    assert R([0.05, 0.2], op="<=", threshold=0.1).seed_passes == 1
    assert R([math.nan, 1.0]).seed_passes == 1


def test_a_killed_reproduce_resumes_without_retraining_finished_runs(tmp_path, claims_file):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "pushforward", "reproduce", "--profile", "full", "--claims",
           str(claims_file), "--out", str(out), "--quiet"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    folder = _run_dir(out, "fm-bimodal", (), "full", load_claims(claims_file)["tiny-fm"].full)
    first_run, second_run = folder / "seed=0", folder / "seed=1"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:  # kill once seed 1 has a checkpoint
        if Layout(second_run).checkpoint.is_file():
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert RunReader(first_run).info().status == "done"
    assert RunReader(second_run).info().status == "running"  # what a kill -9 leaves
    finished = Layout(first_run).checkpoint.stat().st_mtime_ns
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert Layout(first_run).checkpoint.stat().st_mtime_ns == finished  # not retrained
    info = RunReader(second_run).info()
    assert info.status == "done" and info.step == 60
    record = json.loads((out / "claims.json").read_text())["claims"][0]
    assert record["seeds"] == 2 and len(record["checks"][0]["values"]) == 2


def test_publish_fills_the_claims_blocks_of_the_readme_and_the_docs_pages(tmp_path, claims_file):
    out = tmp_path / "out"
    records = reproduce(out, claims_file=claims_file)
    readme = tmp_path / "README.md"
    start, end = README_MARKERS
    readme.write_text(f"# x\n\n{start}\nold table\n{end}\n\nmore\n")
    page = tmp_path / "docs" / "page.md"
    page.parent.mkdir()
    page.write_text(f"a\n<!-- claims:start ids=tiny-fm -->\nold\n{end}\nb\n")
    untouched = tmp_path / "docs" / "other.md"
    untouched.write_text("no block here\n")
    assert main(["reproduce", "--publish", str(out), "--docs", str(tmp_path / "docs" / "claims"),
                 "--readme", str(readme)]) == 0  # fmt: skip
    text = readme.read_text()
    table = claims_markdown(json.loads((out / "claims.json").read_text())["claims"])
    assert f"{start}\n{table}{end}" in text and "old table" not in text and "more" in text
    one = claims_markdown([r for r in records if r["id"] == "tiny-fm"])
    assert page.read_text() == f"a\n<!-- claims:start ids=tiny-fm -->\n{one}{end}\nb\n"
    assert untouched.read_text() == "no block here\n"
    assert (tmp_path / "docs" / "claims" / "claims.json").is_file()


def test_publish_merge_replaces_and_adds_claims_by_id_and_keeps_the_rest(tmp_path):
    def record(cid: str, verdict: str) -> dict:
        return {"id": cid, "seed": "003", "claim": cid, "profile": "full", "seeds": 3,
                "verdict": verdict, "checks": []}  # fmt: skip

    docs, results = tmp_path / "docs" / "claims", tmp_path / "results"
    docs.mkdir(parents=True)
    results.mkdir()
    shipped = {"profile": "full", "claims": [record("a", "partly"), record("b", "reproduced")]}
    (docs / "claims.json").write_text(json.dumps(shipped))
    new = {"profile": "full", "claims": [record("c", "reproduced"), record("a", "reproduced")]}
    (results / "claims.json").write_text(json.dumps(new))
    readme = tmp_path / "README.md"
    start, end = README_MARKERS
    readme.write_text(f"{start}\n{end}\n")
    args = ["reproduce", "--publish", str(results), "--docs", str(docs), "--readme", str(readme)]
    assert main([*args, "--merge"]) == 0
    merged = json.loads((docs / "claims.json").read_text())["claims"]
    assert [(r["id"], r["verdict"]) for r in merged] == [
        ("a", "reproduced"), ("b", "reproduced"), ("c", "reproduced")]  # fmt: skip
    assert "`b` (seed 003)" in readme.read_text()
    assert main(args) == 0  # without --merge the results replace the shipped file whole
    assert [r["id"] for r in json.loads((docs / "claims.json").read_text())["claims"]] == ["c", "a"]
    (results / "claims.json").write_text(json.dumps({**new, "profile": "quick"}))
    assert main([*args, "--merge"]) == 2
    assert main(["reproduce", "--merge"]) == 2


def test_a_block_asking_for_a_claim_the_results_lack_is_refused_before_writing(tmp_path):
    records = [{"id": "a", "seed": "000", "claim": "c", "profile": "full", "seeds": 3,
                "verdict": "reproduced", "checks": []}]  # fmt: skip
    text = "<!-- claims:start ids=a,zz -->\nold\n<!-- claims:end -->\n"
    with pytest.raises(ConfigError, match="claim 'zz'.*--only zz"):
        fill_claims_blocks(text, records, "page.md")
    filled = fill_claims_blocks(text.replace(",zz", ""), records)
    assert "`a` (seed 000)" in filled and "old" not in filled


def test_the_shipped_tables_are_the_shipped_results():
    """README's and docs' claims blocks equal what docs/claims/claims.json generates."""
    root = Path(__file__).resolve().parents[2]
    shipped = root / "docs" / "claims" / "claims.json"
    if not shipped.is_file():
        pytest.skip("no shipped full run yet")
    records = json.loads(shipped.read_text())["claims"]
    for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        text = path.read_text()
        assert fill_claims_blocks(text, records, str(path)) == text, (
            f"{path.name}: its claims block is stale; run `pushforward reproduce --publish "
            "runs/reproduce-full`"
        )


def test_a_run_from_before_a_key_existed_is_the_same_run_when_the_key_keeps_its_default(tmp_path):
    path = tmp_path / "run"
    overrides = ["net.width=16", "train.snapshots=0", "train.threads=1"]
    config = resolve("fm-bimodal", overrides, steps=3, seed=0)
    assert main(["run", "fm-bimodal", "--out", str(path), "--steps", "3", "--quiet",
                 "--no-report", *(a for o in overrides for a in ("--set", o))]) == 0  # fmt: skip
    layout = Layout(path)
    text = layout.config.read_text()
    assert _same_run(path, config)
    # as written before method.path_exponent existed: still the same run at the default
    layout.config.write_text(re.sub(r"(?m)^path_exponent = .*\n", "", text))
    assert "path_exponent" not in layout.config.read_text() and _same_run(path, config)
    # ... but not when the experiment now asks for another value
    assert not _same_run(path, resolve("fm-bimodal", [*overrides, "method.path_exponent=3.0"],
                                       steps=3, seed=0))  # fmt: skip
    # and a key the code no longer knows makes it another run
    layout.config.write_text(text.replace("[method]\n", "[method]\nretired_key = 1\n"))
    assert not _same_run(path, config)
