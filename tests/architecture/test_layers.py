"""The import layers of docs/architecture.md, read from the source: a new back-edge fails here.

Every `import` and `from … import` of every module under src/pushforward (at any depth of the
file, so a function-local import cannot hide an edge) is mapped to the component it belongs to
(`pushforward.run.reader` → `run`, `pushforward.cli` → `cli`), and each edge must point to a
strictly lower layer. The report may import only the run package (it reads run directories,
it never computes), and the run package imports no torch.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "pushforward"

# bottom to top; a component may import only components of lower layers
LAYERS = [
    {"errors"},
    {"config", "argtypes", "plugins"},
    {"run"},
    {"runtime", "data", "nets", "ode", "distributed"},
    {"metrics", "interpolants"},
    {"fields"},
    {"methods"},
    {"train"},
    {"experiments"},
    {"analysis", "report", "perf"},
    {"pipeline"},
    {"studies"},
    {"commands"},
    {"cli"},
    {"__main__"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}
REPORT_MAY_IMPORT = {"run", "errors", "config"}
TORCH_FREE = {"run", "errors", "config"}


def _component(module: str) -> str | None:
    """`pushforward.a.b` → `a`; None for modules outside pushforward."""
    parts = module.split(".")
    if parts[0] != "pushforward":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, int]]:
    """(imported module, line) of every import statement in the file, at any depth."""
    tree = ast.parse(path.read_text())
    package = (
        _module_name(path) if path.name == "__init__.py" else _module_name(path).rsplit(".", 1)[0]
    )
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            if base == "pushforward":  # `from pushforward import distributed`
                out += [(f"pushforward.{alias.name}", node.lineno) for alias in node.names]
            else:
                out.append((base, node.lineno))
    return out


def _edges() -> list[tuple[str, str, str, int]]:
    """(from component, to component, file, line) of every import between our components."""
    edges = []
    for path in sorted(SRC.rglob("*.py")):
        source = _component(_module_name(path))
        for module, line in _imports(path):
            target = _component(module)
            if target is not None and target != source:
                edges.append((source, target, str(path.relative_to(SRC)), line))
    return edges


def test_every_component_has_a_layer():
    components = {_component(_module_name(p)) for p in SRC.rglob("*.py")} - {"__init__"}
    assert components <= set(RANK), f"add {sorted(components - set(RANK))} to LAYERS"


def test_imports_point_down_the_layers_only():
    back = [
        f"{file}:{line}: {src} (layer {RANK[src]}) imports {dst} (layer {RANK[dst]})"
        for src, dst, file, line in _edges()
        if src != "__init__" and RANK[dst] >= RANK[src]
    ]
    assert not back, "imports against the flow:\n" + "\n".join(back)


def test_the_report_reads_run_directories_only():
    bad = [f"{f}:{line} imports {dst}" for src, dst, f, line in _edges()
           if src == "report" and dst not in REPORT_MAY_IMPORT]  # fmt: skip
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("component", sorted(TORCH_FREE))
def test_the_run_package_does_not_import_torch(component):
    paths = [SRC / f"{component}.py"] if (SRC / f"{component}.py").exists() else []
    paths += sorted((SRC / component).rglob("*.py")) if (SRC / component).is_dir() else []
    found = [f"{p.name}:{line}" for p in paths for m, line in _imports(p)
             if m.split(".")[0] == "torch"]  # fmt: skip
    assert not found, found


def test_the_checker_sees_a_planted_back_edge(tmp_path, monkeypatch):
    """The test can fail: a function-local import of the CLI inside the run package is found."""
    fake = tmp_path / "pushforward"
    (fake / "run").mkdir(parents=True)
    (fake / "run" / "x.py").write_text("def f():\n    from pushforward.cli import main\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["SRC"]), "SRC", fake)
    assert ("run", "cli", "run/x.py", 2) in _edges()
