"""The Fusion protocol as the HCM emulator speaks it, checked directly: finders, single items, describe of a
missing resource, bad parameters named in 400 answers (plain text under framework 1, JSON from 2), auth."""

from __future__ import annotations

import requests

from xlr8_sandbox.products.oracle_fusion.framework import uniq_id
from xlr8_sandbox.products.oracle_fusion.hcm import PASSWORD, USERNAME, person_id

BASE = "/hcmRestApi/resources/11.13.18.05"


def get(url: str, path: str, framework: str = "4", **params: str) -> requests.Response:
    return requests.get(
        f"{url}{BASE}{path}",
        params=params,
        headers={"REST-Framework-Version": framework},
        auth=(USERNAME, PASSWORD),
        timeout=30,
    )


def test_finders_and_single_items(url: str) -> None:
    found = get(url, "/workers", finder="findByPersonNumber;PersonNumber=E000010", onlyData="true").json()
    assert [r["PersonId"] for r in found["items"]] == [person_id(9)]
    by_key = get(url, "/workers", finder=f"PrimaryKey;PersonId={person_id(4)}", onlyData="true").json()
    assert [r["PersonNumber"] for r in by_key["items"]] == ["E000005"]
    assert get(url, f"/workers/{person_id(4)}", onlyData="true").status_code == 404  # Oracle: workersUniqID
    listed = get(url, "/workers", q=f"PersonId = {person_id(4)}", fields="PersonId").json()["items"][0]
    assert listed["links"][0]["href"] == f"{url}{BASE}/workers/{uniq_id(str(person_id(4)))}"
    item = get(url, f"/workers/{uniq_id(str(person_id(4)))}", expand="emails", onlyData="true").json()
    assert item["PersonNumber"] == "E000005"
    assert item["emails"]["items"][0]["EmailType"] == "W1"  # framework 3+: a collection object (audit23b #1)
    v2_item = get(url, f"/workers/{uniq_id(str(person_id(4)))}", "2", expand="emails", onlyData="true").json()
    assert v2_item["emails"][0]["EmailType"] == "W1"
    unknown = get(url, "/workers", finder="findByNothing;X=1")
    assert unknown.status_code == 400
    assert "findByNothing" in unknown.json()["o:errorDetails"][0]["detail"]


def test_errors_name_the_bad_attribute_in_the_framework_shape(url: str) -> None:
    v4 = get(url, "/workers", q="Salary_c > 5")
    assert v4.status_code == 400
    assert v4.headers["content-type"].startswith("application/vnd.oracle.adf.error+json")
    assert "Salary_c" in v4.json()["o:errorDetails"][0]["detail"]
    v1 = get(url, "/workers", framework="1", q="Salary_c>5")
    assert v1.status_code == 400
    assert v1.headers["content-type"].startswith("text/plain")
    assert "Salary_c" in v1.text
    assert "NoSuchField" in get(url, "/workers", fields="PersonId,NoSuchField").text
    assert "Nope" in get(url, "/workers", orderBy="Nope:asc").text
    assert "limit" in get(url, "/workers", limit="-3").text
    assert "bogus" in get(url, "/workers", expand="bogus").text
    assert get(url, "/noSuchResource/describe").status_code == 404


def test_credentials_are_checked(url: str) -> None:
    refused = requests.get(f"{url}{BASE}/jobs", auth=(USERNAME, "wrong"), timeout=30)
    assert refused.status_code == 401
    assert requests.get(f"{url}{BASE}/jobs", timeout=30).status_code == 401


def test_fields_wins_over_expand_as_fusion_documents(url: str) -> None:
    """Oracle, ``fields``: "It cannot be combined with expand query parameter. If both are provided, only fields
    will be considered"; a child named in ``fields`` is expanded, its missing ancestors "processed implicitly"
    (audit25a F3). The emulator answered ``expand`` beside ``fields``, so no test saw children lost on a pod."""
    who = f"PersonId = {person_id(3)}"
    both = get(url, "/workers", q=who, fields="PersonId", expand="emails", onlyData="true").json()["items"][0]
    assert both == {"PersonId": person_id(3)}  # expand ignored: no emails
    named = get(url, "/workers", q=who, fields="PersonId;emails:EmailType", onlyData="true").json()["items"][0]
    assert [e["EmailType"] for e in named["emails"]["items"]] == ["W1"]
    assert set(named["emails"]["items"][0]) == {"EmailType"}
    nested = get(url, "/workers", q=who, fields="PersonId;workRelationships.assignments:JobCode", onlyData="true")
    relation = nested.json()["items"][0]["workRelationships"]["items"][0]  # the ancestor, processed implicitly
    assert "PeriodOfServiceId" in relation
    assert set(relation["assignments"]["items"][0]) == {"JobCode"}
    alone = get(url, "/workers", q=who, expand="emails", onlyData="true").json()["items"][0]
    assert alone["emails"]["items"][0]["EmailType"] == "W1"  # expand alone: whole children
    bad = get(url, "/workers", q=who, fields="PersonId;nothing:X")
    assert bad.status_code == 400
    assert "nothing in the fields parameter" in bad.json()["o:errorDetails"][0]["detail"]
