"""``xlr8-orchestrate``: list the jobs the credential store implies, run them in-process (no daemon), or print the
``dagster.yaml`` run-coordinator block for a daemon deployment."""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor

from xlr8_orchestration.definitions import build_definitions, job_names, partitioned_job_name, run_coordinator_config
from xlr8_orchestration.plan import plan_syncs
from xlr8_orchestration.settings import OrchestrationSettings, load_settings


def run_jobs(settings: OrchestrationSettings, names: list[str] | None = None, workers: int = 2) -> dict[str, bool]:
    """Each job in-process through Dagster (retries included), ``workers`` at a time; tenant slots still apply
    across all of them. Returns job name -> success."""
    defs = build_definitions(settings)
    wanted = names or job_names(settings)

    def one(name: str) -> tuple[str, bool]:
        result = defs.get_job_def(name).execute_in_process(raise_on_error=False)
        return name, result.success

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return dict(pool.map(one, wanted))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xlr8-orchestrate", description=__doc__)
    parser.add_argument("--config", default="orchestration.toml", help="orchestration settings (TOML)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("plan", help="the jobs, tenants and schedules the credential store implies")
    run = sub.add_parser("run", help="run jobs now, in this process")
    run.add_argument("jobs", nargs="*", help="job names (default: every job)")
    run.add_argument("--workers", type=int, default=2)
    sub.add_parser("dagster-yaml", help="the run_coordinator block limiting runs per tenant (JSON)")
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    if args.command == "plan":
        for spec in plan_syncs(settings):
            policy = settings.tenant_policy(spec.tenant)
            print(
                f"{spec.name}\ttenant={spec.tenant} (max {policy.max_concurrent}, {policy.requests_per_second:g}/s)"
                f"\tcredential={spec.credential_id}\tcron={','.join(spec.crons)}"
                f"\tdelivery={settings.route(spec.project_id).delivery}"
            )
            for stream, n in settings.partitioned.get(spec.product_id, {}).items():
                print(f"{partitioned_job_name(spec, stream, n)}\ttenant={spec.tenant}\t{stream} in {n} ranges")
        return 0
    if args.command == "dagster-yaml":
        tenants = {spec.tenant for spec in plan_syncs(settings)}
        print(json.dumps({"run_coordinator": run_coordinator_config(settings, tenants)}, indent=2))
        return 0
    outcomes = run_jobs(settings, args.jobs or None, args.workers)
    for name, ok in sorted(outcomes.items()):
        print(f"{'ok    ' if ok else 'FAILED'} {name}")
    return 0 if all(outcomes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
