"""How ``xlr8-demo`` reads meltano.yml, picks emulators, counts progress and reads the truths store."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest

from xlr8_sandbox.demo import (
    DemoError,
    DemoPlan,
    Extractor,
    TapRun,
    main,
    make_plan,
    plugin_config,
    product_for,
    read_landed,
    record_counts,
    render_summary,
)

PROJECT = "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"


def write_project(root: Path, extractors: list[dict[str, Any]], target_config: dict[str, Any]) -> Path:
    import yaml

    project = {
        "version": 1,
        "default_environment": "sandbox",
        "environments": [
            {
                "name": "sandbox",
                "config": {
                    "plugins": {
                        "extractors": extractors,
                        "loaders": [{"name": "target-xlr8-truths", "config": target_config}],
                    }
                },
            }
        ],
        "plugins": {
            "extractors": [
                {"name": "tap-salesforce"},
                {"name": "tap-sap-successfactors"},
                {"name": "tap-mystery"},
                {"name": "tap-salesforce--job", "inherit_from": "tap-salesforce"},
            ],
            "loaders": [{"name": "target-xlr8-truths", "config": {"duckdb_path": ".xlr8/base.duckdb"}}],
        },
    }
    (root / "meltano.yml").write_text(yaml.safe_dump(project))
    return root


def test_plan_reads_target_settings_from_the_environment_and_maps_products(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        [{"name": "tap-salesforce", "config": {"login_url": "http://127.0.0.1:18101"}}],
        {"project_id": PROJECT, "duckdb_path": "$MELTANO_PROJECT_ROOT/.xlr8/sandbox.duckdb"},
    )
    plan = make_plan(tmp_path, "sandbox")
    assert plan.project_id == PROJECT
    assert plan.store_path == tmp_path / ".xlr8" / "sandbox.duckdb"
    assert plan.extractors == [
        Extractor("tap-salesforce", "salesforce"),
        Extractor("tap-sap-successfactors", "successfactors"),
    ]
    assert plan.skipped == [
        ("tap-mystery", "no sandbox emulator for its product yet"),
        ("tap-salesforce--job", "a variant of tap-salesforce for a job, not run into target-xlr8-truths"),
    ]  # an inherited plugin (meltano.yml's tap-sap-s4hana--purchase-orders) is not a tap of its own
    only = make_plan(tmp_path, "sandbox", only=["successfactors"])
    assert [e.name for e in only.extractors] == ["tap-sap-successfactors"]


def test_product_by_sandbox_port_then_by_name() -> None:
    registered = ["salesforce", "successfactors", "ukg_pro"]
    assert product_for("tap-anything", {"base_url": "http://127.0.0.1:18102/odata/v2"}, registered) == "successfactors"
    assert product_for("tap-salesforce", {}, registered) == "salesforce"
    assert product_for("tap-ukg-pro", {}, registered) == "ukg_pro"
    assert product_for("tap-unknown", {"url": "https://example.com"}, registered) is None


def test_plugin_config_overlays_environment_on_base(tmp_path: Path) -> None:
    write_project(tmp_path, [], {"project_id": PROJECT})
    import yaml

    data = yaml.safe_load((tmp_path / "meltano.yml").read_text())
    config = plugin_config(data, "loaders", "target-xlr8-truths", "sandbox", tmp_path)
    assert config == {"duckdb_path": ".xlr8/base.duckdb", "project_id": PROJECT}


@pytest.mark.parametrize(
    ("target_config", "message"),
    [
        ({"source_instance": "x"}, "setting 'project_id' of target-xlr8-truths is not set"),
        ({"project_id": "not-a-uuid"}, "not a UUID"),
        ({"project_id": PROJECT, "delivery": "postgres"}, "'delivery' is 'postgres'"),
    ],
)
def test_bad_target_settings_are_named(
    tmp_path: Path, target_config: dict[str, Any], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_project(tmp_path, [], target_config)
    assert main(["--project-dir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_missing_environment_is_named(tmp_path: Path) -> None:
    write_project(tmp_path, [], {"project_id": PROJECT})
    with pytest.raises(DemoError, match="no environment 'staging'"):
        make_plan(tmp_path, "staging")


def test_record_counts_come_from_the_tap_not_the_target() -> None:
    metric = {"type": "counter", "metric": "record_count", "value": 50, "tags": {"stream": "Account", "pid": 1}}
    tap_line = f"2026-01-01T00:00:00Z [info     ] tap-salesforce METRIC: {json.dumps(metric)}"
    target_line = f"2026-01-01T00:00:00Z [info     ] target-xlr8-truths METRIC: {json.dumps(metric)}"
    assert record_counts(tap_line, "tap-salesforce") == [("Account", 50)]
    assert record_counts(target_line, "tap-salesforce") == []
    padded = f"2026-01-01T00:00:00Z [info     ] tap-workday  METRIC: {json.dumps(metric)}"
    assert record_counts(padded, "tap-workday") == [("Account", 50)]
    assert record_counts(padded, "workday") == []


def test_summary_reads_registry_ledger_and_live_rows(tmp_path: Path) -> None:
    store = tmp_path / "truths.duckdb"
    with duckdb.connect(str(store)) as conn:
        conn.execute(
            "CREATE TABLE _schema_metadata (project VARCHAR, table_name VARCHAR, entity_type VARCHAR, "
            "truth_type VARCHAR, row_count INTEGER, is_current BOOLEAN)"
        )
        conn.execute(
            "INSERT INTO _schema_metadata VALUES (?, '3f2a9c1e_salesforce_account', 'crm_account', 'reality', 3, TRUE),"
            " (?, '3f2a9c1e_salesforce_account', 'crm_account', 'reality', 1, FALSE)",
            [PROJECT.upper(), PROJECT],
        )
        conn.execute('CREATE TABLE "3f2a9c1e_salesforce_account" (id VARCHAR, _sdc_deleted_at TIMESTAMP)')
        conn.execute("INSERT INTO \"3f2a9c1e_salesforce_account\" VALUES ('a', NULL), ('b', NULL), ('c', now())")
    plan = DemoPlan(tmp_path, "sandbox", [Extractor("tap-salesforce", "salesforce")], [], store, PROJECT)
    landed = read_landed(plan, ["salesforce"])
    assert [(s.product, s.stream, s.truth_type, s.rows, s.deleted) for s in landed] == [
        ("salesforce", "account", "reality", 2, 1)
    ]
    out = io.StringIO()
    render_summary(plan, [TapRun(Extractor("tap-salesforce", "salesforce"), ok=True, seconds=1.0)], landed, out)
    text = out.getvalue()
    assert "salesforce  account  reality" in text
    assert re.search(r"rows\s+deleted", text)
    assert re.search(r"crm_account\s+2\s+1\s", text)  # current rows, rows marked deleted apart
    assert "totals: salesforce: 2 rows (1 marked deleted apart)" in text
    assert f"Truths store: {store}" in text
