"""Conformance: discovery on the real describe documents in ../shared/fixtures gives every field, each with the
JSON-schema type its Salesforce type calls for. The fixtures are read in place (never copied); a missing fixture
fails the test rather than skipping it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from xlr8_tap_salesforce import discovery

FIXTURES = Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "vendor-metadata" / "salesforce"

#: Salesforce type -> (JSON type, format) the schema must carry.
EXPECTED = {
    "id": ("string", None),
    "reference": ("string", None),
    "string": ("string", None),
    "picklist": ("string", None),
    "textarea": ("string", None),
    "phone": ("string", None),
    "url": ("string", None),
    "email": ("string", None),
    "boolean": ("boolean", None),
    "int": ("integer", None),
    "double": ("number", None),
    "currency": ("number", None),
    "percent": ("number", None),
    "date": ("string", "date"),
    "datetime": ("string", "date-time"),
    "address": ("object", None),
}


def _describe(name: str) -> dict[str, Any]:
    path = FIXTURES / f"{name}_describe.json"
    assert path.is_file(), f"fixture missing: {path}"
    return json.loads(path.read_text())


def _json_type(prop: dict[str, Any]) -> str:
    types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    return next(t for t in types if t != "null")


@pytest.mark.parametrize("sobject", ["Account", "Contact"])
def test_every_field_has_the_right_type(sobject: str) -> None:
    describe = _describe(sobject)
    schema = discovery.object_schema(describe)
    properties = schema["properties"]
    assert set(properties) == {f["name"] for f in describe["fields"]} | {discovery.DELETED_AT}
    seen_types = set()
    for field in describe["fields"]:
        json_type, fmt = EXPECTED[field["type"]]  # KeyError = a type this test does not know yet
        prop = properties[field["name"]]
        assert _json_type(prop) == json_type, field["name"]
        assert prop.get("format") == fmt, field["name"]
        seen_types.add(field["type"])
    assert {"id", "reference", "boolean", "datetime", "date", "address", "double"} <= seen_types


def test_account_samples() -> None:
    properties = discovery.object_schema(_describe("Account"))["properties"]
    assert properties["Id"]["type"] == "string"  # the key is never null
    assert properties["AnnualRevenue"]["type"] == ["number", "null"]
    assert properties["NumberOfEmployees"]["type"] == ["integer", "null"]
    assert properties["BillingLatitude"]["type"] == ["number", "null"]
    assert properties["SystemModstamp"] == {
        "type": ["string", "null"],
        "format": "date-time",
        "title": "System Modstamp",
    }
    assert properties["IsDeleted"]["type"] == ["boolean", "null"]
    address = properties["BillingAddress"]
    assert address["type"] == ["object", "null"]
    assert {"street", "city", "postalCode", "country", "latitude", "longitude"} <= set(address["properties"])
    assert address["properties"]["latitude"]["type"] == ["number", "null"]
    assert properties["Name"]["maxLength"] == 255
    assert properties[discovery.DELETED_AT]["format"] == "date-time"


def test_contact_samples_and_object_info() -> None:
    describe = _describe("Contact")
    properties = discovery.object_schema(describe)["properties"]
    assert properties["Birthdate"] == {"type": ["string", "null"], "format": "date", "title": "Birthdate"}
    assert properties["Email"]["type"] == ["string", "null"]
    assert properties["IsEmailBounced"]["type"] == ["boolean", "null"]
    info = discovery.ObjectInfo.from_describe(describe)
    assert info.replication_key == "SystemModstamp"
    assert info.has_is_deleted
    kind, parts = info.compounds["MailingAddress"]
    assert kind == "address"
    assert {"MailingStreet", "MailingCity", "MailingPostalCode", "MailingCountry", "MailingLatitude"} <= set(parts)
    assert discovery.compound_key("MailingAddress", "address", "MailingPostalCode") == "postalCode"


def test_replication_key_falls_back_when_system_modstamp_is_absent() -> None:
    describe = _describe("Account")
    without = {**describe, "fields": [f for f in describe["fields"] if f["name"] != "SystemModstamp"]}
    assert discovery.ObjectInfo.from_describe(without).replication_key == "LastModifiedDate"
    neither = {
        **describe,
        "fields": [f for f in describe["fields"] if f["name"] not in ("SystemModstamp", "LastModifiedDate")],
    }
    assert discovery.ObjectInfo.from_describe(neither).replication_key == "CreatedDate"
    bare = {**describe, "fields": [f for f in describe["fields"] if f["type"] != "datetime"]}
    assert discovery.ObjectInfo.from_describe(bare).replication_key is None


def test_location_compound_key() -> None:
    assert discovery.compound_key("HQ_Location__c", "location", "HQ_Location__Latitude__s") == "latitude"


@pytest.mark.parametrize("sobject", ["Account", "Contact"])
def test_compounds_guessed_from_the_schema_are_the_describe_s(sobject: str) -> None:
    """A Bulk job created beside the describe selects compound parts guessed from the catalog's schema alone
    (``schema_compounds``): on real describe documents the guess is the describe's own, parts in its order, so the
    early job is the stream's and is read, not aborted."""
    describe = _describe(sobject)
    info = discovery.ObjectInfo.from_describe(describe)
    guessed = discovery.schema_compounds(discovery.object_schema(describe)["properties"])
    assert guessed == {name: parts for name, (_kind, parts) in info.compounds.items()}
    assert guessed  # the fixture has compounds to guess
