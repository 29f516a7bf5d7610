"""The gatherer: rule-based analysis of questions, and live gathering from a product into truths (DuckDB)."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest

from xlr8_gather.gather import GatherReport, analyse, gather
from xlr8_kit.cli import main
from xlr8_kit.connectors import ConnectorError
from xlr8_kit.privacy.cipher import generate_key_file
from xlr8_kit.query import And, Between, Compare, In, QueryError
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_ready import API_KEY, PASSWORD, STATUS, UkgReadyEmulator
from xlr8_sandbox.testing import emulator_fixtures

PROJECT = "6f1c2a9e-5a4d-4b8e-9c1f-0a5d5a4d0b01"
#: target-xlr8-truths' 256MB default buffer pool cannot stage a batch (read_json asks for 256 MiB): reported.
TARGET = {"duckdb_memory_limit": "1GB"}


@pytest.mark.parametrize(
    ("question", "entities", "filters", "products", "intent"),
    [
        (
            "How many active employees were hired in 2024?",
            ("employee",),
            And(
                (
                    Compare("employment_status", "=", "active"),
                    Between("hire_date", date(2024, 1, 1), date(2024, 12, 31)),
                )
            ),
            (),
            "count",
        ),
        (
            "List the people on leave in UKG Pro",
            ("employee",),
            Compare("employment_status", "=", "leave"),
            ("ukg_pro",),
            "list",
        ),
        (
            "Which workers in department d003 were hired since 2023-06-01 in Workday and SAP_SF?",
            ("employee",),
            And((Compare("hire_date", ">=", date(2023, 6, 1)), Compare("department_code", "=", "D003"))),
            ("workday_hcm", "successfactors"),
            "list",
        ),
        (
            "Show active and terminated staff hired before 2019",
            ("employee",),
            And((In("employment_status", ("active", "terminated")), Compare("hire_date", "<", date(2019, 1, 1)))),
            (),
            "list",
        ),
        ("What job codes and cost centers do we have?", ("job", "cost_center"), None, (), "list"),
        (
            "Open opportunities for accounts in Salesforce",
            ("opportunity", "crm_account"),
            None,
            ("salesforce",),
            "list",
        ),
    ],
)
def test_analyse_is_rule_based_and_deterministic(
    question: str, entities: tuple[str, ...], filters: object, products: tuple[str, ...], intent: str
) -> None:
    first = analyse(question)
    assert first == analyse(question)
    assert first.entities == entities
    assert first.filters[entities[0]] == filters
    assert first.products == products
    assert first.intent == intent


sandbox, emulator, url = emulator_fixtures("ukg_ready", scale=40)


class Product:
    """A real product to gather from: tap-ukg-ready's installed connector over its emulator."""

    def __init__(self, sandbox: Sandbox, emulator: UkgReadyEmulator, url: str) -> None:
        self.url, self.emulator = url, emulator
        self.source = {"base_url": url, **emulator.test_credentials()}
        self.rows = [
            {"employee_id": e.employee_id, "hired_date": e.hire_date.isoformat(), "status": STATUS[e.status]}
            for e in sandbox.ctx.company.employees()
        ]


@pytest.fixture
def fake_product(sandbox: Sandbox, emulator: UkgReadyEmulator, url: str) -> Product:
    return Product(sandbox, emulator, url)


def test_gather_lands_the_answer_as_reality_truths(fake_product: Product, tmp_path: Path) -> None:
    duckdb_path = str(tmp_path / "truths.duckdb")
    messages: list[str] = []
    sources = {"ukg_ready": {**fake_product.source, "page_size": 7}}
    truths = gather(
        "How many active employees were hired since 2018?",
        project=PROJECT,
        sources=sources,
        duckdb_path=duckdb_path,
        progress=messages.append,
        target_settings=TARGET,
    )
    expected = [r for r in fake_product.rows if r["status"] == "Active" and r["hired_date"] >= "2018-01-01"]
    assert expected
    assert len(truths) == 1
    truth = truths[0]
    assert truth.source_type == "reality"
    assert [r["employee_id"] for r in truth.content] == [r["employee_id"] for r in expected]
    assert truth.metadata["rows"] == len(expected)
    assert truth.metadata["product"] == "ukg_ready"
    assert truth.metadata["params"] == {"status": "Active"}
    assert truth.metadata["canonical_fields"]["hired_date"] == "hire_date"
    assert truth.location.startswith(f"duckdb:{duckdb_path}#")
    assert all(q["status"] == "Active" for q in fake_product.emulator.employee_queries)
    assert any("landed" in m for m in messages)

    import duckdb

    with duckdb.connect(duckdb_path, read_only=True) as conn:
        table = truth.metadata["table"]
        landed = conn.execute(f'SELECT employee_id FROM "{table}" ORDER BY employee_id').fetchall()
    assert [row[0] for row in landed] == sorted(r["employee_id"] for r in expected)


def test_gather_skips_products_without_the_entity_or_credentials(fake_product: Product, tmp_path: Path) -> None:
    report = GatherReport()
    truths = gather(
        "opportunities and employees in salesforce and ukg ready",
        project=PROJECT,
        sources={"ukg_ready": fake_product.source},
        duckdb_path=str(tmp_path / "t.duckdb"),
        report=report,
        target_settings=TARGET,
    )
    assert [(tr.metadata["product"], tr.metadata["entity"]) for tr in truths] == [("ukg_ready", "employee")]
    assert ("ukg_ready", "opportunity", "ukg_ready has no opportunity data") in report.skipped
    assert ("salesforce", "opportunity", "the project has no credential for salesforce") in report.skipped


def test_gather_refuses_a_question_without_entities(tmp_path: Path) -> None:
    with pytest.raises(QueryError, match="no entity recognised"):
        gather("what is the weather?", project=PROJECT, sources={}, duckdb_path=str(tmp_path / "t.duckdb"))


def test_cli_gather_prints_a_table(fake_product: Product, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import xlr8_gather.gather as gather_module

    sources = {"ukg_ready": fake_product.source}
    monkeypatch.setattr(gather_module, "project_sources", lambda project, store: sources)
    monkeypatch.setattr(gather_module, "CLI_TARGET_SETTINGS", TARGET)
    monkeypatch.setenv("XLR8_PII_KEY_FILE", str(generate_key_file(tmp_path / "pii.key")))  # salaries are PII
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["gather", "--project", PROJECT, "--duckdb", str(tmp_path / "t.duckdb"), "How many employees are on leave?"],
        out=out,
        err=err,
    )
    assert code == 0, err.getvalue()
    on_leave = sum(1 for r in fake_product.rows if r["status"] == "On Leave")
    answer, _, table = out.getvalue().partition("\n\n")
    assert answer.splitlines() == ["answer:", f"  ukg_ready employee: count = {on_leave}"]  # the answer comes first
    lines = table.splitlines()
    assert lines[0].split() == [
        "product",
        "entity",
        "type",
        "rows",
        "landed",
        "dead-lettered",
        "query",
        "as",
        "sent",
        "location",
    ]
    assert lines[2].split()[:6] == ["ukg_ready", "employee", "reality", str(on_leave), str(on_leave), "0"]
    assert "ukg_ready: reading employee (employee where employment_status = 'leave')" in err.getvalue()
    assert API_KEY not in out.getvalue() + err.getvalue()
    assert PASSWORD not in out.getvalue() + err.getvalue()


def test_sandbox_sources_come_from_meltano_sandbox_environment(tmp_path: Path) -> None:
    from xlr8_gather.gather import sandbox_sources

    meltano_yml = tmp_path / "meltano.yml"
    meltano_yml.write_text(
        "environments:\n"
        "- name: sandbox\n"
        "  config:\n"
        "    plugins:\n"
        "      extractors:\n"
        "      - name: tap-sap-successfactors\n"
        "        config: {api_url: 'http://127.0.0.1:18102', company_id: ACMEDEV}\n"
        "      - name: tap-not-a-product\n"
        "        config: {x: 1}\n"
        "- name: prod\n",
        encoding="utf-8",
    )
    assert sandbox_sources(str(meltano_yml)) == {
        "successfactors": {"api_url": "http://127.0.0.1:18102", "company_id": "ACMEDEV"}
    }
    meltano_yml.write_text("environments: []\n", encoding="utf-8")
    with pytest.raises(ConnectorError, match="has no 'sandbox' environment"):
        sandbox_sources(str(meltano_yml))


def test_cli_gather_uses_the_projects_credentials_from_the_store(
    fake_product: Product, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64
    import os

    import xlr8_gather.gather as gather_module
    from xlr8_kit.credentials.model import AuthType, ProductCredential
    from xlr8_kit.credentials.resolve import open_manager

    monkeypatch.setenv("XLR8_CREDENTIALS_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setattr(gather_module, "CLI_TARGET_SETTINGS", TARGET)
    monkeypatch.setenv("XLR8_PII_KEY_FILE", str(generate_key_file(tmp_path / "pii.key")))  # salaries are PII
    store = str(tmp_path / "credentials.db")
    manager = open_manager(store)
    try:
        for cid, project in (("ready-mine", PROJECT), ("ready-other", "11111111-2222-3333-4444-555555555555")):
            secrets = fake_product.source
            manager.store(ProductCredential(cid, project, "ukg_ready", AuthType.SESSION_LOGIN, secrets))
    finally:
        manager.close()
    out, err = io.StringIO(), io.StringIO()
    argv = ["gather", "--project", PROJECT, "--store", store, "--duckdb", str(tmp_path / "t.duckdb"), "--json"]
    code = main([*argv, "Which terminated employees are there?"], out=out, err=err)
    assert code == 0, err.getvalue()
    import json

    truths = json.loads(out.getvalue())
    assert [t["metadata"]["credential_id"] for t in truths] == ["ready-mine"]
    expected = sorted(r["employee_id"] for r in fake_product.rows if r["status"] == "Terminated")
    assert sorted(r["employee_id"] for r in truths[0]["content"]) == expected
    assert API_KEY not in out.getvalue() + err.getvalue()
    assert PASSWORD not in out.getvalue() + err.getvalue()
