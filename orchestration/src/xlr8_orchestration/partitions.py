"""A large incremental stream split into N SystemModstamp ranges synced in parallel, whose states merge back into
the one bookmark a single run would have left.

Planning: COUNT() queries with SystemModstamp bounds only (a seek, even on large orgs, and it works the same for
REST and Bulk 2.0 reads) find N-1 boundaries that split the rows above the bookmark evenly; they share one
connector (one rate-limit bucket) and hold one tenant slot, so planning stays inside the tenant's budget.
Each partition runs the product's tap with ``objects = [stream]`` and the universal filter
``<entity> where SystemModstamp >= lo and SystemModstamp < hi`` (pushed into the SOQL, so each partition reads
only its range); the last one is open above, like a single run. The plan is saved before any partition starts, so
a retried op re-runs the same ranges: finished partitions are skipped, a failed one resumes from its own state.

Concurrent queries: a tap that splits one REST read into concurrent range queries (tap-salesforce's
``rest_concurrent_queries``, 6 by default) would open that many per partition, N times what the user set. Each
partition gets a share instead (``share_queries``): the total the user set (else the tap's declared default)
divided by the partitions that sync at once (each holds one of the tenant's ``max_concurrent`` slots: with the
default 1 they run one after another, each with the whole total), every partition at least 1 (one cursor), so the
queries open at once stay what the user set unless more partitions run at once than that (then one cursor each).
An upload route's ranges sync one at a time whatever the slots (they take turns on its staging file).

Merging: ranges are disjoint and ordered, so the bookmark is the highest range's own (its replication value and
the Ids at that value); a range with no rows contributes nothing. It replaces only this stream's bookmark in the
state file as it is at the end (under ``runner.state_lock``): the regular job of the same (project, product) runs
at the same time and commits its own streams' bookmarks to that file meanwhile. Only incremental streams can be
partitioned: a full-table stream's ACTIVATE_VERSION would delete the other partitions' rows.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from xlr8_orchestration.plan import SyncSpec
from xlr8_orchestration.runner import SyncFailedError, _write_json, run_sync, state_lock, state_path, tap_config
from xlr8_orchestration.settings import OrchestrationSettings
from xlr8_orchestration.tenancy import tenant_slot

FIELD = "SystemModstamp"
EPOCH_FLOOR = datetime(1999, 1, 1, tzinfo=UTC)
log = logging.getLogger(__name__)

#: The tap setting of concurrent REST range queries per read, shared out among the partitions.
CONCURRENT_QUERIES = "rest_concurrent_queries"

#: Universal-filter entity of each partitionable Salesforce object.
ENTITIES = {"Account": "account", "Contact": "contact", "Opportunity": "opportunity", "User": "user"}


@dataclass(frozen=True)
class Partition:
    index: int
    lower: str | None  # inclusive, SOQL datetime; None: from the bookmark
    upper: str | None  # exclusive; None: open above

    def filter(self, entity: str) -> str | None:
        clauses = []
        if self.lower:
            clauses.append(f"{FIELD} >= {self.lower}")
        if self.upper:
            clauses.append(f"{FIELD} < {self.upper}")
        return f"{entity} where {' and '.join(clauses)}" if clauses else None


def soql(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def plan_ranges(
    count: Callable[[str | None], int],
    n: int,
    lower: datetime | None,
    upper: datetime,
    *,
    probes: int = 8,
    parallel: int = 8,
) -> list[Partition]:
    """N ranges with about the same number of rows. ``count(where)`` counts rows matching a SOQL condition.

    All N-1 boundaries are searched at once: each round counts ``probes`` points inside every boundary's bracket
    (``parallel`` requests in flight, so a slow API costs rounds, not requests), until a bracket is one second wide
    or holds under 0.5 % of a range's rows.
    """
    low = lower or EPOCH_FLOOR
    base = f"{FIELD} >= {soql(low)}"
    total = count(base)
    if n <= 1 or total < n:
        return [Partition(0, soql(lower) if lower else None, None)]
    first, last = int(low.timestamp()), int(upper.timestamp())
    known: dict[int, int] = {first: 0, last: total}  # second -> rows in [low, second)
    wants = [total * k / n for k in range(1, n)]
    tolerance = total // (200 * n)

    def at(second: int) -> tuple[int, int]:
        return second, count(f"{base} AND {FIELD} < {soql(datetime.fromtimestamp(second, UTC))}")

    def bracket(want: float) -> tuple[int, int]:
        below = max(p for p, c in known.items() if c < want)
        above = min(p for p, c in known.items() if c >= want)
        return below, above

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        while True:
            points: set[int] = set()
            for want in wants:
                lo, hi = bracket(want)
                if hi - lo <= 1 or known[hi] - known[lo] <= tolerance:
                    continue
                step = (hi - lo) / (probes + 1)
                points |= {lo + round(step * i) for i in range(1, probes + 1)} - {lo, hi}
            if not points:
                break
            known.update(pool.map(at, sorted(points)))
    bounds = sorted({datetime.fromtimestamp(bracket(want)[1], UTC) for want in wants})
    edges: list[datetime | None] = [lower, *(b for b in bounds if b > low), None]
    return [Partition(i, soql(a) if a else None, soql(b) if b else None) for i, (a, b) in enumerate(pairwise(edges))]


def salesforce_counter(settings: OrchestrationSettings, spec: SyncSpec, stream: str) -> Callable[[str | None], int]:
    """COUNT() through the product's own connector (same auth, resilient session and rate limit as the tap)."""
    from xlr8_kit.connectors.factory import ConnectorFactory

    connector: Any = ConnectorFactory.create(spec.product_id, tap_config(settings, spec))

    def count(where: str | None) -> int:
        return int(connector.client.count(stream, where))

    return count


def share_queries(total: int, n: int, running: int | None = None) -> list[int]:
    """Each of ``n`` partitions' concurrent queries, when at most ``running`` of them sync at once (each holds a
    tenant slot; None: all ``n``). All at once: ``total // n``, one more for the first ``total % n``. Fewer at once:
    ``total // running`` each (which partitions run together is not known, so the even share). At least 1 (a
    partition reads one cursor at the least)."""
    at_once = n if running is None else max(1, min(n, running))
    if at_once < n:
        return [max(1, total // at_once)] * n
    return [max(1, total // n + (1 if i < total % n else 0)) for i in range(n)]


def concurrent_queries(product_config: dict[str, Any], product_id: str) -> int | None:
    """The concurrent REST queries the user set for the product's tap, else the tap's declared default; None: the
    tap has no such setting."""
    if product_config.get(CONCURRENT_QUERIES) is not None:
        return int(product_config[CONCURRENT_QUERIES])
    from xlr8_kit.connectors.factory import ConnectorFactory

    tap_class = getattr(ConnectorFactory.connector_class(product_id, check=False), "tap_class", None)
    schema = getattr(tap_class, "config_jsonschema", None) or {}
    declared = (schema.get("properties") or {}).get(CONCURRENT_QUERIES) or {}
    return int(declared["default"]) if declared.get("default") is not None else None


def partition_overrides(
    settings: OrchestrationSettings, spec: SyncSpec, stream: str, partitions: list[Partition]
) -> list[dict[str, Any]]:
    """Each partition's tap settings: the one stream, its range as a universal filter, its share of the
    concurrent queries (``share_queries``)."""
    entity = ENTITIES.get(stream, stream.lower())
    total = concurrent_queries(settings.product_config.get(spec.product_id, {}), spec.product_id)
    running = settings.tenant_policy(spec.tenant).max_concurrent  # partitions each hold a tenant slot
    if settings.route(spec.project_id).delivery == "upload":
        running = 1  # they take turns on the staging file (runner.staging_turn)
    shares = share_queries(total, len(partitions), running) if total is not None else None
    found = []
    for part in partitions:
        overrides: dict[str, Any] = {"objects": [stream]}
        where = part.filter(entity)
        if where:
            overrides["filters"] = where
        if shares is not None:
            overrides[CONCURRENT_QUERIES] = shares[part.index]
        found.append(overrides)
    return found


def merge_bookmarks(prior: dict[str, Any], stream: str, parts: list[dict[str, Any] | None]) -> dict[str, Any]:
    """The prior state with ``stream``'s bookmark taken from the highest range that read anything (a later state
    in ``parts`` replaces an earlier one only when strictly higher, so the file's own, listed last, never sends
    the bookmark back)."""
    merged = json.loads(json.dumps(prior or {}))
    bookmarks = merged.setdefault("bookmarks", {})
    best: dict[str, Any] | None = None
    for part in parts:
        mark = ((part or {}).get("bookmarks") or {}).get(stream)
        if not mark or mark.get("replication_key_value") is None:
            continue
        if best is None or parse(str(mark["replication_key_value"])) > parse(str(best["replication_key_value"])):
            best = mark
    if best is not None:
        bookmarks[stream] = best
    return merged


def _load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def run_partitioned(
    settings: OrchestrationSettings,
    spec: SyncSpec,
    stream: str,
    n: int,
    *,
    counter: Callable[[str | None], int] | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Sync ``stream`` as N parallel ranges (each holding a tenant slot), then merge; returns the merged state."""
    main = state_path(settings, spec)
    work = main.with_suffix(f".{stream}.partitions")
    work.mkdir(parents=True, exist_ok=True)
    plan_file = work / "plan.json"
    prior = _load(main) or {}
    if plan_file.exists():
        partitions = [Partition(**p) for p in json.loads(plan_file.read_text())]
    else:
        mark = (prior.get("bookmarks") or {}).get(stream) or {}
        lower = parse(mark["replication_key_value"]) if mark.get("replication_key_value") else None
        count = counter or salesforce_counter(settings, spec, stream)
        planning = time.monotonic()
        policy = settings.tenant_policy(spec.tenant)
        with tenant_slot(settings.lock_dir, spec.tenant, policy):  # planning is one sync's worth of the budget
            partitions = plan_ranges(count, n, lower, datetime.now(UTC) + timedelta(days=1))
        log.info("%s %s: %d ranges planned in %.1f s", spec.name, stream, len(partitions), time.monotonic() - planning)
        if lower is not None and partitions[0].lower is not None:  # the first range resumes at the bookmark itself,
            partitions[0] = Partition(0, None, partitions[0].upper)  # with its boundary Ids, like a single run
        _write_json(plan_file, [asdict(p) for p in partitions])
        if main.exists():
            shutil.copyfile(main, work / "prior.json")
    prior_file = work / "prior.json"
    tap_settings = partition_overrides(settings, spec, stream, partitions)

    def one(part: Partition) -> None:
        done = work / f"part-{part.index}.done"
        if done.exists():
            return
        began = time.monotonic()
        out = work / f"part-{part.index}.json"
        run_sync(
            settings,
            spec,
            env=env,
            tap_overrides=tap_settings[part.index],
            state_in=out if out.exists() else (prior_file if prior_file.exists() else None),
            state_out=out,
        )
        done.write_text("ok")
        log.info("%s %s range %d (%s .. %s): %.1f s", spec.name, stream, part.index, part.lower, part.upper,
                 time.monotonic() - began)  # fmt: skip

    failures: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=len(partitions)) as pool:
        for future in [pool.submit(one, p) for p in partitions]:
            exc = future.exception()
            if exc is not None:
                failures.append(exc)
    if failures:
        first = failures[0]
        if isinstance(first, SyncFailedError):
            raise first
        raise RuntimeError(f"{len(failures)} of {len(partitions)} partitions of {stream} failed: {first}") from first
    parts = [_load(work / f"part-{p.index}.json") for p in partitions]
    with state_lock(main):  # the regular job commits to this file meanwhile: merge into it as it is now
        current = _load(main) or {}
        merged = merge_bookmarks(current, stream, [*parts, current])
        _write_json(main, merged)
    shutil.rmtree(work)
    return merged
