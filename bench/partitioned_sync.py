"""Partitioned Salesforce Account sync: N SystemModstamp ranges in parallel vs one worker, both through the
orchestrator into one PostgreSQL (figures printed, never asserted; see bench/README.md).

    uv run python bench/partitioned_sync.py --rows 1000000 --workers 4           # the issue's figure (long)
    uv run python bench/partitioned_sync.py --rows 20000 --workers 4 --latency-ms 20

Starts its own PostgreSQL from the Debian binaries (XLR8_NEED_POSTGRES=1 scripts/bootstrap.sh installs them) and
the Salesforce emulator in-process; prints wall time, rows landed and whether both runs landed the same Ids.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import glob
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg

from target_xlr8_truths.naming import project_prefix
from xlr8_kit.credentials.crypto import EnvelopeCipher, Keyring
from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.credentials.model import AuthType, ProductCredential
from xlr8_kit.credentials.store import SQLiteCredentialStore
from xlr8_orchestration.partitions import run_partitioned
from xlr8_orchestration.plan import plan_syncs
from xlr8_orchestration.settings import OrchestrationSettings, RetrySettings, StoreRoute, TenantPolicy
from xlr8_sandbox.platform.server import run_sandbox


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    initdb = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not initdb:
        sys.exit("PostgreSQL binaries missing: XLR8_NEED_POSTGRES=1 bash scripts/bootstrap.sh")
    bindir = Path(initdb[-1]).parent
    base = Path(tempfile.mkdtemp(prefix="xlr8-bench-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = base / "data"
    subprocess.run([*run_as, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "xlr8", "--no-sync"],
                   check=True, capture_output=True)  # fmt: skip
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"), "-w",
                    "start"], check=True, capture_output=True)  # fmt: skip
    try:
        yield f"postgresql://xlr8@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       check=False, capture_output=True)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


def ids_digest(dsn: str, schema: str, project: str) -> tuple[int, str]:
    with psycopg.connect(dsn) as conn:
        table = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_name LIKE %s "
            "AND table_name LIKE %s",
            [schema, f"{project_prefix(project)}%", "%account"],
        ).fetchone()
        if table is None:
            return 0, ""
        row = conn.execute(
            f'SELECT COUNT(*), md5(string_agg(id, \',\' ORDER BY id)) FROM "{schema}"."{table[0]}"'
        ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="Account rows in the emulated org")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every emulator request")
    parser.add_argument("--api", choices=["rest", "bulk", "auto"], default="rest")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("xlr8_orchestration").setLevel(logging.INFO)
    logging.getLogger("xlr8_sandbox").setLevel(logging.WARNING)  # one line per emulator request otherwise

    with (
        tempfile.TemporaryDirectory(prefix="xlr8-bench-") as tmp,
        postgres() as dsn,
        run_sandbox(["salesforce"], scale=args.rows * 2, latency_ms=args.latency_ms) as sandbox,
    ):
        work = Path(tmp)
        key = f"k1:{base64.b64encode(os.urandom(32)).decode()}"
        os.environ["XLR8_CREDENTIALS_KEY"] = key
        creds = sandbox.emulator("salesforce").test_credentials()
        fields = {
            f"auth.{k}": creds[k] for k in ("client_id", "client_secret", "username", "password", "security_token")
        }
        manager = CredentialManager(
            SQLiteCredentialStore(work / "c.db"), EnvelopeCipher(Keyring.parse(key, source="bench"))
        )
        single, split = (
            str(uuid.UUID("00000001-be4c-4000-8000-000000000001")),
            str(uuid.UUID("00000002-be4c-4000-8000-000000000002")),
        )
        for n, project in enumerate((single, split)):
            auth = AuthType.OAUTH2_CLIENT_CREDENTIALS
            url = sandbox.url("salesforce")
            manager.store(ProductCredential(f"sf-{n}", project, "salesforce", auth, fields, instance_url=url))
        manager.close()
        settings = OrchestrationSettings(
            credential_store=str(work / "c.db"),
            state_dir=work / "state",
            lock_dir=work / "locks",
            store=StoreRoute(
                postgres_dsn=dsn, postgres_schema="bench", pii_key_file=str(work / "pii.key"), pii_key_create=True
            ),
            default_tenant=TenantPolicy(max_concurrent=max(args.workers, 1), requests_per_second=10_000.0),
            retry=RetrySettings(max_retries=0),
            product_config={"salesforce": {"objects": ["Account"], "auth": {"type": "password"}, "api_type": args.api}},
        )
        specs = {s.project_id: s for s in plan_syncs(settings)}
        figures = []
        for project, workers in ((single, 1), (split, args.workers)):
            started = time.monotonic()
            run_partitioned(replace(settings), specs[project], "Account", workers)
            wall = time.monotonic() - started
            rows, digest = ids_digest(dsn, "bench", project)
            figures.append((workers, wall, rows, digest))
        print(f"\nsalesforce Account: {args.rows:,} rows, latency {args.latency_ms:g} ms, api {args.api}, "
              f"tap | target-xlr8-truths -> PostgreSQL")  # fmt: skip
        print(f"{'workers':>8} {'wall s':>9} {'rows':>10} {'rows/s':>9}")
        for workers, wall, rows, _ in figures:
            print(f"{workers:>8} {wall:>9.1f} {rows:>10,} {rows / wall if wall else 0:>9,.0f}")
        same = figures[0][2:] == figures[1][2:]
        print(f"same Ids landed: {'yes' if same else 'NO'}; speed-up x{figures[0][1] / figures[1][1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
