"""Conformance of the streaming EDMX parser on real vendor documents (read in place from ../shared/fixtures).

The expected catalog is built a second, independent way (a full DOM with the standard library) so that every
entity set, property and key is checked, not only samples."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest

from xlr8_kit.odata import decode_entry, edm_to_jsonschema, entity_jsonschema, parse_edmx

FIXTURES = Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "vendor-metadata"
SF_EMPLOYMENT = FIXTURES / "successfactors" / "ECEmploymentInformation.edmx"
SF_USER = FIXTURES / "successfactors" / "PLTUserManagement.edmx"
S4_BP = FIXTURES / "s4hana" / "API_BUSINESS_PARTNER.edmx"
ALL_DOCUMENTS = [SF_EMPLOYMENT, SF_USER, S4_BP]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _expected_catalog(path: Path) -> dict[str, tuple[tuple[str, ...], dict[str, str]]]:
    """entity set -> (keys, {property: Edm type}) via a plain DOM walk."""
    root = ET.parse(path).getroot()
    types: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {}
    sets: dict[str, str] = {}
    for schema in (e for e in root.iter() if _local(e.tag) == "Schema"):
        namespace = schema.get("Namespace")
        for child in schema.iter():
            if _local(child.tag) == "EntityType":
                keys = tuple(r.get("Name") for r in child.iter() if _local(r.tag) == "PropertyRef")
                props = {p.get("Name"): p.get("Type") for p in child if _local(p.tag) == "Property"}
                types[f"{namespace}.{child.get('Name')}"] = (keys, props)  # type: ignore[assignment]
            elif _local(child.tag) == "EntitySet":
                sets[child.get("Name")] = child.get("EntityType")  # type: ignore[index]
    return {name: types[type_name] for name, type_name in sets.items()}


@pytest.mark.parametrize("path", ALL_DOCUMENTS, ids=lambda p: p.name)
def test_every_entity_set_property_and_key(path: Path) -> None:
    expected = _expected_catalog(path)
    metadata = parse_edmx(path)
    assert set(metadata.entity_sets) == set(expected)
    for name, (keys, props) in expected.items():
        entity = metadata.entity_sets[name].entity_type
        assert entity.keys == keys, name
        assert {p: prop.edm_type for p, prop in entity.properties.items()} == props, name
        schema = entity_jsonschema(entity)
        included = {p for p, t in props.items() if t not in ("Edm.Binary",)}
        assert set(schema["properties"]) == included, name
        assert schema["required"] == list(keys)


def test_known_facts_of_the_real_documents() -> None:
    user = parse_edmx(SF_USER).entity_set("User")
    assert user.entity_type.keys == ("userId",)
    assert len(user.entity_type.properties) == 138
    assert user.creatable is True
    employment = parse_edmx(SF_EMPLOYMENT)
    assert employment.entity_set("EmpJob").entity_type.keys == ("seqNumber", "startDate", "userId")
    assert employment.entity_set("EmpEmployment").entity_type.keys == ("personIdExternal", "userId")
    assert employment.entity_set("EmpJob").label == "Job Information"
    s4 = parse_edmx(S4_BP)
    assert len(s4.entity_sets) == 36
    assert s4.entity_set("A_BusinessPartner").entity_type.keys == ("BusinessPartner",)


def test_sap_annotations_under_both_namespaces() -> None:
    """SuccessFactors binds ``sap:`` to two different URIs in one document; both must be read."""
    emp_job = parse_edmx(SF_EMPLOYMENT).entity_set("EmpJob")
    assert emp_job.sap["upsertable"] == "true"  # EntityContainer schema: www.sap.com/Protocols/SAPData
    company = emp_job.entity_type.properties["company"]  # entity schema: www.successfactors.com/edm/sap
    assert company.filterable
    assert company.sortable
    assert not company.creatable
    assert company.label == "Company"
    assert company.max_length == 32
    contract_end = emp_job.entity_type.properties["contractEndDate"]
    assert contract_end.filterable
    assert not contract_end.sortable


def test_navigation_properties_resolve_to_target_types() -> None:
    metadata = parse_edmx(SF_EMPLOYMENT)
    nav = metadata.entity_set("EmpEmployment").entity_type.navigation["jobInfoNav"]
    assert nav.target_type == "SFOData.EmpJob"
    assert nav.multiplicity == "*"
    manager = parse_edmx(SF_USER).entity_set("User").entity_type.navigation["manager"]
    assert (manager.target_type, manager.multiplicity) == ("SFOData.User", "0..1")
    bp = parse_edmx(S4_BP).entity_set("A_BusinessPartner").entity_type
    assert bp.navigation["to_BusinessPartnerAddress"].target_type == "API_BUSINESS_PARTNER.A_BusinessPartnerAddressType"


def test_type_samples_map_to_json_schema() -> None:
    employment = parse_edmx(SF_EMPLOYMENT)
    user = parse_edmx(SF_USER).entity_set("User").entity_type
    s4 = parse_edmx(S4_BP)
    emp_job = employment.entity_set("EmpJob").entity_type
    permit = employment.entity_set("EmpWorkPermit").entity_type
    bp = s4.entity_set("A_BusinessPartner").entity_type
    tax = s4.entity_types["API_BUSINESS_PARTNER.A_CustomerTaxGroupingType"]

    def schema(entity, name):  # type: ignore[no-untyped-def]
        return edm_to_jsonschema(entity.properties[name])

    assert schema(emp_job, "seqNumber")["type"] == ["integer", "null"]  # Edm.Int64
    assert schema(emp_job, "fte")["type"] == ["number", "null"]  # Edm.Double
    assert schema(emp_job, "company") == {"type": ["string", "null"], "maxLength": 32, "description": "Company"}
    assert schema(emp_job, "createdDateTime")["format"] == "date-time"  # Edm.DateTimeOffset
    assert schema(emp_job, "startDate")["format"] == "date-time"  # Edm.DateTime
    assert schema(user, "competency")["type"] == ["number", "null"]  # Edm.Single
    assert schema(user, "compensationEligible")["type"] == ["boolean", "null"]
    assert schema(bp, "LastChangeTime")["format"] == "time"  # Edm.Time
    assert schema(bp, "BusinessPartnerUUID")["format"] == "uuid"  # Edm.Guid
    assert schema(permit, "attachmentFileSize")["type"] == ["number", "null"]  # Edm.Decimal
    rate = schema(tax, "CustTaxGroupExemptionRate")  # Edm.Decimal Precision=5 Scale=2
    assert rate["type"] == ["number", "null"]
    assert "multipleOf" not in rate  # a float step crashes the target (Decimal / float); values are exact
    assert (rate["x-edm-precision"], rate["x-edm-scale"]) == (5, 2)
    binary = [p for e in employment.entity_types.values() for p in e.properties.values() if p.edm_type == "Edm.Binary"]
    assert binary
    assert edm_to_jsonschema(binary[0]) is None


def test_values_decode_exactly() -> None:
    emp_job = parse_edmx(SF_EMPLOYMENT).entity_set("EmpJob").entity_type
    bp = parse_edmx(S4_BP).entity_set("A_BusinessPartner").entity_type
    record = decode_entry(
        emp_job,
        {
            "__metadata": {"uri": "https://x/odata/v2/EmpJob(...)", "type": "SFOData.EmpJob"},
            "seqNumber": "9223372036854775807",
            "startDate": "/Date(1700000000000)/",
            "createdDateTime": "/Date(1700000000123+0000)/",
            "fte": 0.8,
            "employmentNav": {"__deferred": {"uri": "https://x/odata/v2/EmpEmployment"}},
            "company": "C100",
            "notAProperty": "dropped",
        },
    )
    assert record == {
        "seqNumber": 9223372036854775807,
        "startDate": "2023-11-14T22:13:20Z",
        "createdDateTime": "2023-11-14T22:13:20.123000Z",
        "fte": 0.8,
        "company": "C100",
    }
    s4_record = decode_entry(bp, {"LastChangeTime": "PT09H30M05S", "LastChangeDate": "/Date(1767571200000)/"})
    assert s4_record == {"LastChangeTime": "09:30:05", "LastChangeDate": "2026-01-05T00:00:00Z"}
    permit = parse_edmx(SF_EMPLOYMENT).entity_set("EmpWorkPermit").entity_type
    exact = decode_entry(permit, {"attachmentFileSize": "12345678901234567890.12", "attachment": "AAEC"})
    assert exact == {"attachmentFileSize": Decimal("12345678901234567890.12")}


def test_large_generated_document_streams(tmp_path: Path) -> None:
    """A tenant-sized document (1,000 entity types, 60 properties each, ~7 MB) parses completely: the streaming
    parser frees elements as it goes and still resolves sets declared before their types."""
    types, sets = [], []
    for i in range(1000):
        props = "".join(
            f'<Property Name="p{j}" Type="{"Edm.Int64" if j % 3 else "Edm.String"}" sap:filterable="{j % 2 == 0}"'
            f' sap:label="Property {j} of type {i}"><Documentation><Summary>{"x" * 40}</Summary></Documentation>'
            "</Property>"
            for j in range(60)
        )
        types.append(f'<EntityType Name="T{i}"><Key><PropertyRef Name="p0"/></Key>{props}</EntityType>')
        sets.append(f'<EntitySet Name="cust_S{i}" EntityType="SFOData.T{i}"/>')
    document = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx">'
        '<edmx:DataServices xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">'
        '<Schema Namespace="SFODataSet" xmlns="http://schemas.microsoft.com/ado/2008/09/edm">'
        f'<EntityContainer Name="EntityContainer">{"".join(sets)}</EntityContainer></Schema>'
        '<Schema Namespace="SFOData" xmlns="http://schemas.microsoft.com/ado/2008/09/edm" '
        'xmlns:sap="http://www.successfactors.com/edm/sap">'
        f"{''.join(types)}</Schema></edmx:DataServices></edmx:Edmx>"
    )
    path = tmp_path / "big.edmx"
    path.write_text(document)
    assert path.stat().st_size > 5_000_000
    metadata = parse_edmx(path)
    assert len(metadata.entity_sets) == 1000
    last = metadata.entity_set("cust_S999").entity_type
    assert last.keys == ("p0",)
    assert len(last.properties) == 60
    assert last.properties["p1"].edm_type == "Edm.Int64"
    assert last.properties["p2"].filterable
    assert not last.properties["p1"].filterable
    assert last.properties["p59"].label == "Property 59 of type 999"
