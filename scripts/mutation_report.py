"""Turn `mutmut results --all true` into the survival table of docs/testing.md.

Reads mutmut's result lines (`    pushforward.ode.x_integrate__mutmut_3: survived`) from stdin,
groups the mutants by module, and prints a Markdown table (module, mutants, killed, survived,
survival %, the surviving mutants) plus the per-group totals the testing goal is stated for.
Mutants listed in scripts/mutation_equivalent.toml (name = "why it cannot change behaviour")
are counted apart, with their reason.

    mutmut results --all true | python scripts/mutation_report.py
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

# functions are `module.x_func__mutmut_N`, methods `module.xǁClassǁmethod__mutmut_N`
LINE = re.compile(
    r"^\s*(?P<name>pushforward\.[\w.]+?)\.(?P<func>x_\w+?|xǁ\w+?ǁ\w+?)__mutmut_(?P<n>\d+): "
    r"(?P<status>.+)$"
)
GROUPS = {
    "fields": "pushforward.fields",
    "metrics": "pushforward.metrics",
    "interpolants": "pushforward.interpolants",
    "ode": "pushforward.ode",
    "checkpoint": "pushforward.run.checkpoint",
    "run (rest)": "pushforward.run",
}


def _group(module: str) -> str:
    for name, prefix in GROUPS.items():
        if module == prefix or module.startswith(prefix + "."):
            if name == "run (rest)" and module == GROUPS["checkpoint"]:
                continue
            return name
    return "other"


def _survival(undetected: int, checked: int) -> str:
    """Undetected share of the checked, non-equivalent mutants ("–" when none was checked)."""
    return f"{undetected / checked:.1%}" if checked else "–"


def main() -> None:
    """Read `mutmut results --all true` on stdin, print the per-module and per-group tables."""
    equivalent_file = Path(__file__).with_name("mutation_equivalent.toml")
    equivalent = tomllib.loads(equivalent_file.read_text()) if equivalent_file.exists() else {}
    rows: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for line in sys.stdin:
        m = LINE.match(line.rstrip())
        if not m:
            continue
        mutant = f"{m['name']}.{m['func']}__mutmut_{m['n']}"
        status = m["status"].strip()
        if status in ("survived", "no tests") and mutant in equivalent:
            status = "equivalent"
        rows[m["name"]][status].append(mutant)
    # survival = (survived + no tests) / checked mutants that are not equivalent; a mutant no
    # test reaches is undetected, one that was never run ("not checked") is left out and counted
    print("| module | mutants | killed | survived | no tests | equivalent | not checked "
          "| survival | survivors |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    totals: dict[str, list[int]] = defaultdict(lambda: [0] * 6)
    for module in sorted(rows):
        r = rows[module]
        n = sum(len(v) for v in r.values())
        killed = len(r["killed"]) + len(r["timeout"])
        survived, untested = len(r["survived"]), len(r["no tests"])
        equiv, unchecked = len(r["equivalent"]), len(r["not checked"])
        names = ", ".join(s.split(".", 2)[-1].rsplit(".", 1)[-1] for s in r["survived"])
        share = _survival(survived + untested, killed + survived + untested)
        print(f"| {module} | {n} | {killed} | {survived} | {untested} | {equiv} | {unchecked} "
              f"| {share} | {names} |")  # fmt: skip
        t = totals[_group(module)]
        for k, v in enumerate((n, killed, survived, untested, equiv, unchecked)):
            t[k] += v
    print("\n| group | mutants | killed | survived | no tests | equivalent | not checked "
          "| survival (of checked, not equivalent) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for group, (n, killed, survived, untested, equiv, unchecked) in sorted(totals.items()):
        share = _survival(survived + untested, killed + survived + untested)
        print(f"| {group} | {n} | {killed} | {survived} | {untested} | {equiv} | {unchecked} "
              f"| {share} |")  # fmt: skip
    if any(rows[m]["equivalent"] for m in rows):
        print("\nEquivalent mutants (a mutation that cannot change behaviour):\n")
        for module in sorted(rows):
            for mutant in rows[module]["equivalent"]:
                print(f"- `{mutant}`: {equivalent[mutant]}")


if __name__ == "__main__":
    main()
