"""RELIABILITY B6 across runs, through the tap: two runs of one credential (same credential_id, same SQLite store)
against the emulator's single-use rotating refresh tokens. The run started before the other's rotation adopts the
stored token before refreshing, so it never presents a spent one, and its own rotation is persisted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.testing.singer_cli import sync_in_process
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.workday import REFRESH_TOKEN, TENANT, WorkdayEmulator, wid
from xlr8_sandbox.testing import workday_credential_store

from .conftest import RecordingTap

CREDENTIAL = "wd-b6-runs"
TOKEN_PATH = f"/ccx/oauth2/{TENANT}/token"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CredentialManager]:
    manager = workday_credential_store(tmp_path / "credentials.db", monkeypatch, CREDENTIAL)
    yield manager
    manager.close()


def test_b6_second_run_adopts_the_first_runs_rotation_and_persists_its_own(
    url: str, emulator: WorkdayEmulator, sandbox: Sandbox, store: CredentialManager, tmp_path: Path
) -> None:
    emulator.rotate_refresh_tokens = True
    config = {"base_url": url, "tenant": TENANT, "credential_id": CREDENTIAL,
              "credential_store": str(tmp_path / "credentials.db"), "streams": ["jobs"]}  # fmt: skip
    run_a = RecordingTap(config=config, parse_env_config=False)
    run_b = RecordingTap(config=config, parse_env_config=False)
    assert run_b.kit.authenticator is not None  # B has started: it holds REFRESH_TOKEN and store version 1

    output_a = sync_in_process(run_a)
    after_a = store.get(CREDENTIAL).credentials["refresh_token"]
    assert after_a != REFRESH_TOKEN
    assert emulator.refresh_tokens == {after_a}

    output_b = sync_in_process(run_b)
    stored = store.get(CREDENTIAL)
    final = stored.credentials["refresh_token"]
    assert final not in (REFRESH_TOKEN, after_a)
    assert emulator.refresh_tokens == {final}  # the store holds the last token issued
    assert stored.version == 5  # both rotations persisted, each under its lease (taken, then saved)

    jobs = {wid("job", job.code) for job in emulator.company.jobs}
    for output in (output_a, output_b):
        assert {row["id"] for row in output.records("jobs")} == jobs
        text = "\n".join(str(m) for m in output.messages)
        assert after_a not in text
        assert final not in text
    # Two grants, both with a live token: B never presented the token A had spent.
    assert [entry.status for entry in sandbox.requests("workday", TOKEN_PATH)] == [200, 200]
