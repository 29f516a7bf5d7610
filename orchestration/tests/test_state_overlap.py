"""The regular job and the partitioned job of one (project, product) run at once (same schedules, ``run`` runs both)
and share its files: neither may put the other's bookmark back in the state file (review25a F4, audit25e F12), nor
fail on the other's upload staging file (audit25e F13)."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from orchestration_testkit import credential, project_ids, seed_store, settings_for

from xlr8_orchestration import partitions
from xlr8_orchestration.cli import run_jobs
from xlr8_orchestration.plan import SyncSpec, plan_syncs
from xlr8_orchestration.runner import SyncResult, run_sync, state_path
from xlr8_orchestration.settings import OrchestrationSettings, StoreRoute
from xlr8_sandbox.platform.server import Sandbox

pytestmark = pytest.mark.slow


def _setup(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dsn: str, schema: str
) -> tuple[OrchestrationSettings, SyncSpec]:
    """Regular job: Contact; partitioned job: Account in 4 ranges (the README: leave it out of ``objects``)."""
    (project,) = project_ids(1)
    store = seed_store(tmp_path, monkeypatch, credential(project, "salesforce", sandbox))
    settings = settings_for(tmp_path, store, dsn, schema)
    settings = replace(
        settings,
        product_config={"salesforce": {**settings.product_config["salesforce"], "objects": ["Contact"]}},
        partitioned={"salesforce": {"Account": 4}},
    )
    (spec,) = plan_syncs(settings)
    return settings, spec


def _bookmarks(settings: OrchestrationSettings, spec: SyncSpec) -> dict[str, Any]:
    return dict(json.loads(state_path(settings, spec).read_text())["bookmarks"])


def test_a_regular_run_that_commits_while_the_ranges_sync_keeps_its_bookmark(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_dsn: str, schema: str
) -> None:
    """The partitioned job plans (state copied), the regular job syncs Contact and commits, then the ranges merge:
    the merge must not write back the planning-time copy (Contact's bookmark gone)."""
    settings, spec = _setup(sandbox, tmp_path, monkeypatch, postgres_dsn, schema)
    real = partitions.run_sync
    regular: list[SyncResult] = []
    once = threading.Lock()

    def range_after_a_regular_run(*args: Any, **kwargs: Any) -> SyncResult:
        with once:
            if not regular:  # after planning, before any range: the regular job runs and commits
                regular.append(run_sync(settings, spec))
        return real(*args, **kwargs)

    monkeypatch.setattr(partitions, "run_sync", range_after_a_regular_run)
    merged = partitions.run_partitioned(settings, spec, "Account", 4)

    contact = (regular[0].state or {})["bookmarks"]["Contact"]
    assert contact.get("replication_key_value")
    found = _bookmarks(settings, spec)
    assert found.get("Contact") == contact
    assert found["Account"] == merged["bookmarks"]["Account"]
    assert found["Account"].get("replication_key_value")


def test_a_regular_run_that_commits_after_the_merge_keeps_the_partitioned_bookmark(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_dsn: str, schema: str
) -> None:
    """The regular job's tap reads the state (no Account bookmark yet), the partitioned job runs and merges, then
    the regular job's committed STATE arrives: it must not put Account's bookmark back to what its tap read."""
    settings, spec = _setup(sandbox, tmp_path, monkeypatch, postgres_dsn, schema)
    merged: list[dict[str, Any]] = []

    def partitioned_while_the_state_is_in_flight(tap: Any, target: Any) -> None:
        target.wait()  # the tap read its state; the STATE lines wait in the pipe until this returns
        merged.append(partitions.run_partitioned(settings, spec, "Account", 4))

    result = run_sync(settings, spec, on_start=partitioned_while_the_state_is_in_flight)

    account = merged[0]["bookmarks"]["Account"]
    assert account.get("replication_key_value")
    found = _bookmarks(settings, spec)
    assert found.get("Account") == account
    assert found["Contact"] == (result.state or {})["bookmarks"]["Contact"]


def test_an_upload_route_runs_its_ranges_and_the_regular_job_one_at_a_time(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_dsn: str, schema: str
) -> None:
    """``delivery = "upload"`` stages in one DuckDB file per (project, product), which one target at a time can open
    (audit25e F13): ranges that sync at once, and the regular job beside them, failed on its lock. Each upload
    sends the whole staged table, so the ranges share that file one after another rather than each its own."""
    from upload_standin import UploadStandIn

    engine = UploadStandIn(polls_before_done=1).start()
    try:
        (project,) = project_ids(1)
        store = seed_store(tmp_path, monkeypatch, credential(project, "salesforce", sandbox))
        route = StoreRoute(
            delivery="upload",
            upload_url=engine.url,
            upload_api_key="k-123",
            extra={"upload_poll_interval": 0.01},
            pii_key_file=str(tmp_path / "upload-pii.key"),
            pii_key_create=True,
        )
        settings = settings_for(tmp_path, store, postgres_dsn, schema, projects={project: route}, retries=0)
        settings = replace(
            settings,
            product_config={"salesforce": {**settings.product_config["salesforce"], "objects": ["Contact"]}},
            partitioned={"salesforce": {"Account": 4}},
        )
        (spec,) = plan_syncs(settings)
        outcomes = run_jobs(settings, workers=2)  # `xlr8-orchestrate run`: both jobs at once, no retries
        assert outcomes == {spec.name: True, f"{spec.name}_Account_x4": True}, outcomes
        accounts = [u for u in engine.uploads if u.filename.endswith("_account.csv")]
        assert len(accounts) == 4  # one per range, each the whole staged table so far
        assert len(accounts[-1].content.strip().splitlines()) == 1 + 20  # header + every account
        assert sorted(_bookmarks(settings, spec)) == ["Account", "Contact"]
    finally:
        engine.stop()
