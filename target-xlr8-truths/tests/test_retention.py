"""Retention (``xlr8 truths purge``) and erasure of one person (``xlr8 truths erase --person``) on landed truths."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from truths_testkit import P8, PROJECT, annotation, query, record_msg, run_target, schema_msg

XLR8 = str(Path(sys.executable).with_name("xlr8"))


def _note(stream: str, entity: str, canonical: dict[str, str], keys: list[str]) -> dict[str, Any]:
    ann = annotation("workday_hcm", stream, entity, keys=keys)
    ann["canonical_fields"] = canonical
    return ann


WORKERS = schema_msg(
    "workers",
    {"Id": {"type": "string"}, "Manager": {"type": ["null", "string"]}, "Name": {"type": ["null", "string"]}},
    ["Id"],
    _note("workers", "employee", {"Id": "employee_id", "Manager": "manager_id"}, ["Id"]),
)
TIMECARDS = schema_msg(
    "timecards",
    {"Line": {"type": "string"}, "Worker": {"type": "string"}, "Hours": {"type": ["null", "integer"]}},
    ["Line"],
    _note("timecards", "timecard", {"Worker": "employee_id"}, ["Line"]),
)


def land_people(config: dict[str, Any], tmp: Path) -> None:
    messages = [WORKERS, TIMECARDS]
    people = [("E001", None, "Ada Erased"), ("E002", "E001", "Bo Kept"), ("E003", "E002", "Cy Kept")]
    for pid, manager, name in people:
        messages.append(record_msg("workers", {"Id": pid, "Manager": manager, "Name": name}))
        for day in range(3):
            messages.append(record_msg("timecards", {"Line": f"{pid}-{day}", "Worker": pid, "Hours": 8}))
    run = run_target(config, messages, tmp)
    assert run.returncode == 0, run.stderr[-2000:]


def table(store: Path, stream: str) -> str:
    rows = query(store, "SELECT table_name FROM _schema_metadata WHERE file_name = ? AND is_current",
                 [f"workday_hcm:{stream}"])  # fmt: skip
    return str(rows[0][0])


def xlr8(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([XLR8, *args], capture_output=True, text=True, check=False, timeout=120)


def test_erase_person_removes_their_rows_everywhere_and_nothing_else(config: dict[str, Any], store: Path,
                                                                     tmp_path: Path) -> None:  # fmt: skip
    land_people(config, tmp_path)
    workers, timecards = table(store, "workers"), table(store, "timecards")
    assert query(store, f'SELECT COUNT(*) FROM "{timecards}"')[0][0] == 9
    done = xlr8("truths", "erase", "--project", PROJECT, "--duckdb", str(store), "--person", "E001")
    assert done.returncode == 0, done.stderr
    assert "row(s) removed" in done.stdout
    assert query(store, f'SELECT "id", manager, name FROM "{workers}" ORDER BY 1') == [
        ("E002", None, "Bo Kept"),  # the erased manager's reference is cleared, the row kept
        ("E003", "E002", "Cy Kept"),
    ]
    assert query(store, f'SELECT DISTINCT worker FROM "{timecards}" ORDER BY 1') == [("E002",), ("E003",)]
    assert query(store, f'SELECT COUNT(*) FROM "{timecards}"')[0][0] == 6
    counts = dict(query(store, "SELECT table_name, row_count FROM _schema_metadata WHERE is_current"))
    assert counts[workers] == 2
    assert counts[timecards] == 6
    ledger = query(
        store,
        "SELECT stream, rows_received, rows_loaded FROM _truths_ledger WHERE stream LIKE 'xlr8:erase:%' ORDER BY 1",
    )
    assert ledger == [(f"xlr8:erase:{timecards}", 3, 0), (f"xlr8:erase:{workers}", 1, 1)]
    # Nowhere in the metadata the engine reads (ledger, profiles) does the erased person's id or name remain.
    for sql in ("SELECT * FROM _truths_ledger", "SELECT * FROM _column_profiles"):
        text = repr(query(store, sql))
        assert "E001" not in text
        assert "Ada Erased" not in text


def test_purge_keeps_live_rows_and_the_newest_versions(config: dict[str, Any], store: Path, tmp_path: Path) -> None:
    schema = schema_msg("jobs", {"Code": {"type": "string"}}, ["Code"], annotation("workday_hcm", "jobs", "job"))

    def full_sync(version: int, codes: list[str]) -> None:
        messages = [schema, {"type": "ACTIVATE_VERSION", "stream": "jobs", "version": version}]
        messages += [record_msg("jobs", {"Code": c}, version=version) for c in codes]
        messages.append({"type": "ACTIVATE_VERSION", "stream": "jobs", "version": version})
        assert run_target(config, messages, tmp_path).returncode == 0

    full_sync(1, ["A", "B", "C"])
    full_sync(2, ["A", "B"])  # C superseded (soft-deleted)
    full_sync(3, ["A"])  # B superseded
    jobs = table(store, "jobs")
    assert query(store, f'SELECT COUNT(*) FROM "{jobs}" WHERE _sdc_deleted_at IS NOT NULL')[0][0] == 2
    kept = xlr8("truths", "purge", "--project", PROJECT, "--duckdb", str(store), "--keep-versions", "2")
    assert kept.returncode == 0, kept.stderr
    # C (last seen in version 1) goes; B (version 2, among the newest two) stays; A is live.
    assert query(store, f'SELECT code FROM "{jobs}" ORDER BY 1') == [("A",), ("B",)]
    # row_count: the current rows (A); B, kept as history, is counted apart
    assert dict(query(store, "SELECT table_name, row_count FROM _schema_metadata WHERE is_current"))[jobs] == 1
    again = run_target({**config, "retention_days": 0, "retention_purge_on_run": True}, [schema], tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert query(store, f'SELECT code FROM "{jobs}"') == [("A",)]  # purged at the end of the run
    purges = query(store, "SELECT rows_received FROM _truths_ledger WHERE stream LIKE 'xlr8:purge:%'")
    assert sorted(r[0] for r in purges) == [1, 1]


def test_purge_without_a_retention_is_refused(config: dict[str, Any], store: Path, tmp_path: Path) -> None:
    land_people(config, tmp_path)
    refused = xlr8("truths", "purge", "--project", PROJECT, "--duckdb", str(store))
    assert refused.returncode == 2
    assert "retention_days" in refused.stderr
    bad = run_target({**config, "retention_purge_on_run": True}, [WORKERS], tmp_path)
    assert bad.returncode != 0
    assert "retention_purge_on_run" in bad.stderr


def _timecards(keys: list[str]) -> dict[str, Any]:
    props = {"Worker": {"type": "string"}, "Day": {"type": "string"}, "Code": {"type": "string"},
             "Hours": {"type": ["null", "integer"]}}  # fmt: skip
    return schema_msg("punches", props, keys, _note("punches", "timecard", {"Worker": "employee_id"}, keys))


def _punch(worker: str, day: str, code: str, hours: Any) -> dict[str, Any]:
    return record_msg("punches", {"Worker": worker, "Day": day, "Code": code, "Hours": hours})


@pytest.mark.parametrize(("action", "old_archive"), [("keep", False), ("hash", False), ("keep", True)])
def test_erase_person_reaches_key_change_archives_and_composite_key_dead_letters(
    action: str, old_archive: bool, config: dict[str, Any], store: Path, tmp_path: Path
) -> None:
    """audit25e F17: after a key change (``new_table_version``) the person's rows stayed in ``{table}__v1`` (its
    ``_truths_fields`` were not moved, so no person column was found), and a dead letter of a stream keyed by
    (person, day, code) kept them (only a key that was the id alone matched); the command said it had erased.
    ``hash``: the person column is hashed, in the table and in the letter's key and payload. ``old_archive``: an
    archive made before the fields moved with it (none of its own: those of the current table serve)."""
    config = {**config, "key_change_policy": "new_table_version", "pii_policy": {"columns": {"(?i)^worker$": action}}}
    first = [_timecards(["Worker", "Day", "Code"]), _punch("P1", "d1", "REG", 8), _punch("P1", "d1", "OT", "x"),
             _punch("P2", "d1", "REG", 8), _punch("P2", "d1", "OT", "y")]  # fmt: skip
    assert run_target(config, first, tmp_path).returncode == 0
    second = [_timecards(["Worker", "Day"]), _punch("P1", "d2", "REG", 7), _punch("P2", "d2", "REG", 7)]
    run = run_target(config, second, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    current = f"{P8}_workday_hcm_punches"
    archive = f"{current}__v1"
    assert query(store, f'SELECT COUNT(*) FROM "{archive}"') == [(2,)]
    assert query(store, "SELECT COUNT(*) FROM _dead_letters") == [(2,)]
    if action == "hash":
        assert query(store, f'SELECT worker FROM "{archive}"')[0][0].startswith("HMAC256:")
    if old_archive:
        with duckdb.connect(str(store)) as con:
            con.execute("DELETE FROM _truths_fields WHERE table_name = ?", [archive])
    key = ["--pii-key-file", config["pii_key_file"]] if action == "hash" else []
    if action == "hash":  # another key would match no hashed value: refused, nothing erased (audit25e F10)
        from xlr8_kit.privacy.cipher import ensure_key_file

        ensure_key_file(str(tmp_path / "other.key"))
        wrong = xlr8("truths", "erase", "--project", PROJECT, "--duckdb", str(store), "--person", "P1",
                     "--pii-key-file", str(tmp_path / "other.key"))  # fmt: skip
        assert wrong.returncode == 2
        assert "--pii-key-file is not the key" in wrong.stderr
        assert query(store, "SELECT COUNT(*) FROM _dead_letters") == [(2,)]
    done = xlr8("truths", "erase", "--project", PROJECT, "--duckdb", str(store), "--person", "P1", *key)
    assert done.returncode == 0, done.stderr
    assert query(store, f'SELECT day FROM "{current}"') == [("d2",)]
    assert query(store, f'SELECT day, code FROM "{archive}"') == [("d1", "REG")]  # P2's, kept
    letters = query(store, "SELECT CAST(record_key AS VARCHAR), CAST(payload AS VARCHAR) FROM _dead_letters")
    assert len(letters) == 1  # P2's
    assert '"y"' in letters[0][1]
    if action == "keep":
        assert "P2" in letters[0][0]
    assert "P1" not in repr(query(store, f'SELECT * FROM "{archive}"')) + repr(letters)
    assert f"{archive}: 1 row(s) removed" in done.stdout


@pytest.mark.parametrize("action", [["purge", "--keep-days", "30"], ["erase", "--person", "E001"],
                                    ["rekey-dead-letters", "--pii-key-file", "k.key"]])  # fmt: skip
def test_a_maintenance_command_never_runs_on_a_store_it_would_create(tmp_path: Path, action: list[str]) -> None:
    """review27c M3: the PostgreSQL command pasted from the target's WARNING with ``$XLR8_POSTGRES_DSN`` unset
    (``--postgres-dsn ""``), a schema without a DSN, or a mistyped ``--duckdb`` path ran the action on a new, empty
    DuckDB file and reported it done (rc 0: "0 row(s) removed" for an erasure, "no dead letter keeps ... in clear"
    for the re-key). Each is refused, exit 2, naming the option, and no file is made."""
    import os

    (tmp_path / "k.key").write_text("not read: the store is refused first\n")
    env = {k: v for k, v in os.environ.items() if k != "XLR8_POSTGRES_DSN"}
    cases = {
        "--postgres-dsn is empty": ["--postgres-dsn", "", "--postgres-schema", "xlr8"],
        "--postgres-schema needs --postgres-dsn": ["--postgres-schema", "xlr8"],
        "--duckdb nowhere/t.duckdb: no DuckDB store there": ["--duckdb", "nowhere/t.duckdb"],
        "--duckdb .xlr8/truths.duckdb: no DuckDB store there": [],  # the default path, absent
    }
    for named, options in cases.items():
        done = subprocess.run([XLR8, "truths", action[0], "--project", PROJECT, *options, *action[1:]], cwd=tmp_path,
                              env=env, capture_output=True, text=True, check=False, timeout=120)  # fmt: skip
        assert done.returncode == 2, (named, done.stdout, done.stderr)
        assert named in done.stderr, done.stderr
        assert "nothing was done" in done.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == ["k.key"], named  # no store, spool or folder made
    blank = {**env, "XLR8_POSTGRES_DSN": ""}
    empty = subprocess.run([XLR8, "truths", action[0], "--project", PROJECT, *action[1:]], cwd=tmp_path, env=blank,
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert empty.returncode == 2, empty.stderr
    assert "--postgres-dsn is empty (or $XLR8_POSTGRES_DSN is set but empty)" in empty.stderr
