"""C3: key rotation killed with SIGKILL mid-run leaves every row wholly old or wholly new; re-running finishes it,
a third run has nothing to do, and no plaintext is left behind in the database or its WAL (C6)."""

from __future__ import annotations

import base64
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from xlr8_kit.credentials.crypto import AadContext, EnvelopeCipher, Keyring
from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.credentials.model import AuthType, ProductCredential
from xlr8_kit.credentials.store import SQLiteCredentialStore

ROWS = 40
CANARY_PREFIX = "CANARY-rot-8d1e"

#: Rotates the store given as argv[1]; after each credential it reports on stdout and then, once
#: ``pause_after`` credentials are done, blocks on stdin so the test can SIGKILL it at a known point.
ROTATOR = """
import sys
from xlr8_kit.credentials.resolve import open_manager

pause_after = int(sys.argv[2])
done = 0

def progress(credential_id):
    global done
    done += 1
    print(credential_id, flush=True)
    if done == pause_after:
        sys.stdin.readline()

open_manager(sys.argv[1]).rotate_key(on_progress=progress)
print("finished", flush=True)
"""


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def populate(db: Path, keys: dict[str, str], rows: int) -> None:
    manager = CredentialManager(
        SQLiteCredentialStore(db), EnvelopeCipher(Keyring.parse(f"k1:{keys['k1']}", source="t"))
    )
    for i in range(rows):
        manager.store(
            ProductCredential(
                credential_id=f"cred-{i:03d}",
                project_id="acme",
                product_id="workday",
                auth_type=AuthType.BASIC,
                credentials={"username": f"isu-{i}", "password": f"{CANARY_PREFIX}-{i:03d}"},
            )
        )
    manager.close()


def kids_by_row(db: Path, cipher: EnvelopeCipher) -> dict[str, set[str]]:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = conn.execute("SELECT credential_id, field, blob FROM secret_fields").fetchall()
    found: dict[str, set[str]] = {}
    for cid, field_name, blob in rows:
        found.setdefault(cid, set()).add(cipher.kid_of(blob, AadContext("acme", cid, field_name)))
    return found


def test_c3_rotation_sigkilled_at_a_known_point_resumes(tmp_path: Path, residue: Any) -> None:
    db = tmp_path / ".xlr8" / "credentials.db"
    keys = {"k1": key(), "k2": key()}
    populate(db, keys, ROWS)
    env = {**os.environ, "XLR8_CREDENTIALS_KEY": f"k2:{keys['k2']},k1:{keys['k1']}"}
    proc = subprocess.Popen(
        [sys.executable, "-c", ROTATOR, str(db), "10"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    reported = [proc.stdout.readline().strip() for _ in range(10)]
    assert reported == [f"cred-{i:03d}" for i in range(10)]
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    proc.stdout.close()
    assert proc.stdin is not None
    proc.stdin.close()

    cipher = EnvelopeCipher(Keyring.parse(env["XLR8_CREDENTIALS_KEY"], source="t"))
    kids = kids_by_row(db, cipher)
    assert [cid for cid, k in sorted(kids.items()) if k == {"k2"}] == reported  # committed rows are all-new
    assert all(k == {"k1"} for cid, k in kids.items() if cid not in reported)  # the rest wholly old: no mixed row

    resumed = CredentialManager(SQLiteCredentialStore(db), cipher)
    report = resumed.rotate_key()
    assert len(report.rewrapped) == ROWS - 10
    assert sorted(report.already_current) == reported
    assert report.failed == []
    assert resumed.rotate_key().rewrapped == []
    retired = CredentialManager(
        SQLiteCredentialStore(db), EnvelopeCipher(Keyring.parse(f"k2:{keys['k2']}", source="t"))
    )
    assert [retired.get(f"cred-{i:03d}").credentials["password"] for i in range(ROWS)] == [
        f"{CANARY_PREFIX}-{i:03d}" for i in range(ROWS)
    ]
    files = residue.files(db)
    for i in (0, 9, 10, ROWS - 1):
        assert residue.scan(f"{CANARY_PREFIX}-{i:03d}", files) == []
    assert any(b"cred-010" in data for data in files.values())
    resumed.close()
    retired.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_c3_cli_rotation_sigkilled_at_random_points(
    tmp_path: Path, seed: int, run_cli: Callable[..., Any], residue: Any
) -> None:
    """Kills land anywhere, including inside a row's transaction; every outcome must be consistent."""
    db = tmp_path / ".xlr8" / "credentials.db"
    keys = {"k1": key(), "k2": key()}
    populate(db, keys, 120)
    env = {**os.environ, "XLR8_CREDENTIALS_KEY": f"k2:{keys['k2']},k1:{keys['k1']}"}
    script = Path(sys.executable).parent / "xlr8-credentials"
    proc = subprocess.Popen([str(script), "--store", str(db), "rotate-key"], stdout=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 30
    target = random.Random(seed).randint(1, 100)
    cipher = EnvelopeCipher(Keyring.parse(env["XLR8_CREDENTIALS_KEY"], source="t"))
    while time.monotonic() < deadline and proc.poll() is None:
        with sqlite3.connect(db, timeout=30) as conn:
            blobs = conn.execute("SELECT credential_id, field, blob FROM secret_fields").fetchall()
        done = sum(1 for c, f, b in blobs if cipher.kid_of(b, AadContext("acme", c, f)) == "k2") // 2
        if done >= target:
            break
        time.sleep(0.001)
    if proc.poll() is None:  # a fast rotation can end between two looks: then the point is its end (seen in CI)
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    kids = kids_by_row(db, cipher)
    print(f"seed {seed}: killed with {sum(k == {'k2'} for k in kids.values())}/120 rows rotated")
    assert len(kids) == 120
    assert all(k in ({"k1"}, {"k2"}) for k in kids.values())
    finish = run_cli("--store", str(db), "rotate-key", env={"XLR8_CREDENTIALS_KEY": env["XLR8_CREDENTIALS_KEY"]})
    assert finish.code == 0, finish.stderr
    assert "failed 0" in finish.stdout
    assert set().union(*kids_by_row(db, cipher).values()) == {"k2"}
    retired = CredentialManager(
        SQLiteCredentialStore(db), EnvelopeCipher(Keyring.parse(f"k2:{keys['k2']}", source="t"))
    )
    assert retired.get("cred-077").credentials["password"] == f"{CANARY_PREFIX}-077"
    retired.close()
    files = residue.files(db)
    assert residue.scan(f"{CANARY_PREFIX}-077", files) == []
