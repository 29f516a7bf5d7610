"""B5 with Salesforce refresh-token rotation: a run configured by ``credential_id`` saves each rotated refresh
token in the credential store before using it, so the next run starts from the live token, never a spent one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.credentials.model import AuthType, ProductCredential
from xlr8_kit.testing.credential_store import seeded_credential_store

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


def test_b5_rotated_refresh_token_is_persisted_and_used_by_the_next_run(
    sf: Any, sandbox: Any, manager: CredentialManager, tmp_path: Path
) -> None:
    emulator = sf.emulator(sandbox)
    emulator.rotate_refresh_tokens = True
    original = manager.get(CREDENTIAL).credentials["refresh_token"]
    config = {
        "login_url": sandbox.url("salesforce"),
        "credential_id": CREDENTIAL,
        "credential_store": str(tmp_path / "credentials.db"),
        "auth_type": "refresh_token",
        "objects": ["Project__c"],
    }
    first = sf.run_tap(config)
    assert len(first.records("Project__c")) == 10
    after_first = manager.get(CREDENTIAL).credentials["refresh_token"]
    assert after_first != original
    assert emulator._refresh_tokens >= {after_first}
    assert original not in emulator._refresh_tokens  # spent: only the stored token still works

    second = sf.run_tap(config)  # would fail with invalid_grant had the rotation stayed in memory
    assert len(second.records("Project__c")) == 10
    assert manager.get(CREDENTIAL).credentials["refresh_token"] not in (original, after_first)
    assert manager.get(CREDENTIAL).version == 3
    output = "\n".join(str(line) for line in [*first.lines, *second.lines])
    assert original not in output  # tokens never appear in the Singer output
    assert after_first not in output
