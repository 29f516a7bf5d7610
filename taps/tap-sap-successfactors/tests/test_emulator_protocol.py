"""The emulator speaks SuccessFactors' OData v2 dialect: query options, paging, $count, error shapes and a
$metadata document the kit's parser reads back exactly as declared."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import requests

from xlr8_kit.odata import parse_edmx, parse_odata_datetime
from xlr8_sandbox.products.successfactors import API_PASSWORD, API_USER, COMPANY_ID, SuccessFactorsEmulator

from .conftest import SCALE

AUTH = (f"{API_USER}@{COMPANY_ID}", API_PASSWORD)
#: Users of every status: without a status term a tenant returns active users only (KBA 2736579).
EVERY_STATUS = {"$filter": "status in 't','f','T','F','e','d'"}


def get(url: str, path: str, **params: str) -> requests.Response:
    return requests.get(f"{url}/odata/v2/{path}", params=params, auth=AUTH, timeout=30)


def results(response: requests.Response) -> list[dict]:
    assert response.status_code == 200, response.text
    return response.json()["d"]["results"]


def test_metadata_round_trips_through_the_kit_parser(url: str, emulator: SuccessFactorsEmulator) -> None:
    response = get(url, "$metadata")
    assert response.headers["content-type"].startswith("application/xml")
    metadata = parse_edmx(response.content)
    assert set(metadata.entity_sets) == set(emulator.entities)
    for name, declared in emulator.entities.items():
        parsed = metadata.entity_sets[name].entity_type
        assert parsed.keys == declared.keys
        assert {p: parsed.properties[p].edm_type for p in parsed.properties} == {
            p.name: p.edm_type for p in declared.props
        }
    user_email = metadata.entity_sets["User"].entity_type.properties["email"]
    assert not user_email.filterable
    assert metadata.entity_sets["EmpEmployment"].entity_type.navigation["jobInfoNav"].target_type == "SFOData.EmpJob"
    assert get(url, "EmpJob/$metadata").content == response.content


def test_wire_format(url: str, emulator: SuccessFactorsEmulator) -> None:
    job = results(get(url, "EmpJob", **{"$top": "1"}))[0]
    assert job["__metadata"]["type"] == "SFOData.EmpJob"
    assert re.fullmatch(r"/Date\(\d+\)/", job["startDate"])
    assert re.fullmatch(r"/Date\(\d+\+0000\)/", job["lastModifiedDateTime"])
    assert isinstance(job["seqNumber"], str)  # Edm.Int64
    assert isinstance(job["fte"], str)  # Edm.Decimal
    assert job["userNav"] == {"__deferred": {"uri": job["__metadata"]["uri"] + "/userNav"}}


def test_filter_grammar(url: str, emulator: SuccessFactorsEmulator) -> None:
    everyone = results(get(url, "User", **{"$select": "userId,department,lastModifiedDateTime,lastName"}))
    cutoff = datetime(2024, 1, 1, tzinfo=UTC)
    expected = {
        u["userId"]
        for u in everyone
        if u["department"] in ("D001", "D002") and parse_odata_datetime(u["lastModifiedDateTime"]) >= cutoff
    }
    got = results(
        get(
            url,
            "User",
            **{
                "$filter": "lastModifiedDateTime ge datetimeoffset'2024-01-01T00:00:00Z' and "
                "(department eq 'D001' or department eq 'D002')"
            },
        )
    )
    assert {u["userId"] for u in got} == expected
    assert expected
    not_d1 = results(get(url, "User", **{"$filter": "not (department eq 'D001') and department ne 'D002'"}))
    assert {u["userId"] for u in not_d1} == {u["userId"] for u in everyone if u["department"] not in ("D001", "D002")}
    hired = results(get(url, "User", **{"$filter": "hireDate lt datetime'2016-01-01T00:00:00'"}))
    assert all(parse_odata_datetime(u["hireDate"]) < datetime(2016, 1, 1, tzinfo=UTC) for u in hired)
    obrien = results(get(url, "User", **{"$filter": "lastName eq 'O''Brien'"}))
    assert {u["userId"] for u in obrien} == {u["userId"] for u in everyone if u["lastName"] == "O'Brien"}
    jobs = results(get(url, "EmpJob", **{"$filter": "seqNumber eq 1L and fte le 0.5M"}))
    assert jobs
    assert all(j["fte"] == "0.50" for j in jobs)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"$filter": "department eq"}, "COE_GENERAL_BAD_REQUEST"),
        ({"$filter": "nope eq 'x'"}, "COE_PROPERTY_NOT_FOUND"),
        ({"$filter": "email eq 'x'"}, "COE_GENERAL_BAD_REQUEST"),  # sap:filterable="false"
        ({"$orderby": "userId sideways"}, "COE_GENERAL_BAD_REQUEST"),
        ({"customPageSize": "5000"}, "COE_GENERAL_BAD_REQUEST"),
        ({"$expand": "nothingNav"}, "COE_PROPERTY_NOT_FOUND"),
    ],
)
def test_bad_requests_use_the_vendor_error_shape(
    url: str, emulator: SuccessFactorsEmulator, params: dict, code: str
) -> None:
    response = get(url, "User", **params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]["lang"] == "en-US"
    assert error["message"]["value"].startswith("[COE")


def test_unknown_entity_and_auth_errors(url: str, emulator: SuccessFactorsEmulator) -> None:
    missing = get(url, "NoSuchEntity")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "COE_ENTITY_NOT_FOUND"
    anonymous = requests.get(f"{url}/odata/v2/User", timeout=10)
    assert anonymous.status_code == 401
    no_company = requests.get(f"{url}/odata/v2/User", auth=(API_USER, API_PASSWORD), timeout=10)
    assert no_company.status_code == 401  # Basic users are user@companyId
    expired = requests.get(f"{url}/odata/v2/User", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert expired.json()["error"]["message"]["value"].startswith("[LGN0022]")


def test_orderby_top_skip_count(url: str, emulator: SuccessFactorsEmulator) -> None:
    ordered = results(get(url, "User", **{"$orderby": "lastName desc,userId", "$select": "userId,lastName"}))
    keys = [(u["lastName"], u["userId"]) for u in ordered]
    assert keys == sorted(keys, key=lambda k: (k[0], [-ord(c) for c in k[1]]), reverse=True)
    window = results(get(url, "User", **{"$top": "5", "$skip": "10", "$select": "userId"}, **EVERY_STATUS))
    assert [u["userId"] for u in window] == [f"E{i:06d}" for i in range(11, 16)]
    assert get(url, "User/$count", **EVERY_STATUS).text == str(SCALE)
    assert get(url, "EmpJob/$count", fromDate="1900-01-01").text == str(2 * SCALE)
    filtered = get(url, "User/$count", **{"$filter": "department eq 'D001'"}).text
    assert int(filtered) == len(results(get(url, "User", **{"$filter": "department eq 'D001'"})))
    inline = get(url, "User", **{"$inlinecount": "allpages", "$top": "2"}, **EVERY_STATUS).json()["d"]
    assert inline["__count"] == str(SCALE)


def test_server_paging_and_top(url: str, emulator: SuccessFactorsEmulator) -> None:
    first = get(url, "User", customPageSize="40", **EVERY_STATUS).json()["d"]
    assert len(first["results"]) == 40
    second = requests.get(first["__next"], auth=AUTH, timeout=10).json()["d"]
    third = requests.get(second["__next"], auth=AUTH, timeout=10).json()["d"]
    assert "__next" not in third
    ids = [u["userId"] for page in (first, second, third) for u in page["results"]]
    assert ids == [f"E{i + 1:06d}" for i in range(SCALE)]
    default = get(url, "EmpJob", fromDate="1900-01-01").json()["d"]
    assert len(default["results"]) == 200  # under the 1,000-row page cap: one page
    capped = get(url, "User", customPageSize="30", **{"$top": "45"}).json()["d"]
    rest = requests.get(capped["__next"], auth=AUTH, timeout=10).json()["d"]
    assert len(capped["results"]) + len(rest["results"]) == 45
    assert "__next" not in rest


def test_effective_dating_parameters(url: str, emulator: SuccessFactorsEmulator) -> None:
    history = results(get(url, "EmpJob", fromDate="1900-01-01", **{"$filter": "userId eq 'E000001'"}))
    assert len(history) == 2
    hire_row = min(history, key=lambda r: parse_odata_datetime(r["startDate"]))
    day_in_first_period = parse_odata_datetime(hire_row["startDate"]).date().isoformat()
    as_of = results(get(url, "EmpJob", asOfDate=day_in_first_period, **{"$filter": "userId eq 'E000001'"}))
    assert [r["startDate"] for r in as_of] == [hire_row["startDate"]]
    today = results(get(url, "EmpJob", **{"$filter": "userId eq 'E000001'"}))
    assert len(today) == 1
    assert today[0]["startDate"] != hire_row["startDate"]
    bad = get(url, "EmpJob", asOfDate="yesterday")
    assert bad.status_code == 400


def test_snapshot_paging_freezes_the_row_set(url: str, emulator: SuccessFactorsEmulator) -> None:
    first = get(url, "User", customPageSize="50", paging="snapshot", **EVERY_STATUS).json()["d"]
    emulator.insert_records(3)
    second = requests.get(first["__next"], auth=AUTH, timeout=10).json()["d"]
    ids = [u["userId"] for u in first["results"] + second["results"]]
    assert ids == [f"E{i + 1:06d}" for i in range(SCALE)]
    assert len(results(get(url, "User", **EVERY_STATUS))) == SCALE + 3
