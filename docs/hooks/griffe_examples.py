"""griffe extension: read a docstring's `Example:` section as `Examples:`, so its doctest lines
render as code blocks (griffe's Google-style parser knows only the plural; our docstrings use
the singular, as zuko's do)."""

from __future__ import annotations

import re
from typing import Any

import griffe

_HEADING = re.compile(r"^(\s*)Example:[ \t]*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Rename `Example:` section headings to `Examples:` before the docstring is parsed."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """griffe event: each object as it is loaded."""
        if obj.docstring is not None:
            obj.docstring.value = _HEADING.sub(r"\1Examples:", obj.docstring.value)
