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
