"""B5 with Salesforce refresh-token rotation: a run configured by ``credential_id`` saves each rotated refresh
token in the credential store before using it, so the next run starts from the live token, never a spent one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.credentials.model import AuthType, ProductCredential
from xlr8_kit.http.abort import EXEMPT_GRACE_SECONDS
from xlr8_kit.testing.credential_store import seeded_credential_store
from xlr8_kit.testing.singer_cli import BIN, signalled, write_json
from xlr8_sandbox.platform.faults import FaultSpec

CREDENTIAL = "sf-rotating"


@pytest.fixture
def manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sf: Any, sandbox: Any) -> Any:
    creds = sf.emulator(sandbox).test_credentials()
    store = seeded_credential_store(
        tmp_path / "credentials.db",
        monkeypatch,
        ProductCredential(
            credential_id=CREDENTIAL,
            project_id="acme",
            product_id="salesforce",
            auth_type=AuthType.OAUTH2_REFRESH_TOKEN,
            credentials={
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
                "refresh_token": creds["refresh_token"],
            },
        ),
    )
    yield store
    store.close()


def _config(sandbox: Any, tmp_path: Path) -> dict[str, Any]:
    """A run of the stored credential by refresh token, as under Meltano."""
    return {
        "login_url": sandbox.url("salesforce"),
        "credential_id": CREDENTIAL,
        "credential_store": str(tmp_path / "credentials.db"),
        "auth_type": "refresh_token",
        "objects": ["Project__c"],
    }


def test_b5_rotated_refresh_token_is_persisted_and_used_by_the_next_run(
    sf: Any, sandbox: Any, manager: CredentialManager, tmp_path: Path
) -> None:
    emulator = sf.emulator(sandbox)
    emulator.rotate_refresh_tokens = True
    original = manager.get(CREDENTIAL).credentials["refresh_token"]
    config = _config(sandbox, tmp_path)
    first = sf.run_tap(config)
    assert len(first.records("Project__c")) == 10
    after_first = manager.get(CREDENTIAL).credentials["refresh_token"]
    assert after_first != original
    assert emulator._refresh_tokens >= {after_first}
    assert original not in emulator._refresh_tokens  # spent: only the stored token still works

    second = sf.run_tap(config)  # would fail with invalid_grant had the rotation stayed in memory
    assert len(second.records("Project__c")) == 10
    assert manager.get(CREDENTIAL).credentials["refresh_token"] not in (original, after_first)
    assert manager.get(CREDENTIAL).version == 5  # each refresh: its lease taken, then its rotation saved
    output = "\n".join(str(line) for line in [*first.lines, *second.lines])
    assert original not in output  # tokens never appear in the Singer output
    assert after_first not in output


def test_sigterm_while_the_first_token_is_out_stores_the_refresh_token_it_rotated(
    sf: Any, sandbox: Any, manager: CredentialManager, tmp_path: Path
) -> None:
    """``tap-salesforce`` as users run it: the org rotates the refresh token as it serves the first token request
    (on the main thread), then answers 2 s late; SIGTERM in between. The signal waits for the answer (bounded by the
    kit's grace) and the rotated token is stored, exit 143; the next run starts from it. (Before: the handler's
    SystemExit cut the request, exit in 0.13 s, the store kept the spent token: the connection needed
    re-authorising.)"""
    emulator = sf.emulator(sandbox)
    emulator.rotate_refresh_tokens = True
    original = manager.get(CREDENTIAL).credentials["refresh_token"]
    sandbox.faults.add("salesforce", "/services/oauth2/token", FaultSpec(kind="slow_answer", seconds=2.0, times=1))
    config = _config(sandbox, tmp_path)
    code, took, err = signalled(
        [str(BIN / "tap-salesforce"), "--config", write_json(tmp_path / "config.json", config)],
        lambda: original not in emulator._refresh_tokens,
        "the rotation on the org",
    )
    assert code == 143, err[-2000:]
    assert took < EXEMPT_GRACE_SECONDS, err[-2000:]  # the answer's 2 s, not a read timeout
    stored = manager.get(CREDENTIAL).credentials["refresh_token"]
    assert stored != original
    assert emulator._refresh_tokens >= {stored}  # the live one
    assert original not in err  # and no secret in the log
    assert stored not in err
    assert len(sf.run_tap(config).records("Project__c")) == 10  # the next run refreshes with it


def test_sigterm_while_the_first_token_stalls_exits_at_the_grace_s_end(sf: Any, sandbox: Any, tmp_path: Path) -> None:
    """The first token request (main thread) stalls 60 s; SIGTERM: the signal waits for it only the kit's grace,
    then cuts it and exits 143 (the hold alone, with the requests given up after it, waited out the stall)."""
    stall = sandbox.faults.add("salesforce", "/services/oauth2/token", FaultSpec(kind="stall", seconds=60.0, times=1))
    config = sf.password_config(sandbox, objects=["Project__c"])
    code, took, err = signalled(
        [str(BIN / "tap-salesforce"), "--config", write_json(tmp_path / "config.json", config)],
        lambda: stall.fired >= 1,
        "the token request",
    )
    assert code == 143, err
    assert EXEMPT_GRACE_SECONDS - 1 <= took < EXEMPT_GRACE_SECONDS + 10, err  # the grace, not the 60 s stall
    assert "Traceback" not in err
