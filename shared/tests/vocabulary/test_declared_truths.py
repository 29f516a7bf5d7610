"""A tap's report declarations (``xlr8_kit.declared``): the truth type and references a report lands with, checked
with the tap's other settings, and the same truth types the annotation accepts."""

from __future__ import annotations

from xlr8_kit.declared import TRUTH_TYPES, declaration_properties, declared_truths
from xlr8_kit.vocabulary.annotations import TRUTH_TYPES as ANNOTATED


def test_unset_is_reality_without_references() -> None:
    errors: list[str] = []
    assert declared_truths({}, "reports[0]", errors) == ("reality", {})
    assert declared_truths({"truth_type": None, "references": None}, "reports[0]", errors) == ("reality", {})
    assert errors == []


def test_a_declaration_is_read_as_given() -> None:
    errors: list[str] = []
    raw = {"truth_type": "configuration", "references": {"EmployeeId": "employee", 7: "job"}}
    assert declared_truths(raw, "reports[0]", errors) == ("configuration", {"EmployeeId": "employee", "7": "job"})
    assert errors == []


def test_bad_values_name_the_setting_and_read_as_the_defaults() -> None:
    errors: list[str] = []
    raw = {"truth_type": "fact", "references": {"EmployeeId": ""}}
    assert declared_truths(raw, "raas_reports[2]", errors) == ("fact", {})
    assert errors == [
        "setting 'raas_reports[2].truth_type' must be one of reality, configuration",
        "setting 'raas_reports[2].references' must map column names to canonical entity names",
    ]
    for bad in (["EmployeeId"], {"EmployeeId": 3}, "employee"):
        errors = []
        assert declared_truths({"references": bad}, "reports[0]", errors) == ("reality", {})
        assert errors == ["setting 'reports[0].references' must map column names to canonical entity names"]


def test_the_settings_offer_the_truth_types_the_annotation_accepts() -> None:
    assert ANNOTATED is TRUTH_TYPES
    entity, truth, references = (p.to_dict() for p in declaration_properties("employee", "EmployeeID"))
    assert entity["entity"]["description"] == "Canonical entity of the rows (e.g. employee)."
    assert truth["truth_type"]["enum"] == ["reality", "configuration"]
    assert references["references"]["description"] == (
        'Columns referencing canonical entities, e.g. {"EmployeeID": "employee"}.'
    )
