"""What a `pushforward.fields` plug-in must be, checked where it enters, each refusal named."""

import dataclasses
from typing import ClassVar

import pytest

from pushforward.fields import FIELDS, _check_plugin
from pushforward.fields.paper import PaperField


@dataclasses.dataclass(frozen=True)
class Good:
    name: ClassVar[str] = "mine"

    def parts(self, x, y_pos, y_neg, temperature):
        return x, x[:, 0]


def test_a_dataclass_with_parts_and_the_entry_points_name_is_accepted():
    assert _check_plugin("mine", Good) is None


def test_a_plugin_that_is_not_a_dataclass_class_is_refused():
    class Plain:
        name = "mine"

        def parts(self, x, y_pos, y_neg, temperature):
            return x, x

    with pytest.raises(TypeError, match=r"is not a dataclass \(a field family is a frozen"):
        _check_plugin("mine", Plain)
    with pytest.raises(TypeError, match="is not a dataclass"):
        _check_plugin("mine", Good())  # an instance, not the class


def test_a_plugin_without_parts_is_refused_by_name():
    @dataclasses.dataclass(frozen=True)
    class NoParts:
        name: ClassVar[str] = "mine"

    with pytest.raises(TypeError, match=r"NoParts has no parts\(x, y_pos, y_neg, temperature\)"):
        _check_plugin("mine", NoParts)


def test_a_plugin_named_otherwise_than_its_entry_point_is_refused():
    with pytest.raises(ValueError, match=r"Good.name must be 'theirs', the entry point's name"):
        _check_plugin("theirs", Good)


def test_a_plugin_may_not_take_a_shipped_fields_name():
    @dataclasses.dataclass(frozen=True)
    class Impostor(Good):
        name: ClassVar[str] = "paper"

    with pytest.raises(ValueError, match=r"the field name 'paper' is taken by PaperField"):
        _check_plugin("paper", Impostor)


def test_the_families_mapping_shows_the_shipped_fields():
    assert FIELDS["paper"] is PaperField and "paper" in repr(FIELDS) and len(FIELDS) >= 4


def test_a_plugin_without_a_name_is_refused_by_what_its_name_must_be():
    @dataclasses.dataclass(frozen=True)
    class NoName:
        def parts(self, x, y_pos, y_neg, temperature):
            return x, x[:, 0]

    with pytest.raises(ValueError, match=r"NoName.name must be 'mine', the entry point's name"):
        _check_plugin("mine", NoName)
