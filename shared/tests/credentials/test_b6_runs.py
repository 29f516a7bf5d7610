"""RELIABILITY B6 across runs: two runs of one credential share a SQLite store and a token server that issues
single-use rotating refresh tokens (the Workday emulator, over real HTTP). A run that finds its refresh token spent
by the other re-reads the store, refreshes with the stored token and persists its own rotation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from xlr8_kit.auth import OAuth2RefreshToken
from xlr8_kit.credentials.errors import CredentialConflictError
from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.credentials.model import AuthType, ProductCredential
from xlr8_kit.credentials.resolve import resolve_config, secret_persister
from xlr8_kit.http.session import HttpPolicy, ResilientSession
from xlr8_kit.redaction import Redactor
from xlr8_kit.rest import KitRuntime
from xlr8_kit.testing.credential_store import seeded_credential_store
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.workday import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, TENANT, WorkdayEmulator
from xlr8_sandbox.testing import emulator_fixtures

sandbox, emulator, url = emulator_fixtures("workday", scale=10)

CREDENTIAL = "wd-b6"
TOKEN_PATH = f"/ccx/oauth2/{TENANT}/token"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CredentialManager]:
    manager = seeded_credential_store(
        tmp_path / "credentials.db",
        monkeypatch,
        ProductCredential(
            credential_id=CREDENTIAL,
            project_id="acme",
            product_id="workday_hcm",
            auth_type=AuthType.OAUTH2_REFRESH_TOKEN,
            credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN},
        ),
    )
    yield manager
    manager.close()


def stored_refresh_token(manager: CredentialManager) -> str:
    return manager.get(CREDENTIAL).credentials["refresh_token"]


def start_run(url: str, config: dict[str, str]) -> tuple[OAuth2RefreshToken, ResilientSession]:
    """What a tap run does at start: resolve the credential, build the runtime hooks, then the authenticator."""
    resolved = resolve_config(config, product_id="workday_hcm")
    persister = secret_persister(config)
    assert persister is not None
    session = ResilientSession(HttpPolicy(), product="workday")
    runtime = KitRuntime(
        session=session,
        authenticator=None,
        redactor=Redactor.default(),
        policy=HttpPolicy(),
        persist_secret=persister,
        reload_secret=persister.reload,
    )
    auth = OAuth2RefreshToken(
        f"{url}{TOKEN_PATH}",
        resolved["client_id"],
        resolved["client_secret"],
        resolved["refresh_token"],
        on_rotate=runtime.rotation_hook("refresh_token"),
        reload_refresh_token=runtime.reload_hook("refresh_token"),
        client_auth="basic",
        session=session,
        redactor=runtime.redactor,
    )
    return auth, session


def token_statuses(sandbox: Sandbox) -> list[int]:
    return [entry.status for entry in sandbox.requests("workday", TOKEN_PATH)]


def test_b6_run_holding_a_spent_token_rereads_the_store_and_persists_its_own_rotation(
    url: str, emulator: WorkdayEmulator, sandbox: Sandbox, store: CredentialManager, tmp_path: Path
) -> None:
    emulator.rotate_refresh_tokens = True
    config = {"credential_id": CREDENTIAL, "credential_store": str(tmp_path / "credentials.db")}
    run_a, session_a = start_run(url, config)
    run_b, session_b = start_run(url, config)  # both started on version 1 holding REFRESH_TOKEN

    run_a.fetch_token()  # A spends REFRESH_TOKEN and stores rotation #1
    after_a = stored_refresh_token(store)
    assert after_a != REFRESH_TOKEN
    assert emulator.refresh_tokens == {after_a}

    run_b.fetch_token()  # B's token is spent: refused once, B re-reads #1, spends it and stores #2
    after_b = stored_refresh_token(store)
    assert after_b not in (REFRESH_TOKEN, after_a)
    assert run_b.refresh_token_in_use == after_b
    assert emulator.refresh_tokens == {after_b}

    run_a.fetch_token()  # now A's token (#1) is spent by B: A too re-reads and must win its own save
    final = stored_refresh_token(store)
    assert run_a.refresh_token_in_use == final
    assert emulator.refresh_tokens == {final}  # the store holds the last token issued, the only live one
    assert store.get(CREDENTIAL).version == 4  # three rotations persisted on top of the stored version 1

    # Every grant was made with a live token; each spent token presented was refused, not honoured.
    assert token_statuses(sandbox) == [200, 400, 200, 400, 200]
    session_a.close()
    session_b.close()


def test_b6_without_reload_a_save_after_another_runs_rotation_conflicts(
    url: str, emulator: WorkdayEmulator, store: CredentialManager, tmp_path: Path
) -> None:
    """The persister alone still refuses a blind overwrite; ``reload`` is what moves its expected version."""
    config = {"credential_id": CREDENTIAL, "credential_store": str(tmp_path / "credentials.db")}
    run_a = secret_persister(config)
    run_b = secret_persister(config)
    assert run_a is not None
    assert run_b is not None
    run_a("refresh_token", "rt-from-a")
    with pytest.raises(CredentialConflictError):
        run_b("refresh_token", "rt-from-b-blind")
    assert stored_refresh_token(store) == "rt-from-a"
    assert run_b.reload("refresh_token") == "rt-from-a"
    run_b("refresh_token", "rt-from-b")
    assert stored_refresh_token(store) == "rt-from-b"
    assert run_b.reload("client_id") == CLIENT_ID
    assert run_b.reload("no_such_field") is None
    assert Redactor.default().redact("rt-from-b") == "***"
