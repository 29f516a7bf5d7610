"""Question analysis: rule-based, driven by the vocabulary."""

from __future__ import annotations

from xlr8_gather.gather import analyse
from xlr8_kit.vocabulary import find_entity


def test_bare_lookup_is_a_verb_not_an_entity() -> None:
    assert find_entity("lookup") is None
    assert analyse("lookup active employees in workday").entities == ("employee",)
    assert analyse("show the lookup tables in ukg pro").entities == ("code_table",)
