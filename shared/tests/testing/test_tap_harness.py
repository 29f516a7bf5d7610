"""The shared tap test harness checks what it claims: fake time really replaces the session's waits, a catalog
selection cannot silently select nothing, Singer output is read exactly, and the CLI runner runs the real console
script. Every tap's tests stand on these helpers, so they get tests of their own."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from xlr8_kit.testing.fake_time import FakeTime, with_fake_time, with_session_time
from xlr8_kit.testing.meltano_e2e import MeltanoProject, truths_rows
from xlr8_kit.testing.singer_cli import (
    SingerOutput,
    parse_singer_messages,
    run_tap_cli,
    select_streams,
    sync_in_process,
    write_json,
)
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox, run_sandbox
from xlr8_tap_ukg_ready.tap import TapUkgReady

#: A real product's employees resource (tap-ukg-ready over its emulator), as the request log records it.
PATH = "/ta/rest/v2/companies/|ACMEREADY/employees"


def _config(server: Sandbox, **extra: Any) -> dict[str, Any]:
    product = server.emulator("ukg_ready")
    return {"base_url": server.url("ukg_ready"), **product.test_credentials(), "page_size": 10, **extra}


def test_a1_fake_time_waits_the_retry_after_without_sleeping() -> None:
    fake = FakeTime()
    with run_sandbox(["ukg_ready"], scale=23) as server:
        server.faults.add("ukg_ready", PATH, FaultSpec("rate_limit", retry_after=30, times=1))
        tap = with_fake_time(TapUkgReady, fake)(config=_config(server), parse_env_config=False)
        output = sync_in_process(tap)
        assert [r.path for r in server.requests("ukg_ready", PATH)].count(
            PATH
        ) == 4  # the 429, then pages 1-3 (10 rows each, 23 rows)
        expected = [e.employee_id for e in server.ctx.company.employees()]
    assert fake.sleeps == [30.0]  # exactly the Retry-After: no jitter, nothing slept for real
    assert fake.clock() == 1030.0
    assert [r["employee_id"] for r in output.records("employees")] == expected
    assert isinstance(output.tap, TapUkgReady)


def test_with_session_time_replaces_only_what_it_is_given() -> None:
    waits: list[float] = []
    timed = with_session_time(TapUkgReady, sleep=waits.append)
    assert issubclass(timed, TapUkgReady)
    with run_sandbox(["ukg_ready"], scale=5) as server:
        server.faults.add("ukg_ready", PATH, FaultSpec("status", status=503, times=2))
        tap = timed(config=_config(server, http={"backoff_base": 2, "backoff_max": 2}), parse_env_config=False)
        output = sync_in_process(tap)
        session = tap.kit.session
    assert len(waits) == 2  # two backoffs recorded, not slept
    assert all(0 < wait <= 2 * 1.5 for wait in waits)  # backoff with jitter, as configured
    assert session.clock is time.monotonic  # only the sleep was replaced
    assert session.wall is time.time
    assert len(output.records("employees")) == 5


def test_fake_time_refuses_a_negative_sleep() -> None:
    with pytest.raises(AssertionError, match="-1"):
        FakeTime().sleep(-1)


def test_select_streams_marks_exactly_the_wanted_streams_and_rejects_unknown_names() -> None:
    catalog: dict[str, Any] = {
        "streams": [
            {"tap_stream_id": name, "metadata": [{"breadcrumb": [], "metadata": {}}, {"breadcrumb": ["properties", "x"],
             "metadata": {}}]}
            for name in ("a", "b", "c")
        ]
    }  # fmt: skip
    select_streams(catalog, {"a", "c"})
    chosen = {s["tap_stream_id"]: s["metadata"][0]["metadata"]["selected"] for s in catalog["streams"]}
    assert chosen == {"a": True, "b": False, "c": True}
    assert all("selected" not in s["metadata"][1]["metadata"] for s in catalog["streams"])
    with pytest.raises(AssertionError, match="no such streams: \\['d'\\]"):
        select_streams(catalog, {"a", "d"})


def test_singer_output_reads_records_schemas_and_the_last_state() -> None:
    text = "\n".join(
        json.dumps(m)
        for m in [
            {"type": "SCHEMA", "stream": "s", "schema": {"type": "object"}, "key_properties": ["id"]},
            {"type": "RECORD", "stream": "s", "record": {"id": 1, "amount": 0.1}},
            {"type": "STATE", "value": {"bookmarks": {"s": 1}}},
            {"type": "RECORD", "stream": "t", "record": {"id": 2}},
            {"type": "STATE", "value": {"bookmarks": {"s": 2}}},
        ]
    )
    output = SingerOutput.parse(text + "\n\n", exact_decimals=True)
    assert output.records("s") == [{"id": 1, "amount": Decimal("0.1")}]
    assert [r["id"] for r in output.records()] == [1, 2]
    assert output.record_streams() == {"s", "t"}
    assert output.schema("s") == {"type": "object"}
    assert output.schema_message("s")["key_properties"] == ["id"]
    assert output.state == {"bookmarks": {"s": 2}}
    assert len(output.lines) == 5
    assert parse_singer_messages(text)[1]["record"]["amount"] == 0.1
    with pytest.raises(AssertionError, match="no SCHEMA for 'u'"):
        output.schema("u")
    with pytest.raises(AssertionError, match="no STATE"):
        _ = SingerOutput(output.of_type("RECORD")).state


def test_run_tap_cli_runs_the_console_script_with_extra_environment(tmp_path: Path) -> None:
    about = run_tap_cli("tap-workday", ["--about", "--format=json"], tmp_path)
    assert about.returncode == 0, about.stderr
    assert json.loads(about.stdout)["name"] == "tap-workday"
    config = write_json(tmp_path / "config.json", {"base_url": "http://127.0.0.1:9", "tenant": "t"})
    assert json.loads(Path(config).read_text())["tenant"] == "t"
    bad = run_tap_cli("tap-workday", ["--config", config, "--discover"], tmp_path, env={"LOGLEVEL": "DEBUG"})
    assert bad.returncode != 0
    assert "'client_secret'" in bad.stderr, bad.stderr[-2000:]


def test_meltano_project_copy_is_isolated_from_the_callers_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "meltano.yml"
    source.write_text("version: 1\nenvironments:\n- name: sandbox\n")
    monkeypatch.setenv("TAP_WORKDAY_BASE_URL", "https://real-tenant.example")
    monkeypatch.setenv("MELTANO_DATABASE_URI", "sqlite:////somewhere/else.db")

    def add_env(data: dict[str, Any]) -> None:
        data["environments"].append({"name": "prod"})

    lock = tmp_path / "plugins" / "extractors" / "tap-x--xlr8.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text('{"plugin_type": "extractors", "name": "tap-x", "namespace": "tap_x", "variant": "xlr8"}\n')
    project = MeltanoProject.copy_of(source, tmp_path / "t", edit=add_env, env={"TAP_X": "1"})
    assert yaml.safe_load((project.project / "meltano.yml").read_text())["environments"][1] == {"name": "prod"}
    # the plugins' definitions come along: without them Meltano would ask the Hub for a plugin declared by variant
    assert (project.project / "plugins" / "extractors" / "tap-x--xlr8.lock").read_bytes() == lock.read_bytes()
    env = project.base_env()
    assert "TAP_WORKDAY_BASE_URL" not in env
    assert "MELTANO_DATABASE_URI" not in env
    assert env["MELTANO_SYS_DIR_ROOT"] == str(tmp_path / "t" / "project" / ".meltano")
    assert env["TARGET_XLR8_TRUTHS_DUCKDB_PATH"] == str(project.truths)
    assert project.truths.parent.is_dir()


def test_truths_rows_reads_one_stream_by_its_emitted_names(tmp_path: Path) -> None:
    store = tmp_path / "truths.duckdb"
    table = '"6f1c2a9e_ukg_pro_employment_details"'
    with duckdb.connect(str(store)) as conn:
        conn.execute(f"CREATE TABLE {table} (employee_id VARCHAR, primary_job_code VARCHAR)")
        conn.execute(f"INSERT INTO {table} VALUES ('E2', 'J2'), ('E1', 'J1')")
        conn.execute('CREATE TABLE "6f1c2a9e_workday_hcm_employment_details" (employee_id VARCHAR)')
    rows = truths_rows(store, "ukg_pro", "employment_details", ["employeeID", "primaryJobCode"], "employeeID")
    assert rows == [("E1", "J1"), ("E2", "J2")]
    with pytest.raises(AssertionError, match="expected one table for ukg_pro/jobs"):
        truths_rows(store, "ukg_pro", "jobs", ["jobCode"], "jobCode")
