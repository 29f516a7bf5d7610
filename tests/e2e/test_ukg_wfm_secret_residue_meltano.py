"""RELIABILITY C6 and D1 for tap-ukg-wfm through ``meltano run``: the appkey, the password, the client secret and
every access and refresh token the emulator hands out are canaries; after a normal run (with a token revoked
mid-run, so the refresh token goes on the wire) and a failed run (a wrong appkey), none of them is anywhere the
runs wrote: Meltano's output at DEBUG, every file of the project copy (``.meltano/**``, the system db, the truths
store and its WAL), the system db and the truths store read row by row, and ``meltano state get``.

Secrets reach the tap as plain sensitive settings through Meltano's environment variables, as an operator sets them.
"""

from __future__ import annotations

import json
import secrets
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from xlr8_kit.testing.meltano_e2e import TARGET, MeltanoProject
from xlr8_kit.testing.residue import Canary, duckdb_dump, scan, sqlite_dump, tree_files
from xlr8_sandbox.platform import tokens as sandbox_tokens
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox, run_sandbox
from xlr8_sandbox.products import ukg_wfm

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
APPKEY = 'CANARY-wfm-appkey/4f+Q="k&z'
PASSWORD = "CANARY-wfm-pw/9b2e+x=&q?1"
CLIENT_SECRET = "CANARY-wfm-cs/6d1a+Zq=&w 7"
SELECT = ["persons.*", "timecards.*", "punches.*", "accruals.*"]


class CanaryTokens:
    """Every token the emulator issues (access, refresh, id) is a canary known in advance."""

    def __init__(self) -> None:
        self.issued: list[str] = []

    def token_urlsafe(self, nbytes: int | None = None) -> str:
        value = f"CANARY-token-{len(self.issued):03d}-Wq8z"
        self.issued.append(value)
        return value

    compare_digest = staticmethod(secrets.compare_digest)


@pytest.fixture
def tokens(monkeypatch: pytest.MonkeyPatch) -> CanaryTokens:
    fake = CanaryTokens()
    monkeypatch.setattr(ukg_wfm, "APPKEY", APPKEY)
    monkeypatch.setattr(ukg_wfm, "PASSWORD", PASSWORD)
    monkeypatch.setattr(ukg_wfm, "CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setattr(ukg_wfm, "secrets", types.SimpleNamespace(token_urlsafe=fake.token_urlsafe,
                                                                  compare_digest=secrets.compare_digest))  # fmt: skip
    monkeypatch.setattr(sandbox_tokens, "secrets", fake)
    return fake


@pytest.fixture
def sandbox(tokens: CanaryTokens) -> Iterator[Sandbox]:
    with run_sandbox(["ukg_wfm"], scale=60) as running:
        yield running


def _canaries(tokens: CanaryTokens) -> list[Canary]:
    planted = [
        Canary("appkey", APPKEY),
        Canary("password", PASSWORD, user=ukg_wfm.USERNAME),
        Canary("client_secret", CLIENT_SECRET, user=ukg_wfm.CLIENT_ID),
    ]
    return planted + [Canary(f"token {n}", value) for n, value in enumerate(tokens.issued)]


def test_c6_d1_no_canary_after_normal_and_failed_runs(tmp_path: Path, sandbox: Sandbox, tokens: CanaryTokens) -> None:
    project = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path)
    env = {
        "TAP_UKG_WFM_BASE_URL": sandbox.url("ukg_wfm"),
        "TAP_UKG_WFM_APPKEY": APPKEY,
        "TAP_UKG_WFM_PASSWORD": PASSWORD,
        "TAP_UKG_WFM_CLIENT_SECRET": CLIENT_SECRET,
        "TAP_UKG_WFM_START_DATE": "2025-12-15",
        "TAP_UKG_WFM_END_DATE": "2026-01-02",
        "TAP_UKG_WFM__SELECT": json.dumps(SELECT),
        "MELTANO_CLI_LOG_LEVEL": "debug",
    }
    sandbox.faults.add("ukg_wfm", "/api/v1/timekeeping/*", FaultSpec("revoke_tokens", after=1, times=1))
    normal = project.run("tap-ukg-wfm", env=env)
    assert normal.returncode == 0, normal.stderr[-3000:]
    assert "refresh_token" in sandbox.emulator("ukg_wfm").grants  # type: ignore[attr-defined]
    failed = project.run("tap-ukg-wfm", env={**env, "TAP_UKG_WFM_APPKEY": "CANARY-wrong-appkey-31"})
    assert failed.returncode != 0
    assert "'appkey'" in failed.stderr
    state = project.meltano("state", "get", f"sandbox:tap-ukg-wfm-to-{TARGET}")
    assert state.returncode == 0, state.stderr[-2000:]
    assert "punches" in state.stdout  # positive control: the state is there to be scanned

    runs = {"normal": normal, "failed": failed, "state": state}
    outputs = {f"{name}.out": run.stdout.encode() for name, run in runs.items()}
    outputs.update({f"{name}.err": run.stderr.encode() for name, run in runs.items()})
    blobs = {**outputs, **tree_files(tmp_path)}
    system_db = project.sys_dir / "meltano.db"
    assert system_db.exists()
    blobs["system db rows"] = sqlite_dump(system_db)
    blobs["truths rows"] = duckdb_dump(project.truths)
    assert b"E000001" in blobs["truths rows"]  # positive control: data landed and is scanned
    canaries = [*_canaries(tokens), Canary("wrong appkey", "CANARY-wrong-appkey-31")]
    assert len(tokens.issued) >= 4  # access + refresh + id tokens of the login and of the refresh
    assert scan(canaries, blobs) == []
