"""``xlr8-credentials`` through the real console script: round trip with a key rotation, refusals with clear
messages and non-zero exits, and a C6 residue scan of the database files and everything the CLI printed."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xlr8_kit.credentials import open_manager
from xlr8_kit.credentials.crypto import AadContext, EnvelopeCipher, Keyring
from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.credentials.model import AuthType, ProductCredential
from xlr8_kit.credentials.store import SQLiteCredentialStore

CANARY = "CANARY-cli-7Zq!p@ss/wörd+=&-41ab"
CANARY_2 = "CANARY-file-secret-5c9e2f71d3"
CANARY_RT = "CANARY-refresh-token-0a8d6b"


def test_cli_round_trip_with_key_rotation_and_residue_scan(
    tmp_path: Path, run_cli: Callable[..., Any], residue: Any
) -> None:
    key_file = tmp_path / "secrets" / "credentials.key"
    env = {"XLR8_CREDENTIALS_KEY_FILE": str(key_file)}
    outputs: list[str] = []

    def cli(*args: str, stdin: str = "", expect: int = 0) -> Any:
        result = run_cli(*args, stdin=stdin, env=env)
        outputs.extend([result.stdout, result.stderr])
        assert result.code == expect, (args, result.stdout, result.stderr)
        return result

    cli("generate-key", "--key-file", str(key_file), "--kid", "k1")
    assert (key_file.stat().st_mode & 0o777) == 0o600
    secrets_in = {"client_id": "3MVG9-client", "client_secret": CANARY, "refresh_token": CANARY_RT}
    added = cli(
        "add", "--id", "sf-prod", "--project", "acme", "--product", "salesforce",
        "--auth-type", "oauth2_refresh_token", "--instance-url", "https://acme.my.salesforce.com", "--stdin",
        stdin=json.dumps(secrets_in),
    )  # fmt: skip
    assert "stored credential sf-prod" in added.stdout
    secret_file = tmp_path / "wd.json"
    secret_file.write_text(json.dumps({"username": "ISU_xlr8", "password": CANARY_2}))
    cli("add", "--id", "wd-prod", "--project", "acme", "--product", "workday", "--auth-type", "raas",
        "--file", str(secret_file))  # fmt: skip
    secret_file.unlink()

    listed = cli("list", "--json")
    rows = {row["credential_id"]: row for row in json.loads(listed.stdout)}
    assert set(rows) == {"sf-prod", "wd-prod"}
    assert rows["sf-prod"]["credentials"] == {"client_id": "***", "client_secret": "***", "refresh_token": "***"}
    assert rows["wd-prod"]["auth_type"] == "raas"
    shown = json.loads(cli("show", "sf-prod", "--redacted").stdout)
    assert shown["instance_url"] == "https://acme.my.salesforce.com"
    assert shown["status"] == "active"
    assert set(shown["credentials"].values()) == {"***"}

    cli("generate-key", "--key-file", str(key_file), "--kid", "k2", "--add")
    rotated = cli("rotate-key")
    assert "primary kid=k2; re-encrypted 2, already current 0, in refresh 0, failed 0" in rotated.stdout
    again = cli("rotate-key")
    assert "re-encrypted 0, already current 2, in refresh 0, failed 0" in again.stdout
    usage = json.loads(cli("key-usage").stdout)
    assert usage == {"k1": 7, "k2": 7}  # 5 fields and 2 metadata seals under each key

    # The secrets come back intact, now sealed under k2 only.
    db = tmp_path / ".xlr8" / "credentials.db"
    cipher = EnvelopeCipher(Keyring.from_file(key_file))
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT credential_id, field, blob FROM secret_fields ORDER BY 1, 2").fetchall()
    plain = {(cid, f): cipher.decrypt(b, AadContext("acme", cid, f)) for cid, f, b in stored}
    assert plain[("sf-prod", "client_secret")] == CANARY
    assert plain[("sf-prod", "refresh_token")] == CANARY_RT
    assert plain[("wd-prod", "password")] == CANARY_2
    assert {cipher.kid_of(b, AadContext("acme", cid, f)) for cid, f, b in stored} == {"k2"}

    revoked = json.loads(cli("revoke", "wd-prod").stdout)
    assert revoked["status"] == "revoked"
    refused = cli("test", "wd-prod", expect=1)
    assert "credential 'wd-prod' is revoked" in refused.stderr

    # C6: no canary in any form in the store files or in anything the CLI printed; the ids are there.
    files = residue.files(db)
    assert "credentials.db" in files
    everything = {**files, "cli-output": "\n".join(outputs).encode()}
    for secret in (CANARY, CANARY_2, CANARY_RT):
        assert residue.scan(secret, everything) == []
    assert any(b"sf-prod" in data for name, data in files.items())
    assert any(b"wd-prod" in data for name, data in files.items())
    assert "sf-prod" in "\n".join(outputs)


def test_cli_refusals_are_clear_and_non_zero(tmp_path: Path, run_cli: Callable[..., Any], residue: Any) -> None:
    no_key = run_cli("add", "--id", "x1", "--project", "p", "--product", "salesforce", "--auth-type", "basic",
                     "--stdin", stdin=json.dumps({"password": CANARY}))  # fmt: skip
    assert no_key.code == 1
    assert "XLR8_CREDENTIALS_KEY" in no_key.stderr
    assert CANARY not in no_key.stderr + no_key.stdout

    key_file = tmp_path / "k.key"
    assert run_cli("generate-key", "--key-file", str(key_file)).code == 0
    env = {"XLR8_CREDENTIALS_KEY_FILE": str(key_file)}

    bad_json = run_cli("add", "--id", "x1", "--project", "p", "--product", "salesforce", "--auth-type", "basic",
                       "--stdin", stdin='{"password": "' + CANARY + '", oops}', env=env)  # fmt: skip
    assert bad_json.code == 2
    assert "stdin: not valid JSON (line 1" in bad_json.stderr
    assert residue.scan(CANARY, {"out": (bad_json.stderr + bad_json.stdout).encode()}) == []

    empty_field = run_cli("add", "--id", "x1", "--project", "p", "--product", "salesforce", "--auth-type", "basic",
                          "--stdin", stdin='{"password": ""}', env=env)  # fmt: skip
    assert empty_field.code == 2
    assert "field 'password' must be a non-empty string" in empty_field.stderr

    bad_auth = run_cli("add", "--id", "x1", "--project", "p", "--product", "s", "--auth-type", "magic", "--stdin",
                       env=env)  # fmt: skip
    assert bad_auth.code == 2
    assert "--auth-type" in bad_auth.stderr

    missing = run_cli("show", "nope", env=env)
    assert missing.code == 1
    assert "credential 'nope' not found" in missing.stderr

    wrong_key = tmp_path / "wrong.key"
    assert run_cli("add", "--id", "x2", "--project", "p", "--product", "salesforce", "--auth-type", "basic",
                   "--stdin", stdin=json.dumps({"password": CANARY}), env=env).code == 0  # fmt: skip
    run_cli("generate-key", "--key-file", str(wrong_key))
    undecryptable = run_cli("test", "x2", env={"XLR8_CREDENTIALS_KEY_FILE": str(wrong_key)})
    assert undecryptable.code == 1
    assert "credential 'x2' undecryptable (kid=k1)" in undecryptable.stderr
    # Listing needs no key: metadata only.
    assert "x2\tp\tsalesforce\tbasic\tactive\tfields=password" in run_cli("list").stdout

    key_file.chmod(0o644)
    loose = run_cli("show", "x2", env=env)
    assert loose.code == 0  # show never decrypts, so it never needs the key
    loose_test = run_cli("test", "x2", env=env)
    assert loose_test.code == 1
    assert "readable by others" in loose_test.stderr


def test_cli_test_without_connector_for_product_is_a_clear_error(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    key_file = tmp_path / "k.key"
    run_cli("generate-key", "--key-file", str(key_file))
    env = {"XLR8_CREDENTIALS_KEY_FILE": str(key_file)}
    refused = run_cli("add", "--id", "odd-1", "--project", "p", "--product", "universal", "--auth-type",
                      "api_key", "--stdin", stdin=json.dumps({"api_key": CANARY}), env=env)  # fmt: skip
    assert refused.code == 2
    # every vendor product has its connector installed now; the product-neutral form has none
    assert "--product 'universal' (universal) has no installed connector; installed: " in refused.stderr
    assert "salesforce" in refused.stderr
    # a store written elsewhere (where that connector was installed) still gets a clear error from `test`
    manager = open_manager(str(tmp_path / ".xlr8" / "credentials.db"), key_file=str(key_file), create=True)
    manager.store(ProductCredential("odd-1", "p", "universal", AuthType.API_KEY, {"api_key": CANARY}))
    manager.close()
    result = run_cli("test", "odd-1", env=env)
    assert result.code == 1
    assert "universal" in result.stderr
    assert CANARY not in result.stdout + result.stderr


def test_cli_add_prompts_without_echo_on_a_terminal(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    """The interactive path: getpass on a real pseudo-terminal; the typed secret is never echoed back."""
    import os
    import pty
    import select
    import subprocess
    import sys
    import time

    key_file = tmp_path / "k.key"
    assert run_cli("generate-key", "--key-file", str(key_file)).code == 0
    script = Path(sys.executable).parent / "xlr8-credentials"
    # Make the pty the child's controlling terminal (getpass opens /dev/tty), then exec the console script.
    launcher = (
        "import fcntl, os, sys, termios; os.setsid(); fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
        "os.execv(sys.argv[1], sys.argv[1:])"
    )
    master, slave = pty.openpty()
    args = ["add", "--id", "typed-1", "--project", "p", "--product", "ukg_pro", "--auth-type", "basic"]
    env = {**os.environ, "XLR8_CREDENTIALS_KEY_FILE": str(key_file)}
    proc = subprocess.Popen(
        [sys.executable, "-c", launcher, str(script), *args],
        stdin=slave, stdout=slave, stderr=slave, cwd=tmp_path, env=env,
    )  # fmt: skip
    os.close(slave)
    seen = b""

    def read_until(marker: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 30
        while marker not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    return

    read_until(b"username: ")
    os.write(master, b"isu-typed\n")
    read_until(b"password: ")
    os.write(master, CANARY.encode() + b"\n")
    read_until(b"(fields: password, username)")
    assert proc.wait(timeout=30) == 0, seen
    os.close(master)
    assert b"stored credential typed-1 (fields: password, username)" in seen
    assert CANARY.encode() not in seen  # echo was off while typing
    assert b"isu-typed" not in seen
    shown = json.loads(run_cli("show", "typed-1", env={"XLR8_CREDENTIALS_KEY_FILE": str(key_file)}).stdout)
    assert shown["credentials"] == {"password": "***", "username": "***"}
    manager_keyring = Keyring.from_file(key_file)
    with sqlite3.connect(tmp_path / ".xlr8" / "credentials.db") as conn:
        (blob,) = conn.execute("SELECT blob FROM secret_fields WHERE field = 'password'").fetchone()
    assert EnvelopeCipher(manager_keyring).decrypt(blob, AadContext("p", "typed-1", "password")) == CANARY


def test_cli_test_connects_through_the_product_connector(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    """``xlr8-credentials test`` against the Salesforce emulator on 127.0.0.1, through the tap's connector; nested
    tap settings are stored as dotted field names (``auth.client_secret``)."""
    from xlr8_kit.connectors.factory import ConnectorFactory
    from xlr8_sandbox.platform.server import run_sandbox

    assert "salesforce" in ConnectorFactory.installed()
    key_file = tmp_path / "k.key"
    env = {"XLR8_CREDENTIALS_KEY_FILE": str(key_file)}
    run_cli("generate-key", "--key-file", str(key_file))
    add = ["add", "--project", "acme", "--product", "salesforce", "--auth-type", "oauth2_client_credentials", "--stdin"]
    with run_sandbox(["salesforce"]) as sandbox:
        creds = sandbox.emulator("salesforce").test_credentials()  # type: ignore[attr-defined]
        fields = {"login_url": sandbox.url("salesforce"), "auth.type": "password"}
        fields |= {f"auth.{k}": creds[k] for k in ("client_id", "client_secret", "username", "password")}
        fields["auth.security_token"] = creds["security_token"]
        assert run_cli(*add, "--id", "sf-good", stdin=json.dumps(fields), env=env).code == 0
        wrong = {**fields, "auth.password": "not-the-password-9f3"}
        assert run_cli(*add, "--id", "sf-bad", stdin=json.dumps(wrong), env=env).code == 0
        good = run_cli("test", "sf-good", env=env)
        bad = run_cli("test", "sf-bad", env=env)
    assert good.code == 0, good.stdout + good.stderr
    assert good.stdout.startswith("test sf-good: ok")
    assert bad.code == 1
    assert "test sf-bad: FAILED" in bad.stdout
    for output in (good, bad):
        text = output.stdout + output.stderr
        assert creds["client_secret"] not in text
        assert creds["password"] not in text
        assert "not-the-password-9f3" not in text


def test_i15_9_add_accepts_only_installed_products_and_stores_the_canonical_id(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    """Issue 15 item 9: an alias (tap name) is stored as the canonical product id; unknown ids are refused."""
    key_file = tmp_path / "k.key"
    run_cli("generate-key", "--key-file", str(key_file))
    env = {"XLR8_CREDENTIALS_KEY_FILE": str(key_file)}
    added = run_cli("add", "--id", "sf-1", "--project", "p", "--product", "tap-salesforce", "--auth-type",
                    "api_key", "--stdin", stdin=json.dumps({"api_key": CANARY}), env=env)  # fmt: skip
    assert added.code == 0, added.stderr
    assert json.loads(run_cli("show", "sf-1", "--redacted", env=env).stdout)["product_id"] == "salesforce"
    unknown = run_cli("add", "--id", "x-1", "--project", "p", "--product", "salesfarce", "--auth-type",
                      "api_key", "--stdin", stdin=json.dumps({"api_key": CANARY}), env=env)  # fmt: skip
    assert unknown.code == 2
    assert "--product 'salesfarce' is not a known product" in unknown.stderr
    assert [row["credential_id"] for row in json.loads(run_cli("list", "--json", env=env).stdout)] == ["sf-1"]


def test_rotate_key_during_a_live_refresh_reports_the_row_in_refresh_and_fails(
    db_path: Path, run_cli: Callable[..., Any], make_credential: Callable[..., ProductCredential]
) -> None:
    """review27a M2 through the CLI: a row whose token refresh is in progress is left as it is, named, and the
    command exits 1 (the operator must not remove the old key yet); run again after the refresh, it succeeds."""
    from .conftest import key_b64

    keys = {"k1": key_b64(), "k2": key_b64()}
    env = {"XLR8_CREDENTIALS_KEY": f"k2:{keys['k2']},k1:{keys['k1']}"}
    seed = CredentialManager(
        SQLiteCredentialStore(db_path), EnvelopeCipher(Keyring.parse(f"k1:{keys['k1']}", source="t"))
    )
    seed.store(make_credential("sf-prod"))
    seed.close()
    holder = CredentialManager(
        SQLiteCredentialStore(db_path), EnvelopeCipher(Keyring.parse(env["XLR8_CREDENTIALS_KEY"], source="t"))
    )
    during: list[Any] = []

    def provider(current: ProductCredential) -> dict[str, str]:
        during.append(run_cli("rotate-key", env=env))
        return {"refresh_token": "rt-0002-rotated-by-vendor"}

    try:
        holder.refresh_token("sf-prod", provider)
    finally:
        holder.close()
    assert during[0].code == 1, during[0].stderr
    assert "re-encrypted 0, already current 0, in refresh 1, failed 0" in during[0].stdout
    assert "sf-prod: a run is refreshing its token (lease held)" in during[0].stderr
    after = run_cli("rotate-key", env=env)
    assert after.code == 0, after.stderr
    assert "in refresh 0, failed 0" in after.stdout
