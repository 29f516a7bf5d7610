"""Fixtures for the credential store tests: fresh keys, a store under tmp_path, a frozen clock."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from xlr8_kit.credentials.crypto import EnvelopeCipher, Keyring
from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.credentials.model import AuthType, ProductCredential
from xlr8_kit.credentials.store import SQLiteCredentialStore
from xlr8_kit.testing.residue import derived_forms, scan_for, store_files

#: A value no other test data contains, so finding it anywhere is a leak.
CANARY = "CANARY-s3cr3t-9f27c1d4e8b6-xyz"


class FrozenClock:
    def __init__(self, start: datetime = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def key_b64() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.parse(f"k1:{key_b64()}", source="test")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / ".xlr8" / "credentials.db"


@pytest.fixture
def make_manager(db_path: Path, clock: FrozenClock) -> Iterator[Callable[..., CredentialManager]]:
    opened: list[CredentialManager] = []

    def make(keyring: Keyring, path: Path | None = None, **kw: object) -> CredentialManager:
        manager = CredentialManager(
            SQLiteCredentialStore(path or db_path),
            EnvelopeCipher(keyring),
            clock=clock,
            **kw,  # type: ignore[arg-type]
        )
        opened.append(manager)
        return manager

    yield make
    for manager in opened:
        manager.close()


@pytest.fixture
def manager(make_manager: Callable[..., CredentialManager], keyring: Keyring) -> CredentialManager:
    return make_manager(keyring)


def sample_credential(credential_id: str = "sf-prod", *, project_id: str = "acme", **secrets: str) -> ProductCredential:
    return ProductCredential(
        credential_id=credential_id,
        project_id=project_id,
        product_id="salesforce",
        auth_type=AuthType.OAUTH2_REFRESH_TOKEN,
        credentials=secrets or {"client_id": "client-abc", "client_secret": CANARY, "refresh_token": "rt-0001-initial"},
        instance_url="https://acme.my.salesforce.com",
    )


@pytest.fixture
def make_credential() -> Callable[..., ProductCredential]:
    return sample_credential


@pytest.fixture
def residue() -> object:
    class Residue:
        forms = staticmethod(derived_forms)
        scan = staticmethod(scan_for)
        files = staticmethod(store_files)

    return Residue()


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., CliResult]:
    """Run the installed ``xlr8-credentials`` console script in ``tmp_path`` with a clean key environment."""
    script = Path(sys.executable).parent / "xlr8-credentials"
    assert script.exists(), f"console script missing: {script} (run uv sync)"

    def run(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> CliResult:
        base = {k: v for k, v in os.environ.items() if not k.startswith("XLR8_CREDENTIALS")}
        proc = subprocess.run(
            [str(script), *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**base, **(env or {})},
            timeout=60,
            check=False,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run
