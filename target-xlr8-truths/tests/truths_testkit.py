"""Drive the real target CLI over real Singer message streams; a real PostgreSQL server for the postgres tests."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

PROJECT = "1B4E28BA-2FA1-11D2-883F-0016D3CCA427"
PROJECT_LOWER = PROJECT.lower()
P8 = "1b4e28ba"
TARGET_EXE = str(Path(sys.executable).with_name("target-xlr8-truths"))


def annotation(product: str, stream: str, entity: str, truth_type: str = "reality", keys: list[str] | None = None,
               hub: str | None = None, references: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "version": 1,
        "product": product,
        "stream": stream,
        "entity": entity,
        "truth_type": truth_type,
        "key_columns": keys or [],
        "hub": {"column": hub, "semantic_type": f"{entity}_code"} if hub else None,
        "references": {c: {"entity": e, "semantic_type": f"{e}_code"} for c, e in (references or {}).items()},
        "canonical_fields": {},
    }


def schema_msg(stream: str, properties: dict[str, Any], keys: list[str], note: dict[str, Any] | None = None) -> dict:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if note is not None:
        schema["x-xlr8"] = note
    return {"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": keys}


def record_msg(stream: str, record: dict[str, Any], **extra: Any) -> dict:
    return {"type": "RECORD", "stream": stream, "record": record, **extra}


def state_msg(value: dict[str, Any]) -> dict:
    return {"type": "STATE", "value": value}


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def states(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    @property
    def summary(self) -> dict[str, Any]:
        for line in self.stderr.splitlines():
            if line.startswith("XLR8_TRUTHS_SUMMARY "):
                return json.loads(line.split(" ", 1)[1])  # type: ignore[no-any-return]
        raise AssertionError(f"no run summary on stderr:\n{self.stderr[-3000:]}")


def lines_of(messages: list[dict[str, Any]] | str) -> str:
    if isinstance(messages, str):
        return messages
    return "".join(json.dumps(m) + "\n" for m in messages)


def run_target(config: dict[str, Any], messages: list[dict[str, Any]] | str, tmp: Path,
               env: dict[str, str] | None = None, timeout: float = 120) -> Run:  # fmt: skip
    cfg = tmp / f"config-{time.monotonic_ns()}.json"
    cfg.write_text(json.dumps(config))
    proc = subprocess.run(
        [TARGET_EXE, "--config", str(cfg)],
        input=lines_of(messages),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def held_target(cfg: Path, messages: list[dict[str, Any]] | str, hold: dict[str, str], marker: Path,
                what: str) -> subprocess.Popen[str]:  # fmt: skip
    """The target CLI fed ``messages`` (stdin then closed) and waiting where a ``XLR8_TRUTHS_HOLD_*`` setting in
    ``hold`` stops it: returned once it has written ``marker``, still running, for a test to kill there."""
    proc = subprocess.Popen(
        [TARGET_EXE, "--config", str(cfg)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **hold},
    )
    assert proc.stdin is not None
    proc.stdin.write(lines_of(messages))
    proc.stdin.close()
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, f"target exited before {what}"
        assert time.monotonic() < deadline, f"target never reached {what}"
        time.sleep(0.05)
    return proc


def killed(proc: subprocess.Popen[str]) -> list[dict[str, Any]]:
    """SIGKILL a held target: the STATE messages it had relayed before."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.stdout is not None
    emitted = [json.loads(line) for line in proc.stdout.read().splitlines() if line.strip()]
    proc.stdout.close()
    return emitted


def query(path: Path | str, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def postgres_rows(dsn: str, schema: str, table: str, select: str) -> list[tuple[Any, ...]] | None:
    """``SELECT {select}`` from ``schema.table`` on a PostgreSQL server, or None when the table does not exist."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            [schema, table],
        ).fetchone()
        if not found or not found[0]:
            return None
        return list(conn.execute(f'SELECT {select} FROM "{schema}"."{table}"').fetchall())


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / ".xlr8" / "truths.duckdb"


@pytest.fixture
def config(store: Path) -> dict[str, Any]:
    return {
        "project_id": PROJECT,
        "duckdb_path": str(store),
        "dead_letter_ceiling": 50,
        "pii_key_file": str(store.parent / "pii.key"),
        "pii_key_create": True,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_dsn() -> Any:
    """A throwaway PostgreSQL server on 127.0.0.1 (the binaries are required: a missing server fails, never skips)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        pytest.fail(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; "
            "run XLR8_NEED_POSTGRES=1 scripts/bootstrap.sh to install them"
        )
    bindir = Path(candidates[-1]).parent
    base = Path(tempfile.mkdtemp(prefix="xlr8-pg-"))
    data = base / "data"
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run(
        [*as_postgres, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "xlr8", "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://xlr8@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)
