"""A stream that gains its ``x-xlr8`` annotation moves the table it landed in without one only when the annotation
says ``formerly_unannotated``, and only a table of the same run's source with nothing of the product beside it:
another stream's or another source's rows are never taken over, and a product table that exists is never replaced.
(The whole path, tap-common's ``webhook_events``, is tested in ``taps/tap-common/tests/test_webhook_product.py``.)"""

from __future__ import annotations

from pathlib import Path

from truths_testkit import P8, annotation, query, record_msg, run_target, schema_msg, state_msg

PROPERTIES = {"id": {"type": "integer"}, "value": {"type": "string"}}


def _run(config: dict, tmp_path: Path, note: dict | None, ids: range, env: dict[str, str] | None = None) -> str:
    messages = [schema_msg("events", PROPERTIES, ["id"], note)]
    messages += [record_msg("events", {"id": n, "value": f"v{n}"}) for n in ids]
    messages.append(state_msg({"done": len(ids)}))
    done = run_target(config, messages, tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stderr


def _data_tables(store: Path) -> dict[str, int]:
    names = [r[0] for r in query(store, "SELECT table_name FROM information_schema.tables ORDER BY 1")]
    return {n: query(store, f'SELECT count(*) FROM "{n}"')[0][0] for n in names if not n.startswith("_")}


def _note(formerly: bool) -> dict:
    note = annotation("common", "events", "webhook_event", keys=["id"])
    if formerly:
        note["formerly_unannotated"] = True
    return note


def test_only_a_stream_marked_formerly_unannotated_takes_its_old_table(
    config: dict, store: Path, tmp_path: Path
) -> None:
    _run(config, tmp_path, None, range(5))
    assert _data_tables(store) == {f"{P8}_singer_events": 5}
    _run(config, tmp_path, _note(False), range(5, 8))  # annotated, not marked: a table of its own, as before
    assert _data_tables(store) == {f"{P8}_singer_events": 5, f"{P8}_common_events": 3}


def test_a_marked_stream_takes_only_its_own_sources_table(config: dict, store: Path, tmp_path: Path) -> None:
    _run(config, tmp_path, None, range(5), env={"MELTANO_EXTRACTOR_NAME": "tap-other"})
    stderr = _run(config, tmp_path, _note(True), range(5, 8))  # source "singer": tap-other's table is not its own
    assert "renamed" not in stderr
    assert _data_tables(store) == {f"{P8}_tap_other_events": 5, f"{P8}_common_events": 3}


def test_a_marked_stream_leaves_the_old_table_when_the_product_table_exists(
    config: dict, store: Path, tmp_path: Path
) -> None:
    _run(config, tmp_path, _note(False), range(3))
    _run(config, tmp_path, None, range(3, 8))
    stderr = _run(config, tmp_path, _note(True), range(8, 9))
    assert "renamed" not in stderr
    assert _data_tables(store) == {f"{P8}_common_events": 4, f"{P8}_singer_events": 5}


def test_a_marked_stream_takes_its_old_table_once(config: dict, store: Path, tmp_path: Path) -> None:
    _run(config, tmp_path, None, range(5))
    assert "renamed to" in _run(config, tmp_path, _note(True), range(3, 8))  # 3 and 4 again: upserted by key
    assert _data_tables(store) == {f"{P8}_common_events": 8}
    assert query(store, f'SELECT min(id), max(id), count(DISTINCT id) FROM "{P8}_common_events"') == [(0, 7, 8)]
    assert "renamed" not in _run(config, tmp_path, _note(True), range(8, 9))
    assert _data_tables(store) == {f"{P8}_common_events": 9}
