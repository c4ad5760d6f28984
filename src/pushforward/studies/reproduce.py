"""`pushforward reproduce`: every seed claim as data, run to a verdict, written as one table.

A claim (`experiments/claims.toml`) names the seed it comes from, says what it claims in one
sentence and lists its checks: an experiment (with optional overrides), a metric, a comparison
and a threshold. A metric is `SOURCE:KEY`:

    eval:KEY       `analysis.quality` of the trained run (2000 samples, evaluation seed 0)
    full:KEY       the full evaluation suite (`pushforward eval`: image metrics such as fd)
    maps:KEY       `analysis.maps` (a flow's forward / inverse maps, e.g. fwd_chi_ks)
    lyapunov:PATH  `analysis.lyapunov` results, a dotted path (e.g. ode.angle_to_tangent.median;
                   perturbation.rows.0.along_off_ratio runs the perturbation study)

and a check may divide its value by the same metric of another experiment (`relative_to`).
Each check is run on `seeds` seeds (trained run directories under OUT/runs/, a finished run
reused, a killed one resumed), its mean compared with the threshold; a claim is *reproduced*
when every check passes, *partly* when some do (or a failing check passes on some seeds: a
collapse on two seeds of three), *not reproduced* when no check passes on any seed. For `eval`
metrics the run also says whether it converged: the same metric on the snapshot at about half
the steps is within 5 % of the last one. Two budgets: `quick` (minutes, CI) and `full` (the
docs' budget). Outputs: OUT/claims.json, claims.md and claims.html (one row per claim, links
to each run's report and a thumbnail).

Example:
    >>> claims = load_claims()
    >>> claims["drift-collapse"].seed
    '000'
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import operator
import re
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from pushforward.analysis.evaluate import evaluate_run
from pushforward.analysis.lyapunov import lyapunov_analysis
from pushforward.analysis.maps import map_scores
from pushforward.analysis.quality import EVAL_STREAMS, quality
from pushforward.config import dump_toml
from pushforward.errors import ConfigError, RunDirError, suggest
from pushforward.experiments import EXPERIMENTS_DIR, complete, experiments, resolve
from pushforward.methods import build_data
from pushforward.pipeline import RESUMABLE_TRAIN_KEYS, run
from pushforward.run import RunReader, atomic_write_bytes
from pushforward.runtime import stream_generator
from pushforward.studies.table import Stat, Table

__all__ = [
    "CLAIMS_FILE",
    "PROFILES",
    "SOURCES",
    "Check",
    "Budget",
    "Claim",
    "load_claims",
    "reproduce",
    "verdict",
    "claims_markdown",
    "publish",
    "merged_claims",
    "fill_claims_blocks",
    "README_MARKERS",
]

README_MARKERS = ("<!-- claims:start -->", "<!-- claims:end -->")

CLAIMS_FILE = EXPERIMENTS_DIR / "claims.toml"
PROFILES = ("quick", "full")
SOURCES = ("eval", "full", "maps", "lyapunov")
OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
CONVERGED = 0.05  # the last doubling of steps changes the figure by less than this share
VERDICTS = ("reproduced", "partly", "not reproduced")


@dataclass(frozen=True)
class Check:
    """One measurable part of a claim: `metric` of `experiment` compared with `threshold`."""

    experiment: str
    metric: str
    op: str
    threshold: float
    overrides: tuple[str, ...] = ()
    relative_to: str | None = None
    label: str = ""

    @property
    def source(self) -> str:
        """`eval`, `maps` or `lyapunov`."""
        return self.metric.split(":", 1)[0]

    @property
    def key(self) -> str:
        """The metric's key within its source."""
        return self.metric.split(":", 1)[1]

    def describe(self) -> str:
        """`experiment metric op threshold` for the table."""
        what = self.label or self.experiment
        ratio = f" / same of {self.relative_to}" if self.relative_to else ""
        return f"{what}: {self.key}{ratio} {self.op} {self.threshold:g}"


@dataclass(frozen=True)
class Budget:
    """Training steps (None: the experiment's own), seeds, and overrides of one profile."""

    steps: int | None = None
    seeds: int = 1
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Claim:
    """A claim of a seed document, the checks that test it and its two budgets."""

    id: str
    seed: str
    claim: str
    checks: tuple[Check, ...]
    quick: Budget
    full: Budget
    note: str = ""

    def budget(self, profile: str) -> Budget:
        """The budget of `profile` ("quick" or "full")."""
        return self.quick if profile == "quick" else self.full


def _check_keys(table: dict, allowed: set[str], where: str) -> None:
    """ConfigError naming unknown keys of a claims-file table and the valid ones."""
    for key in table:
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown key {key!r}{suggest(key, allowed)}; valid: "
                f"{', '.join(sorted(allowed))}"
            )


def _budget(table: Any, where: str) -> Budget:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table with steps / seeds / overrides")
    _check_keys(table, {"steps", "seeds", "overrides"}, where)
    steps, seeds = table.get("steps"), table.get("seeds", 1)
    if steps is not None and (not isinstance(steps, int) or steps < 1):
        raise ConfigError(f"{where}.steps must be a positive integer, got {steps!r}")
    if not isinstance(seeds, int) or not 1 <= seeds <= 20:
        raise ConfigError(f"{where}.seeds must be an integer in 1 … 20, got {seeds!r}")
    return Budget(steps, seeds, tuple(table.get("overrides", [])))


def _check(table: Any, where: str, known: set[str]) -> Check:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table (experiment, metric, op, threshold)")
    _check_keys(table, {"experiment", "metric", "op", "threshold", "overrides", "relative_to",
                        "label"}, where)  # fmt: skip
    for key in ("experiment", "metric", "op", "threshold"):
        if key not in table:
            raise ConfigError(f"{where} needs {key!r}")
    for key in ("experiment", "relative_to"):
        name = table.get(key)
        if name is not None and name not in known:
            raise ConfigError(
                f"{where}.{key}: unknown experiment {name!r}{suggest(str(name), known)} "
                "(`pushforward list` shows the shipped ones)"
            )
    metric = table["metric"]
    if not isinstance(metric, str) or ":" not in metric or metric.split(":")[0] not in SOURCES:
        raise ConfigError(
            f"{where}.metric = {metric!r}: write SOURCE:KEY with SOURCE one of {SOURCES}"
        )
    if table["op"] not in OPS:
        raise ConfigError(f"{where}.op = {table['op']!r}: choose one of {list(OPS)}")
    threshold = table["threshold"]
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise ConfigError(f"{where}.threshold must be a number, got {threshold!r}")
    return Check(table["experiment"], metric, table["op"], float(threshold),
                 tuple(table.get("overrides", [])), table.get("relative_to"),
                 table.get("label", ""))  # fmt: skip


def load_claims(path: str | Path = CLAIMS_FILE) -> dict[str, Claim]:
    """The claims of a claims file by id, every field checked (ConfigError says what is wrong)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read the claims file {path} ({e})") from None
    known = set(experiments())
    claims: dict[str, Claim] = {}
    for i, table in enumerate(data.get("claim", [])):
        where = f"{path.name}: claim {table.get('id', i)!r}"
        _check_keys(table, {"id", "seed", "claim", "check", "quick", "full", "note"}, where)
        for key in ("id", "seed", "claim", "check", "quick", "full"):
            if key not in table:
                raise ConfigError(f"{where} needs {key!r}")
        if table["id"] in claims:
            raise ConfigError(f"{where}: the id is used twice")
        checks = tuple(_check(c, f"{where}.check[{j}]", known)
                       for j, c in enumerate(table["check"]))  # fmt: skip
        if not checks:
            raise ConfigError(f"{where} has no check")
        claims[table["id"]] = Claim(
            table["id"], str(table["seed"]), table["claim"], checks,
            _budget(table["quick"], f"{where}.quick"), _budget(table["full"], f"{where}.full"),
            table.get("note", ""),
        )  # fmt: skip
    if not claims:
        raise ConfigError(f"{path} holds no [[claim]]")
    return claims


# --- running -------------------------------------------------------------------------------


def _tag(overrides: tuple[str, ...]) -> str:
    """`+key=value-...` naming `overrides` in a folder name ("" for none)."""
    if not overrides:
        return ""
    text = "-".join(o.split(".")[-1] for o in overrides)
    return "+" + "".join(c if c.isalnum() or c in "=.-_" else "_" for c in text)[:60]


def _run_dir(
    out: Path, experiment: str, overrides: tuple[str, ...], profile: str, budget: Budget
) -> Path:
    """OUT/runs/EXPERIMENT[+tag]/PROFILE[-STEPSsteps][+budget tag]: runs of other overrides or
    another step budget get their own folder, so two claims never train one run to two budgets."""
    folder = profile + (f"-{budget.steps}steps" if budget.steps is not None else "")
    if budget.overrides:  # a short hash: budget overrides are many (sizes, threads, snapshots)
        folder += "+" + hashlib.sha1("\n".join(budget.overrides).encode()).hexdigest()[:8]
    return out / "runs" / f"{experiment}{_tag(overrides)}" / folder


@dataclass(frozen=True)
class Execution:
    """Where and how runs train; none of it is part of a run's identity (a finished run
    trained with other threads is reused)."""

    device: str | None = None
    threads: int | None = None
    progress: bool = False
    train: bool = True  # False: judge only runs that are already finished


def _same_run(path: Path, config: dict[str, Any]) -> bool:
    """Whether the run at `path` was configured as `config`, up to its [train] keys that may
    change on resume (threads, loggers, ...; steps are compared by the caller)."""
    reader = RunReader(path)
    if not reader.layout.config.is_file():
        return False
    try:
        old = reader.config()
    except RunDirError:
        return False
    ignore = set(RESUMABLE_TRAIN_KEYS) - {"steps"}

    def key(c: dict[str, Any]) -> str:
        train = {k: v for k, v in c.get("train", {}).items() if k not in ignore}
        return dump_toml({**c, "train": train})

    return key(old) == key(config) or key(_with_new_defaults(path, old) or {}) == key(config)


def _with_new_defaults(path: Path, old: dict[str, Any]) -> dict[str, Any] | None:
    """The run's config with the keys the code gained since it trained set to their defaults
    (None when it no longer resolves). A new key's default keeps the old behaviour: the golden
    checkpoints (tests/train/test_golden.py) hold training to that bit for bit."""
    raw = {k: dict(v) for k, v in old.items() if isinstance(v, dict)}
    name = raw.get("experiment", {}).pop("name", None)
    try:
        return complete(raw, str(name))
    except (ConfigError, TypeError, ValueError):
        return None


def _train(
    experiment: str, overrides: list[str], steps: int | None, seed: int, path: Path,
    how: Execution,
) -> Path | None:  # fmt: skip
    """The trained run at `path`: reused when finished under the same config, resumed when a
    kill left a checkpoint of it, trained otherwise (None instead when `how.train` is off)."""
    if how.threads is not None:
        overrides = [*overrides, f"train.threads={how.threads}"]
    config = resolve(experiment, overrides, steps=steps, seed=seed, device=how.device)
    reader = RunReader(path)
    same = _same_run(path, config)
    if same and reader.layout.info.is_file():
        info = reader.info()
        if info.status == "done" and info.step == config["train"]["steps"]:
            return path
    if not how.train:
        return None
    resume = same and reader.has_checkpoint()
    return run(experiment, path, overrides, steps=steps, seed=seed, device=how.device,
               resume=resume, overwrite=not resume, progress=how.progress)  # fmt: skip


def _lookup(tree: Any, dotted: str) -> float:
    """`tree["a"]["b"][0]` for `dotted` = "a.b.0"."""
    node = tree
    for part in dotted.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return float(node)


def _measure(path: Path, check: Check) -> float:
    """The check's metric of the trained run at `path`."""
    if check.source in ("eval", "full"):
        suite = "quality" if check.source == "eval" else "full"
        cached = RunReader(path).eval_record()
        step = RunReader(path).info().step
        if not (cached and cached.suite in (suite, "full") and cached.step == step
                and cached.n == 2000 and cached.seed == 0):  # fmt: skip
            cached = evaluate_run(path, 2000, 0, suite=suite)
        value = cached.metrics.get(check.key)
        if check.key not in cached.metrics:
            raise ConfigError(f"{check.metric}: the evaluation of {path} has no {check.key!r}")
        return math.nan if value is None else float(value)
    if check.source == "maps":
        return float(map_scores(path, png=False)[check.key])
    stored = RunReader(path).analysis("lyapunov")
    perturb = check.key.startswith("perturbation")
    step = RunReader(path).info().step
    fresh = stored is not None and stored[0].get("step") == step
    if not fresh or (perturb and "perturbation" not in stored[0]):
        summary = lyapunov_analysis(path, perturb=perturb)
    else:
        summary = stored[0]
    return _lookup(summary, check.key)


def _converged(path: Path, check: Check) -> bool | None:
    """Whether the eval metric of the last snapshot is within 5 % of the snapshot at about half
    the steps (None where it cannot say: not an eval metric, or too few snapshots)."""
    if check.source != "eval":
        return None
    reader = RunReader(path)
    entries = reader.snapshot_entries()
    if len(entries) < 3 or entries[-1].step < 4:
        return None
    last = entries[-1]
    half = min(entries[:-1], key=lambda e: abs(e.step - last.step / 2))
    config = reader.config()
    target, _ = build_data(config)
    ref = target.sample(2000, stream_generator(0, EVAL_STREAMS["reference"]))
    values = []
    for entry in (half, last):
        x = torch.from_numpy(reader.snapshot(entry)["sample/generated"])
        g = stream_generator(0, EVAL_STREAMS["metrics"])
        values.append(quality(x, target, ref, generator=g).get(check.key, math.nan))
    a, b = values
    if not (math.isfinite(a) and math.isfinite(b)):
        return None
    return abs(b - a) <= CONVERGED * max(abs(b), 1e-12)


@dataclass
class CheckResult:
    """What one check measured: per-seed values, their mean ± std, pass, convergence, runs."""

    check: Check
    values: list[float]
    passed: bool
    converged: list[bool | None] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)

    @property
    def stat(self) -> Stat:
        """Mean ± std over seeds."""
        return Stat.of(self.values)

    @property
    def seed_passes(self) -> int:
        """On how many seeds the check passes by itself."""
        op, t = OPS[self.check.op], self.check.threshold
        return sum(math.isfinite(v) and op(v, t) for v in self.values)


def verdict(results: list[CheckResult]) -> str:
    """reproduced (every check's mean passes), partly (some do, or a failing check passes on
    some seeds), not reproduced (no check passes on any seed) or not run (a check has no
    finished run: `reproduce --no-train` judges only what was trained)."""
    if any(not r.values for r in results):
        return "not run"
    if all(r.passed for r in results):
        return "reproduced"
    return "partly" if any(r.passed or r.seed_passes for r in results) else "not reproduced"


def _evaluate_check(
    claim: Claim, check: Check, profile: str, seeds: int, out: Path, how: Execution
) -> CheckResult:
    """Train (or reuse) the check's runs on every seed and measure them."""
    budget = claim.budget(profile)
    values, converged, runs = [], [], []
    for seed in range(seeds):
        overrides = [*budget.overrides, *check.overrides]
        path = _run_dir(out, check.experiment, check.overrides, profile, budget) / f"seed={seed}"
        if _train(check.experiment, overrides, budget.steps, seed, path, how) is None:
            continue  # --no-train: this seed was not run
        if check.relative_to:
            base = _run_dir(out, check.relative_to, (), profile, budget) / f"seed={seed}"
            if _train(check.relative_to, list(budget.overrides), budget.steps, seed, base,
                      how) is None:  # fmt: skip
                continue
            value = _measure(path, check)
            value = value / _measure(base, Check(check.relative_to, check.metric, check.op, 0.0))
        else:
            value = _measure(path, check)
        values.append(value)
        converged.append(_converged(path, check))
        runs.append(str(path.relative_to(out)))
    mean = Stat.of(values).mean
    passed = math.isfinite(mean) and OPS[check.op](mean, check.threshold)
    return CheckResult(check, values, passed, converged, runs)


def reproduce(
    out: str | Path,
    *,
    profile: str = "quick",
    only: list[str] | None = None,
    seeds: int | None = None,
    device: str | None = None,
    threads: int | None = None,
    claims_file: str | Path = CLAIMS_FILE,
    progress: bool = False,
    train: bool = True,
) -> list[dict[str, Any]]:
    """Run the claims (all, or `only` these ids) at `profile`'s budget and write claims.json,
    claims.md and claims.html into `out`; one record per claim. `device` and `threads` say
    where runs train, not what they are: finished runs are reused whatever they trained on.
    With `train` off nothing trains: each check is judged on the seeds whose runs are
    finished, and a claim with a check that has none is "not run"."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    claims = load_claims(claims_file)
    chosen = list(dict.fromkeys(only)) if only else list(claims)
    unknown = [c for c in chosen if c not in claims]
    if unknown:
        raise ConfigError(
            f"unknown claim {unknown[0]!r}{suggest(unknown[0], claims)}; claims: "
            f"{', '.join(claims)}"
        )
    if seeds is not None and not 1 <= seeds <= 20:
        raise ConfigError(f"--seeds must be in 1 … 20, got {seeds}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    records = []
    for cid in chosen:
        claim = claims[cid]
        n = seeds or claim.budget(profile).seeds
        tic = time.perf_counter()
        how = Execution(device, threads, progress, train)
        results = [_evaluate_check(claim, c, profile, n, out, how) for c in claim.checks]
        records.append(_record(claim, results, profile, n, time.perf_counter() - tic))
        if progress:
            print(f"{cid}: {records[-1]['verdict']}", flush=True)
        _write(out, records, profile)
    return records


def _record(
    claim: Claim, results: list[CheckResult], profile: str, seeds: int, seconds: float
) -> dict[str, Any]:
    """The JSON record of one claim."""
    budget = claim.budget(profile)
    return {
        "id": claim.id,
        "seed": claim.seed,
        "claim": claim.claim,
        "note": claim.note,
        "profile": profile,
        "steps": budget.steps,
        "seeds": seeds,
        "verdict": verdict(results),
        "seconds": round(seconds, 1),
        "checks": [
            {
                **{k: v for k, v in asdict(r.check).items() if k != "overrides"},
                "overrides": list(r.check.overrides),
                "describe": r.check.describe(),
                "values": r.values,
                "mean": _finite(r.stat.mean),
                "std": _finite(r.stat.std),
                "passed": r.passed,
                "seed_passes": r.seed_passes,
                "converged": r.converged,
                "runs": r.runs,
            }
            for r in results
        ],
    }


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


# --- outputs -------------------------------------------------------------------------------


def _measured(check: dict[str, Any], wanted: int | None = None) -> str:
    """`0.98 ± 0.01 (converged)` of a check record; says so when it has fewer than `wanted`
    seeds."""
    if check["mean"] is None:
        return "not run" if not check["values"] else "–"
    spec = ".3g"
    text = f"{format(check['mean'], spec)} ± {format(check['std'] or 0.0, spec)}"
    flags = [c for c in check["converged"] if c is not None]
    conv = "" if not flags else " (converged)" if all(flags) else " (not converged)"
    n, k = len(check["values"]), check.get("seed_passes")
    seeds = f", passes on {k}/{n} seeds" if k is not None and n > 1 and 0 < k < n else ""
    if n < (wanted or n):  # judged on fewer seeds than the profile asks (--no-train)
        seeds += f", {n} of {wanted} seeds run"
    return text + conv + seeds


def claims_markdown(records: list[dict[str, Any]]) -> str:
    """The verdict table: one row per claim (checks joined), as Markdown."""
    rows = []
    for r in records:
        rows.append({
            "claim": f"`{r['id']}` (seed {r['seed']}): {r['claim']}",
            "checks (mean ± std over seeds)": "<br>".join(
                f"{c['describe']}: **{_measured(c, r['seeds'])}**" for c in r["checks"]
            ),
            "seeds": r["seeds"],
            "verdict": r["verdict"],
        })  # fmt: skip
    columns = ["claim", "checks (mean ± std over seeds)", "seeds", "verdict"]
    profile = records[0]["profile"] if records else "?"
    caption = (f"Claims of the seed documents, profile `{profile}`; a row is made by `pushforward "
               f"reproduce --profile {profile} --only ID`.")  # fmt: skip
    return Table(columns, rows, caption=caption).markdown()


def _html(records: list[dict[str, Any]], out: Path) -> str:
    """claims.html: the table with a link to each run's report and a thumbnail."""
    body = ["<h1>pushforward reproduce</h1><table><tr><th>claim</th><th>checks</th>"
            "<th>verdict</th><th>runs</th></tr>"]  # fmt: skip
    for r in records:
        checks = "<br>".join(
            f"{html.escape(c['describe'])}: <b>{html.escape(_measured(c, r['seeds']))}</b>"
            for c in r["checks"]
        )
        links = []
        for c in r["checks"]:
            for run_dir in c["runs"][:1]:
                report, thumb = out / run_dir / "report.html", out / run_dir / "final.png"
                img = (
                    f"<img src='{html.escape(run_dir)}/final.png' width='160'>"
                    if thumb.is_file()
                    else ""
                )
                if report.is_file():
                    links.append(
                        f"<a href='{html.escape(run_dir)}/report.html'>{img or 'report'}</a>"
                    )
        body.append(
            f"<tr><td><b>{html.escape(r['id'])}</b> (seed {r['seed']})<br>"
            f"{html.escape(r['claim'])}</td><td>{checks}</td>"
            f"<td class='{r['verdict'].replace(' ', '-')}'>{r['verdict']}</td>"
            f"<td>{' '.join(links)}</td></tr>"
        )
    body.append("</table>")
    style = (
        "body{font-family:system-ui,sans-serif;margin:20px}td,th{border-bottom:1px solid #ddd;"
        "padding:4px 10px;vertical-align:top;text-align:left}.reproduced{color:#080}"
        ".partly{color:#b60}.not-reproduced{color:#b00}"
    )
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>claims</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")  # fmt: skip


def _write(out: Path, records: list[dict[str, Any]], profile: str) -> None:
    """claims.json, claims.md and claims.html under `out` (atomic)."""
    text = json.dumps({"profile": profile, "claims": records}, indent=1) + "\n"
    atomic_write_bytes(out / "claims.json", text.encode())
    atomic_write_bytes(out / "claims.md", claims_markdown(records).encode())
    atomic_write_bytes(out / "claims.html", _html(records, out).encode())


_BLOCK = re.compile(
    r"<!-- claims:start(?: ids=(?P<ids>[\w,-]+))? -->\n.*?<!-- claims:end -->", re.DOTALL
)


def fill_claims_blocks(text: str, records: list[dict[str, Any]], where: str = "text") -> str:
    """Replace every `<!-- claims:start [ids=A,B] -->` … `<!-- claims:end -->` block of `text`
    with the verdict table of its claims (all without `ids=`); ConfigError on an unknown id."""
    by_id = {r["id"]: r for r in records}

    def table(match: re.Match) -> str:
        ids = match["ids"].split(",") if match["ids"] else list(by_id)
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise ConfigError(
                f"{where} asks for claim {missing[0]!r}, which the results do not hold; run "
                f"`pushforward reproduce --only {missing[0]}` into them"
            )
        head = match.group(0).split("\n", 1)[0]
        return f"{head}\n{claims_markdown([by_id[i] for i in ids])}{README_MARKERS[1]}"

    return _BLOCK.sub(table, text)


def merged_claims(shipped: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """`shipped`'s claims with those of `new` put in their place by id (new ids appended in
    `new`'s order); ConfigError when the two were run at different profiles."""
    if shipped.get("profile") != new.get("profile"):
        raise ConfigError(
            f"--merge: the shipped results are profile {shipped.get('profile')!r} and the new "
            f"ones {new.get('profile')!r}; merge results of one profile"
        )
    fresh = {r["id"]: r for r in new["claims"]}
    records = [fresh.pop(r["id"], r) for r in shipped["claims"]]
    return {**shipped, "claims": records + list(fresh.values())}


def publish(
    results: str | Path,
    docs: str | Path,
    readme: str | Path,
    pages: list[Path] | None = None,
    merge: bool = False,
) -> list[Path]:
    """Ship a run's verdicts: copy its claims.json / claims.md into `docs` and fill the claims
    blocks of the README (which must have one) and of `pages` (default: docs' parent's *.md),
    so prose and numbers cannot drift apart; the files changed. With `merge`, the claims
    already in `docs/claims.json` stay and only those in `results` replace or join them."""
    results, docs, readme = Path(results), Path(docs), Path(readme)
    if not (results / "claims.json").is_file():
        raise ConfigError(
            f"{results} has no claims.json: run `pushforward reproduce` into it first"
        )
    data = json.loads((results / "claims.json").read_text())
    if merge:
        if not (docs / "claims.json").is_file():
            raise ConfigError(f"--merge: {docs} has no claims.json to merge into; drop --merge")
        data = merged_claims(json.loads((docs / "claims.json").read_text()), data)
    records = data["claims"]
    text = readme.read_text()
    if not _BLOCK.search(text):
        start, end = README_MARKERS
        raise ConfigError(f"{readme} has no {start} … {end} block for the claims table")
    pages = sorted(docs.parent.glob("*.md")) if pages is None else pages
    filled = {readme: fill_claims_blocks(text, records, str(readme))}
    for page in pages:
        before = page.read_text()
        if _BLOCK.search(before):
            filled[page] = fill_claims_blocks(before, records, str(page))
    docs.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(docs / "claims.json", (json.dumps(data, indent=1) + "\n").encode())
    atomic_write_bytes(docs / "claims.md", claims_markdown(records).encode())
    for path, after in filled.items():  # every block is checked before anything is written
        atomic_write_bytes(path, after.encode())
    return list(filled)
