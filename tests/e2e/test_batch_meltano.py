"""The default ``meltano run <tap> target-xlr8-truths`` sends BATCH files (meltano.yml's base ``batch_config``), lands
the same rows as RECORD mode, and keeps state behind what landed when the target dies in the middle of a BATCH load.

Every run goes through the real Meltano CLI in a temporary copy of the project; RECORD mode is the same project with
``batch_config`` removed from the extractor. Rows are compared column by column: the ``_sdc_*`` clock columns left
out, deleted/version marks compared as set or not, PII ciphertext as present or absent (its nonce changes each run),
JSON cells by value (see ``_json_by_value``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from xlr8_kit.testing.meltano_e2e import BIN, MeltanoProject, landed_tables
from xlr8_sandbox.platform.server import run_sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
OBJECTS = ["Account", "Contact"]
#: Left out: when the row was received or loaded.
CLOCK_COLUMNS = frozenset({"_sdc_received_at", "_sdc_batched_at"})
#: Compared as set or not (their values are clock readings; whether they are set is what deletes depend on). BATCH
#: files carry no time_extracted: the target stamps their rows with the file's write time, so it is set in both modes.
CLOCK_MARKS = frozenset({"_sdc_deleted_at", "_sdc_table_version", "_sdc_extracted_at"})
ACCOUNTS = '"6f1c2a9e_salesforce_account"'  # quoted: the sandbox project id's prefix starts with a digit
STATE_ID = "sandbox:tap-salesforce-to-target-xlr8-truths"


def _without_batch_config(data: dict[str, Any]) -> None:
    for plugin in data["plugins"]["extractors"]:
        (plugin.get("config") or {}).pop("batch_config", None)


def _small_batches(data: dict[str, Any]) -> None:
    for plugin in data["plugins"]["extractors"]:
        if plugin["name"] == "tap-salesforce":
            plugin["config"]["batch_config"]["batch_size"] = 20


def _same_pii_key(source: MeltanoProject, other: MeltanoProject) -> None:
    """Both projects hash PII (HMAC256 columns) under one key, so hashed columns compare by value."""
    if source.pii_key.exists():
        other.pii_key.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source.pii_key, other.pii_key)


def landed(store: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every current table's rows, sorted, without clock columns; PII columns as 'present or not'."""
    return {
        table: [tuple(_json_by_value(v) for v in row) for row in rows]
        for table, _columns, rows in landed_tables(store, left_out=CLOCK_COLUMNS, as_set=CLOCK_MARKS)
    }


def _json_by_value(value: Any) -> Any:
    """A JSON (object/array) cell as its value with every number as text. The target's RECORD path writes a
    Decimal nested in an object as a JSON string ("51.5073509"), its DuckDB BATCH path as a JSON number (51.5073509):
    the same value, and the only difference between the two modes' rows (reported to the target's owner)."""
    if not isinstance(value, str) or value[:1] not in "{[" or not value:
        return value
    try:
        parsed = json.loads(value, parse_float=str, parse_int=str)
    except ValueError:
        return value
    return json.dumps(parsed, sort_keys=True)


def test_default_job_sends_batch_files_and_lands_the_rows_record_mode_lands(tmp_path: Path) -> None:
    batch = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path / "batch")
    record = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path / "record", edit=_without_batch_config)
    with run_sandbox(["salesforce"], scale=100) as sandbox:
        env = {"TAP_SALESFORCE_LOGIN_URL": sandbox.url("salesforce"), "TAP_SALESFORCE_OBJECTS": json.dumps(OBJECTS)}
        by_batch = batch.meltano("--log-level=debug", "run", "tap-salesforce", "target-xlr8-truths", env=env)
        assert by_batch.returncode == 0, by_batch.stderr[-3000:]
        by_record = record.meltano("--log-level=debug", "run", "tap-salesforce", "target-xlr8-truths", env=env)
        assert by_record.returncode == 0, by_record.stderr[-3000:]

    assert by_batch.stderr.count('"type":"BATCH"') >= len(OBJECTS)  # Meltano logs the tap's messages at DEBUG
    assert '"type":"RECORD"' not in by_batch.stderr
    assert ".jsonl" in by_batch.stderr  # plain JSON lines, not gzip
    assert '"type":"BATCH"' not in by_record.stderr
    assert by_record.stderr.count('"type":"RECORD"') >= 150
    assert not [p for p in (batch.sys_dir / "batches" / "tap-salesforce").iterdir()]  # the target consumed them

    rows_batch, rows_record = landed(batch.truths), landed(record.truths)
    assert sorted(rows_batch) == sorted(rows_record)
    assert sum(map(len, rows_batch.values())) == 150  # 50 accounts, 100 contacts
    for table, rows in rows_record.items():
        assert rows_batch[table] == rows, table


def _bookmark(project: MeltanoProject) -> str | None:
    shown = project.meltano("state", "get", STATE_ID)
    if shown.returncode != 0 or not shown.stdout.strip():
        return None
    state = json.loads(shown.stdout)
    return ((state.get("singer_state") or {}).get("bookmarks") or {}).get("Account", {}).get("replication_key_value")


def test_target_killed_mid_batch_load_leaves_state_behind_and_the_rerun_lands_every_row_once(tmp_path: Path) -> None:
    project = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path, edit=_small_batches)
    marker = tmp_path / "held"
    with run_sandbox(["salesforce"], scale=100) as sandbox:
        env = {"TAP_SALESFORCE_LOGIN_URL": sandbox.url("salesforce"), "TAP_SALESFORCE_OBJECTS": '["Account"]'}
        # the target holds its second batch transaction open (uncommitted), and is killed right there
        held = {**project.base_env(), **env, "XLR8_TRUTHS_HOLD_BEFORE_COMMIT": f"{marker}:2"}
        with subprocess.Popen(
            [str(BIN / "meltano"), "--environment=sandbox", "run", "tap-salesforce", "target-xlr8-truths"],
            cwd=project.project, env=held, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ) as run:  # fmt: skip
            deadline = time.monotonic() + 240
            while not marker.exists() or not marker.read_text():
                assert run.poll() is None, run.communicate()[1][-3000:]
                assert time.monotonic() < deadline, "the target never reached its second batch"
                time.sleep(0.1)
            os.kill(int(marker.read_text()), signal.SIGKILL)
            _, stderr = run.communicate(timeout=240)
        assert run.returncode != 0

        with duckdb.connect(str(project.truths), read_only=True) as conn:
            first = conn.execute(f"SELECT COUNT(*), MAX(system_modstamp) FROM {ACCOUNTS}").fetchone()
        assert first is not None
        assert first[0] == 20  # the first file, committed; the second never was
        bookmark = _bookmark(project)
        if bookmark is not None:  # whatever state Meltano kept must not pass the last committed row
            landed_up_to = first[1] if isinstance(first[1], datetime) else datetime.fromisoformat(str(first[1]))
            assert datetime.fromisoformat(bookmark) <= landed_up_to, (bookmark, first)

        rerun = project.run("tap-salesforce", env=env)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        with duckdb.connect(str(project.truths), read_only=True) as conn:
            accounts = conn.execute(f"SELECT id FROM {ACCOUNTS} ORDER BY id").fetchall()
        emulator: Any = sandbox.emulator("salesforce")
        emulator_ids = sorted(emulator.objects["Account"].record_id(i) for i in range(50))
    assert [row[0] for row in accounts] == emulator_ids  # every row once: upserted by Id, none lost, none twice
    assert _bookmark(project) is not None
    assert "Traceback" not in stderr or run.returncode != 0


#: (extractor, emulator product, the setting that holds the vendor URL) of every tap meltano.yml sends as BATCH.
BATCH_TAPS = [
    ("tap-sap-successfactors", "successfactors", "API_URL"),
    ("tap-workday", "workday", "BASE_URL"),
    ("tap-ukg-pro", "ukg_pro", "BASE_URL"),
    ("tap-ukg-wfm", "ukg_wfm", "BASE_URL"),
    ("tap-ukg-ready", "ukg_ready", "BASE_URL"),
    ("tap-oracle-hcm", "oracle_hcm", "BASE_URL"),
    ("tap-oracle-erp", "oracle_erp", "BASE_URL"),
    ("tap-sap-s4hana", "s4hana", "BASE_URL"),
    ("tap-common", "common", "API_BASE_URL"),
]


@pytest.mark.parametrize(("tap", "product", "url_setting"), BATCH_TAPS, ids=[t[1] for t in BATCH_TAPS])
def test_every_batch_tap_lands_the_rows_record_mode_lands(
    tmp_path: Path, tap: str, product: str, url_setting: str
) -> None:
    batch = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path / "batch")
    record = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path / "record", edit=_without_batch_config)
    with run_sandbox([product], scale=60) as sandbox:
        env = {f"{tap.upper().replace('-', '_')}_{url_setting}": sandbox.url(product)}
        by_batch = batch.meltano("--log-level=debug", "run", tap, "target-xlr8-truths", env=env, timeout=600)
        assert by_batch.returncode == 0, by_batch.stderr[-3000:]
        _same_pii_key(batch, record)
        by_record = record.meltano("--log-level=debug", "run", tap, "target-xlr8-truths", env=env, timeout=600)
        assert by_record.returncode == 0, by_record.stderr[-3000:]
    assert '"type":"BATCH"' in by_batch.stderr
    assert '"type":"BATCH"' not in by_record.stderr
    rows_batch, rows_record = landed(batch.truths), landed(record.truths)
    assert sorted(rows_batch) == sorted(rows_record)
    assert sum(map(len, rows_record.values())) > 0
    for table, rows in rows_record.items():
        assert rows_batch[table] == rows, table
