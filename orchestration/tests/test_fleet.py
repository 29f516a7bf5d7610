"""Issue 23's fleet tests at a scale this shared 2-core machine runs in minutes: several projects x products through
the orchestrator into one PostgreSQL equal single runs; a worker killed mid-run is retried with nothing lost or
doubled; a tenant shared by two projects never sees more than its requests-per-second limit."""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from dagster import DagsterEventType
from orchestration_testkit import credential, landed, project_ids, seed_store, settings_for

from target_xlr8_truths.layout import LEDGER_TABLE
from target_xlr8_truths.naming import normalise_project
from xlr8_orchestration.cli import run_jobs
from xlr8_orchestration.definitions import build_definitions
from xlr8_orchestration.plan import plan_syncs, tenant_key
from xlr8_orchestration.runner import run_sync
from xlr8_orchestration.settings import TenantPolicy
from xlr8_sandbox.platform.server import Sandbox

pytestmark = pytest.mark.slow

PROJECTS = 5
PRODUCTS = ("salesforce", "successfactors", "ukg_pro")
HOLD = "XLR8_TRUTHS_HOLD_BEFORE_COMMIT"


def test_projects_by_products_through_the_orchestrator_equal_single_runs(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_dsn: str, schema: str
) -> None:
    reference, *fleet = project_ids(PROJECTS + 1)
    creds = [credential(p, product, sandbox) for p in [reference, *fleet] for product in PRODUCTS]
    store = seed_store(tmp_path, monkeypatch, *creds)
    settings = settings_for(tmp_path, store, postgres_dsn, schema)
    specs = plan_syncs(settings)
    assert len(specs) == (PROJECTS + 1) * len(PRODUCTS)
    ref_schema = f"{schema}_ref"
    ref_settings = replace(settings, store=replace(settings.store, postgres_schema=ref_schema))
    for spec in specs:  # the single-machine run: one sync at a time, its own schema
        if spec.project_id == reference:
            run_sync(ref_settings, spec)
    expected = landed(postgres_dsn, ref_schema, reference, tmp_path / "pii.key")
    assert len(expected) > 4  # two Salesforce objects, two SuccessFactors entity sets, UKG Pro's streams
    assert all(expected.values())

    outcomes = run_jobs(settings, [s.name for s in specs if s.project_id != reference], workers=4)
    assert len(outcomes) == PROJECTS * len(PRODUCTS)
    assert all(outcomes.values()), outcomes
    for project in fleet:
        assert landed(postgres_dsn, schema, project, tmp_path / "pii.key") == expected, project


def test_a_worker_killed_mid_run_is_retried_and_nothing_is_lost_or_doubled(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_dsn: str, schema: str
) -> None:
    calm, killed = project_ids(2)
    store = seed_store(
        tmp_path, monkeypatch, credential(calm, "salesforce", sandbox), credential(killed, "salesforce", sandbox)
    )
    settings = settings_for(tmp_path, store, postgres_dsn, schema, retries=2)
    settings = replace(settings, store=replace(settings.store, extra={"batch_size_rows": 5}))
    defs = build_definitions(settings)
    calm_spec, killed_spec = plan_syncs(settings)
    assert defs.get_job_def(calm_spec.name).execute_in_process().success

    marker = tmp_path / "holding"
    settings.env[HOLD] = f"{marker}:3"  # the target stops inside its 3rd batch transaction, two already committed
    victims: list[int] = []

    def kill_when_holding() -> None:
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        settings.env.pop(HOLD)  # the retry runs clean
        pid = int(marker.read_text())
        victims.append(pid)
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_when_holding)
    killer.start()
    result = defs.get_job_def(killed_spec.name).execute_in_process(raise_on_error=False)
    killer.join()
    assert victims
    assert result.success
    kinds = [e.event_type for e in result.all_events]
    assert kinds.count(DagsterEventType.STEP_UP_FOR_RETRY) == 1
    with psycopg.connect(postgres_dsn) as conn:  # the killed run had committed batches before it died
        runs = conn.execute(
            f'SELECT COUNT(DISTINCT run_id) FROM "{schema}".{LEDGER_TABLE} WHERE LOWER(project) = %s',
            [normalise_project(killed)],
        ).fetchone()
    assert runs == (2,)
    rows = landed(postgres_dsn, schema, killed, tmp_path / "pii.key")
    assert rows == landed(postgres_dsn, schema, calm, tmp_path / "pii.key")  # nothing lost
    assert all(len(set(r)) == len(r) for r in rows.values())  # nothing doubled
    assert [len(r) for r in rows.values()] == [20, 40]


def test_a_tenant_shared_by_two_projects_never_exceeds_its_rate(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_dsn: str, schema: str
) -> None:
    one, two = project_ids(2)
    store = seed_store(
        tmp_path, monkeypatch, credential(one, "salesforce", sandbox), credential(two, "salesforce", sandbox)
    )
    tenant = tenant_key("salesforce", sandbox.url("salesforce"))
    limit = 4.0
    settings = settings_for(
        tmp_path,
        store,
        postgres_dsn,
        schema,
        tenants={tenant: TenantPolicy(max_concurrent=2, requests_per_second=limit)},
    )
    assert {s.tenant for s in plan_syncs(settings)} == {tenant}
    started = time.time()
    outcomes = run_jobs(settings, workers=2)
    assert all(outcomes.values()), outcomes
    arrivals = sorted(r.arrived_at for r in sandbox.requests("salesforce") if r.arrived_at >= started)
    assert len(arrivals) > 2 * limit  # enough traffic for the window to mean something
    busiest = max(sum(1 for a in arrivals[i:] if a < start + 1.0) for i, start in enumerate(arrivals))
    assert busiest <= limit, f"{busiest} requests within one second; limit {limit}"
    for project in (one, two):
        assert [len(r) for r in landed(postgres_dsn, schema, project).values()] == [20, 40]
