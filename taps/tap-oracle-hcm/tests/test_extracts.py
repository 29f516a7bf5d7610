"""HCM Extracts through the connector: the flow is submitted, polled through RUNNING to COMPLETED, its document
found on the content server and downloaded; the rows are the company's people. A failed extract is a clear error."""

from __future__ import annotations

import pytest
from singer_sdk.exceptions import ConfigValidationError

from xlr8_kit.http.errors import ErrorBodyError
from xlr8_kit.oracle import BulkJobError
from xlr8_kit.oracle.client import poll_until
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.oracle_fusion.hcm import WORKER_EXTRACT, OracleHcmEmulator
from xlr8_tap_oracle_hcm.connector import OracleHcmConnector
from xlr8_tap_oracle_hcm.tap import TapOracleHcm

from .conftest import hcm_config, run_tap

STATUS = {"active": "ACTIVE", "leave": "SUSPENDED", "terminated": "INACTIVE"}


def test_extract_submitted_polled_downloaded(url: str, sandbox: Sandbox, emulator: OracleHcmEmulator) -> None:
    emulator.job_running_polls = 3
    with OracleHcmConnector(hcm_config(url)) as connector:
        rows = list(connector.execute_hcm_extract(WORKER_EXTRACT, {"Effective Date": "2026-01-05"}))
    assert len(rows) == 100
    by_id = {r["PersonNumber"]: r for r in rows}
    for e in emulator.company.employees():
        row = by_id[e.employee_id]
        assert (row["FirstName"], row["LastName"], row["EmailAddress"]) == (e.first_name, e.last_name, e.email)
        assert row["AssignmentStatusType"] == STATUS[e.status]
    paths = [r.path for r in sandbox.requests("oracle_hcm")]
    assert paths.count("/hcmRestApi/resources/11.13.18.05/flowActions") == 1
    assert paths.count("/hcmRestApi/resources/11.13.18.05/payrollFlows") == 4  # 3 x RUNNING, then COMPLETED
    assert paths[-2:] == ["/cs/idcplg", "/cs/idcplg"]  # search, then download


def test_failed_extract_is_a_clear_error(url: str, emulator: OracleHcmEmulator) -> None:
    emulator.fail_next_job = "Extract definition XLR8 Worker Extract has no valid delivery option."
    with OracleHcmConnector(hcm_config(url)) as connector, pytest.raises(BulkJobError) as caught:
        list(connector.execute_hcm_extract(WORKER_EXTRACT))
    message = str(caught.value)
    assert "ended with status ERROR" in message
    assert "no valid delivery option" in message
    assert WORKER_EXTRACT in message


def test_unknown_extract_names_the_flow(url: str) -> None:
    with OracleHcmConnector(hcm_config(url)) as connector, pytest.raises(Exception, match="FlowName") as caught:
        list(connector.execute_hcm_extract("No Such Extract"))
    assert "HTTP 400" in str(caught.value)


def test_poll_wait_is_bounded() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(BulkJobError, match="still RUNNING after 30 s"):
        poll_until(
            lambda: "RUNNING",
            done={"COMPLETED"},
            failed={"ERROR"},
            interval=10,
            timeout=30,
            what="extract",
            sleep=sleep,
            clock=lambda: now[0],
        )
    assert now[0] == 30  # waited up to the timeout, never past it


def test_extract_as_a_stream_lands_rows(url: str, emulator: OracleHcmEmulator) -> None:
    spec = {
        "name": WORKER_EXTRACT,
        "stream": "extract_workers",
        "key_properties": ["PersonNumber"],
        "columns": ["PersonNumber", "FirstName", "LastName", "HireDate"],
        "entity": "employee",
    }
    out = run_tap(hcm_config(url, resources=["jobs"], hcm_extracts=[spec]), streams={"extract_workers"})
    rows = out.records("extract_workers")
    assert sorted(r["PersonNumber"] for r in rows) == sorted(e.employee_id for e in emulator.company.employees())
    assert set(rows[0]) == {"PersonNumber", "FirstName", "LastName", "HireDate"}
    assert out.schema_message("extract_workers")["key_properties"] == ["PersonNumber"]


def test_extract_stream_settings_are_checked(url: str) -> None:
    bad = [{"name": "X", "stream": "x", "key_properties": ["Missing"], "columns": ["A"]}]
    with pytest.raises(ConfigValidationError, match=r"hcm_extracts\[0\].*key_properties Missing"):
        TapOracleHcm(config=hcm_config(url, hcm_extracts=bad), parse_env_config=False).discover_streams()


def test_sign_in_page_instead_of_the_document_is_an_error(
    url: str, sandbox: Sandbox, emulator: OracleHcmEmulator
) -> None:
    """The download is streamed (its body unread until rows are read), yet an HTML page with 200 is refused."""
    sandbox.faults.add("oracle_hcm", "/cs/idcplg", FaultSpec("error_body", after=1, times=1))  # the GET_FILE
    with OracleHcmConnector(hcm_config(url)) as connector, pytest.raises(ErrorBodyError, match="HTTP 200"):
        list(connector.execute_hcm_extract(WORKER_EXTRACT))


def test_extract_download_cut_mid_body_is_resumed(
    url: str,
    sandbox: Sandbox,
    emulator: OracleHcmEmulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The document is streamed (xlr8_kit.streaming); cut mid-transfer, it is asked for again and resumed after
    the bytes already read: every row once."""
    import logging

    from xlr8_kit import streaming

    with OracleHcmConnector(hcm_config(url)) as connector:
        whole = list(connector.execute_hcm_extract(WORKER_EXTRACT))
    monkeypatch.setattr(streaming, "PEEK_BYTES", 300)
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 97)
    sandbox.faults.add("oracle_hcm", "/cs/idcplg", FaultSpec("truncate", after=1, times=1))  # search, then download
    with caplog.at_level(logging.WARNING), OracleHcmConnector(hcm_config(url)) as connector:
        rows = list(connector.execute_hcm_extract(WORKER_EXTRACT))
    assert rows == whole
    assert len(rows) == 100
    assert any("broke off after" in r.getMessage() for r in caplog.records)


def test_a_submit_answered_late_is_found_not_resubmitted(
    url: str, sandbox: Sandbox, emulator: OracleHcmEmulator
) -> None:
    """audit25d F2: Fusion started the flow but answered after ``http.read_timeout``; the kit resent the submit, which
    Fusion refused ("already used") and the run failed on its own first submission. Now the submit is not resent
    blindly: the instance is looked up and polled."""
    before = set(emulator.jobs)
    sandbox.faults.add(
        "oracle_hcm", "*/flowActions", FaultSpec(kind="slow_answer", seconds=3.0, method="POST", times=1)
    )
    with OracleHcmConnector({**hcm_config(url), "http": {"read_timeout": 1}}) as connector:
        rows = list(connector.execute_hcm_extract(WORKER_EXTRACT, {"Effective Date": "2026-01-05"}))
    assert len(rows) == 100
    assert len(set(emulator.jobs) - before) == 1  # one flow on the tenant, the one the run read
