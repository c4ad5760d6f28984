"""`make_field`: each setting reaches the family it belongs to, the defaults are the documented
ones, the reference option is the paper's Laplace formula only, and plug-in families get the
settings they declare (through the `pushforward.fields` entry points, loaded and checked)."""

from __future__ import annotations

import importlib.metadata
import textwrap

import pytest

from pushforward import plugins
from pushforward.fields import (
    FIELDS,
    MMDGradientField,
    PaperField,
    PaperReferenceField,
    ScoreDifferenceField,
    SinkhornField,
    make_field,
)


def test_the_defaults_are_laplace_bidirectional_automatic_chunks_50_sweeps_and_masked_pairs():
    assert make_field("paper") == PaperField("laplace", True, None)
    assert make_field("sinkhorn") == SinkhornField("laplace", 50, 1024, True)
    assert make_field("score-difference", kernel="gaussian") == ScoreDifferenceField(1024)
    assert make_field("mmd-gradient", kernel="gaussian") == MMDGradientField(1024)


def test_every_setting_reaches_the_paper_and_sinkhorn_families():
    assert make_field("paper", kernel="gaussian", bidirectional=False, chunk=64) == PaperField(
        "gaussian", False, 64
    )
    assert make_field("paper", chunk=0) == PaperField("laplace", True, None)  # 0: automatic
    got = make_field("sinkhorn", kernel="gaussian", iterations=7, chunk=33, mask_self_pairs=False)
    assert got == SinkhornField("gaussian", 7, 33, False)
    assert make_field("score-difference", kernel="gaussian", chunk=5) == ScoreDifferenceField(5)


def test_the_reference_field_is_the_papers_laplace_formula_with_its_normaliser():
    assert make_field("paper", reference=True) == PaperReferenceField(True)
    assert make_field("paper", reference=True, bidirectional=False) == PaperReferenceField(False)
    why = r"^reference=True is the paper field's Laplace demo formula only$"
    for name, kernel in [("paper", "gaussian"), ("sinkhorn", "laplace"),
                         ("score-difference", "gaussian")]:  # fmt: skip
        with pytest.raises(ValueError, match=why):
            make_field(name, kernel=kernel, reference=True)


def test_an_unknown_kernel_is_refused_with_the_kernels():
    with pytest.raises(ValueError, match=r"^unknown kernel 'cauchy'; choose one of \('laplace', "):
        make_field("sinkhorn", kernel="cauchy")


PLUGIN = '''
import dataclasses
from typing import ClassVar


@dataclasses.dataclass(frozen=True)
class Every:
    """A plug-in family with every setting make_field knows."""

    name: ClassVar[str] = "pt-every"
    kernel: str = "?"
    bidirectional: bool = False
    chunk: int = -1
    iterations: int = -1
    mask_self_pairs: bool = False

    def parts(self, x, y_pos, y_neg, temperature):
        return x, x.new_zeros(x.shape[0])


@dataclasses.dataclass(frozen=True)
class Few:
    """A plug-in family with two of the settings and one of its own."""

    name: ClassVar[str] = "pt-few"
    iterations: int = -1
    kernel: str = "?"
    own: float = 0.5

    def parts(self, x, y_pos, y_neg, temperature):
        return x, x.new_zeros(x.shape[0])


class NotADataclass:
    name = "pt-bad"

    def parts(self, x, y_pos, y_neg, temperature):
        return x, x.new_zeros(x.shape[0])
'''


@pytest.fixture
def plugin_fields(tmp_path, monkeypatch):
    """The entry points pt-every, pt-few (good) and pt-bad (not a dataclass) in the
    `pushforward.fields` group; the loaded plug-ins are forgotten afterwards."""
    module = f"pt_fields_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    declared = [
        importlib.metadata.EntryPoint(name, f"{module}:{attr}", "pushforward.fields")
        for name, attr in [("pt-bad", "NotADataclass"), ("pt-every", "Every"), ("pt-few", "Few")]
    ]
    monkeypatch.setattr(
        plugins, "_entry_points", lambda group: declared if group == "pushforward.fields" else []
    )
    plugins.reload()
    yield module
    plugins.reload()


@pytest.mark.filterwarnings("ignore::pushforward.plugins.PluginWarning")
def test_a_plugin_family_gets_each_setting_it_declares(plugin_fields):
    every = make_field("pt-every", kernel="gaussian", bidirectional=True, chunk=0, iterations=9,
                       mask_self_pairs=True)  # fmt: skip
    assert type(every).__name__ == "Every"
    assert (every.kernel, every.bidirectional, every.chunk, every.iterations,
            every.mask_self_pairs) == ("gaussian", True, 1024, 9, True)  # fmt: skip
    assert make_field("pt-every", chunk=12).chunk == 12
    few = make_field("pt-few", kernel="gaussian", iterations=3, chunk=12)
    assert (few.kernel, few.iterations, few.own) == ("gaussian", 3, 0.5)  # no chunk, own kept


@pytest.mark.filterwarnings("ignore::pushforward.plugins.PluginWarning")
def test_a_refused_plugin_is_left_out_and_named_when_asked_for(plugin_fields):
    assert {"pt-every", "pt-few"} <= set(FIELDS) and "pt-bad" not in FIELDS
    with pytest.raises(ValueError) as info:
        make_field("pt-bad")
    message = str(info.value)
    assert message.startswith("unknown drift field 'pt-bad'; choose one of (")
    assert "'pt-every'" in message and "'paper'" in message
    assert "; plug-in 'pt-bad' (pushforward.fields: " in message
    assert "is not a dataclass" in message
    plain = r"^unknown drift field 'nope'; choose one of \('paper', [^;]*\)$"
    with pytest.raises(ValueError, match=plain):
        make_field("nope")  # no plug-in of that name failed: no note
