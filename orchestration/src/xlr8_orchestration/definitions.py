"""Dagster definitions generated from the credential store: one job per (project, product), its schedules, its
retry policy and its tenant tags.

- Job ``sync_<project>_<product>``: one op running ``tap | target-xlr8-truths`` (``runner.run_sync``).
- Retries: ``RetryPolicy`` with exponential backoff and jitter; the retry resumes from the last committed state.
- Tenant limits: inside any executor the op holds one of its tenant's slots (``tenancy.tenant_slot``); each run
  is also tagged ``xlr8/tenant`` so a daemon deployment can queue runs with ``tag_concurrency_limits`` before they
  even start (``run_coordinator_config``).
- Schedules: daily for every job; hourly too for products that carry time data.
"""

from collections.abc import Iterable

import dagster as dg

from xlr8_orchestration.partitions import run_partitioned
from xlr8_orchestration.plan import SyncSpec, plan_syncs
from xlr8_orchestration.runner import SyncFailedError, SyncResult, run_sync
from xlr8_orchestration.settings import OrchestrationSettings

TENANT_TAG = "xlr8/tenant"


def retry_policy(settings: OrchestrationSettings) -> dg.RetryPolicy:
    return dg.RetryPolicy(
        max_retries=settings.retry.max_retries,
        delay=settings.retry.delay_seconds,
        backoff=dg.Backoff.EXPONENTIAL,
        jitter=dg.Jitter.PLUS_MINUS,
    )


def failure(exc: SyncFailedError) -> dg.Failure:
    """A failed run is retried with backoff; a partial one (quota or rate limit reached) is not: it waits for the
    next scheduled run, which resumes from the saved state; nor is one that dead-lettered records (a retry reads
    past them: they wait in ``_dead_letters``); nor one whose tap gave a report up after two runs on the tenant (a
    retry runs the whole report again: up to 8 runs per scheduled job, review27b H1)."""
    metadata = {"tap_rc": exc.tap_rc, "target_rc": exc.target_rc, "partial": exc.partial}
    if exc.dead_lettered:
        metadata["dead_lettered"] = sum(exc.dead_lettered.values())
    if exc.report_spent:
        metadata["report_spent"] = True
    retry = not (exc.partial or exc.dead_lettered or exc.report_spent)
    return dg.Failure(description=str(exc), metadata=metadata, allow_retries=retry)


def rows_metadata(result: SyncResult) -> dict[str, int]:
    """The synced tables' current rows and, apart, their rows marked deleted (history, not rows of the table)."""
    tables = result.tables.values()
    return {"rows": sum(t["rows"] for t in tables), "deleted_rows": sum(t["deleted_rows"] for t in tables)}


def build_job(settings: OrchestrationSettings, spec: SyncSpec) -> dg.JobDefinition:
    tags = {
        TENANT_TAG: spec.tenant.replace("@", "_at_"),
        "xlr8/project": spec.project_id,
        "xlr8/product": spec.product_id,
    }

    # Dagster names a job's graph after the job: an op of the same name makes the code location refuse to load.
    @dg.op(name=f"{spec.name}_op", retry_policy=retry_policy(settings), tags=tags)
    def sync(context: dg.OpExecutionContext) -> dg.Output[dict[str, object]]:
        attempt = context.retry_number
        context.log.info(f"{spec.name}: attempt {attempt + 1}, tenant {spec.tenant}, credential {spec.credential_id}")
        try:
            result = run_sync(settings, spec, env={"XLR8_ORCHESTRATION_ATTEMPT": str(attempt)})
        except SyncFailedError as exc:
            # A failure Dagster retries (with the policy's backoff) and, once retries run out, shows as failed.
            raise failure(exc) from exc
        return dg.Output(
            {"streams": sorted((result.state or {}).get("bookmarks", {}))},
            metadata={"tenant_slot": result.slot, "attempt": attempt, **rows_metadata(result)},
        )

    @dg.job(name=spec.name, tags=tags, description=f"{spec.product_id} for project {spec.project_id}")
    def job() -> None:
        sync()

    return job


def build_partitioned_job(settings: OrchestrationSettings, spec: SyncSpec, stream: str, n: int) -> dg.JobDefinition:
    """``stream`` of this (project, product) as N SystemModstamp ranges in parallel, merged into one bookmark."""
    name = partitioned_job_name(spec, stream, n)
    tags = {
        TENANT_TAG: spec.tenant.replace("@", "_at_"),
        "xlr8/project": spec.project_id,
        "xlr8/product": spec.product_id,
    }

    @dg.op(name=f"{name}_op", retry_policy=retry_policy(settings), tags=tags)
    def sync_partitions(context: dg.OpExecutionContext) -> dg.Output[dict[str, object]]:
        try:
            merged = run_partitioned(
                settings, spec, stream, n, env={"XLR8_ORCHESTRATION_ATTEMPT": str(context.retry_number)}
            )
        except SyncFailedError as exc:
            raise failure(exc) from exc
        return dg.Output({"bookmark": merged.get("bookmarks", {}).get(stream)})

    @dg.job(name=name, tags=tags, description=f"{stream} of {spec.product_id} for {spec.project_id} in {n} ranges")
    def job() -> None:
        sync_partitions()

    return job


def partitioned_job_name(spec: SyncSpec, stream: str, n: int) -> str:
    return f"{spec.name}_{stream}_x{n}"


def job_names(settings: OrchestrationSettings) -> list[str]:
    """Every job the settings imply, partitioned ones included: the README tells users to leave a partitioned
    stream out of the regular job, so a run of "every job" that skipped them would stop syncing it."""
    names = []
    for spec in plan_syncs(settings):
        names.append(spec.name)
        names.extend(partitioned_job_name(spec, s, n) for s, n in settings.partitioned.get(spec.product_id, {}).items())
    return names


def build_schedules(spec: SyncSpec, job: dg.JobDefinition) -> list[dg.ScheduleDefinition]:
    names = {"0 2 * * *": "daily", "15 * * * *": "hourly"}
    return [
        dg.ScheduleDefinition(name=f"{job.name}_{names.get(cron, 'custom')}", cron_schedule=cron, job=job)
        for cron in spec.crons
    ]


def build_definitions(settings: OrchestrationSettings) -> dg.Definitions:
    jobs, schedules = [], []
    for spec in plan_syncs(settings):
        job = build_job(settings, spec)
        jobs.append(job)
        schedules.extend(build_schedules(spec, job))
        for stream, n in settings.partitioned.get(spec.product_id, {}).items():
            part = build_partitioned_job(settings, spec, stream, n)
            jobs.append(part)
            schedules.extend(build_schedules(spec, part))
    return dg.Definitions(jobs=jobs, schedules=schedules)


def run_coordinator_config(settings: OrchestrationSettings, tenants: Iterable[str] = ()) -> dict[str, object]:
    """The ``run_coordinator`` block of ``dagster.yaml`` for a daemon deployment: queue runs per tenant tag. Each
    planned tenant key (``tenants``) gets the limit ``tenant_policy`` gives it, so a policy set for a product and
    host before tenants on one host were told apart still limits every run tag of that host (review26c M3: Dagster
    matches tag values exactly, and the host-only value matched no run)."""
    policies = dict(settings.tenants)
    for tenant in tenants:
        if tenant not in policies and settings.tenant_policy(tenant) is not settings.default_tenant:
            policies[tenant] = settings.tenant_policy(tenant)
    limits = [
        {"key": TENANT_TAG, "value": key.replace("@", "_at_"), "limit": policy.max_concurrent}
        for key, policy in sorted(policies.items())
    ]
    limits.append(
        {
            "key": TENANT_TAG,
            "value": {"applyLimitPerUniqueValue": True},
            "limit": settings.default_tenant.max_concurrent,
        }
    )
    return {
        "module": "dagster._core.run_coordinator",
        "class": "QueuedRunCoordinator",
        "config": {"tag_concurrency_limits": limits},
    }
