"""The Salesforce emulator driven by plain ``requests`` scripts that follow Salesforce's documented flows, with no
code of this project's taps: OAuth, version discovery, global describe -> describe every listed object,
composite/batch, limits, Bulk API 2.0 and Bulk API 1.0 (XML, JSON and CSV, PK chunking).

A client written against a real org's documentation must work unchanged here; each assertion is something such a
client relies on.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree

import pytest
import requests

from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.testing import emulator_fixtures

sandbox, emulator, url = emulator_fixtures("salesforce", scale=100)

ASYNC_NS = "{http://www.force.com/2009/06/asyncapi/dataload}"
#: Limits every org returns (Salesforce REST API Developer Guide, "Limits"), each with Max and Remaining.
DOCUMENTED_LIMITS = {
    "DailyApiRequests",
    "DailyAsyncApexExecutions",
    "DailyBulkApiBatches",
    "DailyBulkV2QueryFileStorageMB",
    "DailyBulkV2QueryJobs",
    "DailyGenericStreamingApiEvents",
    "DailyStreamingApiEvents",
    "DailyWorkflowEmails",
    "DataStorageMB",
    "FileStorageMB",
    "HourlyODataCallout",
    "HourlyTimeBasedWorkflow",
    "MassEmail",
    "SingleEmail",
    "StreamingApiConcurrentClients",
}


@pytest.fixture(name="session")
def session_fixture(emulator: Any, url: str) -> Iterator[tuple[requests.Session, str]]:
    """An OAuth username-password login, as the REST API guide documents it; yields (session, instance URL)."""
    creds = emulator.test_credentials()
    token = requests.post(
        f"{url}/services/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "username": creds["username"],
            "password": creds["password"] + creds["security_token"],
        },
        timeout=30,
    )
    token.raise_for_status()
    body = token.json()
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {body['access_token']}"
        yield http, body["instance_url"]


def test_every_listed_version_is_served(session: tuple[requests.Session, str]) -> None:
    http, instance = session
    versions = http.get(f"{instance}/services/data", timeout=30).json()
    assert len(versions) > 1
    assert {"label", "url", "version"} <= set(versions[0])
    assert [float(v["version"]) for v in versions] == sorted(float(v["version"]) for v in versions)
    for entry in versions:
        assert http.get(f"{instance}{entry['url']}/limits", timeout=30).status_code == 200, entry
    newest = float(versions[-1]["version"])
    assert http.get(f"{instance}/services/data/v{newest + 1:.1f}/limits", timeout=30).status_code == 404


def test_global_describe_then_describe_every_listed_object(session: tuple[requests.Session, str]) -> None:
    http, instance = session
    latest = http.get(f"{instance}/services/data", timeout=30).json()[-1]["url"]
    listing = http.get(f"{instance}{latest}/sobjects", timeout=30).json()
    assert listing["sobjects"]
    for entry in listing["sobjects"]:
        urls = entry["urls"]
        assert {"sobject", "describe", "rowTemplate"} <= set(urls), entry["name"]
        assert urls["describe"].startswith(latest + "/sobjects/")
        describe = http.get(f"{instance}{urls['describe']}", timeout=30)
        assert describe.status_code == 200, entry["name"]
        body = describe.json()
        assert body["name"] == entry["name"]
        assert body["urls"]["describe"] == urls["describe"]
        assert any(f["name"] == "Id" for f in body["fields"])


@pytest.mark.parametrize("form", ["relative", "absolute"])
def test_composite_batch_takes_both_documented_url_forms(session: tuple[requests.Session, str], form: str) -> None:
    http, instance = session
    prefix = "v60.0" if form == "relative" else "/services/data/v60.0"
    reply = http.post(
        f"{instance}/services/data/v60.0/composite/batch",
        json={
            "batchRequests": [
                {"method": "GET", "url": f"{prefix}/sobjects/Account/describe"},
                {"method": "GET", "url": f"{prefix}/limits"},
                {"method": "GET", "url": f"{prefix}/sobjects/NoSuchObject/describe"},
            ]
        },
        timeout=30,
    ).json()
    assert reply["hasErrors"] is True
    assert [r["statusCode"] for r in reply["results"]] == [200, 200, 404]
    assert reply["results"][0]["result"]["name"] == "Account"
    assert "DailyApiRequests" in reply["results"][1]["result"]


def test_limits_carry_the_documented_keys(session: tuple[requests.Session, str]) -> None:
    http, instance = session
    limits = http.get(f"{instance}/services/data/v60.0/limits", timeout=30).json()
    assert set(limits) >= DOCUMENTED_LIMITS
    for name, value in limits.items():
        assert isinstance(value["Max"], int), name
        assert isinstance(value["Remaining"], int), name
        assert 0 <= value["Remaining"] <= value["Max"] or value["Max"] == 0, name


def test_idle_keep_alive_lasts_as_long_as_a_real_org(sandbox: Sandbox) -> None:
    """Real orgs reset pooled connections idle for about a minute; uvicorn's default is 5 s."""
    assert sandbox.products["salesforce"].server.config.timeout_keep_alive == 60


def _rest_ids(http: requests.Session, instance: str, soql: str) -> list[str]:
    ids: list[str] = []
    page = http.get(f"{instance}/services/data/v60.0/query", params={"q": soql}, timeout=30).json()
    while True:
        ids += [r["Id"] for r in page["records"]]
        if page["done"]:
            return ids
        page = http.get(f"{instance}{page['nextRecordsUrl']}", timeout=30).json()


def test_bulk_2_query_flow(session: tuple[requests.Session, str]) -> None:
    http, instance = session
    soql = "SELECT Id, Name, AnnualRevenue FROM Account"
    job = http.post(
        f"{instance}/services/data/v60.0/jobs/query", json={"operation": "query", "query": soql}, timeout=30
    ).json()
    for _ in range(40):
        state = http.get(f"{instance}/services/data/v60.0/jobs/query/{job['id']}", timeout=30).json()["state"]
        if state == "JobComplete":
            break
        time.sleep(0.05)  # a job runs a while after its creation: a client waits between polls
    assert state == "JobComplete"
    ids: list[str] = []
    params: dict[str, Any] = {"maxRecords": 20}
    while True:
        page = http.get(f"{instance}/services/data/v60.0/jobs/query/{job['id']}/results", params=params, timeout=30)
        rows = list(csv.DictReader(io.StringIO(page.text)))
        ids += [r["Id"] for r in rows]
        if page.headers["Sforce-Locator"] == "null":
            break
        params["locator"] = page.headers["Sforce-Locator"]
    assert ids == _rest_ids(http, instance, soql + " ORDER BY Id")


def test_bulk_2_job_state_follows_time_not_polls(session: tuple[requests.Session, str], emulator: Any) -> None:
    """A query job is InProgress however often it is polled until it has run its time, and its results are there
    once it has, polled or not (a real org's job runs on its own clock; results need JobComplete)."""
    http, instance = session
    jobs = f"{instance}/services/data/v60.0/jobs/query"
    before, emulator.bulk_job_seconds = emulator.bulk_job_seconds, 60.0
    try:
        job = http.post(jobs, json={"operation": "query", "query": "SELECT Id FROM Account"}, timeout=30).json()
        assert job["state"] == "UploadComplete"
        states = [http.get(f"{jobs}/{job['id']}", timeout=30).json()["state"] for _ in range(5)]
        early = http.get(f"{jobs}/{job['id']}/results", timeout=30)
        emulator._jobs[job["id"]].created_at -= 61.0  # it has run its minute (aged, not slept: no race with load)
        late = http.get(f"{jobs}/{job['id']}/results", timeout=30)
        polled = http.get(f"{jobs}/{job['id']}", timeout=30).json()["state"]
    finally:
        emulator.bulk_job_seconds = before
    assert states == ["InProgress"] * 5
    assert early.status_code == 400
    assert early.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    assert late.status_code == 200
    assert late.text.startswith("Id\n")
    assert late.text.count("\n") > 1
    assert polled == "JobComplete"


def test_bulk_2_job_aborted_while_it_runs(session: tuple[requests.Session, str], emulator: Any) -> None:
    """Abort a Query Job: PATCH ``{"state": "Aborted"}`` while it runs; it stays Aborted, has no results, and a
    finished job cannot be aborted."""
    http, instance = session
    jobs = f"{instance}/services/data/v60.0/jobs/query"
    before, emulator.bulk_job_seconds = emulator.bulk_job_seconds, 60.0
    try:
        job = http.post(jobs, json={"operation": "query", "query": "SELECT Id FROM Account"}, timeout=30).json()
        aborted = http.patch(f"{jobs}/{job['id']}", json={"state": "Aborted"}, timeout=30)
        emulator._jobs[job["id"]].created_at -= 61.0  # its minute is over: it stays Aborted all the same
        polled = http.get(f"{jobs}/{job['id']}", timeout=30).json()["state"]
        results = http.get(f"{jobs}/{job['id']}/results", timeout=30)
        done = http.post(jobs, json={"operation": "query", "query": "SELECT Id FROM Account"}, timeout=30).json()
        not_json = http.patch(f"{jobs}/{done['id']}", data="state=Aborted", timeout=30)
        emulator._jobs[done["id"]].created_at -= 61.0  # it ran its minute: finished
        late = http.patch(f"{jobs}/{done['id']}", json={"state": "Aborted"}, timeout=30)
    finally:
        emulator.bulk_job_seconds = before
    assert aborted.status_code == 200
    assert aborted.json()["state"] == "Aborted"
    assert polled == "Aborted"
    assert results.status_code == 400
    assert late.status_code == 400
    assert late.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    assert not_json.status_code == 400  # review 19a: a body that is not a JSON object answered 500
    assert not_json.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_bulk_2_refuses_a_base64_field_and_rest_returns_its_blob_url(session: tuple[requests.Session, str]) -> None:
    http, instance = session
    soql = "SELECT Id, Body FROM Attachment"
    refused = http.post(
        f"{instance}/services/data/v60.0/jobs/query", json={"operation": "query", "query": soql}, timeout=30
    )
    assert refused.status_code == 400
    record = http.get(f"{instance}/services/data/v60.0/query", params={"q": soql}, timeout=30).json()["records"][0]
    assert record["Body"] == f"/services/data/v60.0/sobjects/Attachment/{record['Id']}/Body"
    blob = http.get(f"{instance}{record['Body']}", timeout=30)
    assert blob.status_code == 200
    assert blob.content.startswith(b"Signed statement of work")


# --- Bulk API 1.0 ----------------------------------------------------------------------------------------------------
def _async(http: requests.Session) -> dict[str, str]:
    """Bulk 1.0 authenticates with the session id in X-SFDC-Session."""
    return {"X-SFDC-Session": http.headers["Authorization"].removeprefix("Bearer ")}


def _xml_fields(text: bytes) -> dict[str, str]:
    root = ElementTree.fromstring(text)
    return {child.tag.removeprefix(ASYNC_NS): child.text or "" for child in root}


def _wait_batches(http: requests.Session, base: str, job_id: str) -> list[dict[str, str]]:
    for _ in range(20):
        listing = ElementTree.fromstring(
            http.get(f"{base}/job/{job_id}/batch", headers=_async(http), timeout=30).content
        )
        batches = [{c.tag.removeprefix(ASYNC_NS): c.text or "" for c in b} for b in listing]
        if all(b["state"] in ("Completed", "Failed", "NotProcessed") for b in batches):
            return batches
    raise AssertionError(f"batches of {job_id} never finished: {batches}")


def _create_xml_job(http: requests.Session, base: str, sobject: str, **headers: str) -> dict[str, str]:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<jobInfo xmlns="http://www.force.com/2009/06/asyncapi/dataload">'
        f"<operation>query</operation><object>{sobject}</object>"
        "<concurrencyMode>Parallel</concurrencyMode><contentType>CSV</contentType></jobInfo>"
    )
    reply = http.post(
        f"{base}/job",
        data=body,
        headers={**_async(http), "Content-Type": "application/xml; charset=UTF-8", **headers},
        timeout=30,
    )
    assert reply.status_code == 201, reply.text
    job = _xml_fields(reply.content)
    assert job["state"] == "Open"
    return job


def _csv_result_ids(http: requests.Session, base: str, job_id: str, batch_id: str) -> list[str]:
    results = ElementTree.fromstring(
        http.get(f"{base}/job/{job_id}/batch/{batch_id}/result", headers=_async(http), timeout=30).content
    )
    ids: list[str] = []
    for result in results:
        data = http.get(f"{base}/job/{job_id}/batch/{batch_id}/result/{result.text}", headers=_async(http), timeout=30)
        assert data.text.startswith('"Id","Name"')
        ids += [row["Id"] for row in csv.DictReader(io.StringIO(data.text))]
    return ids


def test_bulk_1_xml_job_with_a_csv_query_batch(session: tuple[requests.Session, str]) -> None:
    http, instance = session
    base = f"{instance}/services/async/60.0"
    job = _create_xml_job(http, base, "Account")
    batch = http.post(
        f"{base}/job/{job['id']}/batch",
        data="SELECT Id, Name FROM Account",
        headers={**_async(http), "Content-Type": "text/csv; charset=UTF-8"},
        timeout=30,
    )
    assert batch.status_code == 201
    batch_id = _xml_fields(batch.content)["id"]
    [info] = _wait_batches(http, base, job["id"])
    assert info["state"] == "Completed"
    ids = _csv_result_ids(http, base, job["id"], batch_id)
    assert int(info["numberRecordsProcessed"]) == len(ids)
    assert ids == _rest_ids(http, instance, "SELECT Id FROM Account ORDER BY Id")
    closed = http.post(
        f"{base}/job/{job['id']}",
        data='<jobInfo xmlns="http://www.force.com/2009/06/asyncapi/dataload"><state>Closed</state></jobInfo>',
        headers={**_async(http), "Content-Type": "application/xml"},
        timeout=30,
    )
    assert _xml_fields(closed.content)["state"] == "Closed"


def test_bulk_1_pk_chunking_splits_the_batch_by_id(session: tuple[requests.Session, str]) -> None:
    http, instance = session
    base = f"{instance}/services/async/60.0"
    job = _create_xml_job(http, base, "Contact", **{"Sforce-Enable-PKChunking": "chunkSize=30"})
    original = _xml_fields(
        http.post(
            f"{base}/job/{job['id']}/batch",
            data="SELECT Id, Name FROM Contact",
            headers={**_async(http), "Content-Type": "text/csv"},
            timeout=30,
        ).content
    )["id"]
    batches = _wait_batches(http, base, job["id"])
    states = {b["id"]: b["state"] for b in batches}
    assert states.pop(original) == "NotProcessed"
    assert list(states.values()) == ["Completed"] * 4  # 100 contacts in chunks of 30
    ids = [i for batch_id in states for i in _csv_result_ids(http, base, job["id"], batch_id)]
    assert sorted(ids) == sorted(_rest_ids(http, instance, "SELECT Id FROM Contact"))
    assert len(ids) == len(set(ids)) == 100


def test_bulk_1_json_job(session: tuple[requests.Session, str]) -> None:
    http, instance = session
    base = f"{instance}/services/async/60.0"
    headers = {**_async(http), "Content-Type": "application/json"}
    job = http.post(
        f"{base}/job", json={"operation": "query", "object": "Project__c", "contentType": "JSON"}, headers=headers,
        timeout=30,
    ).json()  # fmt: skip
    batch = http.post(
        f"{base}/job/{job['id']}/batch", data="SELECT Id, Name, Start_Date__c FROM Project__c", headers=headers,
        timeout=30,
    ).json()  # fmt: skip
    for _ in range(20):
        info = http.get(f"{base}/job/{job['id']}/batch/{batch['id']}", headers=headers, timeout=30).json()
        if info["state"] == "Completed":
            break
    [result_id] = http.get(f"{base}/job/{job['id']}/batch/{batch['id']}/result", headers=headers, timeout=30).json()
    records = http.get(f"{base}/job/{job['id']}/batch/{batch['id']}/result/{result_id}", headers=headers,
                       timeout=30).json()  # fmt: skip
    assert len(records) == 10
    assert records[0]["attributes"]["type"] == "Project__c"
    assert isinstance(records[0]["Start_Date__c"], int)  # Bulk JSON dates are epoch milliseconds


def test_bulk_1_refuses_base64_fields_in_the_batch_and_bad_sessions(session: tuple[requests.Session, str]) -> None:
    http, instance = session
    base = f"{instance}/services/async/60.0"
    job = _create_xml_job(http, base, "Attachment")
    http.post(
        f"{base}/job/{job['id']}/batch",
        data="SELECT Id, Body FROM Attachment",
        headers={**_async(http), "Content-Type": "text/csv"},
        timeout=30,
    )
    [info] = _wait_batches(http, base, job["id"])
    assert info["state"] == "Failed"
    assert "InvalidBatch" in info["stateMessage"]
    denied = requests.get(f"{base}/job/{job['id']}", headers={"X-SFDC-Session": "expired"}, timeout=30)
    assert _xml_fields(denied.content)["exceptionCode"] == "InvalidSessionId"
    assert (
        json.loads(
            requests.get(
                f"{base}/job/{job['id']}",
                headers={"X-SFDC-Session": "expired", "Accept": "application/json"},
                timeout=30,
            ).text
        )["exceptionCode"]
        == "InvalidSessionId"
    )
