"""mkdocs hook: expand `<!-- api: PACKAGE [first modules...] -->` in an API page into the
package's docstring and one mkdocstrings block per module of the package found on disk (the
named ones first, in that order, then the rest alphabetically), so a module added to the package
appears in the reference without editing the page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[2] / "src"
DIRECTIVE = re.compile(r"^<!-- api: ([\w.]+)((?: [\w]+)*) -->$", re.MULTILINE)


def modules(package: str, first: list[str]) -> list[str]:
    """Submodule names of `package` on disk: `first` in order, then the others sorted."""
    folder = SRC.joinpath(*package.split("."))
    if not folder.is_dir():
        raise ValueError(f"api directive: {package} is not a package under {SRC}")
    found = sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))
    unknown = [m for m in first if m not in found]
    if unknown:
        raise ValueError(f"api directive for {package}: no module(s) {unknown} on disk")
    return [*first, *(m for m in found if m not in first)]


def expand(match: re.Match[str]) -> str:
    """The markdown of one directive."""
    package, first = match.group(1), match.group(2).split()
    blocks = [f"::: {package}\n    options:\n      members: false\n      show_root_heading: false"]
    blocks += [f"::: {package}.{name}" for name in modules(package, first)]
    return "\n\n".join(blocks)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """mkdocs event: expand every directive of the page."""
    return DIRECTIVE.sub(expand, markdown)
