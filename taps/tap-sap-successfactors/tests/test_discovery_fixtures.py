"""Discovery on the real SuccessFactors $metadata documents (read in place from ../shared/fixtures): every entity
set becomes a stream with its keys, change timestamp and effective dating recognised."""

from __future__ import annotations

from pathlib import Path

import pytest

from xlr8_kit.odata import parse_edmx
from xlr8_tap_sap_successfactors.discovery import plan_stream, select_entity_sets

FIXTURES = Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "vendor-metadata" / "successfactors"
EMPLOYMENT = FIXTURES / "ECEmploymentInformation.edmx"
USERS = FIXTURES / "PLTUserManagement.edmx"


@pytest.mark.parametrize("path", [EMPLOYMENT, USERS], ids=lambda p: p.name)
def test_every_entity_set_is_a_stream(path: Path) -> None:
    metadata = parse_edmx(path)
    plans = {p.name: p for p in map(plan_stream, select_entity_sets(metadata, ("*",)))}
    assert set(plans) == set(metadata.entity_sets)
    for name, plan in plans.items():
        entity = metadata.entity_sets[name].entity_type
        assert plan.primary_keys == entity.keys
        assert set(plan.schema["required"]) == set(entity.keys)
        binary = {p for p, prop in entity.properties.items() if prop.edm_type == "Edm.Binary"}
        assert set(plan.schema["properties"]) == set(entity.properties) - binary


def test_replication_keys_and_effective_dating() -> None:
    plans = {p.name: p for p in map(plan_stream, parse_edmx(EMPLOYMENT).entity_sets.values())}
    assert plans["EmpJob"].replication_key == "lastModifiedDateTime"
    assert plans["EmpJob"].replication_key_type == "Edm.DateTimeOffset"
    assert plans["EmpJob"].effective_dated
    assert plans["EmpJobRelationships"].effective_dated  # startDate in the key
    assert not plans["EmpEmployment"].effective_dated
    assert plans["PersonEmpTerminationInfo"].replication_key is None  # no change timestamp: full table
    user = plan_stream(parse_edmx(USERS).entity_set("User"))
    assert user.replication_key == "lastModifiedDateTime"
    assert len(user.schema["properties"]) == 138
    assert plan_stream(parse_edmx(USERS).entity_set("UserPermissions")).replication_key is None


def test_unknown_entity_sets_are_named() -> None:
    with pytest.raises(ValueError, match=r"'entity_sets' names FOCompany"):
        select_entity_sets(parse_edmx(USERS), ("User", "FOCompany"))


def test_mdf_child_keyed_by_its_parents_effective_date_is_effective_dated() -> None:
    from xlr8_kit.odata import EdmProperty, EntitySet, EntityType

    def prop(name: str, edm_type: str) -> EdmProperty:
        return EdmProperty(name=name, edm_type=edm_type, nullable=False)

    child = EntityType(
        "SFOData",
        "cust_VehicleTrip",
        ("cust_Vehicle_effectiveStartDate", "cust_Vehicle_externalCode", "externalCode"),
        {
            "cust_Vehicle_effectiveStartDate": prop("cust_Vehicle_effectiveStartDate", "Edm.DateTime"),
            "cust_Vehicle_externalCode": prop("cust_Vehicle_externalCode", "Edm.String"),
            "externalCode": prop("externalCode", "Edm.String"),
        },
        {},
    )
    assert plan_stream(EntitySet("cust_VehicleTrip", child)).effective_dated is True
