"""The plan's ``QueryTranslator`` (6.2), filters as dicts, ``is [not] null``, SuccessFactors leave from EmpJob, and
``xlr8 translate`` printing what it can when one target cannot (issue 17)."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest

from xlr8_kit.cli import main
from xlr8_kit.query import Compare, QueryTranslator, filter_from_mapping, parse_filter, translate
from xlr8_kit.vocabulary import UnknownFieldError


def test_plan_sample_runs_as_written() -> None:
    translator = QueryTranslator()
    query = translator.translate("employee where hire_date >= 2024-01-01", "ukg_pro", "sap_sf")
    assert query == "/User?$filter=hireDate ge datetime'2024-01-01T00:00:00'"
    assert translator.translate_filters({"employment_status": "active"}, "workday_hcm") == {"workerStatus": "Active"}


@pytest.mark.parametrize(
    ("filters", "product", "expected"),
    [
        ({"employment_status": "terminated"}, "ukg_pro", {"employeeStatusCode": "T"}),
        ({"hire_date >=": "2024-01-01"}, "sap_sf", {"hireDate": {">=": date(2024, 1, 1)}}),
        ({"amount": {">": 10000}}, "salesforce", {"Amount": {">": Decimal(10000)}}),
        ({"employment_status": ["active", "leave"]}, "workday", {"workerStatus": ["Active", "On Leave"]}),
        ({"employment_status": "leave"}, "successfactors", {"emplStatus": ["U", "P"]}),
        ({"termination_date": None}, "workday_hcm", {"terminationDate": None}),
    ],
)
def test_translate_filters_takes_and_returns_dicts(filters: dict, product: str, expected: dict) -> None:
    assert QueryTranslator().translate_filters(filters, product) == expected


def test_dict_filters_equal_their_text() -> None:
    assert filter_from_mapping({"hire_date": {">=": "2024-01-01", "<": "2025-01-01"}}) == parse_filter(
        "hire_date >= '2024-01-01' and hire_date < '2025-01-01'"
    )


def test_is_null_and_is_not_null() -> None:
    assert parse_filter("termination_date is null") == Compare("termination_date", "=", None)
    assert parse_filter("termination_date is not null") == Compare("termination_date", "!=", None)
    result = translate("employee where termination_date is null", None, "successfactors")
    assert result.params["$filter"] == "endDate eq null"
    assert translate("employee where termination_date is not null", None, "workday_hcm").residual == Compare(
        "terminationDate", "!=", None
    )


def test_successfactors_leave_comes_from_empjob_status_codes() -> None:
    result = translate("employee where employment_status = leave", None, "sap_sf")
    assert (result.stream, result.params["$filter"]) == ("EmpJob", "(emplStatus eq 'U' or emplStatus eq 'P')")
    with pytest.raises(UnknownFieldError, match="has no value for employment_status = 'leave'"):
        translate("employee where employment_status = leave and hire_date >= 2024-01-01", None, "successfactors")


def test_translate_prints_what_it_can_and_says_why_not() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["translate", "--to", "salesforce,ukg_pro,sap_sf", "employee where employment_status = leave"], out=out, err=err
    )
    assert code == 1
    assert "ukg_pro (ukg_rest) stream employment_details:" in out.getvalue()
    assert "successfactors (odata_v2) stream EmpJob:" in out.getvalue()
    assert "xlr8: error: salesforce: cannot translate: product 'salesforce' has no stream for entity 'employee'" in (
        err.getvalue()
    )
