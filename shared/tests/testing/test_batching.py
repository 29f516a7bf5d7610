"""The kit's BATCH files hold exactly the records RECORD messages carry, and STATE never passes a file not named."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import os
import typing as t
from contextlib import redirect_stdout
from decimal import Decimal
from pathlib import Path

import pytest
from singer_sdk import typing as th
from singer_sdk.singerlib.json import deserialize_json, serialize_json

from xlr8_kit.batching import encode_lines
from xlr8_kit.rest import KitRESTStream, KitTap, kit_config_schema
from xlr8_kit.testing.batch_residue import killed_run_files

TRICKY = [
    {"Id": "001", "Name": "Acme", "AnnualRevenue": Decimal("1250000.50"), "Employees": 120, "Active": True},
    {"Id": "002", "Name": None, "Rate": Decimal("1E+2"), "Tiny": Decimal("-0.0000001"), "Big": 2**80},
    {"Name": "Zoë Ångström 😀 \u2028", "Note": 'quote " back \\ slash / tab \t nl \n ctrl \x01 del \x7f'},
    {"Nested": {"Street": "1 Main", "Geo": [Decimal("51.5"), Decimal("-0.12")], "Tags": ["a", None, 3]}},
    {"Float": 1e16, "Small": 1e-7, "Plain": 0.5, "NaN": float("nan")},
    {"When": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "Day": dt.date(2024, 1, 2)},
    {"Lone": "half \ud800 a surrogate"},
    {},
]


def test_encoded_lines_decode_to_what_the_sdk_serializer_gives() -> None:
    lines = encode_lines(TRICKY).decode().split("\n")[:-1]  # not splitlines(): U+2028 is no line end in JSON lines
    assert len(lines) == len(TRICKY)
    for line, record in zip(lines, TRICKY, strict=True):
        assert repr(deserialize_json(line)) == repr(deserialize_json(serialize_json(record)))


SCHEMA = th.PropertiesList(
    th.Property("id", th.IntegerType),
    th.Property("updated", th.DateTimeType),
    th.Property("name", th.StringType),
    th.Property("amount", th.NumberType),
    th.Property("secret_note", th.StringType),
    th.Property("tags", th.ArrayType(th.StringType)),
).to_dict()
ROWS = 25


class _Things(KitRESTStream):
    name = "things"
    xlr8_entity = "account"
    path = "/things"
    url_base = "http://127.0.0.1:9"
    primary_keys = ("id",)
    replication_key = "updated"
    is_sorted = True
    schema: t.ClassVar[dict] = SCHEMA
    fail_after: t.ClassVar[int | None] = None

    def get_records(self, context: t.Any) -> t.Iterator[dict]:
        start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        for n in range(ROWS):
            if self.fail_after is not None and n == self.fail_after:
                raise RuntimeError("vendor went away")
            yield {
                "id": n,
                "updated": start + dt.timedelta(hours=n),  # a datetime: conformance turns it into text
                "name": f"thing {n} é",
                "amount": Decimal(n) / 4,
                "secret_note": "deselected",
                "tags": ["a", str(n)],
                "extra": "not in the schema",  # conformance drops it
            }


class _ParentThings(_Things):
    def get_child_context(self, record: dict, context: t.Any) -> dict:
        return {"id": record["id"]}


class _Children(KitRESTStream):
    name = "children"
    xlr8_entity = "account"
    path = "/children"
    url_base = "http://127.0.0.1:9"
    primary_keys = ("id",)
    parent_stream_type = _ParentThings
    schema: t.ClassVar[dict] = th.PropertiesList(th.Property("id", th.IntegerType)).to_dict()

    def get_records(self, context: t.Any) -> t.Iterator[dict]:
        yield {"id": context["id"]}


class _Tap(KitTap):
    name = "tap-things"
    product_id = "salesforce"
    config_jsonschema: t.ClassVar[dict] = kit_config_schema(th.PropertiesList())
    with_children = False

    def discover_streams(self) -> list[KitRESTStream]:
        if self.with_children:
            return [_ParentThings(self), _Children(self)]
        return [_Things(self)]

    def build_authenticator(self, runtime: t.Any) -> None:
        return None


class _ParentTap(_Tap):
    with_children = True


def _catalog(tap_class: type[_Tap], deselect: str | None) -> dict:
    catalog = tap_class(config={}, parse_env_config=False).catalog_dict
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = True
            elif deselect and meta["breadcrumb"] == ["properties", deselect]:
                meta["metadata"]["selected"] = False
    return catalog


def _run(
    tmp_path: Path, batch: dict | None, tap_class: type[_Tap] = _Tap, deselect: str | None = "secret_note"
) -> list[dict]:
    config = {"batch_config": batch} if batch else {}
    tap = tap_class(config=config, catalog=_catalog(tap_class, deselect), parse_env_config=False)
    out = io.StringIO()
    with redirect_stdout(out):
        tap.sync_all()
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _batch_config(root: Path, compression: str, size: int = 10) -> dict:
    return {
        "encoding": {"format": "jsonl", "compression": compression},
        "storage": {"root": root.as_uri(), "prefix": "p-"},
        "batch_size": size,
    }


def _file_records(url: str) -> list[dict]:
    path = Path(url.removeprefix("file://"))
    data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    return [deserialize_json(line) for line in data.decode().split("\n") if line]


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_batch_files_hold_the_records_the_record_messages_carry(tmp_path: Path, compression: str) -> None:
    by_record = _run(tmp_path, None)
    expected = [deserialize_json(json.dumps(m["record"])) for m in by_record if m["type"] == "RECORD"]
    assert len(expected) == ROWS
    assert "secret_note" not in expected[0]
    assert "extra" not in expected[0]

    by_batch = _run(tmp_path, _batch_config(tmp_path / "b", compression))
    assert not [m for m in by_batch if m["type"] == "RECORD"]
    batches = [m for m in by_batch if m["type"] == "BATCH"]
    assert len(batches) == 3  # 25 records, 10 a file
    assert all(m["encoding"] == {"format": "jsonl", "compression": compression} for m in batches)
    urls = [url for m in batches for url in m["manifest"]]
    suffix = ".json.gz" if compression == "gzip" else ".jsonl"
    assert all(url.endswith(suffix) and "/p-tap-things--things-" in url for url in urls)
    landed = [record for url in urls for record in _file_records(url)]
    assert repr(landed) == repr(expected)
    assert not list((tmp_path / "b").glob(".*partial"))


def _when(text: str | None) -> dt.datetime:
    assert text is not None
    return dt.datetime.fromisoformat(text)


def _bookmark(message: dict) -> str | None:
    return message["value"]["bookmarks"].get("things", {}).get("replication_key_value")


def test_state_after_each_batch_covers_exactly_the_files_named(tmp_path: Path) -> None:
    messages = _run(tmp_path, _batch_config(tmp_path / "b", "none"))
    seen: list[dict] = []
    checked = 0
    for message in messages:
        if message["type"] == "BATCH":
            seen += _file_records(message["manifest"][0])
        if message["type"] == "STATE" and _bookmark(message):
            assert _when(_bookmark(message)) == max(_when(r["updated"]) for r in seen)
            checked += 1
    assert checked >= 3
    kinds = [m["type"] for m in messages if m["type"] in ("BATCH", "STATE")]
    assert kinds[kinds.index("BATCH") :][:6] == ["BATCH", "STATE"] * 3
    assert len(seen) == ROWS


@pytest.mark.parametrize("written_early", [False, True])
def test_a_failure_mid_file_leaves_state_at_the_last_file_named_and_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, written_early: bool
) -> None:
    """``written_early``: the failing file's first records are already on disk (blocks of 3, written at once)."""
    monkeypatch.setattr(_Things, "fail_after", 17)
    if written_early:
        monkeypatch.setattr("xlr8_kit.batching.ENCODE_BLOCK", 3)
        monkeypatch.setattr("xlr8_kit.batching.WRITE_BYTES", 1)
    tap = _Tap(config={"batch_config": _batch_config(tmp_path / "b", "none")}, catalog=_catalog(_Tap, None))
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(RuntimeError, match="vendor went away"):
        tap.sync_all()
    messages = [json.loads(line) for line in out.getvalue().splitlines()]
    batches = [m for m in messages if m["type"] == "BATCH"]
    assert len(batches) == 1  # records 0-9; 10-16 were never named
    bookmarks = [_bookmark(m) for m in messages if m["type"] == "STATE" and _bookmark(m)]
    assert bookmarks
    assert max(map(_when, bookmarks)) == _when("2026-01-01T09:00:00+00:00")
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [Path(batches[0]["manifest"][0]).name]


def test_parent_and_child_streams_send_record_messages(tmp_path: Path) -> None:
    messages = _run(tmp_path, _batch_config(tmp_path / "b", "none"), _ParentTap)
    assert not [m for m in messages if m["type"] == "BATCH"]
    records = [m["stream"] for m in messages if m["type"] == "RECORD"]
    assert records.count("things") == ROWS
    assert records.count("children") == ROWS


def test_a_dry_run_stop_names_the_records_it_read(tmp_path: Path) -> None:
    """The SDK's dry run (``--test``) pauses a stream at its record limit; the records read go into a last file."""
    config = {"batch_config": _batch_config(tmp_path / "b", "none")}
    tap = _Tap(config=config, catalog=_catalog(_Tap, None), parse_env_config=False)
    out = io.StringIO()
    with redirect_stdout(out):
        tap.run_sync_dry_run(dry_run_record_limit=15)
    messages = [json.loads(line) for line in out.getvalue().splitlines()]
    named = [r for m in messages if m["type"] == "BATCH" for r in _file_records(m["manifest"][0])]
    assert [r["id"] for r in named] == list(range(15))
    bookmarks = [_bookmark(m) for m in messages if m["type"] == "STATE" and _bookmark(m)]
    assert bookmarks
    assert max(map(_when, bookmarks)) == max(_when(r["updated"]) for r in named)


def test_plain_record_loop_writes_the_files_and_state_of_the_sdk_loop(tmp_path: Path, monkeypatch: t.Any) -> None:
    """Every property selected: the kit's plain record loop feeds the files; the SDK loop must give the same."""
    seen = []
    for sdk_loop in ("0", "1"):
        monkeypatch.setenv("XLR8_TAP_SDK_RECORD_LOOP", sdk_loop)
        assert _Tap(config={}, parse_env_config=False).streams["things"]._plain_record_loop is (sdk_loop == "0")
        messages = _run(tmp_path, _batch_config(tmp_path / f"b{sdk_loop}", "none"), deselect=None)
        urls = [url for m in messages if m["type"] == "BATCH" for url in m["manifest"]]
        states = [m["value"] for m in messages if m["type"] == "STATE"]
        for state in states:
            for bookmark in state.get("bookmarks", {}).values():
                bookmark.pop("replication_key_signpost", None)
        seen.append((repr([record for url in urls for record in _file_records(url)]), states, len(urls)))
    assert seen[0] == seen[1]
    assert seen[0][2] == 3
    assert "secret_note" in seen[0][0]


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_batch_files_are_the_owner_s_alone(tmp_path: Path, compression: str) -> None:
    """audit25e F20: the files hold records in clear (personal data too) and were 0644 under the usual umask; a
    folder the writer creates for them is 0700 (one that exists keeps its mode: the root may be shared)."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        messages = _run(tmp_path, _batch_config(tmp_path / "new" / "b", compression))
    finally:
        os.umask(old)
    urls = [url for m in messages if m["type"] == "BATCH" for url in m["manifest"]]
    assert len(urls) == 3
    assert {stat.S_IMODE(Path(url.removeprefix("file://")).stat().st_mode) for url in urls} == {0o600}
    assert stat.S_IMODE((tmp_path / "new" / "b").stat().st_mode) == 0o700


class _GoneAfter(io.StringIO):
    """A stdout whose reader goes away at the first BATCH message (a target that stopped)."""

    def write(self, text: str) -> int:
        if '"type":"BATCH"' in text.replace(" ", ""):
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(text)


def test_a_file_the_tap_cannot_name_is_removed(tmp_path: Path) -> None:
    """audit25e F20: a file whose BATCH message cannot be written (the target has gone) will never be read nor
    removed by a target: the tap removes it. Its records were covered by no STATE, so the next run reads them."""
    tap = _Tap(config={"batch_config": _batch_config(tmp_path / "b", "none")}, catalog=_catalog(_Tap, None))
    out = _GoneAfter()
    with redirect_stdout(out), pytest.raises(BrokenPipeError):
        tap.sync_all()
    assert '"BATCH"' not in out.getvalue()
    assert list((tmp_path / "b").iterdir()) == []


def test_a_killed_run_s_batch_files_go_at_the_next_start(tmp_path: Path) -> None:
    """A SIGKILLed tap (or target) leaves its BATCH files, records in clear, and no one removed them; and a batch
    folder that already existed 0755 stayed so. The next tap to write there removes the files whose writer and its
    parent run are gone, keeps those of a live run and any other file, and makes the folder 0700. Only the killed
    run's ``.partial`` goes (unwritten for STALE_PARTIAL_IDLE_SECONDS): its complete file may still be sent to a
    target (review26c M1)."""
    import stat
    import time

    from xlr8_kit.batch_files import STALE_PARTIAL_IDLE_SECONDS

    folder = tmp_path / "b"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    complete, partial = sorted(killed_run_files(folder), key=lambda p: p.name.endswith(".partial"))
    idle = time.time() - STALE_PARTIAL_IDLE_SECONDS - 60
    os.utime(complete, (idle, idle))
    os.utime(partial, (idle, idle))
    stale = [partial]
    live = folder / f"p-tap-things--things-00000000-0000-0000-0000-000000000000~{os.getpid()}~{os.getppid()}-0.jsonl"
    live.write_text('{"id": 3}\n')  # a file of this (live) process: a run still going
    other = folder / "notes.jsonl"
    other.write_text("{}\n")
    messages = _run(tmp_path, _batch_config(folder, "none"))
    urls = [url for m in messages if m["type"] == "BATCH" for url in m["manifest"]]
    assert urls
    assert not any(p.exists() for p in stale)
    assert complete.exists()
    assert live.exists()
    assert other.exists()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
