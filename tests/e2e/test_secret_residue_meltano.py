"""RELIABILITY C6 and D1 through Meltano: after normal, failed and SIGKILLed ``meltano run``s, no canary secret is
left anywhere a run writes, in any form it could take.

Everything runs in a temporary copy of the project (its own ``.meltano/``, system db, truths store, audit log and
TMPDIR) against emulators on ephemeral ports that accept only the canary credentials, with Meltano at DEBUG.
Two ways to configure a tap are compared:

- ``credential_id``: the secrets are added with the real ``xlr8-credentials`` CLI to an encrypted store and Meltano
  only ever sees the credential id and store path; the tap resolves the secrets itself.
- plain settings marked ``sensitive``: the secrets reach the tap through Meltano (``TAP_SALESFORCE_PASSWORD`` and
  similar variables), so Meltano writes them to ``.meltano/run/<tap>/tap.<uuid>.config.json`` for the run. Its
  cleanup hook deletes the file after normal and failed runs; a SIGKILLed run leaves it behind with the secrets in
  it, which is why the credential_id mode exists. The tests pin both facts.

Scanned after every run: Meltano's stdout and stderr, every file under the test directory (``.meltano/**`` with
``run/`` and the system db, the truths store and its WAL, the audit log, TMPDIR, the credential store), the system
db and the truths store read row by row (dead-letter and ledger tables included) and ``meltano state get``. The
key file is the only file left out: it holds the encryption key, itself a canary everywhere else.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import psutil
import pytest

from xlr8_kit.testing.meltano_e2e import BIN, TARGET, MeltanoProject
from xlr8_kit.testing.residue import Canary, derived_forms, duckdb_dump, duckdb_tables, scan, sqlite_dump, tree_files
from xlr8_sandbox.company import Company
from xlr8_sandbox.platform import tokens as sandbox_tokens
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox, run_sandbox
from xlr8_sandbox.products import salesforce as salesforce_emulator
from xlr8_sandbox.products import successfactors as successfactors_emulator

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
#: tap-salesforce's credential settings (flat, one Meltano setting each).
SF_AUTH_SETTINGS = ("auth_type", "client_id", "client_secret", "username", "password", "security_token")
STATE_IDS = {tap: f"sandbox:{tap}-to-{TARGET}" for tap in ("tap-salesforce", "tap-sap-successfactors")}

# Canaries: values nothing else contains, with characters that URL and JSON encoding change.
SF_CLIENT_ID = "xlr8-sandbox-connected-app"
SF_USERNAME = "integration@acme.example"
SF_CLIENT_SECRET = 'CANARY-sfcs/7c1d+Qv="k&x 41'
SF_PASSWORD = "CANARY-sfpw/3e9a+b=&z?8"
SF_SECURITY_TOKEN = "CANARYsectok5b2e8d"
SFSF_USER = "sfapi"
SFSF_COMPANY = "ACMEDEV"
SFSF_PASSWORD = 'CANARY-sfsf/8d41+Q="k&p'


class CanaryAccessTokens:
    """Stands in for the sandbox token store's randomness: every access token is a canary known in advance.

    All tokens of one run (discovery, sync, a forced refresh) are the same, so an error body can echo exactly
    the bearer token the tap sent: a token the tap never held is server data, not a secret it could mask.
    """

    def __init__(self) -> None:
        self.run = 0
        self.issued: list[str] = []

    @staticmethod
    def predict(run: int) -> str:
        return f"CANARY-access-{run:02d}-Zq7x9Wb3"

    def current(self) -> str:
        return self.predict(self.run)

    def token_urlsafe(self, nbytes: int | None = None) -> str:
        del nbytes
        self.issued.append(self.current())
        return self.current()


@dataclass
class Canaries:
    tokens: CanaryAccessTokens
    encryption_key: str = ""

    def all(self) -> list[Canary]:
        planted = [
            Canary("salesforce client_secret", SF_CLIENT_SECRET, user=SF_CLIENT_ID),
            Canary("salesforce password", SF_PASSWORD),
            Canary("salesforce password+token", SF_PASSWORD + SF_SECURITY_TOKEN, user=SF_USERNAME),
            Canary("salesforce security_token", SF_SECURITY_TOKEN),
            Canary("successfactors password", SFSF_PASSWORD, user=f"{SFSF_USER}@{SFSF_COMPANY}"),
            *(Canary(f"access token {i}", CanaryAccessTokens.predict(i)) for i in range(8)),
        ]
        if self.encryption_key:
            planted.append(Canary("encryption key", self.encryption_key))
        return planted


@pytest.fixture
def canaries(monkeypatch: pytest.MonkeyPatch) -> Canaries:
    """The emulators accept only the canary credentials and hand out only canary access tokens."""
    tokens = CanaryAccessTokens()
    monkeypatch.setattr(salesforce_emulator, "CLIENT_SECRET", SF_CLIENT_SECRET)
    monkeypatch.setattr(salesforce_emulator, "PASSWORD", SF_PASSWORD)
    monkeypatch.setattr(salesforce_emulator, "SECURITY_TOKEN", SF_SECURITY_TOKEN)
    monkeypatch.setattr(successfactors_emulator, "API_PASSWORD", SFSF_PASSWORD)
    monkeypatch.setattr(sandbox_tokens, "secrets", tokens)
    return Canaries(tokens)


@pytest.fixture
def sandbox(canaries: Canaries) -> Iterator[Sandbox]:
    with run_sandbox(["salesforce", "successfactors"], scale=100) as running:
        yield running


# --- the project copy, the credential store and meltano ----------------------------------------------------------


@dataclass
class Workspace:
    """One test's directory: a ``MeltanoProject`` copy plus credential store, key, audit log and TMPDIR, so
    everything a run writes lands under ``root``."""

    melt: MeltanoProject
    sandbox: Sandbox
    canaries: Canaries
    outputs: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def create(cls, root: Path, sandbox: Sandbox, canaries: Canaries) -> Workspace:
        """The project's meltano.yml with the sandbox's own plaintext credentials removed from the two taps."""

        def strip_auth(data: dict[str, Any]) -> None:
            env_config = next(e for e in data["environments"] if e["name"] == "sandbox")["config"]["plugins"]
            for extractor in env_config["extractors"]:
                if extractor["name"] in STATE_IDS:
                    for name in (*SF_AUTH_SETTINGS, "auth"):
                        extractor["config"].pop(name, None)

        for directory in ("tmp", "audit"):
            (root / directory).mkdir(parents=True, exist_ok=True)
        env = {"TMPDIR": str(root / "tmp"), "XLR8_CREDENTIALS_KEY_FILE": str(root / "keys" / "credentials.key")}
        return cls(MeltanoProject.copy_of(ROOT / "meltano.yml", root, env=env, edit=strip_auth), sandbox, canaries)

    @property
    def root(self) -> Path:
        return self.melt.root

    @property
    def truths(self) -> Path:
        return self.melt.truths

    @property
    def audit_log(self) -> Path:
        return self.root / "audit" / "requests.jsonl"

    @property
    def credential_store(self) -> Path:
        return self.root / "credentials" / "credentials.db"

    @property
    def key_file(self) -> Path:
        return Path(self.melt.env["XLR8_CREDENTIALS_KEY_FILE"])

    def tap_env(self, tap: str, *, mode: str, http: dict[str, Any] | None = None) -> dict[str, str]:
        """Only the URL, the object list and either the credential id and store or the plain sensitive settings."""
        if tap == "tap-salesforce":
            env = {
                "TAP_SALESFORCE_LOGIN_URL": self.sandbox.url("salesforce"),
                "TAP_SALESFORCE_OBJECTS": json.dumps(["Account", "Contact"]),
                "TAP_SALESFORCE_AUDIT_LOG_PATH": str(self.audit_log),
            }
            if mode == "plain":
                env.update({
                    "TAP_SALESFORCE_AUTH_TYPE": "password", "TAP_SALESFORCE_CLIENT_ID": SF_CLIENT_ID,
                    "TAP_SALESFORCE_CLIENT_SECRET": SF_CLIENT_SECRET, "TAP_SALESFORCE_USERNAME": SF_USERNAME,
                    "TAP_SALESFORCE_PASSWORD": SF_PASSWORD, "TAP_SALESFORCE_SECURITY_TOKEN": SF_SECURITY_TOKEN,
                })  # fmt: skip
        else:
            env = {
                "TAP_SAP_SUCCESSFACTORS_API_URL": self.sandbox.url("successfactors"),
                "TAP_SAP_SUCCESSFACTORS_ENTITY_SETS": json.dumps(["User", "FODepartment"]),
                "TAP_SAP_SUCCESSFACTORS_AUDIT_LOG_PATH": str(self.audit_log),
            }
            if mode == "plain":
                env["TAP_SAP_SUCCESSFACTORS_AUTH_USERNAME"] = SFSF_USER
                env["TAP_SAP_SUCCESSFACTORS_AUTH_PASSWORD"] = SFSF_PASSWORD
        prefix = tap.upper().replace("-", "_")
        if mode == "credential_id":
            env[f"{prefix}_CREDENTIAL_ID"] = credential_id(tap)
            env[f"{prefix}_CREDENTIAL_STORE"] = str(self.credential_store)
        if http:
            env[f"{prefix}_HTTP"] = json.dumps(http)
        return env

    def meltano(self, label: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Meltano at DEBUG (D1); its output is kept for the scan."""
        try:
            result = self.melt.meltano("--log-level=debug", *args, env=env)
        finally:
            self.canaries.tokens.run += 1
        self.outputs[f"{label} stdout"] = result.stdout.encode()
        self.outputs[f"{label} stderr"] = result.stderr.encode()
        return result

    def run(self, label: str, tap: str, *, mode: str, http: dict[str, Any] | None = None) -> Any:
        return self.meltano(label, "run", tap, TARGET, env=self.tap_env(tap, mode=mode, http=http))

    def start_run(self, tap: str, *, mode: str) -> subprocess.Popen[bytes]:
        """A run in its own process group, so a SIGKILL reaches meltano, the tap and the target at once."""
        return subprocess.Popen(
            [str(BIN / "meltano"), "--log-level=debug", f"--environment={self.melt.environment}", "run", tap, TARGET],
            cwd=self.melt.project,
            env={**self.melt.base_env(), **self.melt.env, **self.tap_env(tap, mode=mode)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )

    def state(self, tap: str) -> dict[str, Any]:
        result = self.meltano(f"state get {tap}", "state", "get", STATE_IDS[tap])
        assert result.returncode == 0, result.stderr[-2000:]
        return json.loads(result.stdout)

    def everything(self) -> dict[str, bytes]:
        """Every byte the runs left (files, rows, outputs), the key file excepted."""
        blobs = {**self.outputs, **tree_files(self.root, exclude=[self.key_file.parent])}
        system_db = self.melt.sys_dir / "meltano.db"
        if system_db.exists():
            blobs["system db rows"] = sqlite_dump(system_db)
        if self.truths.exists():
            blobs["truths rows"] = duckdb_dump(self.truths)
        return blobs

    def leaks(self) -> list[str]:
        return scan(self.canaries.all(), self.everything())

    def meltano_config_files(self, tap: str) -> list[Path]:
        return sorted((self.melt.sys_dir / "run" / tap).glob("tap.*.config.json"))


def credential_id(tap: str) -> str:
    return {"tap-salesforce": "sf-canary-prod", "tap-sap-successfactors": "sfsf-canary-prod"}[tap]


@pytest.fixture
def workspace(tmp_path: Path, sandbox: Sandbox, canaries: Canaries) -> Workspace:
    return Workspace.create(tmp_path, sandbox, canaries)


def store_credentials(space: Workspace) -> None:
    """Generate a key and add both credentials through the real ``xlr8-credentials`` CLI (secrets on stdin)."""
    cli = str(BIN / "xlr8-credentials")
    env = {**space.melt.base_env(), **space.melt.env}
    credentials = {
        "tap-salesforce": ("salesforce", "session_login", {
            "auth_type": "password", "client_id": SF_CLIENT_ID, "client_secret": SF_CLIENT_SECRET,
            "username": SF_USERNAME, "password": SF_PASSWORD, "security_token": SF_SECURITY_TOKEN,
        }),
        "tap-sap-successfactors": ("successfactors", "basic", {
            "auth.type": "basic", "auth.username": SFSF_USER, "auth.password": SFSF_PASSWORD,
        }),
    }  # fmt: skip
    outputs = []
    generated = subprocess.run(
        [cli, "generate-key", "--key-file", str(space.key_file)], env=env, capture_output=True, text=True, check=False
    )
    assert generated.returncode == 0, generated.stderr
    outputs.append(generated.stdout + generated.stderr)
    for tap, (product, auth_type, secrets) in credentials.items():
        added = subprocess.run(
            [cli, "--store", str(space.credential_store), "add", "--id", credential_id(tap), "--project", "acme",
             "--product", product, "--auth-type", auth_type, "--stdin"],
            input=json.dumps(secrets), env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        assert f"stored credential {credential_id(tap)}" in added.stdout
        outputs.append(added.stdout + added.stderr)
    space.outputs["xlr8-credentials"] = "\n".join(outputs).encode()
    key_line = space.key_file.read_text().strip().splitlines()[0]
    space.canaries.encryption_key = key_line.split(":", 1)[1] if ":" in key_line else key_line
    assert len(base64.b64decode(space.canaries.encryption_key)) == 32  # the AES-256 key itself is a canary


# --- what landed ---------------------------------------------------------------------------------------------------


def landed(space: Workspace, product: str) -> dict[str, int]:
    """Rows per truths table of one product (the positive control that the run really moved data)."""
    counts = {}
    with duckdb.connect(str(space.truths), read_only=True) as conn:
        for table in duckdb_tables(space.truths):
            if f"_{product}_" in table:
                row = conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()
                counts[table.split(f"_{product}_", 1)[1]] = row[0] if row else 0
    return counts


def audit_lines(space: Workspace) -> list[dict[str, Any]]:
    return [json.loads(line) for line in space.audit_log.read_text().splitlines() if line.strip()]


def assert_clean(space: Workspace) -> None:
    leaks = space.leaks()
    assert not leaks, "canary found:\n" + "\n".join(leaks)


def found(value: str, blobs: dict[str, bytes]) -> list[str]:
    return [where for where, data in blobs.items() if value.encode() in data]


# --- tests ---------------------------------------------------------------------------------------------------------


def test_d1_scanner_sees_every_form_of_every_canary(canaries: Canaries) -> None:
    """A clean scan proves nothing unless the scanner finds each form, embedded in other bytes."""
    canaries.encryption_key = "a2V5LWNhbmFyeS0wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc="
    for canary in canaries.all():
        for form, needle in canary.forms().items():
            assert f"blob: {canary.name} ({form})" in scan([canary], {"blob": b"noise " + needle + b" noise"})
    assert {"plain", "url", "url_plus", "json", "json2", "base64_0", "basic"} <= set(canaries.all()[0].forms())
    assert derived_forms(SF_CLIENT_SECRET)["json"] != SF_CLIENT_SECRET.encode()  # the JSON form is a real escape
    assert scan(canaries.all(), {"clean": b"sf-canary-prod integration@acme.example /services/data"}) == []


@pytest.mark.parametrize(
    ("tap", "product", "tables"),
    [
        ("tap-salesforce", "salesforce", {"account": 50, "contact": 100}),
        ("tap-sap-successfactors", "successfactors", {"user": 100}),
    ],
)
def test_c6_d1_credential_id_run_leaves_no_canary_anywhere(
    workspace: Workspace, tap: str, product: str, tables: dict[str, int]
) -> None:
    store_credentials(workspace)
    result = workspace.run("run", tap, mode="credential_id")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[debug" in result.stderr  # Meltano really logged at DEBUG

    counts = landed(workspace, product)
    for table, rows in tables.items():
        assert counts.get(table) == rows, counts
    state = workspace.state(tap)
    assert state["singer_state"]["bookmarks"], state

    lines = audit_lines(workspace)
    assert lines, "the audit log is empty"
    assert {line["credential_id"] for line in lines} == {credential_id(tap)}
    assert workspace.meltano_config_files(tap) == []
    assert list((workspace.root / "tmp").iterdir()) == []  # the run's TMPDIR: nothing left behind

    everything = workspace.everything()
    assert_clean(workspace)
    # Positive controls: the scan did see the places it calls clean.
    assert found(credential_id(tap), everything), "the credential id is nowhere: the scan saw nothing"
    assert any(name.endswith("credentials.db") for name in everything)
    truth_tables = duckdb_tables(workspace.truths)
    assert "_truths_ledger" in truth_tables
    assert "_dead_letters" in truth_tables
    if product == "salesforce":
        emulator: Any = workspace.sandbox.emulator("salesforce")
        known_value = emulator.objects["Account"].base_record(0)["Name"]
        assert workspace.canaries.tokens.issued, "no access token was issued: the run did not authenticate"
    else:
        known_value = Company(seed=42, scale=100).employee(0).last_name
    assert "truths rows" in found(known_value, everything)


def test_c6_plain_sensitive_settings_normal_and_failed_runs(workspace: Workspace) -> None:
    """Secrets through Meltano: nothing in logs, state, store or audit; Meltano's config file is deleted again,
    after a normal run and after a run that fails on a 500 (echoing the secrets) forever."""
    tap = "tap-salesforce"
    normal = workspace.run("normal run", tap, mode="plain")
    assert normal.returncode == 0, normal.stderr[-3000:]
    assert landed(workspace, "salesforce") == {"account": 50, "contact": 100}
    assert workspace.meltano_config_files(tap) == []
    assert list((workspace.root / "tmp").iterdir()) == []
    assert_clean(workspace)
    first_state = workspace.state(tap)
    assert first_state["singer_state"]["bookmarks"]

    echo = json.dumps([{"errorCode": "UNKNOWN_EXCEPTION", "message": echo_of_everything(workspace)}])
    workspace.sandbox.faults.add("salesforce", "/services/data/*/query*", FaultSpec("status", status=500, body=echo))
    failed = workspace.run("failed run", tap, mode="plain", http={"max_attempts": 2, "backoff_base": 0})
    assert failed.returncode != 0
    assert "500" in failed.stderr
    assert any(r.status == 500 for r in workspace.sandbox.requests("salesforce"))
    assert workspace.meltano_config_files(tap) == []
    assert_clean(workspace)
    assert workspace.state(tap) == first_state  # the failed run moved no bookmark
    assert landed(workspace, "salesforce") == {"account": 50, "contact": 100}


def echo_of_everything(space: Workspace) -> str:
    """What a careless server puts in an error page: the request's Authorization header and form, re-encoded."""
    return (
        f"Request rejected. Authorization: Bearer {space.canaries.tokens.current()}"
        + f" grant_type=password&client_id={SF_CLIENT_ID}&client_secret={SF_CLIENT_SECRET}"
        + f"&username={SF_USERNAME}&password={SF_PASSWORD}{SF_SECURITY_TOKEN}"
        + f" debug={derived_forms(SF_CLIENT_SECRET)['url'].decode()} {json.dumps(SF_PASSWORD)}"
    )


def test_d1_failed_run_on_401_echoing_authorization_is_redacted(workspace: Workspace) -> None:
    """Salesforce answers every query 401 with a body that echoes the bearer token and the login form: the forced
    refresh gets one too, the run fails non-zero with a redacted, actionable error, and no canary is anywhere."""
    store_credentials(workspace)
    tap = "tap-salesforce"
    body = json.dumps([{"errorCode": "INVALID_SESSION_ID", "message": echo_of_everything(workspace)}])
    rule = workspace.sandbox.faults.add(
        "salesforce", "/services/data/*/query*", FaultSpec("status", status=401, body=body)
    )
    result = workspace.run("401 run", tap, mode="credential_id")
    assert result.returncode != 0
    assert rule.fired >= 2, "the 401 was not answered twice (request, then retry after the forced refresh)"
    issued = workspace.canaries.tokens.issued
    assert len(issued) >= 3, issued  # discovery, sync, and the forced refresh after the first 401
    assert "401" in result.stderr
    assert "re-authentication required" in result.stderr, result.stderr[-3000:]
    assert "Authorization: Bearer ***" in result.stderr  # the echo reached the log, masked
    assert workspace.meltano_config_files(tap) == []
    assert_clean(workspace)
    assert found(credential_id(tap), workspace.everything())


def test_d1_failed_run_on_401_echoing_basic_authorization_is_redacted(workspace: Workspace) -> None:
    """SuccessFactors with plain sensitive settings (Basic): every entity read answers 401 echoing the Basic
    header; the run fails non-zero and neither the password nor base64 of user:password is anywhere."""
    tap = "tap-sap-successfactors"
    basic = Canary("successfactors password", SFSF_PASSWORD, user=f"{SFSF_USER}@{SFSF_COMPANY}").forms()["basic"]
    message = f"[LGN0011]Invalid credentials. Authorization: Basic {basic.decode()} password={SFSF_PASSWORD}"
    body = json.dumps({"error": {"code": "LGN0011", "message": {"lang": "en-US", "value": message}}})
    rule = workspace.sandbox.faults.add("successfactors", "/odata/v2/User*", FaultSpec("status", status=401, body=body))
    result = workspace.run("401 run", tap, mode="plain", http={"max_attempts": 2, "backoff_base": 0})
    assert result.returncode != 0
    assert rule.fired >= 1
    assert "HTTP 401" in result.stderr, result.stderr[-3000:]
    assert "Authorization: Basic *** password=***" in result.stderr  # the echo reached the log, masked
    assert workspace.meltano_config_files(tap) == []
    assert_clean(workspace)


def sigkill_mid_sync(space: Workspace, tap: str, *, mode: str) -> list[Path]:
    """Start a run, SIGKILL its whole process group once the tap has read a page (each query takes 1.5 s, so it
    is in the middle of the next); return Meltano's leftover config files."""
    space.sandbox.faults.set_latency("salesforce", 1500, "/services/data/*/query*")
    proc = space.start_run(tap, mode=mode)
    try:
        deadline = time.monotonic() + 120
        # This run's own audit log, not the sandbox's request log: a killed run's delayed request lands there late.
        while not (space.audit_log.exists() and "/query" in space.audit_log.read_text()):
            assert proc.poll() is None, "the run ended before it read any data"
            assert time.monotonic() < deadline, "the tap never started reading"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    finally:
        space.canaries.tokens.run += 1
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    space.outputs[f"sigkilled {mode} stdout"] = out
    space.outputs[f"sigkilled {mode} stderr"] = err
    wait_for_group_gone(proc.pid)
    space.sandbox.faults.clear("salesforce")
    return space.meltano_config_files(tap)


def wait_for_group_gone(pgid: int) -> None:
    """The tap and target die with meltano; the scan must not race a process still writing."""
    deadline = time.monotonic() + 30
    while True:
        alive = []
        for process in psutil.process_iter(["pid"]):
            try:
                if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(process.pid)
            except (ProcessLookupError, psutil.Error):
                continue
        if not alive:
            return
        assert time.monotonic() < deadline, f"processes of the killed run still alive: {alive}"
        time.sleep(0.1)


def test_c6_sigkilled_run_credential_id_leaves_no_canary_plain_settings_do(
    workspace: Workspace, tmp_path: Path
) -> None:
    """SIGKILL skips Meltano's cleanup hook, so its config file stays: with plain settings it holds the secrets
    (Meltano's behaviour, pinned here); with credential_id it holds only the id, and no canary is anywhere."""
    tap = "tap-salesforce"
    store_credentials(workspace)
    left = sigkill_mid_sync(workspace, tap, mode="credential_id")
    assert left, "SIGKILL left no Meltano config file: the residue this test is about did not occur"
    config = json.loads(left[0].read_text())
    assert config["credential_id"] == credential_id(tap)
    assert not {"auth", *SF_AUTH_SETTINGS} & set(config)
    assert_clean(workspace)

    plain = Workspace.create(tmp_path / "plain", workspace.sandbox, workspace.canaries)
    workspace.sandbox.reset()
    left = sigkill_mid_sync(plain, tap, mode="plain")
    assert left, "SIGKILL left no Meltano config file"
    leaks = plain.leaks()
    assert leaks, "the plain-settings config file Meltano left behind no longer holds the secret"
    assert all(f"/.meltano/run/{tap}/tap." in leak.split(": ", 1)[0] for leak in leaks), leaks
