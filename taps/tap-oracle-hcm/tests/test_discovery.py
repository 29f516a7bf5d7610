"""Schemas come from describe: every stream's properties are exactly the resource's described attributes (plus
the columns its flatten rules add, or the ancestor keys of a child stream), typed from describe; an attribute the
tenant adds to describe appears in the catalog and in the records without a code change."""

from __future__ import annotations

import requests

from xlr8_kit.oracle import parse_describe
from xlr8_sandbox.products.oracle_fusion.framework import Attr
from xlr8_sandbox.products.oracle_fusion.hcm import PASSWORD, USERNAME, OracleHcmEmulator
from xlr8_tap_oracle_hcm.streams import DECLARATIONS
from xlr8_tap_oracle_hcm.tap import TapOracleHcm

from .conftest import hcm_config, run_tap

TYPES = {
    "string": ["string", "null"],
    "integer": ["integer", "null"],
    "number": ["number", "null"],
    "boolean": ["boolean", "null"],
    "date": ["string", "null"],
    "datetime": ["string", "null"],
}


def described(url: str, resource: str) -> dict:
    response = requests.get(
        f"{url}/hcmRestApi/resources/11.13.18.05/{resource}/describe", auth=(USERNAME, PASSWORD), timeout=10
    )
    response.raise_for_status()
    return response.json()["Resources"][resource]


def test_schemas_equal_what_describe_returns(url: str) -> None:
    catalog = TapOracleHcm(config=hcm_config(url), parse_env_config=False).catalog_dict
    schemas = {entry["tap_stream_id"]: entry["schema"]["properties"] for entry in catalog["streams"]}
    for resource in ("workers", "jobs", "locations", "departments", "grades", "positions", "absences"):
        doc = described(url, resource)
        expected = {a["name"]: a["type"] for a in doc["attributes"]}
        flattened = {target for rule in DECLARATIONS[resource].flatten for target in rule.columns.values()}
        assert set(schemas[resource]) == set(expected) | flattened, resource
        for name, kind in expected.items():
            assert schemas[resource][name]["type"] == TYPES[kind], (resource, name)
            if kind in ("date", "datetime"):
                assert schemas[resource][name]["format"] == ("date" if kind == "date" else "date-time")
    assignments = described(url, "workers")["children"]["workRelationships"]["children"]["assignments"]
    child = schemas["workers_workRelationships_assignments"]
    assert set(child) == {a["name"] for a in assignments["attributes"]} | {"PersonId", "PeriodOfServiceId"}
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == "workers_workRelationships_assignments")
    assert entry["key_properties"] == ["PersonId", "PeriodOfServiceId", "AssignmentId", "EffectiveStartDate"]


def test_primary_keys_and_replication_key_from_describe(url: str) -> None:
    catalog = TapOracleHcm(config=hcm_config(url), parse_env_config=False).catalog_dict
    by_name = {e["tap_stream_id"]: e for e in catalog["streams"]}
    assert by_name["workers"]["key_properties"] == ["PersonId"]
    assert by_name["workers"]["replication_key"] == "LastUpdateDate"
    assert by_name["jobs"]["key_properties"] == ["JobId", "EffectiveStartDate"]  # effective dated
    assert by_name["workers_emails"]["key_properties"] == ["PersonId", "EmailAddressId"]
    assert by_name["workers_emails"].get("replication_key") is None


def test_attribute_added_to_describe_appears_without_code_changes(url: str, emulator: OracleHcmEmulator) -> None:
    emulator.add_attribute("workers", Attr("BadgeNumber_c", "string"), lambda row: f"B-{row['PersonNumber']}")
    emulator.add_attribute("jobs", Attr("HazardLevel_c", "integer"), lambda row: len(row["Name"]))
    assert (
        "BadgeNumber_c" in parse_describe({"Resources": {"workers": described(url, "workers")}}, "workers").attributes
    )
    out = run_tap(hcm_config(url, resources=["workers", "jobs"]), streams={"workers", "jobs"})
    assert out.schema("workers")["properties"]["BadgeNumber_c"]["type"] == ["string", "null"]
    assert out.schema("jobs")["properties"]["HazardLevel_c"]["type"] == ["integer", "null"]
    workers = out.records("workers")
    assert len(workers) == 100
    assert all(r["BadgeNumber_c"] == f"B-{r['PersonNumber']}" for r in workers)
    assert {r["HazardLevel_c"] for r in out.records("jobs")} == {len(j.name) for j in emulator.company.jobs}
