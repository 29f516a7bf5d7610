"""Every UKG Pro stream's SCHEMA carries ``x-xlr8`` (a stream without it lands in the truths target under product
"singer"): checked on the SCHEMA messages of a real sync against the emulator, not on discovery."""

from __future__ import annotations

from xlr8_tap_ukg_pro.streams import REST_STREAMS

from .conftest import run_tap, ukg_config

CODE_TABLE_STREAMS = {"code_tables", "code_table_values", "shift_codes", "tax_groups"}


def test_every_rest_stream_schema_is_annotated_with_ukg_pro(url: str) -> None:
    names = {cls.name for cls in REST_STREAMS}
    result = run_tap(ukg_config(url, per_page=200), streams=names)
    schemas = {m["stream"]: m["schema"] for m in result.messages if m["type"] == "SCHEMA"}
    assert set(schemas) == names
    unannotated = sorted(name for name, schema in schemas.items() if "x-xlr8" not in schema)
    assert unannotated == []
    assert {schema["x-xlr8"]["product"] for schema in schemas.values()} == {"ukg_pro"}
    for name in CODE_TABLE_STREAMS:
        assert result.records(name), f"{name}: the emulator returned no rows, so the check proves nothing"


def test_code_table_streams_are_configuration_hubs_and_spokes(url: str) -> None:
    result = run_tap(ukg_config(url, per_page=200), streams=CODE_TABLE_STREAMS)
    notes = {name: result.schema(name)["x-xlr8"] for name in CODE_TABLE_STREAMS}
    assert {name: (n["entity"], n["truth_type"]) for name, n in notes.items()} == {
        "code_tables": ("code_table", "configuration"),
        "code_table_values": ("code_value", "configuration"),
        "shift_codes": ("shift_code", "configuration"),
        "tax_groups": ("tax_group", "configuration"),
    }
    assert notes["code_tables"]["hub"] == {"column": "codeTable", "semantic_type": "code_table_code"}
    assert notes["shift_codes"]["hub"] == {"column": "shiftCode", "semantic_type": "shift_code_code"}
    assert notes["tax_groups"]["hub"] == {"column": "taxGroupCode", "semantic_type": "tax_group_code"}
    values = notes["code_table_values"]
    assert values["hub"] == {"column": "code", "semantic_type": "code_value_code"}
    # each value's table name points at the code_tables hub, so coverage is measured between them
    assert values["references"] == {"codeTable": {"entity": "code_table", "semantic_type": "code_table_code"}}
    assert values["canonical_fields"] == {"code": "code_value", "description": "name", "codeTable": "code_table"}
    assert notes["tax_groups"]["canonical_fields"]["countryCode"] == "country"
    tables = {r["codeTable"] for r in result.records("code_tables")}
    assert {r["codeTable"] for r in result.records("code_table_values")} <= tables
