"""A Salesforce stream synced as N SystemModstamp ranges lands exactly the rows of a single run, and its merged
bookmark equals the single run's."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from dagster import DagsterEventType
from orchestration_testkit import credential, landed, project_ids, seed_store, settings_for

from target_xlr8_truths.layout import LEDGER_TABLE
from target_xlr8_truths.naming import normalise_project
from xlr8_orchestration.definitions import build_definitions
from xlr8_orchestration.partitions import Partition, merge_bookmarks, plan_ranges
from xlr8_orchestration.plan import plan_syncs, tenant_key
from xlr8_orchestration.settings import TenantPolicy
from xlr8_sandbox.platform.server import Sandbox

pytestmark = pytest.mark.slow


def test_plan_ranges_splits_rows_evenly_on_whole_seconds() -> None:
    stamps = [1_600_000_000 + 7 * i for i in range(100)]

    def count(where: str | None) -> int:
        from xlr8_orchestration.partitions import parse

        clauses = (where or "").split(" AND ")
        lo = parse(clauses[0].split(">= ")[1]).timestamp()
        hi = parse(clauses[1].split("< ")[1]).timestamp() if len(clauses) > 1 else float("inf")
        return sum(1 for s in stamps if lo <= s < hi)

    from datetime import UTC, datetime

    parts = plan_ranges(count, 4, None, datetime(2030, 1, 1, tzinfo=UTC))
    assert [p.index for p in parts] == [0, 1, 2, 3]
    assert parts[0].lower is None
    assert parts[-1].upper is None
    sizes = []
    for p in parts:
        where = "SystemModstamp >= " + (p.lower or "1999-01-01T00:00:00Z")
        if p.upper:
            where += f" AND SystemModstamp < {p.upper}"
        sizes.append(count(where))
    assert sizes == [25, 25, 25, 25]


def test_merge_takes_the_highest_range_bookmark_and_keeps_other_streams() -> None:
    prior = {"bookmarks": {"Contact": {"replication_key_value": "2020-01-01T00:00:00Z"}}}
    parts: list[dict[str, Any] | None] = [
        {
            "bookmarks": {
                "Account": {"replication_key_value": "2019-01-01T01:00:00.000Z", "xlr8_boundary": {"ids": ["a"]}}
            }
        },
        None,
        {
            "bookmarks": {
                "Account": {"replication_key_value": "2019-01-01T03:00:00.000Z", "xlr8_boundary": {"ids": ["c"]}}
            }
        },
        {"bookmarks": {}},  # an empty top range contributes nothing
    ]
    merged = merge_bookmarks(prior, "Account", parts)
    assert merged["bookmarks"]["Account"]["xlr8_boundary"] == {"ids": ["c"]}
    assert merged["bookmarks"]["Contact"] == prior["bookmarks"]["Contact"]
    assert (
        Partition(1, "2019-01-01T00:00:00Z", None).filter("account")
        == "account where SystemModstamp >= 2019-01-01T00:00:00Z"
    )


def test_partitioned_account_sync_lands_exactly_the_single_run_rows(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_dsn: str, schema: str
) -> None:
    single, split = project_ids(2)
    store = seed_store(
        tmp_path, monkeypatch, credential(single, "salesforce", sandbox), credential(split, "salesforce", sandbox)
    )
    settings = settings_for(tmp_path, store, postgres_dsn, schema)
    settings = type(settings)(
        **{
            **settings.__dict__,
            "product_config": {"salesforce": {**settings.product_config["salesforce"], "objects": ["Account"]}},
            "partitioned": {"salesforce": {"Account": 4}},
        }
    )
    defs = build_definitions(settings)
    one, two = plan_syncs(settings)
    assert defs.get_job_def(one.name).execute_in_process().success
    assert defs.get_job_def(f"{two.name}_Account_x4").execute_in_process().success

    single_rows, split_rows = landed(postgres_dsn, schema, single), landed(postgres_dsn, schema, split)
    assert list(split_rows) == ["_salesforce_account"]
    assert len(split_rows["_salesforce_account"]) == 20
    assert split_rows == single_rows
    state_single = json.loads((tmp_path / "state" / single / "salesforce.json").read_text())
    state_split = json.loads((tmp_path / "state" / split / "salesforce.json").read_text())
    assert state_split["bookmarks"]["Account"] == state_single["bookmarks"]["Account"]
    assert not (tmp_path / "state" / split / "salesforce.Account.partitions").exists()
    with psycopg.connect(postgres_dsn) as conn:  # four target runs, one per range, each landing a share
        runs = conn.execute(
            f'SELECT rows_loaded FROM "{schema}".{LEDGER_TABLE} WHERE LOWER(project) = %s AND stream = %s',
            [normalise_project(split), "Account"],
        ).fetchall()
    assert len(runs) == 4
    assert sum(r[0] for r in runs) == 20
    assert all(r[0] > 0 for r in runs)


def test_a_killed_partition_is_retried_alone_and_the_merge_equals_a_single_run(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_dsn: str, schema: str
) -> None:
    single, split = project_ids(2)
    store = seed_store(
        tmp_path, monkeypatch, credential(single, "salesforce", sandbox), credential(split, "salesforce", sandbox)
    )
    tenant = tenant_key("salesforce", sandbox.url("salesforce"))
    settings = settings_for(tmp_path, store, postgres_dsn, schema, tenants={tenant: TenantPolicy(1, 50.0)})
    settings = replace(
        settings,
        store=replace(settings.store, extra={"batch_size_rows": 2}),
        product_config={"salesforce": {**settings.product_config["salesforce"], "objects": ["Account"]}},
        partitioned={"salesforce": {"Account": 4}},
    )
    defs = build_definitions(settings)
    one, two = plan_syncs(settings)
    assert defs.get_job_def(one.name).execute_in_process().success

    marker = tmp_path / "holding"
    settings.env["XLR8_TRUTHS_HOLD_BEFORE_COMMIT"] = f"{marker}:2"  # one range dies inside its 2nd batch

    def kill_when_holding() -> None:
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        settings.env.pop("XLR8_TRUTHS_HOLD_BEFORE_COMMIT")
        os.kill(int(marker.read_text()), signal.SIGKILL)

    killer = threading.Thread(target=kill_when_holding)
    killer.start()
    result = defs.get_job_def(f"{two.name}_Account_x4").execute_in_process(raise_on_error=False)
    killer.join()
    assert result.success
    assert [e.event_type for e in result.all_events].count(DagsterEventType.STEP_UP_FOR_RETRY) == 1
    split_rows = landed(postgres_dsn, schema, split)
    assert split_rows == landed(postgres_dsn, schema, single)
    assert len(split_rows["_salesforce_account"]) == 20
    state_single = json.loads((tmp_path / "state" / single / "salesforce.json").read_text())
    state_split = json.loads((tmp_path / "state" / split / "salesforce.json").read_text())
    assert state_split["bookmarks"]["Account"] == state_single["bookmarks"]["Account"]
    with psycopg.connect(postgres_dsn) as conn:  # 4 ranges + the killed one's retry: the others were not re-run
        runs = conn.execute(
            f'SELECT COUNT(DISTINCT run_id) FROM "{schema}".{LEDGER_TABLE} WHERE LOWER(project) = %s',
            [normalise_project(split)],
        ).fetchone()
    assert runs == (5,)


@pytest.mark.parametrize(
    ("configured", "n", "shares"),
    [(None, 4, [2, 2, 1, 1]), (None, 2, [3, 3]), (6, 4, [2, 2, 1, 1]), (8, 3, [3, 3, 2]), (3, 5, [1, 1, 1, 1, 1])],
)
def test_partitions_share_the_concurrent_queries_the_user_set(
    tmp_path: Path, configured: int | None, n: int, shares: list[int]
) -> None:
    _check_shares(tmp_path, configured, n, shares, at_once=n)


@pytest.mark.parametrize(
    ("configured", "n", "at_once", "shares"),
    [(None, 4, 1, [6, 6, 6, 6]), (8, 4, 2, [4, 4, 4, 4]), (6, 4, 4, [2, 2, 1, 1]), (3, 5, 2, [1, 1, 1, 1, 1])],
)
def test_partitions_run_a_few_at_once_share_the_queries_among_those(
    tmp_path: Path, configured: int | None, n: int, at_once: int, shares: list[int]
) -> None:
    """Partitions each hold a tenant slot, so only ``max_concurrent`` sync at once (the default 1: one after
    another): the queries are shared among those, not among all N (else a partitioned sync reads one cursor per
    partition, one partition at a time, and the ranged read is off)."""
    _check_shares(tmp_path, configured, n, shares, at_once=at_once)


def _check_shares(tmp_path: Path, configured: int | None, n: int, shares: list[int], *, at_once: int) -> None:
    """Each partition's tap gets a share of ``rest_concurrent_queries`` (the user's, else tap-salesforce's declared
    default of 6), so N partitions open no more range queries together than one run would, one cursor each at the
    least; the tap takes each share as its setting, and the range filter and object stay as they were."""
    from xlr8_orchestration.partitions import partition_overrides
    from xlr8_orchestration.plan import PRODUCT_TAPS, SyncSpec
    from xlr8_orchestration.settings import OrchestrationSettings, StoreRoute, TenantPolicy
    from xlr8_tap_salesforce.tap import DEFAULT_REST_CONCURRENT_QUERIES, SalesforceSettings

    product: dict[str, Any] = {"objects": ["Account", "Contact"]}
    if configured is not None:
        product["rest_concurrent_queries"] = configured
    settings = OrchestrationSettings(
        credential_store=str(tmp_path / "credentials.db"),
        state_dir=tmp_path,
        lock_dir=tmp_path,
        store=StoreRoute(),
        product_config={"salesforce": product},
        tenants={"salesforce@default": TenantPolicy(max_concurrent=at_once, requests_per_second=max(10, at_once))},
    )
    spec = SyncSpec("p", "salesforce", "c", None, PRODUCT_TAPS["salesforce"], "salesforce@default")
    parts = [Partition(i, None if i == 0 else f"2020-0{i}-01T00:00:00Z", None) for i in range(n)]
    found = partition_overrides(settings, spec, "Account", parts)
    assert [o["rest_concurrent_queries"] for o in found] == shares
    if at_once == n:
        assert sum(shares) == max(n, configured or DEFAULT_REST_CONCURRENT_QUERIES)
    else:  # whichever run together, never more open at once than the user set (one cursor each at the least)
        assert max(shares) * at_once <= max(at_once, configured or DEFAULT_REST_CONCURRENT_QUERIES)
    for part, overrides in zip(parts, found, strict=True):
        assert overrides["objects"] == ["Account"]
        assert overrides.get("filters") == part.filter("account")
        auth = {"auth_type": "client_credentials", "client_id": "id", "client_secret": "secret"}
        tap = SalesforceSettings.parse({**product, **auth, **overrides})
        assert tap.rest_concurrent_queries == overrides["rest_concurrent_queries"]


def test_an_upload_routes_ranges_take_turns_so_each_gets_the_whole_total(tmp_path: Path) -> None:
    """Ranges of a project on ``delivery = "upload"`` sync one at a time (they share its staging file), whatever
    the tenant's slots: each gets every query the user set, not a fourth of it."""
    from xlr8_orchestration.partitions import partition_overrides
    from xlr8_orchestration.plan import PRODUCT_TAPS, SyncSpec
    from xlr8_orchestration.settings import OrchestrationSettings, StoreRoute

    settings = OrchestrationSettings(
        credential_store=str(tmp_path / "credentials.db"),
        state_dir=tmp_path,
        lock_dir=tmp_path,
        store=StoreRoute(),
        projects={"p": StoreRoute(delivery="upload", upload_url="http://127.0.0.1:9")},
        product_config={"salesforce": {"objects": ["Account"], "rest_concurrent_queries": 8}},
        tenants={"salesforce@default": TenantPolicy(max_concurrent=4, requests_per_second=20)},
    )
    spec = SyncSpec("p", "salesforce", "c", None, PRODUCT_TAPS["salesforce"], "salesforce@default")
    parts = [Partition(i, None if i == 0 else f"2020-0{i}-01T00:00:00Z", None) for i in range(4)]
    assert [o["rest_concurrent_queries"] for o in partition_overrides(settings, spec, "Account", parts)] == [8] * 4
    other = replace(spec, project_id="q")  # the postgres route: all four at once, a fourth each
    assert [o["rest_concurrent_queries"] for o in partition_overrides(settings, other, "Account", parts)] == [2] * 4
