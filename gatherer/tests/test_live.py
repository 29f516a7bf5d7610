"""The plan's ``LiveDataGatherer`` over a credential store: projects by name, credentials stored under product
aliases, hosts from each credential's ``instance_url``; the plan's sample runs as written."""

from __future__ import annotations

import base64
import os
import typing as t
import uuid
from pathlib import Path

import pytest

from xlr8_gather.gather import PROJECT_NAMESPACE, project_uuid
from xlr8_gather.live import LiveDataGatherer
from xlr8_kit.credentials.model import AuthType, ProductCredential
from xlr8_kit.credentials.resolve import open_manager
from xlr8_kit.privacy.cipher import generate_key_file
from xlr8_sandbox.platform.server import Sandbox

HOST = {"salesforce": "login_url", "successfactors": "api_url", "ukg_pro": "base_url"}
#: product as a person would type it when storing the credential
ALIAS = {"salesforce": "sfdc", "successfactors": "sap_sf", "ukg_pro": "tap-ukg-pro"}


def _fields(config: dict[str, t.Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_fields(value, f"{prefix}{key}."))
        elif isinstance(value, str) and key not in HOST.values():
            out[f"{prefix}{key}"] = str(value)
    return out


@pytest.fixture
def store(
    sources: dict[str, dict[str, t.Any]], sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    monkeypatch.setenv("XLR8_CREDENTIALS_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv("XLR8_PII_KEY_FILE", str(generate_key_file(tmp_path / "pii.key")))
    path = str(tmp_path / "credentials.db")
    manager = open_manager(path)
    try:
        for product, alias in ALIAS.items():
            config = sources[product]
            fields = {k: v for k, v in _fields(config).items() if k not in ("raas_all_reports", "start_date")}
            url = config[HOST[product]]
            manager.store(ProductCredential(f"{product}-acme", "acme", alias, AuthType.BASIC, fields, instance_url=url))
    finally:
        manager.close()
    return path


def test_project_names_map_to_one_uuid() -> None:
    assert project_uuid("acme") == project_uuid("  ACME ") == str(uuid.uuid5(PROJECT_NAMESPACE, "acme"))
    engine_id = "6F1C2A9E-5A4D-4B8E-9C1F-0A5D5A4D0B01"
    assert project_uuid(engine_id) == engine_id.lower()


def test_plan_sample_runs_as_written(store: str, sandbox: Sandbox, tmp_path: Path) -> None:
    project_id = "acme"
    question = "How many employees are on leave in SuccessFactors and UKG Pro?"
    # --- the plan's sample (Integration with Intelligence Engine), store and truths locations added ---
    gatherer = LiveDataGatherer(project_id, store=store, duckdb_path=str(tmp_path / "t.duckdb"))
    truths = gatherer.gather(question)
    # ---
    assert sorted(c.product_id for c in gatherer.credentials) == sorted(ALIAS.values())
    on_leave = sorted(e.employee_id for e in sandbox.ctx.company.employees() if e.status == "leave")
    assert on_leave
    by_product = {tr.metadata["product"]: tr for tr in truths}
    assert set(by_product) == {"successfactors", "ukg_pro"}, gatherer.last_report.skipped
    assert sorted(r["userId"] for r in by_product["successfactors"].content) == on_leave
    assert sorted(r["employeeID"] for r in by_product["ukg_pro"].content) == on_leave
    assert by_product["successfactors"].metadata["stream"] == "EmpJob"
    assert gatherer.last_report.dead_lettered == 0


def test_dict_analysis_is_accepted(store: str, sandbox: Sandbox, tmp_path: Path) -> None:
    gatherer = LiveDataGatherer("acme", store=store, duckdb_path=str(tmp_path / "t.duckdb"))
    analysis = {"entities": ["opportunities"], "filters": {"amount": {">": 100000}}, "products": ["sfdc"]}
    truths = gatherer.gather("big deals", analysis)
    assert [tr.metadata["product"] for tr in truths] == ["salesforce"]
    objects = sandbox.emulator("salesforce").objects["Opportunity"]  # type: ignore[attr-defined]
    every = [objects.base_record(i) for i in range(objects.count)]
    expected = [o for o in every if not o.get("IsDeleted") and o["Amount"] is not None and o["Amount"] > 100000]
    assert 0 < len(expected) < len(every)
    assert sorted(r["Id"] for r in truths[0].content) == sorted(o["Id"] for o in expected)


def test_the_credential_a_project_uses_is_the_one_its_jobs_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """audit25e F18: the gatherer took a project's first credential for a product by id (by stored status, an
    expired one too), the orchestrator the newest active one: two logins, maybe two tenants, for one project.
    Both choose through ``chosen_credentials`` now: newest active, aliases as their product."""
    from datetime import UTC, datetime, timedelta

    from xlr8_gather.gather import project_sources
    from xlr8_kit.credentials.resolve import chosen_credentials

    monkeypatch.setenv("XLR8_CREDENTIALS_KEY", base64.b64encode(os.urandom(32)).decode())
    path = str(tmp_path / "credentials.db")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    manager = open_manager(path)
    try:
        for name, product, age, expires in (
            ("sf-a-old", "salesforce", 3, None),
            ("sf-b-new", "sfdc", 2, None),  # the newest active one, stored under an alias
            ("sf-0-expired", "salesforce", 1, start),  # newer still, but expired
        ):
            manager.store(
                ProductCredential(
                    name, "acme", product, AuthType.BASIC, {"username": "u", "password": "p"},
                    instance_url="https://acme.my.salesforce.com", created_at=start + timedelta(days=10 - age),
                    expires_at=expires,
                )
            )  # fmt: skip
        jobs = chosen_credentials(manager.describe())
    finally:
        manager.close()
    assert {key: row["credential_id"] for key, row in jobs.items()} == {("acme", "salesforce"): "sf-b-new"}
    assert project_sources("acme", path) == {"salesforce": {"credential_id": "sf-b-new", "credential_store": path}}
