"""Jobs from the credential store, run in-process through Dagster: what landed in PostgreSQL, failures, retries."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterEventType
from orchestration_testkit import credential, landed, project_ids, seed_store, settings_for

from xlr8_kit.credentials.model import AuthType, CredentialStatus
from xlr8_orchestration.cli import run_jobs
from xlr8_orchestration.definitions import build_definitions
from xlr8_orchestration.plan import plan_syncs, tenant_key
from xlr8_orchestration.settings import StoreRoute, TenantPolicy
from xlr8_sandbox.platform.server import Sandbox

pytestmark = pytest.mark.slow


def test_tenant_key_ignores_scheme_case_and_path() -> None:
    assert tenant_key("salesforce", "https://ACME.my.salesforce.com/") == "salesforce@acme.my.salesforce.com"
    assert tenant_key("salesforce", "acme.my.salesforce.com") == "salesforce@acme.my.salesforce.com"
    assert tenant_key("successfactors", "http://127.0.0.1:18102/odata") == "successfactors@127.0.0.1:18102"


def test_one_tenant_gets_one_key_from_what_every_process_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """review26c H1, M4, M3. The tenant key is product, host and the tenant names of the product's settings only:
    no credential field feeds it, so UKG Pro's customer API key (5 characters, its unsalted digest brute-forced
    from a run tag) never does, and a process without the credential key (a Dagster daemon) keys a tenant as the
    run worker with it does (they held separate slots of one tenant at once). A policy set for the product and host
    still holds for the tenant key, in process and in the Dagster queue config (its exact tag value)."""
    from xlr8_kit.credentials.model import ProductCredential
    from xlr8_orchestration.definitions import run_coordinator_config

    one, two, three = project_ids(3)
    host = "https://api4.successfactors.com/odata/v2"

    def stored(project: str, company: str) -> ProductCredential:
        secrets = {"company_id": company, "auth.username": "u", "auth.password": "p"}
        return ProductCredential(
            f"sf-{project[-4:]}", project, "successfactors", AuthType.BASIC, secrets, instance_url=host
        )

    ukg = {"customer_api_key": "B7K2Q", "username": "u"}
    store = seed_store(
        tmp_path, monkeypatch, stored(one, "ACME"), stored(two, "GLOBEX"),
        replace(stored(three, "x"), product_id="ukg_pro", credentials=ukg, instance_url="https://service5.ultipro.com"),
    )  # fmt: skip
    budget = TenantPolicy(max_concurrent=2, requests_per_second=10)
    settings = replace(
        settings_for(tmp_path, store, "postgresql://unused", "xlr8"),
        tenants={"successfactors@api4.successfactors.com": budget},
        product_config={"successfactors": {"company_id": "ACME"}},
    )
    with_key = {s.project_id: s.tenant for s in plan_syncs(settings)}
    monkeypatch.setenv("XLR8_CREDENTIALS_KEY", "k1:" + "A" * 44)  # a process holding another (wrong) key
    assert {s.project_id: s.tenant for s in plan_syncs(settings)} == with_key
    monkeypatch.delenv("XLR8_CREDENTIALS_KEY")  # and one with none
    assert {s.project_id: s.tenant for s in plan_syncs(settings)} == with_key
    assert with_key[one] == with_key[two] == "successfactors@api4.successfactors.com/company_id=acme"
    assert with_key[three] == "ukg_pro@service5.ultipro.com"
    assert not [k for k in with_key.values() if "customer_api_key" in k or "#" in k]
    assert settings.tenant_policy(with_key[one]) == budget
    limits = run_coordinator_config(settings, with_key.values())["config"]["tag_concurrency_limits"]  # type: ignore[index]
    tag = "successfactors_at_api4.successfactors.com/company_id=acme"
    assert {"key": "xlr8/tenant", "value": tag, "limit": 2} in limits
    assert not [x for x in limits if x["value"] == "ukg_pro_at_service5.ultipro.com"]  # the default covers it
    assert tenant_key("workday_hcm", "https://wd2-impl-services1.workday.com", {"tenant": "acme_impl"}) != tenant_key(
        "workday_hcm", "https://wd2-impl-services1.workday.com", {"tenant": "globex"}
    )


def test_active_credentials_decide_the_jobs(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_dsn: str, schema: str
) -> None:
    one, two = project_ids(2)
    store = seed_store(
        tmp_path,
        monkeypatch,
        credential(one, "salesforce", sandbox),
        credential(one, "successfactors", sandbox),
        credential(two, "salesforce", sandbox),
        credential(two, "successfactors", sandbox, status=CredentialStatus.REVOKED),
        replace(credential(two, "salesforce", sandbox), credential_id="wfm-1", product_id="ukg_wfm"),  # no tap yet
    )
    settings = settings_for(tmp_path, store, postgres_dsn, schema)
    specs = plan_syncs(settings)
    assert [(s.project_id, s.product_id) for s in specs] == [
        (one, "salesforce"),
        (one, "successfactors"),
        (two, "salesforce"),
    ]
    assert {s.tenant for s in specs} == {
        tenant_key("salesforce", sandbox.url("salesforce")),
        tenant_key("successfactors", sandbox.url("successfactors")),  # no credential field keys it (review26c M4)
    }
    defs = build_definitions(settings)
    names = {s.name for s in specs}
    assert {job.name for job in defs.jobs or []} == names
    schedules = {s.name: s.cron_schedule for s in defs.schedules or []}  # type: ignore[union-attr]
    assert schedules == {f"{name}_daily": "0 2 * * *" for name in names}


def test_a_job_lands_its_project_rows_in_postgres(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_dsn: str, schema: str
) -> None:
    (project,) = project_ids(1)
    store = seed_store(tmp_path, monkeypatch, credential(project, "salesforce", sandbox))
    settings = settings_for(tmp_path, store, postgres_dsn, schema)
    defs = build_definitions(settings)
    (spec,) = plan_syncs(settings)
    result = defs.get_job_def(spec.name).execute_in_process()
    assert result.success
    # the job's metadata counts the tables' current rows, and rows marked deleted apart (audit25e, row_count)
    (output,) = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_OUTPUT]
    shown = {k: v.value for k, v in output.event_specific_data.metadata.items()}  # type: ignore[union-attr]
    assert (shown["rows"], shown["deleted_rows"]) == (60, 0)
    tables = landed(postgres_dsn, schema, project)
    assert sorted(tables) == ["_salesforce_account", "_salesforce_contact"]
    accounts, contacts = tables["_salesforce_account"], tables["_salesforce_contact"]
    assert (len(accounts), len(contacts)) == (20, 40)  # what the emulator serves at this scale, each row once
    assert len(set(accounts)) == 20
    state = json.loads((tmp_path / "state" / project / "salesforce.json").read_text())
    assert set(state["bookmarks"]) == {"Account", "Contact"}


def test_a_failing_tap_is_retried_then_the_run_fails(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_dsn: str, schema: str
) -> None:
    (project,) = project_ids(1)
    bad = credential(project, "salesforce", sandbox)
    bad = type(bad)(**{**bad.__dict__, "credentials": {**bad.credentials, "auth.password": "wrong"}})
    store = seed_store(tmp_path, monkeypatch, bad)
    settings = settings_for(tmp_path, store, postgres_dsn, schema, retries=2)
    (spec,) = plan_syncs(settings)
    result = build_definitions(settings).get_job_def(spec.name).execute_in_process(raise_on_error=False)
    assert not result.success
    kinds = [e.event_type for e in result.all_events]
    assert kinds.count(DagsterEventType.STEP_UP_FOR_RETRY) == 2
    failure = next(e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE)
    assert "tap exited" in str(failure.event_specific_data)
    assert landed(postgres_dsn, schema, project) == {}


def test_a_project_routed_to_the_upload_api_lands_in_the_engine_not_postgres(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_dsn: str, schema: str
) -> None:
    from upload_standin import UploadStandIn

    engine = UploadStandIn(polls_before_done=1).start()
    try:
        uploaded, shared = project_ids(2)
        both = [credential(uploaded, "salesforce", sandbox), credential(shared, "salesforce", sandbox)]
        store = seed_store(tmp_path, monkeypatch, *both)
        route = StoreRoute(
            delivery="upload",
            upload_url=engine.url,
            upload_api_key="k-123",
            extra={"upload_poll_interval": 0.01},
            pii_key_file=str(tmp_path / "upload-pii.key"),  # Contact.Birthdate is PII: the target needs the key
            pii_key_create=True,
        )
        settings = settings_for(tmp_path, store, postgres_dsn, schema, projects={uploaded: route})
        outcomes = run_jobs(settings, workers=2)
        assert all(outcomes.values()), outcomes
        names = sorted(u.filename for u in engine.uploads)
        assert len(names) == 2, names
        assert names[0].endswith("_contact.csv"), names
        assert names[1].endswith("_account.csv"), names
        assert {u.fields["project"] for u in engine.uploads} == {uploaded}
        accounts = next(u for u in engine.uploads if "account" in u.filename)
        assert len(accounts.content.strip().splitlines()) == 1 + 20  # header + every account
        assert landed(postgres_dsn, schema, uploaded) == {}
        assert sorted(landed(postgres_dsn, schema, shared)) == ["_salesforce_account", "_salesforce_contact"]
    finally:
        engine.stop()


def test_a_partial_run_is_a_failure_and_is_not_retried(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_dsn: str, schema: str
) -> None:
    (project,) = project_ids(1)
    store = seed_store(tmp_path, monkeypatch, credential(project, "salesforce", sandbox))
    settings = settings_for(tmp_path, store, postgres_dsn, schema, retries=2)
    sf_config = {**settings.product_config["salesforce"], "http": {"max_quota_share": 1.0}}
    settings = replace(settings, product_config={"salesforce": sf_config})
    (spec,) = plan_syncs(settings)
    emulator: Any = sandbox.emulator("salesforce")
    monkeypatch.setattr(emulator, "api_limit", emulator.api_used + 4)  # Contact is cut off
    result = build_definitions(settings).get_job_def(spec.name).execute_in_process(raise_on_error=False)
    assert not result.success
    kinds = [e.event_type for e in result.all_events]
    assert DagsterEventType.STEP_UP_FOR_RETRY not in kinds  # the quota resets daily: the next schedule resumes
    failure = next(e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE)
    assert "partial run" in str(failure.event_specific_data)
    assert "tap exited 75" in str(failure.event_specific_data)  # the kit's partial-run exit code (issue 15)
    tables = landed(postgres_dsn, schema, project)
    assert len(tables.get("_salesforce_account", [])) == 20  # what was read before the stop landed
    assert len(tables.get("_salesforce_contact", [])) < 40
    state = json.loads((tmp_path / "state" / project / "salesforce.json").read_text())
    assert "Account" in state["bookmarks"]  # and the next run resumes from there


def test_products_with_time_data_are_also_scheduled_hourly() -> None:
    from xlr8_orchestration.definitions import build_job, build_schedules
    from xlr8_orchestration.plan import PRODUCT_TAPS, SyncSpec

    for product, expected in (("workday_hcm", {"daily", "hourly"}), ("salesforce", {"daily"})):
        spec = SyncSpec("p1", product, "c1", None, PRODUCT_TAPS[product], tenant_key(product, None))
        job = build_job(settings_for(Path("/tmp"), "db", "dsn", "s"), spec)
        names = {s.name.rsplit("_", 1)[1] for s in build_schedules(spec, job)}
        assert names == expected


CORRUPTING_TARGET = '''#!{python}
"""The real target behind a pipe that spoils one number of the first record with a numeric column."""
import json, subprocess, sys
numeric, spoiled, out = {{}}, False, []
for line in sys.stdin:
    message = json.loads(line)
    if message.get("type") == "SCHEMA":
        props = message["schema"].get("properties", {{}})
        numeric[message["stream"]] = [n for n, p in props.items() if {{"number", "integer"}} & set(p.get("type", []))]
    elif message.get("type") == "RECORD" and not spoiled and numeric.get(message["stream"]):
        message["record"][numeric[message["stream"]][0]] = "not a number"
        spoiled = True
        line = json.dumps(message) + "\\n"
    out.append(line)
sys.exit(subprocess.run([{target!r}, *sys.argv[1:]], input="".join(out), text=True).returncode)
'''


def test_a_run_that_dead_letters_records_fails_without_retries(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_dsn: str, schema: str
) -> None:
    """audit25e F8: the target exits 0 below its dead_letter_ceiling, and a sync that landed fewer rows than it
    read was a green job. It fails now, naming the streams and counts, and is not retried (a retry reads past
    the rows: they wait in _dead_letters)."""
    import sys

    from xlr8_orchestration import runner

    wrapper = tmp_path / "spoiling-target"
    real = str(Path(sys.executable).with_name("target-xlr8-truths"))
    wrapper.write_text(CORRUPTING_TARGET.format(python=sys.executable, target=real))
    wrapper.chmod(0o755)
    beside = runner.executable
    monkeypatch.setattr(runner, "executable", lambda name: str(wrapper) if name == runner.TARGET else beside(name))
    (project,) = project_ids(1)
    store = seed_store(tmp_path, monkeypatch, credential(project, "salesforce", sandbox))
    settings = settings_for(tmp_path, store, postgres_dsn, schema, retries=2)
    (spec,) = plan_syncs(settings)
    result = build_definitions(settings).get_job_def(spec.name).execute_in_process(raise_on_error=False)
    assert not result.success
    kinds = [e.event_type for e in result.all_events]
    assert kinds.count(DagsterEventType.STEP_UP_FOR_RETRY) == 0
    failure = next(e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE)
    assert "1 record(s) dead-lettered (Account: 1)" in str(failure.event_specific_data)
    rows = landed(postgres_dsn, schema, project)
    assert sum(len(r) for r in rows.values()) == 59  # of 60 read (Account, Contact), every other row landed


def test_a_report_given_up_after_two_runs_is_not_retried_by_the_job(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_dsn: str, schema: str
) -> None:
    """review27b H1: the kit runs a report whose answer is lost after the tenant ran it at most twice per tap
    invocation, then fails saying ``REPORT_SPENT``. The job's retry policy (here 2 retries) must not start the sync
    again, since each retry runs the report on the tenant twice more (3 retries: up to 8 runs per scheduled job):
    the failure is not retried and the report ran exactly twice."""
    from xlr8_kit.http.errors import REPORT_SPENT
    from xlr8_sandbox.platform.faults import FaultSpec
    from xlr8_sandbox.products.ukg_pro.raas import FOLDER

    (project,) = project_ids(1)
    store = seed_store(tmp_path, monkeypatch, credential(project, "ukg_pro", sandbox))
    settings = settings_for(tmp_path, store, postgres_dsn, schema, retries=2)
    report = {"path": f"{FOLDER}/report[@name='XLR8 Job Codes']"}
    ukg = {**settings.product_config["ukg_pro"], "raas_reports": [report], "http": {"backoff_base": 0}}
    settings = replace(settings, product_config={"ukg_pro": ukg})
    (spec,) = plan_syncs(settings)
    # LogOn answers; every later BIDataService call (ExecuteReport, LogOff) is reset after it reached the tenant
    cut = sandbox.faults.add("ukg_pro", "/services/BIDataService", FaultSpec("reset", after=1))
    result = build_definitions(settings).get_job_def(spec.name).execute_in_process(raise_on_error=False)
    assert not result.success
    kinds = [e.event_type for e in result.all_events]
    assert DagsterEventType.STEP_UP_FOR_RETRY not in kinds  # left to the next schedule
    failure = next(e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE)
    shown = str(failure.event_specific_data)
    assert "a report given up after two runs on the tenant" in shown
    assert REPORT_SPENT in shown
    assert "failed twice after the tenant ran it" in shown
    # one tap invocation: LogOn, ExecuteReport twice (the report ran twice), then LogOff's 5 attempts (nothing runs)
    assert (cut.seen, cut.fired) == (8, 7)
