"""Translation tables per dialect with tricky values, and the refusals."""

from __future__ import annotations

import pytest

from xlr8_kit.query import (
    QueryError,
    QueryRefused,
    filter_for_stream,
    format_filter,
    parse_filter,
    plan_filters,
    translate,
    translate_filters,
)
from xlr8_kit.vocabulary import UnknownEntityError, UnknownFieldError, UnknownProductError, VocabularyError

# (target product, universal query, stream, params sent, post-fetch filter (universal text over product columns) or
#  None, limit pushed)
TABLE = [
    # --- SOQL: backslash escapes, LIKE wildcards escaped, UTC instants, text re-checked (SOQL ignores case) ---
    (
        "salesforce",
        "contact where last_name = \"O'Brien\" and first_name = 'Zoë' fields contact_id limit 10",
        "Contact",
        {"q": "SELECT Id, LastName, FirstName FROM Contact WHERE LastName = 'O\\'Brien' AND FirstName = 'Zoë'"},
        "LastName = 'O''Brien' and FirstName = 'Zoë'",
        False,
    ),
    (
        "salesforce",
        "contact where last_name contains '50%_off\\\\' fields contact_id",
        "Contact",
        {"q": "SELECT Id, LastName FROM Contact WHERE LastName LIKE '%50\\%\\_off\\\\%'"},
        "LastName contains '50%_off\\\\'",
        False,
    ),
    (
        "salesforce",
        "contact where last_modified >= 2024-03-01T10:00:00+02:00 and created < 2024-01-01 fields contact_id limit 3",
        "Contact",
        {
            "q": "SELECT Id FROM Contact WHERE SystemModstamp >= 2024-03-01T08:00:00Z "
            "AND CreatedDate < 2024-01-01T00:00:00Z LIMIT 3"
        },
        None,
        True,
    ),
    (
        "salesforce",
        "opportunity where amount between 1000 and 2500.75 and close_date in (2024-01-31, 2024-02-29) "
        "and stage != 'Closed Lost' fields opportunity_id",
        "Opportunity",
        {
            "q": "SELECT Id, StageName FROM Opportunity WHERE (Amount >= 1000 AND Amount <= 2500.75) "
            "AND CloseDate IN (2024-01-31, 2024-02-29)"
        },
        "StageName != 'Closed Lost'",
        False,
    ),
    (
        "salesforce",
        "contact where account_id in () or (last_name = x) fields contact_id",
        "Contact",
        {"q": "SELECT Id, LastName FROM Contact WHERE LastName = 'x'"},
        "LastName = 'x'",
        False,
    ),
    (
        "salesforce",
        "contact where email = null and title != null and (first_name = 'A' or (last_name = 'B' and title = 'C')) "
        "fields contact_id",
        "Contact",
        {
            "q": "SELECT Id, FirstName, LastName, Title FROM Contact WHERE Email = null AND Title != null "
            "AND (FirstName = 'A' OR (LastName = 'B' AND Title = 'C'))"
        },
        "FirstName = 'A' or (LastName = 'B' and Title = 'C')",
        False,
    ),
    (
        "salesforce",
        "opportunity where amount != 5 fields opportunity_id limit 1",
        "Opportunity",
        {"q": "SELECT Id FROM Opportunity WHERE (Amount != 5 OR Amount = null) LIMIT 1"},
        None,
        True,
    ),
    (
        "salesforce",
        "user where status = true fields user_id",
        "User",
        {"q": "SELECT Id FROM User WHERE IsActive = true"},
        None,
        False,
    ),
    (
        "salesforce",
        "contact where last_modified > 2024-03-01T10:00:00.500Z fields contact_id",
        "Contact",
        {"q": "SELECT Id, SystemModstamp FROM Contact"},
        "SystemModstamp > 2024-03-01T10:00:00.500000+00:00",
        False,
    ),
    (
        "salesforce",
        "contact where last_modified = 2024-01-31 or created <= '2023-12-31' fields contact_id",
        "Contact",
        {
            "q": "SELECT Id FROM Contact WHERE (SystemModstamp >= 2024-01-31T00:00:00Z AND SystemModstamp < "
            "2024-02-01T00:00:00Z) OR CreatedDate < 2024-01-01T00:00:00Z"
        },
        None,
        False,
    ),
    # --- OData v2: quotes doubled, datetime'' for dates, datetimeoffset'' in UTC, in -> or-chain, $top ---
    (
        "successfactors",
        'employee where hire_date >= 2024-01-01 and employment_status = active and last_name = "O\'Brien" '
        "fields employee_id, hire_date limit 100",
        "User",
        {
            "$filter": "hireDate ge datetime'2024-01-01T00:00:00' and status eq 'active' and lastName eq 'O''Brien'",
            "$select": "userId,hireDate",
            "$top": "100",
        },
        None,
        True,
    ),
    (
        "sap_sf",
        "employee where last_modified between 2024-01-01T00:00:00-05:00 and 2024-06-30T23:59:59.999Z "
        "and department_code in ('D001','D002') and manager_id != null",
        "User",
        {
            "$filter": "(lastModifiedDateTime ge datetimeoffset'2024-01-01T05:00:00Z' and lastModifiedDateTime le "
            "datetimeoffset'2024-06-30T23:59:59.999Z') and (department eq 'D001' or department eq 'D002') "
            "and managerId ne null"
        },
        None,
        False,
    ),
    (
        "successfactors",
        "employee where last_name contains \"d'A\" or first_name != 'x'",
        "User",
        {},
        "lastName contains 'd''A' or firstName != 'x'",
        False,
    ),
    (
        "successfactors",
        "EmpJob where employment_status in (active, leave) and job_code in ('J1') fields employee_id",
        "EmpJob",
        {
            "$filter": "(emplStatus eq 'A' or emplStatus eq 'U' or emplStatus eq 'P') and jobCode eq 'J1'",
            "$select": "userId",
        },
        None,
        False,
    ),
    (
        "sap_s4",
        "supplier where name = 'Müller & Söhne' and created <= 2023-12-31 limit 0",
        "A_Supplier",
        {"$filter": "SupplierName eq 'Müller & Söhne' and CreationDate le datetime'2023-12-31T00:00:00'", "$top": "0"},
        None,
        True,
    ),
    (
        "successfactors",
        "employee where last_modified != 2024-02-29 fields employee_id",
        "User",
        {
            "$filter": "lastModifiedDateTime lt datetimeoffset'2024-02-29T00:00:00Z' or lastModifiedDateTime ge "
            "datetimeoffset'2024-03-01T00:00:00Z' or lastModifiedDateTime eq null",
            "$select": "userId",
        },
        None,
        False,
    ),
    # --- Oracle REST q=: rowmatch, quotes doubled, between/in/is null, contains left to post-fetch ---
    (
        "oracle_hcm",
        "employee where hire_date between 2024-01-01 and 2024-12-31 and last_name in (\"O'Brien\", 'Smith') "
        "and termination_date = null and last_name contains 'x' fields employee_id limit 5",
        "workers",
        {
            "onlyData": "true",
            "q": "HireDate between '2024-01-01' and '2024-12-31' and LastName in ('O''Brien', 'Smith') "
            "and TerminationDate is null",
            "fields": "PersonNumber,LastName",
        },
        "LastName contains 'x'",
        False,
    ),
    (
        "oracle_erp",
        "invoice where amount > 100.5 and last_modified >= 2024-01-01T00:00:00+01:00 and status != 'CANCELLED'",
        "invoices",
        {
            "onlyData": "true",
            "q": "InvoiceAmount > 100.5 and LastUpdateDate >= '2023-12-31T23:00:00+00:00' "
            "and (ValidationStatus != 'CANCELLED' or ValidationStatus is null)",
        },
        None,
        False,
    ),
    # --- UKG and Workday named parameters: declared ones sent, everything re-checked after fetching ---
    (
        "ukg_pro",
        "employee where company_code = C100 and employment_status = terminated and termination_date >= 2024-01-01",
        "employment_details",
        {"companyID": "C100", "employeeStatusCode": "T"},
        "companyID = 'C100' and employeeStatusCode = 'T' and dateOfTermination >= 2024-01-01",
        False,
    ),
    (
        "ukg_pro",
        "employee where employment_status in (active, leave) and hire_date >= 2020-01-01",
        "employment_details",
        {},  # a list is not pushed (no UKG document says employeeStatusCode takes one): checked per row
        "employeeStatusCode in ('A', 'L') and originalHireDate >= 2020-01-01",
        False,
    ),
    (
        "ukg_pro",
        "employee where company_code = C100 and company_code = C200",
        "employment_details",
        {"companyID": "C100"},
        "companyID = 'C100' and companyID = 'C200'",
        False,
    ),
    ("workday", "employee where hire_date >= 2024-01-01", "workers", {}, "hireDate >= 2024-01-01", False),
    # --- common: canonical names, nothing pushed ---
    ("universal", "people where hire_date >= 2024-01-01 limit 5", "employee", {}, "hire_date >= 2024-01-01", False),
]


@pytest.mark.parametrize(("product", "query", "stream", "params", "residual", "limit_pushed"), TABLE)
def test_translation_table(
    product: str, query: str, stream: str, params: dict[str, str], residual: str | None, limit_pushed: bool
) -> None:
    result = translate(query, None, product)
    assert result.stream == stream
    assert result.params == params
    assert (format_filter(result.residual) if result.residual else None) == residual
    assert result.limit_pushed is limit_pushed
    assert result.notes


def test_empty_in_list_means_nothing_to_fetch() -> None:
    result = translate("contact where account_id in () and last_name = x", None, "salesforce")
    assert result.empty
    assert result.filter is None
    assert list(result.apply([{"LastName": "x"}])) == []
    assert "never match" in result.notes[0]


def test_apply_filters_and_limits_lazily() -> None:
    result = translate("employee where hire_date >= 2024-01-01 limit 2", None, "workday")
    pulled: list[int] = []

    def source():  # type: ignore[no-untyped-def]
        for i, day in enumerate(["2023-05-01", "2024-02-01", "2024-03-01", "2024-04-01", "2025-01-01"]):
            pulled.append(i)
            yield {"workerId": f"E{i}", "hireDate": day}

    assert [r["workerId"] for r in result.apply(source())] == ["E1", "E2"]
    assert pulled == [0, 1, 2]


def test_source_product_names_are_translated() -> None:
    result = translate("User where hireDate >= 2020-01-01 fields userId", "successfactors", "ukg_pro")
    assert result.stream == "employment_details"
    assert result.select == ("employeeID", "originalHireDate")
    assert format_filter(result.residual) == "originalHireDate >= 2020-01-01"  # type: ignore[arg-type]
    back = translate("employment_details where originalHireDate >= 2020-01-01 fields employeeID", "ukg_pro", "sap_sf")
    assert back.params == {"$filter": "hireDate ge datetime'2020-01-01T00:00:00'", "$select": "userId"}


def test_stream_is_chosen_to_carry_every_named_field() -> None:
    assert translate("employee where job_code = J1", None, "successfactors").stream == "User"
    assert translate("employee where pay_group = BW", None, "successfactors").stream == "EmpJob"
    with pytest.raises(UnknownFieldError, match="no single ukg_pro stream for employee carries all of"):
        translate("employee where last_name = x and employment_status = active", None, "ukg_pro")


@pytest.mark.parametrize(
    ("query", "product", "error", "message"),
    [
        ("employee where shoe_size = 9", "workday", UnknownFieldError, "'shoe_size' is not carried by workday_hcm"),
        ("employee where hire_date contains '2024'", "workday", QueryError, "hire_date is a date field: 'contains'"),
        (
            "employee where hire_date >= 2024-01-01T10:00:00Z",
            "workday",
            QueryError,
            "write 2024-01-31, not a date-time",
        ),
        ("employee where hire_date >= soon", "workday", QueryError, "'soon' is not a date like 2024-01-31"),
        ("employee where annual_salary > lots", "workday", QueryError, "annual_salary is a number field"),
        ("employee where hire_date < null", "workday", QueryError, "only = and != compare with null"),
        ("spaceship where a = 1", "workday", UnknownEntityError, "unknown entity 'spaceship'"),
        ("timecard", "salesforce", VocabularyError, "no stream for entity 'timecard'"),
        ("employee", "peoplesoft", UnknownProductError, "unknown product 'peoplesoft'"),
        ("where a = 1", "workday", QueryError, "must start with an entity"),
        ("user where status > true", "salesforce", QueryError, "only =, != and in apply"),
    ],
)
def test_refusals_name_the_field_or_entity(query: str, product: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as err:
        translate(query, None, product)
    assert message in str(err.value)


def test_refuse_instead_of_post_filtering_when_asked() -> None:
    with pytest.raises(
        QueryRefused, match=r"oracle_hcm \(oracle_rest\) cannot apply on stream 'workers': LastName contains 'x'"
    ):
        translate("employee where last_name contains 'x'", None, "oracle_hcm", allow_post_filter=False)
    with pytest.raises(QueryRefused, match="workday"):
        translate("employee where hire_date >= 2024-01-01", None, "workday", allow_post_filter=False)
    ok = translate("employee where hire_date >= 2024-01-01", None, "oracle_hcm", allow_post_filter=False)
    assert ok.fully_pushed


def test_translate_filters_by_entity_or_stream() -> None:
    by_entity = translate_filters("hire_date >= 2024-01-01", "sap_sf", entity="people", fields=["employee_id"], limit=7)
    assert by_entity.params == {
        "$filter": "hireDate ge datetime'2024-01-01T00:00:00'",
        "$select": "userId",
        "$top": "7",
    }
    by_stream = translate_filters(parse_filter("employment_status = leave"), "successfactors", stream="EmpJob")
    assert by_stream.params == {"$filter": "(emplStatus eq 'U' or emplStatus eq 'P')"}  # unpaid or paid leave
    assert translate_filters(None, "salesforce", stream="Account").where is None
    whole = translate_filters("people where hire_date >= 2024-01-01 fields employee_id limit 7", "sap_sf")
    assert whole.params == by_entity.params
    with pytest.raises(VocabularyError, match="'Widget__c' is not in the vocabulary"):
        translate_filters("a = 1", "salesforce", stream="Widget__c")
    with pytest.raises(QueryError, match="needs the entity or the stream"):
        translate_filters("a = 1", "salesforce")


def test_tap_filters_setting_applies_per_stream() -> None:
    setting = "employee where hire_date >= 2024-01-01"
    assert filter_for_stream(setting, "successfactors", "User") is not None
    assert filter_for_stream(setting, "successfactors", "FODepartment") is None
    bare = "hire_date >= 2024-01-01"
    assert filter_for_stream(bare, "successfactors", "EmpEmployment") is not None
    assert filter_for_stream(bare, "successfactors", "EmpJob") is None
    assert filter_for_stream("", "successfactors", "User") is None
    plans = plan_filters(bare, "successfactors", ["User", "EmpJob", "EmpEmployment", "Unknown"])
    assert sorted(plans) == ["EmpEmployment", "User"]
    assert plans["EmpEmployment"].params == {"$filter": "startDate ge datetime'2024-01-01T00:00:00'"}
    with pytest.raises(QueryError, match="setting 'filters'"):
        plan_filters("shoe_size = 9", "successfactors", ["User"])
    with pytest.raises(UnknownFieldError, match=r"setting 'filters' \('User where shoe_size = 9'\), stream 'User'"):
        filter_for_stream("User where shoe_size = 9", "successfactors", "User")
    with pytest.raises(QueryError, match=r"setting 'filters' \('hire_date >='\), stream 'User': expected a value"):
        filter_for_stream("hire_date >=", "successfactors", "User")
