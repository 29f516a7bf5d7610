"""The vocabulary's lookups and the x-xlr8 annotation built from it."""

from __future__ import annotations

import pytest

from xlr8_kit.vocabulary import (
    UnknownEntityError,
    UnknownProductError,
    VocabularyError,
    all_products,
    canonical_field,
    field_type,
    mapping_for_stream,
    product_mapping,
    products_for_entity,
    register_mapping,
    resolve_entity,
    resolve_product,
    stream_mappings,
    unregister_mapping,
)
from xlr8_kit.vocabulary.annotations import ANNOTATION_KEY, build_annotation
from xlr8_kit.vocabulary.model import FieldMap, StreamMapping

REGISTRY_IDS = [
    "ukg_pro", "ukg_wfm", "ukg_ready", "workday_hcm", "workday_fins", "successfactors",
    "s4hana", "salesforce", "oracle_hcm", "oracle_erp", "universal", "common",
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        *[(i, i) for i in REGISTRY_IDS],
        ("ukg_wfm_dimensions", "ukg_wfm"),
        ("kronos", "ukg_wfm"),
        ("sap_sf", "successfactors"),
        ("sap_s4", "s4hana"),
        ("tap-salesforce", "salesforce"),
        ("tap-sap-successfactors", "successfactors"),
        ("tap-ukg-pro", "ukg_pro"),
        ("tap-workday", "workday_hcm"),
        ("  SAP_SF ", "successfactors"),
    ],
)
def test_resolve_product_ids_aliases_and_tap_names(name: str, expected: str) -> None:
    assert resolve_product(name).id == expected


def test_registry_has_exactly_the_engine_ids() -> None:
    assert sorted(p.id for p in all_products()) == sorted(REGISTRY_IDS)


def test_unknown_product_is_refused_with_the_known_ids() -> None:
    with pytest.raises(UnknownProductError) as err:
        resolve_product("peoplesoft")
    assert "'peoplesoft'" in str(err.value)
    assert "ukg_pro" in str(err.value)
    assert "salesforce" in str(err.value)


@pytest.mark.parametrize(
    ("word", "entity"),
    [
        ("person", "employee"),
        ("people", "employee"),
        ("Workers", "employee"),
        ("staff", "employee"),
        ("headcount", "employee"),
        ("associate", "employee"),
        ("departments", "department"),
        ("cost centers", "cost_center"),
        ("cost-centre", "cost_center"),
        ("vendors", "supplier"),
        ("opportunities", "opportunity"),
        ("accounts", "crm_account"),
        ("journal entries", "journal_entry"),
        ("pay stubs", "pay_statement"),
        ("companies", "company"),
    ],
)
def test_resolve_entity_synonyms_and_plurals(word: str, entity: str) -> None:
    assert resolve_entity(word).name == entity


def test_person_means_employee_not_contact() -> None:
    assert resolve_entity("person").name == "employee"
    assert resolve_entity("contact").name == "contact"


def test_unknown_entity_is_refused_listing_canonical_entities() -> None:
    with pytest.raises(UnknownEntityError) as err:
        resolve_entity("spaceship")
    assert "'spaceship'" in str(err.value)
    assert "employee" in str(err.value)


@pytest.mark.parametrize(
    ("product", "entity", "stream", "column"),
    [
        ("salesforce", "crm_account", "Account", ("account_id", "Id")),
        ("salesforce", "contact", "Contact", ("account_id", "AccountId")),
        ("sap_sf", "employee", "User", ("hire_date", "hireDate")),
        ("sap_sf", "EmpJob", "EmpJob", ("job_code", "jobCode")),
        ("successfactors", "department", "FODepartment", ("department_code", "externalCode")),
        ("workday_hcm", "people", "workers", ("hire_date", "hireDate")),
        ("workday_hcm", "soap_workers", "soap_workers", ("job_code", "Job_Profile_ID")),
        ("workday_fins", "journal_entry", "journals", ("amount", "Amount")),
        ("ukg_pro", "employee", "employment_details", ("hire_date", "originalHireDate")),
        ("ukg_pro", "job", "jobs", ("job_code", "jobCode")),
        ("oracle_hcm", "worker", "workers", ("employee_id", "PersonNumber")),
        ("sap_s4", "supplier", "A_Supplier", ("supplier_id", "Supplier")),
    ],
)
def test_product_mapping_names_the_stream_and_column(
    product: str, entity: str, stream: str, column: tuple[str, str]
) -> None:
    mapping = product_mapping(product, entity)
    assert mapping.stream == stream
    assert mapping.column(column[0]) == column[1]
    assert mapping.canonical_of(column[1]) == column[0]


def test_product_mapping_accepts_the_products_own_stream_name() -> None:
    assert product_mapping("successfactors", "PerPerson").entity == "employee"


def test_truth_types_reality_vs_configuration() -> None:
    assert product_mapping("ukg_pro", "employee").truth_type == "reality"
    assert product_mapping("ukg_pro", "job").truth_type == "configuration"
    assert product_mapping("successfactors", "location").truth_type == "configuration"
    assert product_mapping("salesforce", "opportunity").truth_type == "reality"


def test_primary_stream_first_when_several_carry_an_entity() -> None:
    streams = [m.stream for m in stream_mappings("successfactors", "employee")]
    assert streams[0] == "User"
    assert {"EmpJob", "PerPerson", "EmpEmployment"} <= set(streams)


def test_product_without_the_entity_is_refused_clearly() -> None:
    with pytest.raises(VocabularyError) as err:
        product_mapping("salesforce", "timecard")
    assert "salesforce" in str(err.value)
    assert "timecard" in str(err.value)
    assert "crm_account" in str(err.value)


def test_every_mapping_uses_known_entities_fields_and_enumeration_values() -> None:
    for product in all_products():
        for mapping in stream_mappings(product.id):
            assert resolve_entity(mapping.entity).name == mapping.entity
            for canonical, spec in mapping.fields.items():
                field = canonical_field(canonical)
                for value, _ in spec.values:
                    assert value in field.values, (mapping.stream, canonical, value)


def test_field_type_product_override() -> None:
    ukg = product_mapping("ukg_pro", "employee")
    assert field_type(ukg, "hire_date") == "date"
    assert field_type(ukg, "last_modified") == "datetime"
    assert product_mapping("ukg_pro", "employee").fields["employment_status"].product_value("active") == "A"


def test_products_for_entity() -> None:
    assert {"ukg_pro", "workday_hcm", "successfactors", "oracle_hcm"} <= set(products_for_entity("people"))
    assert products_for_entity("opportunity") == ["salesforce"]


def test_universal_product_speaks_canonical_names() -> None:
    mapping = product_mapping("universal", "people")
    assert mapping.stream == "employee"
    assert mapping.column("hire_date") == "hire_date"
    assert field_type(mapping, "hire_date") == "date"


def test_register_mapping_adds_a_raas_report_and_rejects_unknown_fields() -> None:
    report = StreamMapping(
        product="workday_hcm",
        stream="INT001_Headcount",
        entity="employee",
        truth_type="reality",
        fields={"employee_id": FieldMap("Employee_ID"), "hire_date": FieldMap("Hire_Date")},
        primary=False,
        params={("hire_date", ">="): "Hire_Date_From"},
    )
    register_mapping(report)
    assert mapping_for_stream("workday", "INT001_Headcount") == report
    unregister_mapping("workday", "INT001_Headcount")
    assert mapping_for_stream("workday_hcm", "INT001_Headcount") is None
    bad = StreamMapping("workday_hcm", "INT002", "employee", "reality", {"shoe_size": FieldMap("Shoe")})
    with pytest.raises(VocabularyError, match="shoe_size"):
        register_mapping(bad)
    assert mapping_for_stream("workday_hcm", "INT002") is None


def test_annotation_fills_canonical_fields_and_references_from_the_vocabulary() -> None:
    annotation = build_annotation(
        product="tap-salesforce",
        stream="Contact",
        entity=None,
        truth_type="reality",
        key_columns=["Id"],
        references={},
        columns=["Id", "AccountId", "FirstName", "SystemModstamp", "Unmapped__c"],
    )
    assert ANNOTATION_KEY == "x-xlr8"
    assert annotation == {
        "version": 1,
        "product": "salesforce",
        "stream": "Contact",
        "entity": "contact",
        "truth_type": "reality",
        "key_columns": ["Id"],
        "hub": None,
        "references": {"AccountId": {"entity": "crm_account", "semantic_type": "crm_account_code"}},
        "canonical_fields": {
            "Id": "contact_id",
            "AccountId": "account_id",
            "FirstName": "first_name",
            "SystemModstamp": "last_modified",
        },
    }


def test_annotation_configuration_hub_and_employee_references() -> None:
    hub = build_annotation(
        product="successfactors",
        stream="FODepartment",
        entity=None,
        truth_type="configuration",
        key_columns=["externalCode", "startDate"],
        references={},
        columns=["externalCode", "startDate", "name", "parent"],
    )
    assert hub["entity"] == "department"
    assert hub["hub"] == {"column": "externalCode", "semantic_type": "department_code"}
    assert hub["references"] == {}
    spoke = build_annotation(
        product="ukg_pro",
        stream="employment_details",
        entity="employee",
        truth_type="reality",
        key_columns=["employeeID"],
        references={"customOrg": "department"},
        columns=["employeeID", "primaryJobCode", "supervisorID", "orgLevel1Code", "customOrg"],
    )
    assert spoke["references"] == {
        "primaryJobCode": {"entity": "job", "semantic_type": "job_code"},
        "supervisorID": {"entity": "employee", "semantic_type": "employee_code"},
        "orgLevel1Code": {"entity": "department", "semantic_type": "department_code"},
        "customOrg": {"entity": "department", "semantic_type": "department_code"},
    }
    assert spoke["canonical_fields"]["employeeID"] == "employee_id"


def test_annotation_refuses_unknown_entities_and_truth_types() -> None:
    kw = {"key_columns": ["id"], "references": {}, "columns": ["id"]}
    with pytest.raises(UnknownEntityError, match="xlr8_entity"):
        build_annotation(product="salesforce", stream="Widget__c", entity=None, truth_type="reality", **kw)
    with pytest.raises(UnknownEntityError, match="'gizmo'"):
        build_annotation(product="salesforce", stream="Widget__c", entity="gizmo", truth_type="reality", **kw)
    with pytest.raises(UnknownEntityError, match="'gadget'"):
        build_annotation(
            product="salesforce", stream="Account", entity=None, truth_type="reality",
            key_columns=["Id"], references={"X": "gadget"}, columns=["Id", "X"],
        )  # fmt: skip
    with pytest.raises(VocabularyError, match="truth_type"):
        build_annotation(product="salesforce", stream="Account", entity=None, truth_type="facts", **kw)
    with pytest.raises(UnknownProductError):
        build_annotation(product="sap_bw", stream="Account", entity=None, truth_type="reality", **kw)


def test_annotation_stream_named_like_an_entity_without_mapping() -> None:
    annotation = build_annotation(
        product="ukg_wfm_dimensions", stream="cost_centers", entity=None, truth_type="configuration",
        key_columns=["code"], references={}, columns=["code", "name"],
    )  # fmt: skip
    assert annotation["entity"] == "cost_center"
    assert annotation["hub"] == {"column": "code", "semantic_type": "cost_center_code"}
    assert annotation["canonical_fields"] == {}


def test_annotation_replace_by_is_a_leading_part_of_the_key() -> None:
    """``replace_by`` names sets of whole keys: a leading part of the key, kept; anything else refused by name."""
    kw = {"product": "ukg_wfm", "stream": "timecards", "entity": "timecard", "truth_type": "reality", "references": {}}
    key = ["personNumber", "applyDate", "payCode"]
    columns = [*key, "hours"]
    kept = build_annotation(key_columns=key, columns=columns, replace_by=["personNumber", "applyDate"], **kw)
    assert kept["replace_by"] == ["personNumber", "applyDate"]
    assert "replace_by" not in build_annotation(key_columns=key, columns=columns, **kw)
    with pytest.raises(VocabularyError, match="replace_by"):
        build_annotation(key_columns=key, columns=columns, replace_by=["applyDate"], **kw)
