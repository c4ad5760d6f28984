"""Plug-in loading (`pushforward.plugins`) through the three registries, with entry points that
point at a module written into tmp_path: good plug-ins join, bad ones are left out with a
warning that names the package and the fix, and the unknown-name error says why."""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap

import pytest
import torch

from pushforward import plugins
from pushforward.cli import main
from pushforward.data import make_distribution
from pushforward.data import registry as data_registry
from pushforward.errors import ConfigError
from pushforward.fields import FIELDS, drift, make_field
from pushforward.methods import method_class, methods
from pushforward.methods.base import REGISTRY

PLUGIN = '''
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from pushforward.data import Distribution
from pushforward.methods import Method

LOADS = []
LOADS.append(1)


@dataclass
class CountConfig:
    """keys"""

    k: int = 1


class Good(Method):
    """A learner."""

    name = "pt-good"
    Config = CountConfig

    def __init__(self, target, source, config, net, generator):
        super().__init__(target, source, config, net, generator)
        self.b = nn.Parameter(torch.zeros(target.dim))


class Misnamed(Method):
    """Registers as pt-other, declared as pt-misnamed."""

    name = "pt-other"


class NotAMethod:
    name = "pt-plain"


class Square(Distribution):
    """A unit square."""

    def __init__(self, side: float = 1.0):
        self.dim, self.side, self.params = 2, side, {"side": side}

    def sample(self, n, generator=None):
        return self.side * torch.rand(n, 2, generator=generator)


@dataclass(frozen=True)
class Pull:
    """Pull toward the data mean."""

    name: ClassVar[str] = "pt-pull"
    kernel: str = "laplace"
    chunk: int = 7

    def parts(self, x, y_pos, y_neg, temperature):
        return y_pos.mean(0) - x, x.new_zeros(x.shape[0])


@dataclass(frozen=True)
class Paper:
    name: ClassVar[str] = "paper"

    def parts(self, x, y_pos, y_neg, temperature):
        return x, x.new_zeros(x.shape[0])
'''


@pytest.fixture
def entry_points(tmp_path, monkeypatch):
    """Declare entry points {group: {name: "module:attr"}} backed by a module in tmp_path;
    every registry is restored afterwards."""
    module = f"pt_plugin_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    methods()  # our own learners first, so the snapshot below holds them
    saved_methods, saved_data = dict(REGISTRY), dict(data_registry._REGISTRY)
    declared: dict[str, list[importlib.metadata.EntryPoint]] = {}

    def declare(table: dict[str, dict[str, str]]) -> str:
        for group, items in table.items():
            declared[group] = [
                importlib.metadata.EntryPoint(name, value.replace("MOD", module), group)
                for name, value in items.items()
            ]
        plugins.reload()
        return module

    monkeypatch.setattr(plugins, "_entry_points", lambda group: declared.get(group, []))
    yield declare
    plugins.reload()
    REGISTRY.clear()
    REGISTRY.update(saved_methods)
    data_registry._REGISTRY.clear()
    data_registry._REGISTRY.update(saved_data)
    sys.modules.pop(module, None)


def test_good_plugins_join_every_registry(entry_points, capsys):
    entry_points({
        "pushforward.methods": {"pt-good": "MOD:Good"},
        "pushforward.distributions": {"pt-square": "MOD:Square"},
        "pushforward.fields": {"pt-pull": "MOD:Pull"},
    })  # fmt: skip
    assert method_class("pt-good").__name__ == "Good"
    square = make_distribution("pt-square", side=2.0)
    assert square.name == "pt-square" and square.sample(5, torch.Generator()).shape == (5, 2)
    assert list(FIELDS)[-1] == "pt-pull" and "paper" in FIELDS
    field = make_field("pt-pull", kernel="gaussian", chunk=0)
    assert (field.kernel, field.chunk) == ("gaussian", 1024)  # only the settings it has
    x = torch.zeros(4, 2)
    v, _ = drift(field, x, torch.ones(6, 2), [1.0])
    assert torch.allclose(v, torch.full((4, 2), 0.5**0.5))  # unit RMS toward the mean
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "pt-good [plug-in: ?]" in out and "pt-pull [plug-in: ?]" in out
    assert main(["data", "list"]) == 0
    assert "A unit square. [plug-in: ?]" in capsys.readouterr().out


def test_each_group_loads_once(entry_points):
    module = entry_points({"pushforward.methods": {"pt-good": "MOD:Good"}})
    methods()
    methods()
    method_class("pt-good")
    assert sys.modules[module].LOADS == [1]
    assert set(plugins.loaded("pushforward.methods")) == {"pt-good"}


def test_a_plugin_that_does_not_import_is_left_out_and_named(entry_points):
    entry_points({"pushforward.methods": {"pt-missing": "no_such_module_xyz:Thing"}})
    with pytest.warns(plugins.PluginWarning, match="no_such_module_xyz.*uninstall"):
        known = methods()
    assert "pt-missing" not in known and "flow-matching" in known
    with pytest.raises(ConfigError, match="pt-missing.*left out.*ModuleNotFoundError"):
        method_class("pt-missing")


@pytest.mark.parametrize(
    ("name", "target", "why"),
    [
        ("pt-misnamed", "MOD:Misnamed", "name is 'pt-other'"),
        ("pt-plain", "MOD:NotAMethod", "not a subclass of pushforward.methods.Method"),
    ],
)
def test_a_wrong_method_is_left_out(entry_points, name, target, why):
    entry_points({"pushforward.methods": {name: target}})
    with pytest.warns(plugins.PluginWarning, match=why):
        known = methods()
    assert name not in known
    if name == "pt-misnamed":  # left out means left out, not registered under its own name
        assert "pt-other" not in known
    assert why in plugins.failures("pushforward.methods")[name]


def test_a_plugin_cannot_take_a_shipped_name(entry_points):
    entry_points({
        "pushforward.distributions": {"moons": "MOD:Square"},
        "pushforward.fields": {"paper": "MOD:Paper"},
    })  # fmt: skip
    with pytest.warns(plugins.PluginWarning, match="already registered"):
        moons = make_distribution("moons")
    assert type(moons).__name__ == "Moons"
    with pytest.warns(plugins.PluginWarning, match="taken by PaperField"):
        assert FIELDS["paper"].__name__ == "PaperField"


def test_an_unknown_field_names_the_failed_plugin(entry_points):
    entry_points({"pushforward.fields": {"pt-pull": "MOD:Square"}})
    with pytest.warns(plugins.PluginWarning, match="not a dataclass"):
        assert "pt-pull" not in FIELDS
    with pytest.raises(ValueError, match="unknown drift field 'pt-pull'.*left out"):
        make_field("pt-pull")


def test_unknown_group_is_refused():
    with pytest.raises(ValueError, match="pushforward.methods"):
        plugins.load("pushforward.nope", lambda name, obj: None)
