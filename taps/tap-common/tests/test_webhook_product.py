"""``webhook_events`` lands under Common's product, ``{p8}_common_webhook_events``, through the console scripts
(tap-common piped into target-xlr8-truths, as ``meltano run`` runs them). Its SCHEMA carried no ``x-xlr8``
annotation before, so it landed under the run's source (``{p8}_singer_webhook_events`` piped,
``{p8}_tap_common_webhook_events`` under Meltano, whose extractor name the target reads): a store that holds such a
table keeps every row after the upgrade, in the product's table, and the runs after it find that table again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from xlr8_kit.testing.singer_cli import run_tap_cli, select_streams, write_json
from xlr8_kit.vocabulary.annotations import ANNOTATION_KEY
from xlr8_tap_common.tap import TapCommon

from .conftest import common_config, stored_events

BIN = Path(sys.executable).parent
STREAM = "webhook_events"
PROJECT = "6f1c2a9e-5a4d-4b8e-9c1f-0a5d5a4d0b01"
P8 = "6f1c2a9e"
NEW_TABLE = f"{P8}_common_webhook_events"


class Pipeline:
    """tap-common (webhook_events only) | target-xlr8-truths into one DuckDB file, run after run, each from the
    STATE the target relayed last; ``env`` is the target's (``MELTANO_EXTRACTOR_NAME`` as Meltano sets it)."""

    def __init__(self, url: str, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp = tmp_path
        self.events = tmp_path / "events.db"
        self.truths = tmp_path / "truths.duckdb"
        self.env = env
        self.state: dict | None = None
        self.config = common_config(url, webhook_store_path=str(self.events))
        self.runs = 0

    def run(self, *, unannotated: bool = False) -> subprocess.CompletedProcess[str]:
        """One run; ``unannotated`` strips ``x-xlr8`` from the SCHEMA, which is what tap-common wrote before."""
        self.runs += 1
        tap_config = write_json(self.tmp / "tap.json", self.config)
        found = TapCommon(config=self.config, parse_env_config=False).catalog_dict
        args = [
            "--config",
            tap_config,
            "--catalog",
            write_json(self.tmp / "catalog.json", select_streams(found, {STREAM})),
        ]
        if self.state is not None:
            args += ["--state", write_json(self.tmp / f"state-{self.runs}.json", self.state)]
        tapped = run_tap_cli("tap-common", args, self.tmp)
        assert tapped.returncode == 0, tapped.stderr[-2000:]
        lines = tapped.stdout.splitlines()
        schemas = [json.loads(line) for line in lines if line.startswith('{"type":"SCHEMA"')]
        assert [ANNOTATION_KEY in m["schema"] for m in schemas] == [True]  # one SCHEMA, annotated
        assert schemas[0]["schema"][ANNOTATION_KEY]["product"] == "common"
        if unannotated:
            lines = [_without_annotation(line) for line in lines]
        target_config = write_json(self.tmp / "target.json", {"project_id": PROJECT, "duckdb_path": str(self.truths)})
        landed = subprocess.run(
            [str(BIN / "target-xlr8-truths"), "--config", target_config],
            input="\n".join(lines) + "\n",
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env={**_inherited(), **self.env},
        )
        assert landed.returncode == 0, landed.stderr[-2000:]
        self.state = [json.loads(line) for line in landed.stdout.splitlines() if line.strip()][-1]
        return landed

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.truths), read_only=True) as conn:
            return conn.execute(sql).fetchall()

    def tables(self) -> list[str]:
        return [r[0] for r in self.query("SELECT table_name FROM information_schema.tables ORDER BY 1")]


def _inherited() -> dict[str, str]:
    """The test's environment without Meltano's extractor name (a test run under ``meltano`` would set it)."""
    return {k: v for k, v in os.environ.items() if k != "MELTANO_EXTRACTOR_NAME"}


def _without_annotation(line: str) -> str:
    message = json.loads(line)
    if message.get("type") != "SCHEMA":
        return line
    message["schema"].pop(ANNOTATION_KEY)
    return json.dumps(message)


def _landed(pipeline: Pipeline, table: str) -> list[tuple]:
    return pipeline.query(f'SELECT count(*), count(DISTINCT "event_id"), min("seq"), max("seq") FROM "{table}"')


def test_webhook_events_land_under_common_in_a_fresh_store(url: str, tmp_path: Path) -> None:
    pipeline = Pipeline(url, tmp_path, {})
    stored_events(pipeline.events, range(2_500))
    pipeline.run()
    assert [t for t in pipeline.tables() if not t.startswith("_")] == [NEW_TABLE]
    assert _landed(pipeline, NEW_TABLE) == [(2_500, 2_500, 1, 2_500)]
    assert pipeline.query("SELECT DISTINCT file_name, entity_type, table_name FROM _schema_metadata") == [
        ("common:webhook_events", "webhook_event", NEW_TABLE)
    ]
    assert pipeline.state is not None
    assert pipeline.state["bookmarks"][STREAM]["replication_key_value"] == 2_500


@pytest.mark.parametrize(
    ("env", "old_table"),
    [
        ({}, f"{P8}_singer_webhook_events"),
        ({"MELTANO_EXTRACTOR_NAME": "tap-common"}, f"{P8}_tap_common_webhook_events"),
    ],
    ids=["piped", "meltano"],
)
def test_a_store_with_the_unannotated_table_keeps_every_row_after_the_upgrade(
    url: str, tmp_path: Path, env: dict[str, str], old_table: str
) -> None:
    """Run 1 as tap-common wrote it before (no annotation): the old table. Run 2 (the upgrade, incremental from run
    1's STATE) renames it to the product's table and adds the new events; run 3 finds that table again."""
    pipeline = Pipeline(url, tmp_path, env)
    stored_events(pipeline.events, range(3_000))
    pipeline.run(unannotated=True)
    assert [t for t in pipeline.tables() if not t.startswith("_")] == [old_table]
    assert _landed(pipeline, old_table) == [(3_000, 3_000, 1, 3_000)]

    stored_events(pipeline.events, range(3_000, 4_200))
    upgrade = pipeline.run()
    assert [t for t in pipeline.tables() if not t.startswith("_")] == [NEW_TABLE]  # the old table moved, no other
    assert _landed(pipeline, NEW_TABLE) == [(4_200, 4_200, 1, 4_200)]
    assert f"renamed to {NEW_TABLE}" in upgrade.stderr
    # every row that names the table names the new one, and the new owner
    for meta in ("_schema_metadata", "_column_profiles", "_column_mappings", "_truths_ledger", "_truths_fields"):
        assert pipeline.query(f"SELECT count(*) FROM {meta} WHERE table_name = '{old_table}'") == [(0,)], meta
    assert pipeline.query("SELECT DISTINCT file_name FROM _schema_metadata") == [("common:webhook_events",)]
    assert pipeline.query("SELECT version, is_current, entity_type FROM _schema_metadata ORDER BY version") == [
        (1, False, "webhook_events"),
        (2, True, "webhook_event"),
    ]
    assert pipeline.query("SELECT rows_loaded, table_name FROM _truths_ledger ORDER BY started_at") == [
        (3_000, NEW_TABLE),
        (1_200, NEW_TABLE),
    ]

    stored_events(pipeline.events, range(4_200, 4_500))
    again = pipeline.run()
    assert "renamed" not in again.stderr
    assert [t for t in pipeline.tables() if not t.startswith("_")] == [NEW_TABLE]
    assert _landed(pipeline, NEW_TABLE) == [(4_500, 4_500, 1, 4_500)]
    assert pipeline.state is not None
    assert pipeline.state["bookmarks"][STREAM]["replication_key_value"] == 4_500
