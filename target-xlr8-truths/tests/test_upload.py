"""delivery=upload against a local stand-in of the engine's upload API."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from truths_testkit import PROJECT_LOWER, annotation, record_msg, run_target, schema_msg, state_msg
from upload_standin import UploadStandIn

API_KEY = "upl-key-canary-4242"


@pytest.fixture
def standin() -> Iterator[UploadStandIn]:
    server = UploadStandIn().start()
    yield server
    server.stop()


def upload_config(config: dict[str, Any], standin: UploadStandIn, tmp_path: Path) -> dict[str, Any]:
    return {
        **config,
        "delivery": "upload",
        "upload_url": standin.url,
        "upload_api_key": API_KEY,
        "upload_poll_interval": 0.01,
        "upload_staging_path": str(tmp_path / "staging.duckdb"),
    }


def messages() -> list[dict[str, Any]]:
    return [
        schema_msg(
            "jobs",
            {"JobCode": {"type": "string"}, "Title": {"type": "string"}},
            ["JobCode"],
            annotation("sap_successfactors", "jobs", "job", "configuration", ["JobCode"], hub="JobCode"),
        ),
        record_msg("jobs", {"JobCode": "J1", "Title": "Engineer"}),
        record_msg("jobs", {"JobCode": "J2", "Title": "Analyst"}),
        record_msg("jobs", {"JobCode": "J1", "Title": "Senior Engineer"}),
        state_msg({"jobs": 3}),
        schema_msg(
            "workers",
            {"Id": {"type": "integer"}, "JobCode": {"type": "string"}},
            ["Id"],
            annotation("sap_successfactors", "workers", "employee", "reality", ["Id"]),
        ),
        record_msg("workers", {"Id": 1, "JobCode": "J1"}),
        state_msg({"jobs": 3, "workers": 1}),
    ]


def test_upload_sends_each_stream_as_csv_and_waits_for_the_job(tmp_path: Path, config: dict[str, Any],
                                                                 standin: UploadStandIn) -> None:  # fmt: skip
    run = run_target(upload_config(config, standin, tmp_path), messages(), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.states == [{"jobs": 3, "workers": 1}]  # held until the engine finished both jobs
    assert [u.filename for u in standin.uploads] == [
        "sap_successfactors_job_jobs.csv",
        "sap_successfactors_employee_workers.csv",
    ]
    jobs, workers = standin.uploads
    assert jobs.fields == {"project": PROJECT_LOWER, "truth_type": "configuration", "processing_type": "structured"}
    assert workers.fields["truth_type"] == "reality"
    assert jobs.authorization == f"Bearer {API_KEY}"
    rows = list(csv.DictReader(io.StringIO(jobs.content)))
    assert sorted((r["job_code"], r["title"]) for r in rows) == [("J1", "Senior Engineer"), ("J2", "Analyst")]
    assert all(u.polls == 3 for u in standin.uploads)
    assert API_KEY not in run.stderr


def test_upload_job_failure_fails_the_run_without_state(tmp_path: Path, config: dict[str, Any],
                                                         standin: UploadStandIn) -> None:  # fmt: skip
    standin.fail_jobs = True
    run = run_target(upload_config(config, standin, tmp_path), messages(), tmp_path)
    assert run.returncode != 0
    assert "could not parse file" in run.stderr
    assert run.states == []
    assert API_KEY not in run.stderr


def test_an_adopted_stream_names_the_old_upload_the_engine_still_holds(
    tmp_path: Path, config: dict[str, Any], standin: UploadStandIn
) -> None:
    """Adoption renames only the staging table: the engine keeps the old upload, so the run names it to be removed
    (review21e finding 2)."""
    props = {"id": {"type": "integer"}}
    note = {**annotation("common", "events", "webhook_event", keys=["id"]), "formerly_unannotated": True}
    cfg = upload_config(config, standin, tmp_path)
    first = [schema_msg("events", props, ["id"]), record_msg("events", {"id": 1}), state_msg({"n": 1})]
    assert run_target(cfg, first, tmp_path).returncode == 0
    second = [schema_msg("events", props, ["id"], note), record_msg("events", {"id": 2}), state_msg({"n": 2})]
    run = run_target(cfg, second, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert [u.filename for u in standin.uploads] == ["singer_events_events.csv", "common_webhook_event_events.csv"]
    warned = [line for line in run.stderr.splitlines() if "still holds the upload" in line]
    assert len(warned) == 1, run.stderr[-3000:]
    assert "singer_events_events.csv" in warned[0]
    assert "common_webhook_event_events.csv" in warned[0]
