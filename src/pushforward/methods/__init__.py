"""Learners behind one interface (`Method`), looked up by name from the experiment file.

Every module in this package is imported on first use; each `Method` subclass with a `name`
registers itself (`Method.__init_subclass__`), so adding a learner is adding one file.
"""

from pushforward.methods.base import (
    SDE,
    Dynamics,
    FlowDynamics,
    MapDynamics,
    Method,
)
from pushforward.methods.registry import build_method, method_class, methods
from pushforward.methods.trained import Trained, build_data, build_parts, load_trained

__all__ = [
    "SDE",
    "Dynamics",
    "FlowDynamics",
    "MapDynamics",
    "Method",
    "Trained",
    "build_data",
    "build_method",
    "build_parts",
    "load_trained",
    "method_class",
    "methods",
]
