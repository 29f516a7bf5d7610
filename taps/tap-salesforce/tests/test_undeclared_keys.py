"""The target trusts an XLR8 stream's ``additionalProperties: false`` on its BATCH fast path (review23e finding 2):
DuckDB's reader ignores a key the schema does not declare, where the record path's validator dead-letters the row.
tap-salesforce conforms nothing (``TYPE_CONFORMANCE_LEVEL`` NONE): its files hold only declared keys because its
SOQL selects exactly the catalog's fields. An org that answers with a field the catalog lacks (a field added since
discovery, echoed back) must still give files of declared keys only."""

from __future__ import annotations

import copy
import json
import typing as t
from pathlib import Path

import pytest

from xlr8_sandbox.products.salesforce import soql
from xlr8_tap_salesforce.tap import TapSalesforce

EXTRA = "Description"


def _without(config: dict[str, t.Any], field: str, deselect: str | None) -> dict[str, t.Any]:
    """The tap's catalog of Account without ``field`` (as discovered before the org added it), ``deselect`` off."""
    catalog = TapSalesforce(config=config, parse_env_config=False).catalog_dict
    for stream in catalog["streams"]:
        stream["schema"]["properties"].pop(field, None)
        stream["metadata"] = [m for m in stream["metadata"] if m["breadcrumb"] != ["properties", field]]
        for entry in stream["metadata"]:
            if deselect and entry["breadcrumb"] == ["properties", deselect]:
                entry["metadata"]["selected"] = False
    return catalog


@pytest.mark.parametrize("deselect", [None, "Phone"], ids=["every field selected", "a field deselected"])
@pytest.mark.parametrize("batch", [True, False], ids=["BATCH", "RECORD"])
@pytest.mark.parametrize("api", ["rest", "bulk"])
def test_a_field_the_org_adds_to_its_answer_never_reaches_the_output(
    sf: t.Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, api: str, batch: bool, deselect: str | None
) -> None:
    parse = soql.parse

    def answering_more(text: str) -> soql.Query:
        query = parse(text)
        if not query.count_only and EXTRA not in query.fields:
            query.fields = [*query.fields, EXTRA]
        return query

    monkeypatch.setattr(soql, "parse", answering_more)
    with sf.start_sandbox({"Account": 300}) as sandbox:
        config = sf.password_config(sandbox, objects=["Account"], api_type=api, batch_size=200, bulk_max_records=100)
        if batch:
            storage = {"root": tmp_path.as_uri(), "prefix": "b-"}
            config["batch_config"] = {"encoding": {"format": "jsonl", "compression": "none"}, "storage": storage}
        out = sf.run_tap(config, catalog=copy.deepcopy(_without(config, EXTRA, deselect)))
    (schema,) = [m["schema"] for m in out.of_type("SCHEMA") if m["stream"] == "Account"]
    assert schema.get("additionalProperties") is False
    declared = set(schema["properties"])
    if batch:
        urls = [url for m in out.of_type("BATCH") for url in m["manifest"]]
        rows = [json.loads(line) for url in urls for line in Path(url.removeprefix("file://")).read_text().splitlines()]
    else:
        rows = out.records("Account")
    assert len(rows) == 300
    undeclared = {key for row in rows for key in row} - declared
    assert not undeclared, f"{api}: keys the SCHEMA does not declare reached the output: {sorted(undeclared)}"


DELETED_AT = "_sdc_deleted_at"
DELETED_ROW = 7


def _rows(out: t.Any, batch: bool) -> list[dict[str, t.Any]]:
    """The Account records of a run: its RECORD messages, or the lines of the files its BATCH messages name."""
    if batch:
        urls = [url for m in out.of_type("BATCH") for url in m["manifest"]]
        return [json.loads(line) for url in urls for line in Path(url.removeprefix("file://")).read_text().splitlines()]
    return list(out.records("Account"))


@pytest.mark.parametrize("deselect", [None, "Phone"], ids=["every field selected", "a field deselected"])
@pytest.mark.parametrize("batch", [True, False], ids=["BATCH", "RECORD"])
@pytest.mark.parametrize("api", ["rest", "bulk"])
def test_a_catalog_without_sdc_deleted_at_gets_records_without_it_on_every_path(
    sf: t.Any, tmp_path: Path, caplog: pytest.LogCaptureFixture, api: str, batch: bool, deselect: str | None
) -> None:
    """review23j #2: the tap adds ``_sdc_deleted_at`` itself; with a catalog whose schema lacks it, REST with a field
    deselected dropped it while REST with every field selected (struct pages) and Bulk (columns) emitted it. Every
    path now gives the catalog's shape, the deleted row read (IsDeleted true) and the missing mark said once."""
    with sf.start_sandbox({"Account": 300}) as sandbox:
        sf.emulator(sandbox).delete("Account", DELETED_ROW)
        config = sf.password_config(sandbox, objects=["Account"], api_type=api, batch_size=200, bulk_max_records=100)
        if batch:
            storage = {"root": tmp_path.as_uri(), "prefix": "b-"}
            config["batch_config"] = {"encoding": {"format": "jsonl", "compression": "none"}, "storage": storage}
        with caplog.at_level("WARNING"):
            out = sf.run_tap(config, catalog=copy.deepcopy(_without(config, DELETED_AT, deselect)))
    (schema,) = [m["schema"] for m in out.of_type("SCHEMA") if m["stream"] == "Account"]
    assert DELETED_AT not in schema["properties"]
    rows = _rows(out, batch)
    assert len(rows) == 300
    carrying = [row["Id"] for row in rows if DELETED_AT in row]
    assert not carrying, f"{api}: {len(carrying)} records carry {DELETED_AT}, which the catalog does not declare"
    assert sum(1 for row in rows if row["IsDeleted"]) == 1  # the deleted row is read, as a row
    assert not {key for row in rows for key in row} - set(schema["properties"])
    told = [r.getMessage() for r in caplog.records if DELETED_AT in r.getMessage()]
    assert len(told) == 1, told
    assert "include_deleted" in told[0]
    assert "not marked deleted" in told[0]
    assert "Salesforce answered" not in caplog.text  # the tap adds the key; Salesforce never answered it


@pytest.mark.parametrize("deselect", [None, "Phone"], ids=["every field selected", "a field deselected"])
@pytest.mark.parametrize("api", ["rest", "bulk"])
def test_the_discovered_catalog_gets_sdc_deleted_at_on_every_path(
    sf: t.Any, caplog: pytest.LogCaptureFixture, api: str, deselect: str | None
) -> None:
    """The other side of the same rule: a catalog that declares ``_sdc_deleted_at`` gets it on every record of
    every path, the deleted row's set to its SystemModstamp, nothing said."""
    with sf.start_sandbox({"Account": 300}) as sandbox:
        sf.emulator(sandbox).delete("Account", DELETED_ROW)
        config = sf.password_config(sandbox, objects=["Account"], api_type=api, batch_size=200, bulk_max_records=100)
        catalog = _without(config, "NoSuchField", deselect)  # the discovered catalog, ``deselect`` off
        with caplog.at_level("WARNING"):
            out = sf.run_tap(config, catalog=catalog)
    rows = _rows(out, False)
    assert len(rows) == 300
    assert all(DELETED_AT in row for row in rows)
    (deleted,) = [row for row in rows if row[DELETED_AT] is not None]
    assert deleted["IsDeleted"] is True
    assert deleted[DELETED_AT] == deleted["SystemModstamp"]
    assert DELETED_AT not in caplog.text
