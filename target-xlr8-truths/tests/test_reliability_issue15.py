"""Issue 15 (reliability), one test per item, asserting on what landed. New scenarios beside ../shared/RELIABILITY.md:
cross-stream collisions (next to E13), BATCH file provenance, spool residue after SIGKILL (next to C6/E2), key change
mid-stream (F4) and the partial-run exit code (A6/A7)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from truths_testkit import (
    P8,
    PROJECT,
    held_target,
    killed,
    query,
    record_msg,
    run_target,
    schema_msg,
    state_msg,
)

from target_xlr8_truths.naming import MAX_IDENTIFIER, TableNames

COLLIDING_STREAMS = [
    "Acct",
    "acct",
    "ACCT",
    "pay-group",
    "pay group",
    "pay_group",
    "x" * 70 + "first",
    "x" * 70 + "second",
    ";",
    '"',
    "\uff41\uff42\uff43",  # full-width abc
    "ä",
    "ö",
    "ü",
]


def _one_row_per_stream(streams: list[str]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for number, stream in enumerate(streams):
        messages.append(schema_msg(stream, {"id": {"type": "integer"}, "value": {"type": "string"}}, ["id"]))
        messages.append(record_msg(stream, {"id": 1, "value": f"row of stream {number}"}))
    messages.append(state_msg({"done": True}))
    return messages


def _tables_by_stream(store: Path) -> dict[str, str]:
    return dict(query(store, "SELECT DISTINCT stream, table_name FROM _truths_ledger"))


def test_i15_1_cross_stream_collisions_land_in_distinct_tables(config: dict, store: Path, tmp_path: Path) -> None:
    """Names that snake-case to the same table (case, separators, truncation at 63, no ASCII letters) each land
    in their own table; nothing is overwritten, and a second run in the opposite order finds the same tables."""
    first = run_target(config, _one_row_per_stream(COLLIDING_STREAMS), tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    tables = _tables_by_stream(store)
    assert sorted(tables) == sorted(COLLIDING_STREAMS)
    assert len(set(tables.values())) == len(COLLIDING_STREAMS)
    for number, stream in enumerate(COLLIDING_STREAMS):
        table = tables[stream]
        assert len(table) <= MAX_IDENTIFIER
        assert query(store, f'SELECT id, value FROM "{table}"') == [(1, f"row of stream {number}")]
    # today's readable names stay for the first claimant
    assert tables["Acct"] == f"{P8}_singer_acct"
    assert tables["pay-group"] == f"{P8}_singer_pay_group"

    second = run_target(config, _one_row_per_stream(list(reversed(COLLIDING_STREAMS))), tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    assert _tables_by_stream(store) == tables
    for table in tables.values():
        assert query(store, f'SELECT COUNT(*) FROM "{table}"') == [(1,)]


def test_i15_13b_unannotated_streams_are_named_per_tap(config: dict, store: Path, tmp_path: Path) -> None:
    """The same unannotated stream from two taps lands in two tables: source_name, else Meltano's extractor name."""
    messages = [
        schema_msg("items", {"id": {"type": "integer"}, "tap": {"type": "string"}}, ["id"]),
        record_msg("items", {"id": 1, "tap": "a"}),
    ]
    assert run_target({**config, "source_name": "tap-a"}, messages, tmp_path).returncode == 0
    messages[1] = record_msg("items", {"id": 1, "tap": "b"})
    by_env = run_target(config, messages, tmp_path, env={"MELTANO_EXTRACTOR_NAME": "tap-b"})
    assert by_env.returncode == 0, by_env.stderr[-2000:]
    assert query(store, f'SELECT tap FROM "{P8}_tap_a_items"') == [("a",)]
    assert query(store, f'SELECT tap FROM "{P8}_tap_b_items"') == [("b",)]
    owners = query(store, "SELECT table_name, file_name FROM _schema_metadata ORDER BY table_name")
    assert owners == [(f"{P8}_tap_a_items", "tap-a:items"), (f"{P8}_tap_b_items", "tap-b:items")]


@settings(max_examples=300, deadline=None)
@given(
    streams=st.lists(st.text(min_size=1, max_size=90), min_size=2, max_size=12, unique=True),
    products=st.lists(st.sampled_from(["singer", "tap-a", "tap_a", "salesforce"]), min_size=12, max_size=12),
)
def test_i15_1_property_distinct_streams_distinct_tables_stable_across_runs(
    streams: list[str], products: list[str]
) -> None:
    """Any two distinct (product, stream) pairs map to distinct tables of at most 63 characters; a later run that
    sees the store's owners (in any order) maps every stream to the same table again."""
    pairs = list(dict.fromkeys(zip(products, streams, strict=False)))
    store: dict[str, str] = {}  # table -> owner, as _schema_metadata records it
    first = TableNames(PROJECT, store.get)
    mapping = {pair: first.table_for(*pair) for pair in pairs}
    assert len(set(mapping.values())) == len(pairs)
    assert all(len(table) <= MAX_IDENTIFIER for table in mapping.values())
    store.update({table: f"{product}:{stream}" for (product, stream), table in mapping.items()})
    again = TableNames(PROJECT, store.get)
    assert {pair: again.table_for(*pair) for pair in reversed(pairs)} == mapping


def test_i15_13a_floats_from_any_tap_land_as_double(config: dict, store: Path, tmp_path: Path) -> None:
    """500 lat/lon records from a third-party tap (unconstrained ``number``) land as DOUBLE with every value intact,
    3.3000000000000003 included; numbers the schema declares decimal (multipleOf, x-singer.decimal, an XLR8 tap's
    annotation) stay DECIMAL."""
    props = {
        "id": {"type": "integer"},
        "lat": {"type": ["number", "null"]},
        "lon": {"type": ["number", "null"]},
        "price": {"type": ["number", "null"], "multipleOf": 0.01},
        "exact": {"type": ["string", "null"], "format": "x-singer.decimal"},
    }
    points = [(i, -33.86882 + i * 0.0001, 151.20929 - i / 3, f"{i}.25", f"{i}.123456789") for i in range(500)]
    points[0] = (0, 3.3000000000000003, 1e-7, "0.10", "12345678901234567890.5")
    messages = [schema_msg("places", props, ["id"])]
    messages += [
        record_msg("places", {"id": i, "lat": la, "lon": lo, "price": float(p), "exact": e})
        for i, la, lo, p, e in points
    ]
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.summary["streams"]["places"] == {"received": 500, "loaded": 500, "dead_lettered": 0}
    table = f"{P8}_singer_places"
    types = dict(
        query(store, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?", [table])
    )
    assert types["lat"] == types["lon"] == "DOUBLE"
    assert types["price"].startswith("DECIMAL")
    assert types["exact"].startswith("DECIMAL")
    landed = query(
        store, f'SELECT id, lat, lon, CAST(price AS VARCHAR), CAST(exact AS VARCHAR) FROM "{table}" ORDER BY id'
    )
    assert [(i, la, lo) for i, la, lo, _, _ in landed] == [(i, la, lo) for i, la, lo, _, _ in points]
    assert landed[0][1] == 3.3000000000000003
    assert landed[0][3:] == ("0.100000000", "12345678901234567890.500000000")


def _batch_msg(stream: str, *paths: Path | str) -> dict[str, Any]:
    return {
        "type": "BATCH",
        "stream": stream,
        "encoding": {"format": "jsonl", "compression": "none"},
        "manifest": [p if isinstance(p, str) else f"file://{p}" for p in paths],
    }


def test_i15_2_batch_files_only_from_batch_locations_and_never_deleted_unless_owned(
    config: dict, store: Path, tmp_path: Path
) -> None:
    """New scenario, BATCH file provenance: a manifest naming a user's file (directly, through a symlink inside the
    batch directory, or as a non-file URL) is refused with the file and setting named, and the file stays; a file in
    the batch directory that predates the run is loaded but kept; the tap's fresh file is loaded and removed."""
    batches, home = tmp_path / "batches", tmp_path / "home"
    batches.mkdir()
    home.mkdir()
    users = home / "contacts.jsonl"
    users.write_text('{"id": 1, "v": "user data"}\n')
    (batches / "link.jsonl").symlink_to(users)
    cfg = {**config, "batch_locations": [str(batches)]}
    schema = schema_msg("items", {"id": {"type": "integer"}, "v": {"type": "string"}}, ["id"])
    for manifest in (users, batches / "link.jsonl", batches / ".." / "home" / "contacts.jsonl", "s3://bucket/x.jsonl"):
        run = run_target(cfg, [schema, _batch_msg("items", manifest)], tmp_path)
        assert run.returncode != 0
        assert "stream items: BATCH" in run.stderr
        assert users.read_text() == '{"id": 1, "v": "user data"}\n'
    assert "outside setting 'batch_locations'" in run_target(cfg, [schema, _batch_msg("items", users)], tmp_path).stderr
    assert query(store, "SELECT COUNT(*) FROM information_schema.tables WHERE table_name LIKE '%items%'") == [(0,)]
    unset = run_target(config, [schema, _batch_msg("items", users)], tmp_path)
    assert unset.returncode != 0
    assert "setting 'batch_locations' is empty" in unset.stderr

    old, fresh = batches / "old.jsonl", batches / "fresh.jsonl"
    old.write_text('{"id": 2, "v": "written before this run"}\n')
    two_days_ago = old.stat().st_mtime - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    fresh.write_text('{"id": 3, "v": "written by the tap"}\n')
    run = run_target(cfg, [schema, _batch_msg("items", old, fresh), state_msg({"b": 1})], tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert query(store, f'SELECT id FROM "{P8}_singer_items" ORDER BY id') == [(2,), (3,)]
    assert old.exists()
    assert not fresh.exists()


def _items(ids: range) -> list[dict[str, Any]]:
    messages = [schema_msg("items", {"id": {"type": "integer"}, "v": {"type": "string"}}, ["id"])]
    messages += [record_msg("items", {"id": i, "v": f"personal-{i}"}) for i in ids]
    return [*messages, state_msg({"last": ids[-1]})]


def test_i15_3_spool_residue_after_sigkill_is_private_and_removed_at_next_start(
    config: dict, store: Path, tmp_path: Path
) -> None:
    """New scenario beside C6/E2, spool residue after SIGKILL: while a batch is staged its plaintext spool sits in a
    0700 directory of the target's (never the shared temp dir); after a SIGKILL the next run removes it first, and
    a normal run leaves no spool behind."""
    marker, scratch = tmp_path / "in-spool", tmp_path / "tmp"
    scratch.mkdir()
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({**config, "batch_size_rows": 100}))
    hold = {"TMPDIR": str(scratch), "XLR8_TRUTHS_HOLD_IN_SPOOL": f"{marker}:2"}
    proc = held_target(cfg, _items(range(300)), hold, marker, "staging the second batch")
    spool_root = store.parent / "truths-spool"
    spooled = list(spool_root.rglob("*.jsonl"))
    assert len(spooled) == 1
    assert "personal-150" in spooled[0].read_text()
    assert stat.S_IMODE(spool_root.stat().st_mode) == 0o700
    assert stat.S_IMODE(spooled[0].parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(spooled[0].stat().st_mode) == 0o600
    killed(proc)
    assert spooled[0].exists()  # the residue the next start must clean

    rerun = run_target(config, _items(range(100, 300)), tmp_path, env={"TMPDIR": str(scratch)})
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "Removed 1 spool directories left by killed runs" in rerun.stderr
    assert list(spool_root.iterdir()) == []
    assert list(scratch.iterdir()) == []
    assert query(store, f'SELECT COUNT(*) FROM "{P8}_singer_items"') == [(300,)]


def _keyed(keys: list[str], rows: list[tuple[int, str]], state: int) -> list[dict[str, Any]]:
    props = {"id": {"type": "integer"}, "name": {"type": "string"}}
    return [
        schema_msg("people", props, keys),
        *(record_msg("people", {"id": i, "name": n}) for i, n in rows),
        state_msg({"run": state}),
    ]


def test_i15_4_key_change_fails_by_default_or_starts_a_new_table_version(
    config: dict, store: Path, tmp_path: Path
) -> None:
    """New scenario beside F4, key properties changed (not merely extended): rows distinct under the old key (two
    Anns) are never deleted by an upsert on the new key. Default: the run fails naming the stream and setting,
    nothing moves; key_change_policy=new_table_version keeps the old rows in {table}__v1 and loads the new key into
    a new table."""
    table = f"{P8}_singer_people"
    first = run_target(config, _keyed(["id"], [(1, "Ann"), (2, "Ann")], 1), tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]

    mid_stream = [*_keyed(["id"], [(3, "Bob")], 2)[:2], *_keyed(["name"], [(4, "Ann")], 2)]
    for messages in (_keyed(["name"], [(5, "Ann")], 2), mid_stream):
        refused = run_target(config, messages, tmp_path)
        assert refused.returncode != 0
        assert "stream people: key properties changed from ['id'] to ['name']" in refused.stderr
        assert "setting 'key_change_policy' is 'fail'" in refused.stderr
        assert refused.states == []
        assert query(store, f'SELECT id, name FROM "{table}" ORDER BY id') == [(1, "Ann"), (2, "Ann")]

    cfg = {**config, "key_change_policy": "new_table_version"}
    switched = run_target(cfg, _keyed(["name"], [(5, "Ann")], 3), tmp_path)
    assert switched.returncode == 0, switched.stderr[-2000:]
    assert switched.states == [{"run": 3}]
    assert query(store, f'SELECT id, name FROM "{table}__v1" ORDER BY id') == [(1, "Ann"), (2, "Ann")]
    assert query(store, f'SELECT id, name FROM "{table}"') == [(5, "Ann")]
    assert query(store, "SELECT table_name, likely_keys FROM _schema_metadata ORDER BY table_name") == [
        (table, '["name"]'),
        (f"{table}__v1", '["id"]'),
    ]

    # and again, twice (review 19a: the second archive took the first's name, the run failed on the rename)
    for n, (keys, row) in enumerate(((["id"], (6, "Cy")), (["name"], (7, "Di"))), start=2):
        again = run_target(cfg, _keyed(keys, [row], 3 + n), tmp_path)
        assert again.returncode == 0, again.stderr[-2000:]
        assert again.states == [{"run": 3 + n}]
        assert query(store, f'SELECT id, name FROM "{table}"') == [row]
    assert query(store, f'SELECT id, name FROM "{table}__v2"') == [(5, "Ann")]
    assert query(store, f'SELECT id, name FROM "{table}__v3"') == [(6, "Cy")]
    assert query(store, "SELECT table_name, likely_keys FROM _schema_metadata ORDER BY table_name") == [
        (table, '["name"]'),
        (f"{table}__v1", '["id"]'),
        (f"{table}__v2", '["name"]'),
        (f"{table}__v3", '["id"]'),
    ]


def test_i15_4b_a_key_extended_by_a_column_old_rows_lack_is_a_key_change(
    config: dict, store: Path, tmp_path: Path
) -> None:
    """audit25e F6: a key extended by a column the landed rows hold no value in passed with a warning, and no new
    row ever matched its old one (NULL equals nothing): each entity twice, live. It is a key change: refused by
    default, a new table version on request; a column every landed row holds still extends with a warning."""
    table = f"{P8}_singer_people"
    props = {"id": {"type": "integer"}, "name": {"type": "string"}, "company": {"type": ["string", "null"]}}

    def run(keys: list[str], rows: list[dict], n: int, cfg: dict) -> Any:
        msgs = [schema_msg("people", props, keys), *(record_msg("people", r) for r in rows), state_msg({"run": n})]
        return run_target(cfg, msgs, tmp_path)

    first = run(["id"], [{"id": 1, "name": "old"}, {"id": 2, "name": "old"}], 1, config)
    assert first.returncode == 0, first.stderr[-2000:]
    refused = run(["id", "company"], [{"id": 1, "company": "A", "name": "new"}], 2, config)
    assert refused.returncode != 0
    assert "hold no value in rows already landed" in refused.stderr
    assert "company" in refused.stderr
    assert refused.states == []
    assert query(store, f'SELECT id, company, name FROM "{table}" ORDER BY id') == [(1, None, "old"), (2, None, "old")]

    cfg = {**config, "key_change_policy": "new_table_version"}
    switched = run(["id", "company"], [{"id": 1, "company": "A", "name": "new"}], 3, cfg)
    assert switched.returncode == 0, switched.stderr[-2000:]
    assert query(store, f'SELECT id, company, name FROM "{table}"') == [(1, "A", "new")]
    assert query(store, f'SELECT id, name FROM "{table}__v1" ORDER BY id') == [(1, "old"), (2, "old")]

    props["team"] = {"type": ["string", "null"]}
    filled = run(["id", "company"], [{"id": 1, "company": "A", "name": "newer", "team": "x"}], 4, config)
    assert filled.returncode == 0, filled.stderr[-2000:]
    extended = run(["id", "company", "name"], [{"id": 1, "company": "A", "name": "newer", "team": "y"}], 5, config)
    assert extended.returncode == 0, extended.stderr[-2000:]
    assert "key properties extended" in extended.stderr
    assert query(store, f'SELECT id, company, name, team FROM "{table}"') == [(1, "A", "newer", "y")]


def test_i15_10_state_emitted_only_when_it_changed(config: dict, store: Path, tmp_path: Path) -> None:
    """RELIABILITY E10: repeated identical STATE messages (each after a committed batch) go out once."""
    same, later = {"bookmarks": {"items": {"id": 2}}}, {"bookmarks": {"items": {"id": 4}}}
    messages = [schema_msg("items", {"id": {"type": "integer"}}, ["id"])]
    for i, state in ((1, same), (2, same), (3, same), (4, later), (5, later)):
        messages += [record_msg("items", {"id": i}), state_msg(state)]
    run = run_target({**config, "batch_size_rows": 1}, messages, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.states == [same, later]
    assert query(store, f'SELECT COUNT(*) FROM "{P8}_singer_items"') == [(5,)]


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR" in line or line.startswith("ERROR")]


def test_i15_8_fatal_errors_are_one_line_with_the_traceback_at_debug(config: dict, store: Path, tmp_path: Path) -> None:
    """Bad config, ACTIVATE_VERSION for a stream never announced, a 100,000-deep JSON line and a refused BATCH file:
    each ends the run non-zero with one ERROR line naming the setting, stream or line, and no traceback unless the
    log level is DEBUG."""
    deep = "[" * 100_000 + "]" * 100_000
    cases = [
        ({**config, "project_id": "not-a-uuid"}, [], "setting 'project_id'"),
        (
            config,
            [{"type": "ACTIVATE_VERSION", "stream": "ghost", "version": 1}],
            "ACTIVATE_VERSION for stream 'ghost'",
        ),
        (config, deep + "\n", "input line is nested too deeply to parse (200001 chars"),
        (
            config,
            [schema_msg("items", {"id": {"type": "integer"}}, ["id"]), _batch_msg("items", "/etc/passwd")],
            "stream items: BATCH",
        ),
    ]
    for cfg, messages, named in cases:
        run = run_target(cfg, messages, tmp_path)
        assert run.returncode == 1, run.stderr[-2000:]
        assert "Traceback" not in run.stderr
        errors = _error_lines(run.stderr)
        assert any(named in line for line in errors), run.stderr[-2000:]
    debug = run_target(config, [{"type": "ACTIVATE_VERSION", "stream": "ghost", "version": 1}], tmp_path,
                       env={"TARGET_XLR8_TRUTHS_LOGLEVEL": "debug"})  # fmt: skip
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr
    assert list((store.parent / "truths-spool").iterdir()) == []  # failed runs leave no spool directory either


def test_i15_6_the_same_number_lands_the_same_way_whatever_its_spelling(
    config: dict, store: Path, tmp_path: Path
) -> None:
    """REST writes -33.86882, Bulk -33.868820000000000: the same value lands identically in decimal and JSON
    columns, so switching API changes no row."""
    props = {
        "id": {"type": "integer"},
        "lat": {"type": ["number", "null"], "multipleOf": 1e-15},
        "where": {"type": ["object", "null"]},
    }
    lines = [json.dumps(schema_msg("geo", props, ["id"]))]
    for i, spelling in ((1, "-33.86882"), (2, "-33.868820000000000"), (3, "-33.8688200")):
        lines.append(f'{{"type": "RECORD", "stream": "geo", "record": {{"id": {i}, "lat": {spelling}, '
                     f'"where": {{"latitude": {spelling}, "accuracy": 1.50}}}}}}')  # fmt: skip
    run = run_target(config, "\n".join(lines) + "\n", tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = query(store, f'SELECT CAST(lat AS VARCHAR), CAST("where" AS VARCHAR) FROM "{P8}_singer_geo" ORDER BY id')
    assert len(set(rows)) == 1, rows
    assert rows[0][1] == '{"latitude":"-33.86882","accuracy":"1.5"}'
