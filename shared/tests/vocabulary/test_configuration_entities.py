"""Configuration code tables as canonical entities, and the Workday worker mappings against the tap's real
stream schemas (a renamed column would silently drop a canonical field from the annotation)."""

from __future__ import annotations

import pytest

from xlr8_kit.vocabulary import find_entity, mapping_for_stream, product_mapping, resolve_entity
from xlr8_kit.vocabulary.annotations import build_annotation


@pytest.mark.parametrize(
    ("word", "entity"),
    [
        ("code table", "code_table"),
        ("code-tables", "code_table"),
        ("lookup tables", "code_table"),
        ("code table values", "code_value"),
        ("lookup value", "code_value"),
        ("shift codes", "shift_code"),
        ("shift definition", "shift_code"),
        ("tax groups", "tax_group"),
        # a worked or scheduled shift is still a schedule (reality), not its definition
        ("shifts", "schedule"),
    ],
)
def test_configuration_code_words_resolve(word: str, entity: str) -> None:
    assert resolve_entity(word).name == entity


@pytest.mark.parametrize("entity", ["code_table", "code_value", "shift_code", "tax_group"])
def test_new_entities_are_configuration_with_a_code_field(entity: str) -> None:
    found = find_entity(entity)
    assert found is not None
    assert found.truth_type == "configuration"
    assert found.code_field == entity


@pytest.mark.parametrize(
    ("entity", "stream", "code_column"),
    [
        ("code_table", "code_tables", "codeTable"),
        ("code_value", "code_table_values", "code"),
        ("shift_code", "shift_codes", "shiftCode"),
        ("tax_group", "tax_groups", "taxGroupCode"),
    ],
)
def test_ukg_pro_code_table_streams_are_mapped(entity: str, stream: str, code_column: str) -> None:
    mapping = product_mapping("ukg_pro", entity)
    assert mapping.stream == stream
    assert mapping.truth_type == "configuration"
    assert mapping.column(entity) == code_column


def test_code_value_table_column_is_a_spoke_of_code_tables() -> None:
    note = build_annotation(
        product="ukg_pro",
        stream="code_table_values",
        entity=None,
        truth_type="configuration",
        key_columns=["codeTable", "code"],
        references={},
        columns=["codeTable", "code", "description", "isActive"],
    )
    assert note["entity"] == "code_value"
    assert note["hub"] == {"column": "code", "semantic_type": "code_value_code"}
    assert note["references"] == {"codeTable": {"entity": "code_table", "semantic_type": "code_table_code"}}


def _schema_columns(stream_cls: type) -> set[str]:
    return set(stream_cls.schema["properties"])


def test_workday_rest_workers_mapping_matches_the_tap_schema() -> None:
    from xlr8_tap_workday.streams import WorkersStream

    mapping = mapping_for_stream("workday_hcm", "workers")
    assert mapping is not None
    columns = {spec.column for spec in mapping.fields.values()}
    assert columns <= _schema_columns(WorkersStream)
    assert mapping.column("employee_id") == "workerId"
    assert mapping.column("employment_status") == "workerStatus"
    assert mapping.fields["employment_status"].product_value("leave") == "On Leave"
    note = build_annotation(
        product="workday_hcm",
        stream="workers",
        entity=WorkersStream.xlr8_entity,
        truth_type="reality",
        key_columns=list(WorkersStream.primary_keys),
        references=dict(WorkersStream.xlr8_references),
        columns=sorted(_schema_columns(WorkersStream)),
    )
    assert note["canonical_fields"] == {
        "workerId": "employee_id",
        "primaryWorkEmail": "email",
        "businessTitle": "job_title",
        "workerStatus": "employment_status",
        "hireDate": "hire_date",
        "terminationDate": "termination_date",
        "lastUpdated": "last_modified",
    }


def test_workday_soap_workers_mapping_matches_the_tap_schema() -> None:
    from xlr8_tap_workday.streams import SoapWorkersStream

    mapping = mapping_for_stream("workday_hcm", "soap_workers")
    assert mapping is not None
    assert {spec.column for spec in mapping.fields.values()} <= _schema_columns(SoapWorkersStream)
    note = build_annotation(
        product="workday_hcm",
        stream="soap_workers",
        entity=SoapWorkersStream.xlr8_entity,
        truth_type="reality",
        key_columns=list(SoapWorkersStream.primary_keys),
        references=dict(SoapWorkersStream.xlr8_references),
        columns=sorted(_schema_columns(SoapWorkersStream)),
    )
    fields = note["canonical_fields"]
    assert fields["Employee_ID"] == "employee_id"
    assert fields["Job_Profile_ID"] == "job_code"
    assert fields["Hire_Date"] == "hire_date"
    assert fields["Manager_Employee_ID"] == "manager_id"
    assert note["references"]["Job_Profile_ID"] == {"entity": "job", "semantic_type": "job_code"}
    assert note["references"]["Location_ID"] == {"entity": "location", "semantic_type": "location_code"}
    assert note["references"]["Supervisory_Organization"]["entity"] == "organization"
