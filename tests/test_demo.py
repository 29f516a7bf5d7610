"""``xlr8-demo`` end to end: the real console script, meltano, the taps and the target, on the project's meltano.yml.

The project's meltano.yml is copied into a temporary directory so the run writes its own ``.meltano`` and truths
store there; everything else (plugins, sandbox environment, ports) is the real thing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from xlr8_kit.testing.meltano_e2e import copy_plugin_locks
from xlr8_sandbox.company import Company
from xlr8_sandbox.demo import make_plan, normalise_project

ROOT = Path(__file__).resolve().parents[1]
SCALE = 100
#: Another demo (a developer's, or a parallel test) may hold the fixed sandbox ports: wait for it.
WAIT = ("--wait-for-ports", "600")
ROW = re.compile(r"^  (\S+)\s+(\S+)\s+(reality|configuration)\s+(\S*)\s+([\d,]+)\s+([\d,]+)\s+(\S+)\s+(\S+)\s*$")

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def copy_with_workspace_executables(source: Path, target: Path) -> None:
    """Copy meltano.yml without ``pip_url``: its editable paths (``-e ./taps/...``) are relative to the repository,
    so Meltano's auto-install would fail in a temporary copy; the workspace's installed executables run instead."""
    import yaml

    data = yaml.safe_load(source.read_text())
    for kind in ("extractors", "mappers", "loaders"):
        for plugin in data.get("plugins", {}).get(kind, []):
            plugin.pop("pip_url", None)
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    copy_plugin_locks(source.parent, target.parent)


def demo_script() -> str:
    script = shutil.which("xlr8-demo", path=str(Path(sys.executable).parent)) or shutil.which("xlr8-demo")
    assert script, "the xlr8-demo console script is not installed (uv sync)"
    return script


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    project = tmp_path_factory.mktemp("demo-project")
    copy_with_workspace_executables(ROOT / "meltano.yml", project / "meltano.yml")
    result = subprocess.run(
        [demo_script(), "--project-dir", str(project), "--scale", str(SCALE), *WAIT],
        capture_output=True,
        text=True,
        timeout=900,
    )
    return project, result


def summary_rows(stdout: str) -> dict[tuple[str, str], tuple[str, int, str]]:
    """(product, stream) -> (truth type, rows, table) from the printed summary table (rows: current rows; the
    ``deleted`` column, rows marked deleted, is checked to be 0 in a demo's one run)."""
    rows = {}
    for line in stdout.splitlines():
        match = ROW.match(line)
        if match:
            product, stream, truth, _entity, count, deleted, _time, table = match.groups()
            assert deleted == "0", line
            rows[product, stream] = (truth, int(count.replace(",", "")), table)
    return rows


def test_demo_runs_every_wired_tap_and_exits_zero(demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    project, result = demo_run
    plan = make_plan(project, "sandbox")
    assert plan.extractors, "meltano.yml wires no extractor with a sandbox emulator"
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for extractor in plan.extractors:
        assert f"[ok ] {extractor.name} -> target-xlr8-truths" in result.stdout
    assert f"Truths store: {plan.store_path}" in result.stdout


def test_demo_summary_matches_the_rows_in_the_store(demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    project, result = demo_run
    plan = make_plan(project, "sandbox")
    rows = summary_rows(result.stdout)
    succeeded = {e.product for e in plan.extractors if f"[ok ] {e.name} -> " in result.stdout}
    assert succeeded, result.stdout
    assert {product for product, _ in rows} >= succeeded, result.stdout
    project_key = normalise_project(plan.project_id)
    with duckdb.connect(str(plan.store_path), read_only=True) as conn:
        registry = dict(
            conn.execute(
                "SELECT table_name, truth_type FROM _schema_metadata WHERE is_current AND LOWER(project) = ?",
                [project_key],
            ).fetchall()
        )
        for (product, stream), (truth, count, table) in rows.items():
            assert registry[table] == truth, (product, stream)
            assert table.startswith(project_key.replace("-", "")[:8] + "_")
            columns = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table])
            live = " WHERE _sdc_deleted_at IS NULL" if ("_sdc_deleted_at",) in columns.fetchall() else ""
            landed = conn.execute(f'SELECT COUNT(*) FROM "{table}"{live}').fetchone()
            assert landed is not None
            assert count == landed[0], (product, stream)
    for product in succeeded:
        assert sum(n for (p, _), (_, n, _) in rows.items() if p == product) > 0, product


def test_demo_lands_the_fictional_companys_crm_records(demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    project, result = demo_run
    rows = summary_rows(result.stdout)
    if ("salesforce", "Account") not in rows:
        pytest.fail("tap-salesforce is wired in meltano.yml but its Account stream did not land:\n" + result.stdout)
    company = Company(seed=42, scale=SCALE)
    assert rows["salesforce", "Account"][1] == company.crm_account_count
    assert rows["salesforce", "Contact"][1] == company.contact_count
    plan = make_plan(project, "sandbox")
    with duckdb.connect(str(plan.store_path), read_only=True) as conn:
        names = {r[0] for r in conn.execute(f'SELECT "name" FROM "{rows["salesforce", "Account"][2]}"').fetchall()}
    assert company.crm_account(0).name in names


def test_a_failing_tap_is_reported_and_the_demo_exits_non_zero(tmp_path: Path) -> None:
    """Wrong sandbox credentials: the tap fails, the demo says which and where its log is, and exits 1."""
    import yaml

    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    sandbox = next(e for e in project["environments"] if e["name"] == "sandbox")
    extractors = sandbox["config"]["plugins"]["extractors"]
    salesforce = next(e for e in extractors if e["name"] == "tap-salesforce")
    salesforce["config"]["client_secret"] = "wrong-secret"
    (tmp_path / "meltano.yml").write_text(yaml.safe_dump(project))
    copy_plugin_locks(ROOT, tmp_path)
    result = subprocess.run(
        [demo_script(), "--project-dir", str(tmp_path), "--scale", str(SCALE), "--only", "salesforce", *WAIT],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1
    assert "[FAILED] tap-salesforce -> target-xlr8-truths" in result.stdout
    assert "tap(s) failed: tap-salesforce" in result.stderr
    log = tmp_path / ".xlr8" / "demo-logs" / "tap-salesforce.log"
    assert log.is_file()
    assert "wrong-secret" not in result.stdout + result.stderr + log.read_text()
