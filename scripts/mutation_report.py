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

LINE = re.compile(
    r"^\s*(?P<name>pushforward\.[\w.]+)\.x_(?P<func>\w+?)__mutmut_(?P<n>\d+): (?P<status>.+)$"
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


def main() -> None:
    equivalent_file = Path(__file__).with_name("mutation_equivalent.toml")
    equivalent = tomllib.loads(equivalent_file.read_text()) if equivalent_file.exists() else {}
    rows: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for line in sys.stdin:
        m = LINE.match(line.rstrip())
        if not m:
            continue
        mutant = f"{m['name']}.x_{m['func']}__mutmut_{m['n']}"
        status = m["status"].strip()
        if status == "survived" and mutant in equivalent:
            status = "equivalent"
        rows[m["name"]][status].append(mutant)
    print("| module | mutants | killed | survived | equivalent | survival | survivors |")
    print("|---|---:|---:|---:|---:|---:|---|")
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for module in sorted(rows):
        r = rows[module]
        n = sum(len(v) for v in r.values())
        killed = len(r["killed"]) + len(r["timeout"])
        survived, equiv = len(r["survived"]), len(r["equivalent"])
        names = ", ".join(s.split(".x_", 1)[1] for s in r["survived"])
        print(
            f"| {module} | {n} | {killed} | {survived} | {equiv} | {survived / n:.0%} | {names} |"
        )
        t = totals[_group(module)]
        t[0], t[1], t[2], t[3] = t[0] + n, t[1] + killed, t[2] + survived, t[3] + equiv
    print("\n| group | mutants | killed | survived | equivalent | survival (not equivalent) |")
    print("|---|---:|---:|---:|---:|---:|")
    for group, (n, killed, survived, equiv) in sorted(totals.items()):
        print(f"| {group} | {n} | {killed} | {survived} | {equiv} | {survived / n:.1%} |")
    if any(rows[m]["equivalent"] for m in rows):
        print("\nEquivalent mutants (a mutation that cannot change behaviour):\n")
        for module in sorted(rows):
            for mutant in rows[module]["equivalent"]:
                print(f"- `{mutant}`: {equivalent[mutant]}")


if __name__ == "__main__":
    main()
