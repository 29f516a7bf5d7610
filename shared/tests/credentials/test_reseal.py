"""``reseal``: a store written before the metadata seal existed (no ``__xlr8_meta`` field rows) becomes readable
again once the key is proven and the operator confirms, and the seal then catches edits as for any new store. A
wrong key, or no confirmation, changes nothing; no secret value is printed."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from xlr8_kit.credentials import open_manager
from xlr8_kit.credentials.crypto import Keyring
from xlr8_kit.credentials.errors import CredentialTamperedError, CredentialUndecryptableError
from xlr8_kit.credentials.manager import META_FIELD, CredentialManager
from xlr8_kit.credentials.model import ProductCredential

from .conftest import CANARY, key_b64

Make = Callable[..., CredentialManager]
CANARY_RT = "CANARY-reseal-refresh-3f1e"
CANARY_PW = "CANARY-reseal-password-8b2d"


def ring(spec: str) -> Keyring:
    return Keyring.parse(spec, source="test")


def sql(db: Path, *statements: str) -> None:
    con = sqlite3.connect(db)
    with con:
        for statement in statements:
            con.execute(statement)
    con.close()


def snapshot(db: Path) -> list[list[tuple[Any, ...]]]:
    """Every row of the credential tables, to show a refused reseal wrote nothing."""
    with sqlite3.connect(db) as con:
        return [
            con.execute("SELECT * FROM credentials ORDER BY credential_id").fetchall(),
            con.execute("SELECT * FROM secret_fields ORDER BY credential_id, field").fetchall(),
            con.execute("SELECT * FROM key_usage ORDER BY kid").fetchall(),
        ]


def never_asked(rows: list[ProductCredential]) -> bool:
    pytest.fail(f"the operator was asked to confirm {[c.credential_id for c in rows]}")


def old_format_store(make_manager: Make, make_credential: Callable[..., ProductCredential], db: Path, key: str) -> None:
    """Two credentials as a build before the seal wrote them: the same rows, no metadata seal."""
    manager = make_manager(ring(f"k1:{key}"))
    manager.store(make_credential("sf-prod", client_id="c-1", client_secret=CANARY, refresh_token=CANARY_RT))
    manager.store(make_credential("sf-dev", client_id="c-2", client_secret=CANARY_PW))
    sql(db, f"DELETE FROM secret_fields WHERE field = '{META_FIELD}'")


def test_reseal_makes_an_old_store_readable_and_tamper_evident(
    make_manager: Make, make_credential: Callable[..., ProductCredential], db_path: Path
) -> None:
    key = key_b64()
    old_format_store(make_manager, make_credential, db_path, key)
    manager = make_manager(ring(f"k1:{key}"))
    with pytest.raises(CredentialTamperedError, match=r"has no metadata seal.*xlr8-credentials reseal"):
        manager.get_for_run("sf-prod")

    shown: list[ProductCredential] = []

    def confirm(rows: list[ProductCredential]) -> bool:
        shown.extend(rows)
        return True

    report = manager.reseal(confirm)
    assert report.confirmed
    assert sorted(report.resealed) == ["sf-dev", "sf-prod"]
    assert report.failed == []
    assert sorted(c.credential_id for c in shown) == ["sf-dev", "sf-prod"]
    assert all(CANARY not in json.dumps(c.redacted()) for c in shown)  # metadata only reaches the operator

    fresh = make_manager(ring(f"k1:{key}"))
    assert fresh.get_for_run("sf-prod").credentials == {
        "client_id": "c-1",
        "client_secret": CANARY,
        "refresh_token": CANARY_RT,
    }
    assert fresh.get_for_run("sf-dev").credentials["client_secret"] == CANARY_PW
    again = fresh.reseal(never_asked)
    assert again.confirmed
    assert again.resealed == []
    assert sorted(again.already_sealed) == ["sf-dev", "sf-prod"]

    fresh.revoke("sf-dev")
    sql(
        db_path,
        "UPDATE credentials SET status = 'active' WHERE credential_id = 'sf-dev'",
        "UPDATE credentials SET instance_url = 'https://evil.example' WHERE credential_id = 'sf-prod'",
    )
    for name in ("sf-dev", "sf-prod"):
        with pytest.raises(CredentialTamperedError, match=f"credential '{name}' .*refusing to use it"):
            fresh.get_for_run(name)
    # An edited row is not blessed by another reseal: it stays refused.
    later = fresh.reseal(never_asked)
    assert sorted(cid for cid, _ in later.failed) == ["sf-dev", "sf-prod"]
    assert later.resealed == []
    with pytest.raises(CredentialTamperedError):
        fresh.get_for_run("sf-prod")


@pytest.mark.parametrize("wrong", ["same-kid", "other-kid"])
def test_reseal_refuses_a_wrong_key_and_changes_nothing(
    make_manager: Make, make_credential: Callable[..., ProductCredential], db_path: Path, wrong: str
) -> None:
    old_format_store(make_manager, make_credential, db_path, key_b64())
    before = snapshot(db_path)
    spec = f"k1:{key_b64()}" if wrong == "same-kid" else f"k2:{key_b64()}"
    manager = make_manager(ring(spec))
    with pytest.raises(CredentialUndecryptableError, match=r"credential 'sf-(dev|prod)' undecryptable") as caught:
        manager.reseal(never_asked)  # the key is proven before anything is shown
    assert CANARY not in str(caught.value)
    assert snapshot(db_path) == before


def test_declined_or_raced_reseal_writes_nothing_it_was_not_asked_to(
    make_manager: Make, make_credential: Callable[..., ProductCredential], db_path: Path
) -> None:
    key = key_b64()
    old_format_store(make_manager, make_credential, db_path, key)
    before = snapshot(db_path)
    manager = make_manager(ring(f"k1:{key}"))
    declined = manager.reseal(lambda rows: False)
    assert not declined.confirmed
    assert declined.resealed == []
    assert snapshot(db_path) == before

    def confirm_while_another_writer_edits(rows: list[ProductCredential]) -> bool:
        sql(db_path, "UPDATE credentials SET version = version + 1 WHERE credential_id = 'sf-dev'")
        return True

    raced = manager.reseal(confirm_while_another_writer_edits)
    assert raced.resealed == ["sf-prod"]
    assert raced.failed == [("sf-dev", "changed while resealing; run reseal again")]
    with pytest.raises(CredentialTamperedError, match="has no metadata seal"):
        manager.get_for_run("sf-dev")
    assert manager.get_for_run("sf-prod").credentials["client_secret"] == CANARY


def test_cli_reseal_proves_the_key_asks_for_its_id_and_never_prints_a_secret(
    tmp_path: Path, run_cli: Callable[..., Any], residue: Any
) -> None:
    key_file = tmp_path / "credentials.key"
    env = {"XLR8_CREDENTIALS_KEY_FILE": str(key_file)}
    outputs: list[str] = []

    def cli(*args: str, stdin: str = "", expect: int = 0, key: Path = key_file) -> Any:
        result = run_cli(*args, stdin=stdin, env={"XLR8_CREDENTIALS_KEY_FILE": str(key)})
        outputs.extend([result.stdout, result.stderr])
        assert result.code == expect, (args, result.stdout, result.stderr)
        return result

    cli("generate-key", "--key-file", str(key_file), "--kid", "k1")
    cli("add", "--id", "sf-prod", "--project", "acme", "--product", "salesforce", "--auth-type",
        "oauth2_refresh_token", "--stdin", stdin=json.dumps({"client_id": "c-1", "client_secret": CANARY,
                                                             "refresh_token": CANARY_RT}))  # fmt: skip
    cli("add", "--id", "wd-prod", "--project", "acme", "--product", "workday", "--auth-type", "raas",
        "--stdin", stdin=json.dumps({"username": "ISU_xlr8", "password": CANARY_PW}))  # fmt: skip
    db = tmp_path / ".xlr8" / "credentials.db"
    sql(db, f"DELETE FROM secret_fields WHERE field = '{META_FIELD}'")  # as written before the seal
    before = snapshot(db)

    wrong_key = tmp_path / "wrong.key"
    cli("generate-key", "--key-file", str(wrong_key), "--kid", "k1")
    refused = cli("reseal", "--confirm-kid", "k1", expect=1, key=wrong_key)
    assert "undecryptable (kid=k1)" in refused.stderr
    assert "sf-prod" not in refused.stdout  # nothing listed before the key is proven
    assert snapshot(db) == before

    declined = cli("reseal", stdin="yes\n", expect=1)
    assert "primary kid=k1" in declined.stdout
    listed = json.loads(declined.stdout.split("sealed as they are now:\n", 1)[1])
    assert [row["credential_id"] for row in listed] == ["sf-prod", "wd-prod"]
    assert listed[1]["credentials"] == {"password": "***", "username": "***"}
    assert "type the primary key id (k1)" in declined.stderr
    assert "not confirmed" in declined.stderr
    assert "nothing changed" in declined.stderr
    assert snapshot(db) == before
    assert cli("reseal", "--confirm-kid", "k2", expect=1).stderr.count("nothing changed") == 1
    assert snapshot(db) == before

    done = cli("reseal", stdin="k1\n")
    assert "reseal: sealed 2 under kid=k1, already sealed 0, failed 0" in done.stdout
    assert "already sealed 2" in cli("reseal", "--confirm-kid", "k1").stdout

    manager = open_manager(str(db), environ=env, create=False)
    try:
        assert manager.get_for_run("sf-prod").credentials["refresh_token"] == CANARY_RT
        assert manager.get_for_run("wd-prod").credentials["password"] == CANARY_PW
    finally:
        manager.close()
    sql(db, "UPDATE credentials SET product_id = 'workday' WHERE credential_id = 'sf-prod'")
    manager = open_manager(str(db), environ=env, create=False)
    try:
        with pytest.raises(CredentialTamperedError):
            manager.get_for_run("sf-prod")
    finally:
        manager.close()

    everything = {**residue.files(db), "cli-output": "\n".join(outputs).encode()}
    for secret in (CANARY, CANARY_RT, CANARY_PW):
        assert residue.scan(secret, everything) == []
