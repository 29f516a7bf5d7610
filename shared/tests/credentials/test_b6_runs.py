"""RELIABILITY B6 across runs: two runs of one credential share a SQLite store and a token server that issues
single-use rotating refresh tokens (the Workday emulator, over real HTTP). A run that finds its refresh token spent
by the other re-reads the store, refreshes with the stored token and persists its own rotation."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from xlr8_kit.auth import OAuth2RefreshToken
from xlr8_kit.credentials.crypto import EnvelopeCipher, Keyring
from xlr8_kit.credentials.errors import CredentialConflictError
from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.credentials.resolve import SecretPersister, resolve_config, secret_persister
from xlr8_kit.credentials.store import SQLiteCredentialStore
from xlr8_kit.http.session import HttpPolicy, ResilientSession
from xlr8_kit.redaction import Redactor
from xlr8_kit.rest import KitRuntime
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.workday import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, TENANT, WorkdayEmulator
from xlr8_sandbox.testing import emulator_fixtures, workday_credential_store

from .conftest import FrozenClock

sandbox, emulator, url = emulator_fixtures("workday", scale=10)

CREDENTIAL = "wd-b6"
TOKEN_PATH = f"/ccx/oauth2/{TENANT}/token"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CredentialManager]:
    manager = workday_credential_store(tmp_path / "credentials.db", monkeypatch, CREDENTIAL)
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
    return run_authenticator(url, resolved, persister, session, leased=False), session


def run_authenticator(
    url: str, secrets: dict[str, str], persister: SecretPersister, session: ResilientSession, *, leased: bool
) -> OAuth2RefreshToken:
    """The run's runtime hooks over ``persister`` and the Workday authenticator on them (``leased``: refreshes
    spent under the store's lease, ``lease_hook``, as tap-workday wires it)."""
    runtime = KitRuntime(
        session=session,
        authenticator=None,
        redactor=Redactor.default(),
        policy=HttpPolicy(),
        persist_secret=persister,
        reload_secret=persister.reload,
        lease_secret=persister.leased_refresh if leased else None,
    )
    return OAuth2RefreshToken(
        f"{url}{TOKEN_PATH}",
        secrets["client_id"],
        secrets["client_secret"],
        secrets["refresh_token"],
        on_rotate=runtime.rotation_hook("refresh_token"),
        reload_refresh_token=runtime.reload_hook("refresh_token"),
        refresh_lease=runtime.lease_hook("refresh_token"),
        client_auth="basic",
        session=session,
        redactor=runtime.redactor,
    )


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


def leased_run(
    url: str,
    db: Path,
    clock: FrozenClock,
    *,
    session_sleep: Callable[[float], None],
    store_sleep: Callable[[float], None],
) -> tuple[OAuth2RefreshToken, ResilientSession]:
    """A tap run whose refreshes go through the store's lease (``lease_hook``), as tap-workday wires it; the store
    reads ``clock`` (a test's, so a lease can age without waiting) and renews a held lease every 10 ms."""

    def open_store() -> CredentialManager:
        cipher = EnvelopeCipher(Keyring.from_environment(dict(os.environ)))
        return CredentialManager(
            SQLiteCredentialStore(db, create=False), cipher, clock=clock, renew_every=0.01, sleep=store_sleep
        )

    persister = SecretPersister(CREDENTIAL, str(db), open_store=open_store)
    session = ResilientSession(HttpPolicy(), product="workday", sleep=session_sleep)
    secrets = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN}
    return run_authenticator(url, secrets, persister, session, leased=True), session


def test_f2_refresh_outlasting_the_lease_keeps_it_and_the_other_run_spends_the_rotated_token(
    url: str, emulator: WorkdayEmulator, sandbox: Sandbox, store: CredentialManager, tmp_path: Path
) -> None:
    """review25b F2: run A's refresh meets a 429 and waits out 61 s, longer than the 60 s lease. Run B arriving
    meanwhile must wait for A (whose lease is renewed while it waits), not take the lease over and spend the same
    refresh token: that made A's retry invalid_grant (or, had A's grant gone through, its rotation unsaveable)."""
    emulator.rotate_refresh_tokens = True
    sandbox.faults.add("workday", TOKEN_PATH, FaultSpec("rate_limit", retry_after=61, times=1))
    db = tmp_path / "credentials.db"
    clock = FrozenClock()
    b_waits = threading.Event()
    outcome: dict[str, object] = {}

    def b_store_sleep(seconds: float) -> None:
        b_waits.set()  # B found a live lease and waits on it
        time.sleep(0.005)

    run_b, session_b = leased_run(url, db, clock, session_sleep=time.sleep, store_sleep=b_store_sleep)

    def b_refreshes() -> None:
        try:
            outcome["b"] = run_b.fetch_token()
        except Exception as exc:
            outcome["b"] = exc

    run_b_thread = threading.Thread(target=b_refreshes)

    def a_waits_out_the_429(seconds: float) -> None:
        assert seconds >= 61
        clock.advance(seconds=seconds)  # the rate-limit window passes while A holds the lease
        for _ in range(1000):  # the lease renewed at the new time (never, before the fix: then B goes on anyway)
            if store.get(CREDENTIAL).refresh_started_at == clock():
                break
            time.sleep(0.01)
        run_b_thread.start()
        for _ in range(3000):  # B either waits on the lease or (before the fix) took it over and finished
            if b_waits.is_set() or not run_b_thread.is_alive():
                break
            time.sleep(0.01)

    run_a, session_a = leased_run(url, db, clock, session_sleep=a_waits_out_the_429, store_sleep=time.sleep)
    try:
        outcome["a"] = run_a.fetch_token()
    except Exception as exc:
        outcome["a"] = exc
    run_b_thread.join(timeout=60)
    session_a.close()
    session_b.close()

    assert not isinstance(outcome["a"], Exception), outcome["a"]
    assert not isinstance(outcome["b"], Exception), outcome["b"]
    stored = stored_refresh_token(store)
    # A spent the seeded token once (after its 429), B then the one A stored: the store holds the only live token.
    assert token_statuses(sandbox) == [429, 200, 200]
    assert emulator.refresh_tokens == {stored}
    assert run_b.refresh_token_in_use == stored
    assert run_a.refresh_token_in_use not in (REFRESH_TOKEN, stored)
    final = store.get(CREDENTIAL)
    assert not final.refresh_interrupted
