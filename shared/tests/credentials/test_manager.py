"""CredentialManager over the SQLite store: lifecycle, CAS for rotated refresh tokens (B5/B6), key rotation (C3),
key usage (C5), tampering in the database file (C1/C2) and key problems at read time (B9)."""

from __future__ import annotations

import base64
import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from xlr8_kit.credentials.crypto import EnvelopeCipher, Keyring
from xlr8_kit.credentials.errors import (
    BackendUnavailableError,
    CredentialAlreadyExistsError,
    CredentialConflictError,
    CredentialError,
    CredentialNotFoundError,
    CredentialTamperedError,
    CredentialUndecryptableError,
    CredentialUnusableError,
    CredentialValidationError,
    KeyringError,
    KeyUsageExceededError,
)
from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.credentials.model import AuthType, CredentialStatus, ProductCredential
from xlr8_kit.credentials.store import SQLiteCredentialStore

from .conftest import FaultyStore, WaiterClock, key_b64

Make = Callable[..., CredentialManager]


class HeldProvider:
    """A token provider that holds its lease: it records the refresh token it spends, says it is inside
    (``inside``), and answers ``rt-0002-rotated`` once ``release`` is set (within ``timeout`` s, else it fails)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.calls: list[str] = []
        self.inside, self.release = threading.Event(), threading.Event()

    def __call__(self, current: ProductCredential) -> dict[str, str]:
        self.calls.append(current.credentials["refresh_token"])
        self.inside.set()
        assert self.release.wait(timeout=self.timeout)
        return {"refresh_token": "rt-0002-rotated"}

    def held_by(self, holder: CredentialManager) -> tuple[threading.Thread, list[ProductCredential]]:
        """``holder`` refreshing ``sf-prod`` through this provider on a thread, once it is inside (the lease is
        held); the thread and the list its result lands in."""
        results: list[ProductCredential] = []
        thread = threading.Thread(target=lambda: results.append(holder.refresh_token("sf-prod", self)))
        thread.start()
        assert self.inside.wait(timeout=10)
        return thread, results


def ring(*kids: str, keys: dict[str, str] | None = None) -> Keyring:
    keys = keys if keys is not None else {}
    for kid in kids:
        keys.setdefault(kid, base64.b64encode(os.urandom(32)).decode())
    return Keyring.parse(",".join(f"{k}:{keys[k]}" for k in kids), source="test")


def db_rows(db_path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql, params).fetchall()


def test_store_get_list_by_project(
    manager: CredentialManager, make_credential: Callable[..., ProductCredential]
) -> None:
    manager.store(make_credential("sf-prod"))
    manager.store(make_credential("wd-prod", project_id="acme", api_key="wd-key-1234"))
    manager.store(make_credential("sf-other", project_id="globex", password="globex-pw-1"))
    got = manager.get("sf-prod")
    assert got.credentials["client_secret"].startswith("CANARY-")
    assert got.auth_type is AuthType.OAUTH2_REFRESH_TOKEN
    assert got.instance_url == "https://acme.my.salesforce.com"
    assert got.version == 1
    assert [c.credential_id for c in manager.list_by_project("acme")] == ["sf-prod", "wd-prod"]
    assert manager.list_by_project("acme")[1].credentials == {"api_key": "wd-key-1234"}
    assert [c.credential_id for c in manager.list_by_project("globex")] == ["sf-other"]
    with pytest.raises(CredentialAlreadyExistsError, match="'sf-prod' already exists"):
        manager.store(make_credential("sf-prod"))
    with pytest.raises(CredentialNotFoundError, match="'nope' not found"):
        manager.get("nope")


def test_rows_hold_only_ciphertext(
    manager: CredentialManager, make_credential: Callable[..., ProductCredential], db_path: Path
) -> None:
    manager.store(make_credential("sf-prod"))
    blobs = db_rows(db_path, "SELECT field, blob FROM secret_fields WHERE credential_id = 'sf-prod'")
    assert {f for f, _ in blobs} == {"client_id", "client_secret", "refresh_token", "__xlr8_meta"}  # + the seal
    for _field, blob in blobs:
        assert "CANARY" not in str(blob)
        assert "rt-0001" not in str(blob)
        assert "client-abc" not in str(blob)
    assert db_rows(db_path, "PRAGMA journal_mode") == [("wal",)]
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700
    wal = db_path.with_name(db_path.name + "-wal")
    assert wal.exists()
    assert stat.S_IMODE(wal.stat().st_mode) == 0o600


def test_last_used_bookkeeping_and_status(
    manager: CredentialManager, make_credential: Callable[..., ProductCredential], clock: object
) -> None:
    manager.store(make_credential("sf-prod"))
    assert manager.get("sf-prod").last_used is None
    used = manager.get_for_run("sf-prod")
    assert used.last_used == clock()  # type: ignore[operator]
    assert manager.get("sf-prod").last_used == clock()  # type: ignore[operator]
    assert manager.get("sf-prod").version == 1  # bookkeeping never invalidates a CAS
    row = manager.revoke("sf-prod")
    assert row["status"] == "revoked"
    assert "CANARY" not in repr(row)
    with pytest.raises(CredentialUnusableError, match="'sf-prod' is revoked"):
        manager.get_for_run("sf-prod")


def test_expired_credential_is_refused(
    manager: CredentialManager, make_credential: Callable[..., ProductCredential], clock: object
) -> None:
    from dataclasses import replace
    from datetime import timedelta

    now = clock()  # type: ignore[operator]
    manager.store(replace(make_credential("cert-1"), expires_at=now + timedelta(hours=1)))
    assert manager.get_for_run("cert-1").status is CredentialStatus.ACTIVE
    clock.advance(hours=2)  # type: ignore[attr-defined]
    with pytest.raises(CredentialUnusableError, match="'cert-1' is expired"):
        manager.get_for_run("cert-1")
    assert manager.describe_one("cert-1")["status"] == "expired"


def test_validation_names_the_field() -> None:
    with pytest.raises(CredentialValidationError, match="auth_type 'oauth3'"):
        ProductCredential("x", "p", "salesforce", "oauth3", {"a": "b"})  # type: ignore[arg-type]
    with pytest.raises(CredentialValidationError, match="field 'password' must be a non-empty string"):
        ProductCredential("x", "p", "salesforce", AuthType.BASIC, {"password": ""})
    with pytest.raises(CredentialValidationError, match="credential_id must be"):
        ProductCredential("../etc", "p", "salesforce", AuthType.BASIC, {"password": "x"})
    with pytest.raises(CredentialValidationError, match="instance_url"):
        ProductCredential("x", "p", "salesforce", AuthType.BASIC, {"password": "x"}, instance_url="ftp://h")
    assert "secret" not in repr(ProductCredential("x", "p", "s", AuthType.BASIC, {"password": "secret"}))


def test_b5_update_secret_is_compare_and_swap(
    manager: CredentialManager, make_credential: Callable[..., ProductCredential]
) -> None:
    manager.store(make_credential("sf-prod"))
    updated = manager.update_secret("sf-prod", {"refresh_token": "rt-0002"}, expected_version=1)
    assert updated.version == 2
    assert manager.get("sf-prod").credentials["refresh_token"] == "rt-0002"
    assert manager.get("sf-prod").credentials["client_secret"].startswith("CANARY-")
    with pytest.raises(CredentialConflictError, match="expected version 1, store has 2"):
        manager.update_secret("sf-prod", {"refresh_token": "rt-stale"}, expected_version=1)
    assert manager.get("sf-prod").credentials["refresh_token"] == "rt-0002"


def test_b5_refresh_persists_rotated_token_before_returning(
    manager: CredentialManager, make_credential: Callable[..., ProductCredential]
) -> None:
    manager.store(make_credential("sf-prod"))
    seen: list[str] = []

    def refresher(current: ProductCredential) -> dict[str, str]:
        seen.append(current.credentials["refresh_token"])
        assert current.refresh_interrupted  # the in-flight marker is durable before the provider is called
        return {"refresh_token": "rt-0002"}

    result = manager.refresh_token("sf-prod", refresher)
    assert seen == ["rt-0001-initial"]
    assert result.credentials["refresh_token"] == "rt-0002"
    stored = manager.get("sf-prod")
    assert stored.credentials["refresh_token"] == "rt-0002"
    assert not stored.refresh_interrupted


def test_b5_crash_between_receipt_and_persist_is_detectable(
    manager: CredentialManager,
    make_credential: Callable[..., ProductCredential],
    caplog: pytest.LogCaptureFixture,
    clock: Any,
) -> None:
    manager.store(make_credential("sf-prod"))

    class Crash(BaseException):
        pass

    def refresher(current: ProductCredential) -> dict[str, str]:
        raise Crash  # the process "dies" after the provider rotated, before persisting

    with pytest.raises(Crash):
        manager.refresh_token("sf-prod", refresher)
    assert manager.get("sf-prod").refresh_interrupted
    with caplog.at_level(logging.WARNING):
        manager.get_for_run("sf-prod")
    assert "re-authorise" not in caplog.text  # a lease this young is another run refreshing now (audit25d F12)
    clock.advance(seconds=61)  # past lease_seconds: its holder died
    with caplog.at_level(logging.WARNING):
        manager.get_for_run("sf-prod")
    assert "sf-prod: a token refresh started at" in caplog.text
    assert "re-authorise" in caplog.text


def test_b6_two_workers_refresh_concurrently_exactly_one_winner(
    make_manager: Make, keyring: Keyring, make_credential: Callable[..., ProductCredential]
) -> None:
    make_manager(keyring).store(make_credential("sf-prod"))
    loser_waiting = threading.Event()

    def waiting_sleep(seconds: float) -> None:
        loser_waiting.set()
        time.sleep(min(seconds, 0.01))

    workers = [make_manager(keyring, sleep=waiting_sleep) for _ in range(2)]
    provider_calls: list[str] = []

    def provider(current: ProductCredential) -> dict[str, str]:
        provider_calls.append(current.credentials["refresh_token"])
        # Hold the lease until the other worker has found it, so the two refreshes really overlap.
        assert loser_waiting.wait(timeout=10)
        return {"refresh_token": "rt-0002-rotated"}

    start = threading.Barrier(2)
    results: dict[int, ProductCredential] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        start.wait(timeout=10)
        try:
            results[i] = workers[i].refresh_token("sf-prod", provider)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert provider_calls == ["rt-0001-initial"]  # the single-use token was spent exactly once
    final = make_manager(keyring).get("sf-prod")
    assert final.credentials["refresh_token"] == "rt-0002-rotated"
    assert not final.refresh_interrupted
    assert final.version == 3  # lease + one persisted refresh, nothing else
    assert [results[i].credentials["refresh_token"] for i in range(2)] == ["rt-0002-rotated"] * 2


def test_b6_worker_arriving_during_a_refresh_waits_for_it(
    make_manager: Make, keyring: Keyring, make_credential: Callable[..., ProductCredential]
) -> None:
    make_manager(keyring).store(make_credential("sf-prod"))
    provider = HeldProvider(timeout=10)

    def late_sleep(seconds: float) -> None:
        provider.release.set()  # the late worker is now waiting on the lease: let the holder finish
        time.sleep(min(seconds, 0.01))

    holder, late = make_manager(keyring), make_manager(keyring, sleep=late_sleep)
    thread, results = provider.held_by(holder)  # the lease is durable before the provider is called
    from_late = late.refresh_token("sf-prod", provider)
    thread.join(timeout=30)
    assert provider.calls == ["rt-0001-initial"]
    assert from_late.credentials["refresh_token"] == "rt-0002-rotated"
    assert results[0].credentials["refresh_token"] == "rt-0002-rotated"


def test_f2_waiter_never_takes_over_a_live_lease_however_long_it_waits(
    make_manager: Make, keyring: Keyring, make_credential: Callable[..., ProductCredential], db_path: Path
) -> None:
    """review25b F2: a waiter used to take the lease over after ``lease_seconds`` worth of polls even while its holder
    was still refreshing (spending the same refresh token twice). It waits while the lease is live; past its wait
    limit it stops with an error instead. review26a L5: its polls back off to one a second, so the 40-minute wait
    is about 2,400 store reads, not 48,000, and a released lease is seen within a second."""
    make_manager(keyring).store(make_credential("sf-prod"))
    provider = HeldProvider(timeout=30)

    def persisted(clock: WaiterClock) -> None:
        if clock.waited >= 2 * 60 and not provider.release.is_set():  # two lease lengths: the holder is still at it
            provider.release.set()
            clock.await_persisted()

    waiting = WaiterClock(db_path, holder_renews_every=15, on_sleep=persisted)
    holder = make_manager(keyring, renew_every=0.005)
    waiter = make_manager(keyring, sleep=waiting.sleep, monotonic=waiting)
    thread, _ = provider.held_by(holder)
    from_waiter = waiter.refresh_token("sf-prod", provider)
    thread.join(timeout=30)
    assert provider.calls == ["rt-0001-initial"]  # spent once: the waiter never presented it
    assert from_waiter.credentials["refresh_token"] == "rt-0002-rotated"
    assert 120 <= waiting.waited < 121  # seen at the first read after the release
    assert waiting.slept[:5] == [0.05, 0.1, 0.2, 0.4, 0.8]
    assert set(waiting.slept[5:]) == {1.0}

    provider.release.clear()
    provider.inside.clear()
    patient = WaiterClock(db_path, holder_renews_every=15)
    impatient = make_manager(keyring, sleep=patient.sleep, monotonic=patient)  # the default 2400 s wait limit
    thread, _ = provider.held_by(holder)
    with pytest.raises(CredentialError, match="not taking it over"):
        impatient.refresh_token("sf-prod", provider)
    provider.release.set()
    thread.join(timeout=30)
    assert provider.calls == ["rt-0001-initial", "rt-0002-rotated"]
    assert 2400 <= patient.waited < 2401
    assert len(patient.slept) == 5 + 2399  # was 48,000 reads at 0.05 s


def test_b6_failed_provider_call_releases_the_lease(
    manager: CredentialManager, make_credential: Callable[..., ProductCredential]
) -> None:
    manager.store(make_credential("sf-prod"))

    def failing(current: ProductCredential) -> dict[str, str]:
        raise ConnectionError("token endpoint unreachable")

    with pytest.raises(ConnectionError):
        manager.refresh_token("sf-prod", failing)
    after = manager.get("sf-prod")
    assert not after.refresh_interrupted
    assert after.credentials["refresh_token"] == "rt-0001-initial"
    assert manager.refresh_token("sf-prod", lambda c: {"refresh_token": "rt-2"}).credentials["refresh_token"] == "rt-2"


def test_b5_stale_lease_of_a_dead_worker_is_taken_over(
    make_manager: Make,
    keyring: Keyring,
    make_credential: Callable[..., ProductCredential],
    caplog: pytest.LogCaptureFixture,
) -> None:
    dead = make_manager(keyring)
    dead.store(make_credential("sf-prod"))

    class Killed(BaseException):
        pass

    def dies(current: ProductCredential) -> dict[str, str]:
        raise Killed

    with pytest.raises(Killed):
        dead.refresh_token("sf-prod", dies)
    waiting = WaiterClock()  # nobody renews: the lease is dead
    manager = make_manager(keyring, sleep=waiting.sleep, monotonic=waiting)
    with caplog.at_level(logging.INFO):
        result = manager.refresh_token("sf-prod", lambda c: {"refresh_token": "rt-after-takeover"})
    assert result.credentials["refresh_token"] == "rt-after-takeover"
    # said once when the watch starts (why the run is idle), then the takeover
    assert caplog.text.count("waiting on the token-refresh lease another run holds") == 1
    assert "taken over if not renewed for 60 s" in caplog.text
    assert "taking over a refresh lease last renewed at" in caplog.text
    assert 60 <= waiting.waited < 61  # one lease length watched by the waiter's own clock


def test_b6_update_race_across_connections_has_one_winner(
    make_manager: Make, keyring: Keyring, make_credential: Callable[..., ProductCredential]
) -> None:
    make_manager(keyring).store(make_credential("sf-prod"))
    workers = [make_manager(keyring) for _ in range(8)]
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def work(i: int) -> None:
        start.wait(timeout=10)
        try:
            workers[i].update_secret("sf-prod", {"refresh_token": f"rt-{i}"}, expected_version=1)
            outcomes.append(f"won:{i}")
        except CredentialConflictError:
            outcomes.append("lost")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    winners = [o for o in outcomes if o.startswith("won")]
    assert len(winners) == 1
    assert outcomes.count("lost") == 7
    final = make_manager(keyring).get("sf-prod")
    assert final.version == 2
    assert final.credentials["refresh_token"] == f"rt-{winners[0].split(':')[1]}"


def test_c1_tampered_row_in_database_is_refused(
    manager: CredentialManager, make_credential: Callable[..., ProductCredential], db_path: Path
) -> None:
    manager.store(make_credential("sf-prod"))
    (blob,) = db_rows(db_path, "SELECT blob FROM secret_fields WHERE field = 'client_secret'")[0]
    data = bytearray(base64.b64decode(str(blob)))
    data[-5] ^= 0x80
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "UPDATE secret_fields SET blob = ? WHERE field = 'client_secret'", (base64.b64encode(data).decode(),)
        )
    with pytest.raises(CredentialUndecryptableError) as err:
        manager.get("sf-prod")
    assert str(err.value).startswith("credential 'sf-prod' undecryptable (kid=k1)")
    assert "CANARY" not in str(err.value)


def test_c2_blob_swapped_between_rows_in_database_is_refused(
    manager: CredentialManager, make_credential: Callable[..., ProductCredential], db_path: Path
) -> None:
    manager.store(make_credential("sf-a", password="password-of-a"))
    manager.store(make_credential("sf-b", password="password-of-b"))
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "UPDATE secret_fields SET blob = (SELECT blob FROM secret_fields WHERE credential_id = 'sf-a') "
            "WHERE credential_id = 'sf-b'"
        )
    assert manager.get("sf-a").credentials["password"] == "password-of-a"
    with pytest.raises(CredentialUndecryptableError, match=r"'sf-b' undecryptable \(kid=k1\)"):
        manager.get("sf-b")


def test_b9_wrong_key_refuses_every_read(make_manager: Make, make_credential: Callable[..., ProductCredential]) -> None:
    make_manager(ring("k1")).store(make_credential("sf-prod"))
    with pytest.raises(CredentialUndecryptableError, match=r"'sf-prod' undecryptable \(kid=k1\).*wrong key"):
        make_manager(ring("k1")).get("sf-prod")


def test_c3_rotation_new_writes_old_reads_idempotent_and_retirement(
    make_manager: Make, make_credential: Callable[..., ProductCredential], db_path: Path
) -> None:
    keys: dict[str, str] = {}
    old = make_manager(ring("k1", keys=keys))
    for i in range(5):
        old.store(make_credential(f"c{i}", secret=f"value-{i}"))
    rotated = make_manager(ring("k2", "k1", keys=keys))
    rotated.store(make_credential("new-row", secret="value-new"))  # new writes use the new primary
    assert rotated.cipher.kid_of(_blob(db_path, "new-row"), _ctx("new-row")) == "k2"
    assert rotated.get("c3").credentials["secret"] == "value-3"  # old rows still decrypt
    report = rotated.rotate_key()
    assert sorted(report.rewrapped) == [f"c{i}" for i in range(5)]
    assert report.already_current == ["new-row"]
    assert report.failed == []
    assert rotated.rotate_key().rewrapped == []  # idempotent
    retired = make_manager(ring("k2", keys=keys))  # k1 removed from the keyring
    assert [retired.get(f"c{i}").credentials["secret"] for i in range(5)] == [f"value-{i}" for i in range(5)]
    assert rotated.key_usage() == {"k1": 10, "k2": 12}  # one field plus the metadata seal per row


def test_c3_leftover_old_kid_row_fails_loudly_after_retirement(
    make_manager: Make, make_credential: Callable[..., ProductCredential]
) -> None:
    keys: dict[str, str] = {}
    make_manager(ring("k1", keys=keys)).store(make_credential("left-behind", secret="value"))
    retired = make_manager(ring("k2", keys=keys))
    with pytest.raises(CredentialUndecryptableError, match=r"'left-behind' undecryptable \(kid=k1\): key id not in"):
        retired.get("left-behind")
    report = retired.rotate_key()
    assert report.rewrapped == []
    assert report.failed[0][:2] == ("left-behind", "k1")


def test_c5_usage_counted_warned_and_capped(
    make_manager: Make, make_credential: Callable[..., ProductCredential], caplog: pytest.LogCaptureFixture
) -> None:
    manager = make_manager(ring("k1"), warn_at=8, nonce_limit=12)
    manager.store(make_credential("a"))  # 3 fields and the metadata seal: 4 encryptions
    manager.store(make_credential("b"))
    assert manager.key_usage() == {"k1": 8}
    with caplog.at_level(logging.WARNING):
        manager.store(make_credential("c"))
    assert "key kid=k1 has sealed 8 secrets" in caplog.text
    with pytest.raises(KeyUsageExceededError, match=r"kid=k1 .*rotate-key"):
        manager.store(make_credential("d"))
    with pytest.raises(CredentialNotFoundError):
        manager.get("d")


def _blob(db_path: Path, credential_id: str) -> str:
    query = "SELECT blob FROM secret_fields WHERE credential_id = ? AND field = 'secret'"
    return str(db_rows(db_path, query, (credential_id,))[0][0])


def _ctx(credential_id: str) -> object:
    from xlr8_kit.credentials.crypto import AadContext

    return AadContext("acme", credential_id, "secret")


def test_i15_9_store_edits_fail_closed(
    make_manager: Make, make_credential: Callable[..., ProductCredential], db_path: Path
) -> None:
    """Issue 15 item 9: a revoked credential re-activated by editing the SQLite file, a deleted secret field row,
    a bumped version or a changed instance URL no longer match the metadata seal: every read fails closed."""
    keys: dict[str, str] = {}
    manager = make_manager(ring("k1", keys=keys))
    for name in ("revoked", "field-gone", "version-bumped", "moved"):
        manager.store(make_credential(name))
    manager.revoke("revoked")
    edits = [
        "UPDATE credentials SET status = 'active' WHERE credential_id = 'revoked'",
        "DELETE FROM secret_fields WHERE credential_id = 'field-gone' AND field = 'client_secret'",
        "UPDATE credentials SET version = version + 1 WHERE credential_id = 'version-bumped'",
        "UPDATE credentials SET instance_url = 'https://evil.example' WHERE credential_id = 'moved'",
    ]
    con = sqlite3.connect(db_path)
    with con:
        for statement in edits:
            con.execute(statement)
    con.close()
    fresh = make_manager(ring("k1", keys=keys))
    for name in ("revoked", "field-gone", "version-bumped", "moved"):
        with pytest.raises(CredentialTamperedError, match=f"credential '{name}' .*refusing to use it"):
            fresh.get_for_run(name)
        with pytest.raises(CredentialTamperedError):
            fresh.get(name)
    con = sqlite3.connect(db_path)
    with con:
        con.execute("DELETE FROM secret_fields WHERE field = '__xlr8_meta'")
    con.close()
    manager.store(make_credential("intact"))
    con = sqlite3.connect(db_path)
    with con:
        con.execute("DELETE FROM secret_fields WHERE credential_id = 'intact' AND field = '__xlr8_meta'")
    con.close()
    with pytest.raises(CredentialTamperedError, match="has no metadata seal"):
        fresh.get_for_run("intact")


def test_i15_9_keyless_revoke_still_stops_the_credential(
    make_manager: Make, make_credential: Callable[..., ProductCredential], db_path: Path
) -> None:
    """Revoke needs no key (emergency stop); without the key it cannot re-seal, so the row fails closed."""
    keys: dict[str, str] = {}
    make_manager(ring("k1", keys=keys)).store(make_credential("sf-prod"))

    def no_key() -> EnvelopeCipher:
        raise KeyringError("no key configured")

    keyless = CredentialManager(SQLiteCredentialStore(db_path), no_key)
    assert keyless.revoke("sf-prod")["status"] == "revoked"
    keyless.close()
    with pytest.raises((CredentialUnusableError, CredentialTamperedError)):
        make_manager(ring("k1", keys=keys)).get_for_run("sf-prod")


def _faulty_store(
    db_path: Path, keyring: Keyring, clock: Any, make_credential: Callable[..., ProductCredential]
) -> FaultyStore:
    """``sf-prod`` stored (``rt-0001-initial``), then opened through a ``FaultyStore`` for the test to arm."""
    CredentialManager(SQLiteCredentialStore(db_path), EnvelopeCipher(keyring), clock=clock).store(
        make_credential("sf-prod")
    )
    return FaultyStore(db_path)


def _refresh_then_read(
    manager: CredentialManager, provider: Callable[[ProductCredential], dict[str, str]]
) -> tuple[ProductCredential, ProductCredential]:
    """``refresh_token`` then the row as stored; the manager closed either way."""
    try:
        return manager.refresh_token("sf-prod", provider), manager.get("sf-prod")
    finally:
        manager.close()


def _run_beside_a_revoker(
    db_path: Path, keyring: Keyring, clock: Any, make_credential: Callable[..., ProductCredential]
) -> tuple[CredentialManager, CredentialManager, Callable[[], None]]:
    """``sf-prod`` stored by ``first``; a run over a ``FaultyStore`` of the same file (no pause between its retries);
    and what makes that run's next swap fail ("database is locked") while ``first`` revokes the row meanwhile."""
    first = CredentialManager(SQLiteCredentialStore(db_path), EnvelopeCipher(keyring), clock=clock)
    first.store(make_credential("sf-prod"))
    store = FaultyStore(db_path)
    manager = CredentialManager(store, EnvelopeCipher(keyring), clock=clock, sleep=lambda s: None)

    def revoke_during_next_swap() -> None:
        store.fail_swaps(sqlite3.OperationalError("database is locked"), meanwhile=lambda: first.revoke("sf-prod"))

    return first, manager, revoke_during_next_swap


def _stored_row(db_path: Path, cipher: EnvelopeCipher, **options: Any) -> ProductCredential:
    """``sf-prod`` as a fresh manager over ``db_path`` reads it with ``cipher`` (closed after)."""
    reader = CredentialManager(SQLiteCredentialStore(db_path), cipher, **options)
    try:
        return reader.get("sf-prod")
    finally:
        reader.close()


def _refresh_stopped_by_the_lock(
    manager: CredentialManager, provider: Callable[[ProductCredential], dict[str, str]]
) -> None:
    """A refresh whose save meets "database is locked" for good (that very error reaches the caller); the manager
    closed either way."""
    try:
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            manager.refresh_token("sf-prod", provider)
    finally:
        manager.close()


def _failed_refresh_then_read(
    manager: CredentialManager, provider: Callable[[ProductCredential], dict[str, str]]
) -> ProductCredential:
    """A refresh whose provider raises "token endpoint unreachable" (that very error reaches the caller), then the
    row as stored; the manager closed either way."""
    try:
        with pytest.raises(ConnectionError, match="token endpoint unreachable"):
            manager.refresh_token("sf-prod", provider)
        return manager.get("sf-prod")
    finally:
        manager.close()


@pytest.mark.parametrize(
    "lost",
    [CredentialConflictError("sf-prod", 2, 3), TimeoutError("read timed out")],
    ids=["cas-retry-mismatch", "timeout-after-commit"],
)
def test_m1_renewal_whose_answer_was_lost_keeps_the_lease_and_the_rotated_token(
    db_path: Path, keyring: Keyring, clock: Any, make_credential: Callable[..., ProductCredential], lost: Exception
) -> None:
    """review26a M1: a lease renewal that landed but whose answer was lost (Vault's retry of the same CAS write
    answers "did not match"; a timeout after the commit) left the keeper at the old version: the vendor's rotated
    refresh token then failed to persist (``expected version 2, store has 3``) and the credential needed
    re-authorising. The keeper now re-reads the row and recognises its own write by the row's seal (a fresh random
    nonce per write), so the rotated token lands. Held by renewal counts, not by time."""
    store = _faulty_store(db_path, keyring, clock, make_credential)
    manager = CredentialManager(store, EnvelopeCipher(keyring), clock=clock, renew_every=0.001)
    renewals: list[bool] = []

    def provider(current: ProductCredential) -> dict[str, str]:
        armed_at = store.swaps
        store.lose_answer_next(lost)  # the lease is held: its next renewal's answer is lost
        # the lost renewal and the next two were made (or the keeper gave up: old code)
        renewals.append(store.wait_for_swaps(armed_at + 3))
        return {"refresh_token": "rt-0002-rotated-by-vendor"}

    try:
        refreshed = manager.refresh_token("sf-prod", provider)
    finally:
        manager.close()
    assert renewals == [True]
    assert refreshed.credentials["refresh_token"] == "rt-0002-rotated-by-vendor"
    stored = _stored_row(db_path, EnvelopeCipher(keyring), clock=clock)
    assert stored.credentials["refresh_token"] == "rt-0002-rotated-by-vendor"
    assert not stored.refresh_interrupted


def test_m1_lease_take_whose_answer_was_lost_is_recognised_as_ours(
    db_path: Path, keyring: Keyring, clock: Any, make_credential: Callable[..., ProductCredential]
) -> None:
    """The same lost answer on the write that takes the lease: the run used to find its own live lease, wait on it
    for ``wait_limit_seconds`` and give up ("not taking it over"). Now the row is recognised as its own write."""
    store = _faulty_store(db_path, keyring, clock, make_credential)
    store.lose_answer_next(CredentialConflictError("sf-prod", 1, 2))
    waiting = WaiterClock()  # were the run to wait on its own lease, it would give up after 1 s of this clock
    manager = CredentialManager(
        store, EnvelopeCipher(keyring), clock=clock, wait_limit_seconds=1.0, sleep=waiting.sleep, monotonic=waiting
    )
    calls: list[str] = []

    def provider(current: ProductCredential) -> dict[str, str]:
        calls.append(current.credentials["refresh_token"])
        return {"refresh_token": "rt-0002-rotated"}

    refreshed, stored = _refresh_then_read(manager, provider)
    assert calls == ["rt-0001-initial"]
    assert refreshed.credentials["refresh_token"] == stored.credentials["refresh_token"] == "rt-0002-rotated"
    assert not stored.refresh_interrupted


def test_kit27b_final_save_that_did_not_land_is_written_again(
    db_path: Path, keyring: Keyring, clock: Any, make_credential: Callable[..., ProductCredential]
) -> None:
    """The save of a rotated refresh token fails before it lands (the row is still the run's own lease): the rotated
    token used to be dropped with the error, though the row was there to write it to. It is written again."""
    store = _faulty_store(db_path, keyring, clock, make_credential)
    sleeps: list[float] = []
    manager = CredentialManager(store, EnvelopeCipher(keyring), clock=clock, sleep=sleeps.append)

    def provider(current: ProductCredential) -> dict[str, str]:
        store.fail_swaps(sqlite3.OperationalError("database is locked"))  # the next swap is the final save
        return {"refresh_token": "rt-0002-rotated-by-vendor"}

    refreshed, stored = _refresh_then_read(manager, provider)
    assert refreshed.credentials["refresh_token"] == stored.credentials["refresh_token"] == "rt-0002-rotated-by-vendor"
    assert stored.version == 3
    assert not stored.refresh_interrupted
    assert sleeps == [0.5]


def test_kit27b_final_save_never_overwrites_another_writers_row(
    db_path: Path, keyring: Keyring, clock: Any, make_credential: Callable[..., ProductCredential]
) -> None:
    """The guard: a failed save whose row another writer changed (a revoke) is not written again over it."""
    first, manager, revoke_during_next_swap = _run_beside_a_revoker(db_path, keyring, clock, make_credential)

    def provider(current: ProductCredential) -> dict[str, str]:
        revoke_during_next_swap()
        return {"refresh_token": "rt-0002-rotated-by-vendor"}

    _refresh_stopped_by_the_lock(manager, provider)
    assert first.describe_one("sf-prod")["status"] == "revoked"
    first.close()


def test_kit27b_release_after_a_renewal_left_unsettled_still_frees_the_lease(
    db_path: Path, keyring: Keyring, clock: Any, make_credential: Callable[..., ProductCredential]
) -> None:
    """The provider call fails while the lease's last renewal is of unknown outcome (it landed, but its answer and
    every re-read failed). The release was made against the version before that renewal, lost its compare-and-swap,
    and the conflict was swallowed: the lease stayed set, so the next run waited for it to go stale and warned "may
    need re-authorisation". The release now recognises the row as its own renewal and releases that."""
    store = _faulty_store(db_path, keyring, clock, make_credential)
    manager = CredentialManager(store, EnvelopeCipher(keyring), clock=clock, renew_every=0.001)

    def provider(current: ProductCredential) -> dict[str, str]:
        store.lose_answer_next(TimeoutError("read timed out"), lease_only=True, then_unreadable=True)
        assert store.unreadable.wait(timeout=30)  # the renewal landed, its answer lost, the store unreadable
        raise ConnectionError("token endpoint unreachable")

    after = _failed_refresh_then_read(manager, provider)
    assert not after.refresh_interrupted
    assert after.version == 4  # lease, the unsettled renewal, the release
    assert after.credentials["refresh_token"] == "rt-0001-initial"


def test_final_save_after_a_renewal_left_unsettled_keeps_the_rotated_token(
    db_path: Path, keyring: Keyring, clock: Any, make_credential: Callable[..., ProductCredential]
) -> None:
    """review27a H1: the lease's last renewal lands but its answer is lost and the store cannot be read when the
    keeper stops, so the keeper still holds the version before it; the store is back for the save. The save used to
    expect that older version and drop the vendor's rotated token (``expected version 2, store has 3``). It now
    judges the row against every write the lease may have left, the unsettled renewal among them."""
    store = _faulty_store(db_path, keyring, clock, make_credential)
    manager = CredentialManager(store, EnvelopeCipher(keyring), clock=clock, renew_every=0.001, sleep=lambda s: None)

    def provider(current: ProductCredential) -> dict[str, str]:
        store.lose_answer_next(
            TimeoutError("read timed out"), lease_only=True, then_unreadable=True, unreadable_in="xlr8-lease"
        )
        assert store.unreadable.wait(timeout=30)  # the renewal landed, its answer lost; the keeper cannot read
        store.fail_reads(1, in_thread=threading.current_thread().name)  # nor can the keeper's stop; the save can
        return {"refresh_token": "rt-0002-rotated-by-vendor"}  # the vendor has spent rt-0001

    refreshed, stored = _refresh_then_read(manager, provider)
    assert refreshed.credentials["refresh_token"] == stored.credentials["refresh_token"] == "rt-0002-rotated-by-vendor"
    assert not stored.refresh_interrupted


class _FlakyCipher(EnvelopeCipher):
    """Its next ``fail_encrypts`` encryptions fail as Vault transit's do when Vault is unreachable."""

    fail_encrypts = 0

    def encrypt(self, plaintext: str, context: Any) -> str:
        if self.fail_encrypts:
            self.fail_encrypts -= 1
            raise BackendUnavailableError("transit unavailable for encrypting sf-prod after 3 attempts")
        return super().encrypt(plaintext, context)


@pytest.mark.parametrize("step", ["read", "seal"])
def test_final_save_whose_read_or_seal_fails_once_keeps_the_rotated_token(
    db_path: Path, keyring: Keyring, clock: Any, make_credential: Callable[..., ProductCredential], step: str
) -> None:
    """review27a M1: the save's read of its lease row (a dropped connection) or its encryption (Vault transit
    unreachable) fails once, before anything is written: the row is still the run's own lease. The rotated token
    used to be dropped with that error; the read, seal and write are now retried as one step."""
    store = _faulty_store(db_path, keyring, clock, make_credential)
    cipher = _FlakyCipher(keyring)
    sleeps: list[float] = []
    manager = CredentialManager(store, cipher, clock=clock, sleep=sleeps.append)

    def provider(current: ProductCredential) -> dict[str, str]:
        if step == "read":
            store.fail_reads(1)  # the save's own read of the row
        else:
            cipher.fail_encrypts = 1  # the save's sealing of the rotated token
        return {"refresh_token": "rt-0002-rotated-by-vendor"}

    refreshed, stored = _refresh_then_read(manager, provider)
    assert refreshed.credentials["refresh_token"] == stored.credentials["refresh_token"] == "rt-0002-rotated-by-vendor"
    assert stored.version == 3  # the lease, the save
    assert not stored.refresh_interrupted
    assert sleeps == [0.5]


def test_final_save_stops_retrying_before_its_lease_would_be_taken_over(
    db_path: Path, keyring: Keyring, clock: Any, make_credential: Callable[..., ProductCredential]
) -> None:
    """review27a L4: the keeper stops before the save, so a waiter takes the lease over once it has seen it unmoved
    for ``lease_seconds``; re-tries past ``lease_seconds - renew_every`` (here 60 - 15) are futile. Each failing
    write here takes 30 s of the run's (injected) clock: the second is the last."""
    CredentialManager(SQLiteCredentialStore(db_path), EnvelopeCipher(keyring), clock=clock).store(
        make_credential("sf-prod")
    )
    now = [0.0]

    def slow() -> None:
        now[0] += 30.0

    store = FaultyStore(db_path)
    manager = CredentialManager(
        store,
        EnvelopeCipher(keyring),
        clock=clock,
        monotonic=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
    )
    armed_at: list[int] = []

    def provider(current: ProductCredential) -> dict[str, str]:
        armed_at.append(store.swaps)
        store.fail_swaps(sqlite3.OperationalError("database is locked"), count=3, meanwhile=slow)
        return {"refresh_token": "rt-0002-rotated-by-vendor"}

    _refresh_stopped_by_the_lock(manager, provider)
    assert store.swaps - armed_at[0] == 2


def test_release_that_failed_is_made_again_paced_like_the_save(
    db_path: Path, keyring: Keyring, clock: Any, make_credential: Callable[..., ProductCredential]
) -> None:
    """review27a L2: a release that failed before landing (the row still our lease) was re-sent at once, up to
    five times; it is now paced like the save's re-writes (0.5 s, 1 s)."""
    store = _faulty_store(db_path, keyring, clock, make_credential)
    sleeps: list[float] = []
    manager = CredentialManager(store, EnvelopeCipher(keyring), clock=clock, sleep=sleeps.append)

    def provider(current: ProductCredential) -> dict[str, str]:
        store.fail_swaps(sqlite3.OperationalError("database is locked"))  # the release
        raise ConnectionError("token endpoint unreachable")

    after = _failed_refresh_then_read(manager, provider)
    assert not after.refresh_interrupted
    assert after.version == 3  # the lease, the release
    assert sleeps == [0.5]


def test_release_met_by_another_writers_row_says_the_row_moved_on(
    db_path: Path,
    keyring: Keyring,
    clock: Any,
    make_credential: Callable[..., ProductCredential],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """review27a L1: a release that finds another writer's row (here a revoke) used to warn that the next run
    waits up to 60 s for the lease: false, the lease is gone. It now says the row has moved on."""
    first, manager, revoke_during_next_swap = _run_beside_a_revoker(db_path, keyring, clock, make_credential)

    def provider(current: ProductCredential) -> dict[str, str]:
        revoke_during_next_swap()
        raise ConnectionError("token endpoint unreachable")

    try:
        with caplog.at_level(logging.INFO), pytest.raises(ConnectionError, match="token endpoint unreachable"):
            manager.refresh_token("sf-prod", provider)
    finally:
        manager.close()
    assert "the row has moved on (version 3, another run's write)" in caplog.text
    assert "could not release" not in caplog.text
    assert first.describe_one("sf-prod")["status"] == "revoked"
    first.close()


def test_key_rotation_during_a_live_refresh_leaves_the_row_for_a_later_pass(
    db_path: Path, clock: Any, make_credential: Callable[..., ProductCredential]
) -> None:
    """review27a M2: ``rotate-key`` while a run is inside its token refresh re-encrypted the leased row: the holder
    no longer recognised it as its lease, gave the lease up and could not save the token the vendor had just
    rotated (``expected version 2, store has 3``). A leased row is now left for a later pass (``in_refresh``);
    once the run has saved, nothing is left under the old key."""
    keys = {"k1": key_b64(), "k2": key_b64()}
    both = f"k2:{keys['k2']},k1:{keys['k1']}"
    seed = CredentialManager(
        SQLiteCredentialStore(db_path), EnvelopeCipher(Keyring.parse(f"k1:{keys['k1']}", source="t"))
    )
    seed.store(make_credential("sf-prod"))  # under k1
    seed.close()
    holder = CredentialManager(  # the run has the new keyring (k2 primary, k1 still readable), as rotation requires
        SQLiteCredentialStore(db_path), EnvelopeCipher(Keyring.parse(both, source="t")), clock=clock, renew_every=0.01
    )
    rotator = CredentialManager(SQLiteCredentialStore(db_path), EnvelopeCipher(Keyring.parse(both, source="t")))
    during: list[tuple[list[str], list[str]]] = []

    def provider(current: ProductCredential) -> dict[str, str]:
        report = rotator.rotate_key()  # the operator rotates the key meanwhile
        during.append((report.rewrapped, report.in_refresh))
        return {"refresh_token": "rt-0002-rotated-by-vendor"}

    try:
        refreshed = holder.refresh_token("sf-prod", provider)
        after = rotator.rotate_key()
    finally:
        holder.close()
        rotator.close()
    assert during == [([], ["sf-prod"])]
    assert (after.in_refresh, after.failed) == ([], [])  # the save itself sealed it under k2 (the run's primary)
    assert refreshed.credentials["refresh_token"] == "rt-0002-rotated-by-vendor"
    stored = _stored_row(db_path, EnvelopeCipher(Keyring.parse(f"k2:{keys['k2']}", source="t")))  # k2 alone
    assert stored.credentials["refresh_token"] == "rt-0002-rotated-by-vendor"
    assert not stored.refresh_interrupted
