"""A read that failed leaves nothing for the next read of the same stream object in the process (a retry, user
code calling ``sync_all()`` twice): its announcement of sets read whole (``_xlr8_sets_read``) carries the next
read's own start and sets only (review27f L4), on the kit's plain record loop and on the SDK's."""

from __future__ import annotations

import io
import json
import typing as t
from contextlib import redirect_stdout
from datetime import UTC, datetime

import pytest
from singer_sdk import typing as th

from xlr8_kit.rest import KitRESTStream, KitTap, kit_config_schema
from xlr8_kit.vocabulary.annotations import SETS_READ_STREAM

#: What ``datetime.now`` reads at each read's start, in turn: the two reads are told apart without a clock.
STARTS = [datetime(2026, 12, 7, 10, 0, tzinfo=UTC), datetime(2026, 12, 7, 11, 0, tzinfo=UTC)]


class _Clock(datetime):
    readings: t.ClassVar[list[datetime]] = []

    @classmethod
    def now(cls, tz: t.Any = None) -> datetime:  # type: ignore[override]
        return cls.readings.pop(0)


class _DaysStream(KitRESTStream):
    """Each day read whole; the first read fails after noting day d1 (its request for d2 raised)."""

    name = "totals"
    path = "/totals"
    url_base = "http://127.0.0.1:9"
    primary_keys = ("person", "day")
    replication_key = None
    xlr8_replace_by = ("day",)
    schema: t.ClassVar[dict] = th.PropertiesList(
        th.Property("person", th.StringType), th.Property("day", th.StringType)
    ).to_dict()
    attempts: t.ClassVar[int] = 0

    def get_records(self, context: t.Any) -> t.Iterator[dict]:
        type(self).attempts += 1
        days = ["d1", "d2"] if type(self).attempts == 1 else ["d3"]
        for day in days:
            if type(self).attempts == 1 and day == "d2":
                raise ConnectionError("the request for day d2 failed")
            yield {"person": "E1", "day": day}
            self.xlr8_read_whole({"day": [day]})


class _DaysTap(KitTap):
    name = "tap-days"
    product_id = "salesforce"
    config_jsonschema: t.ClassVar[dict] = kit_config_schema(th.PropertiesList())

    def discover_streams(self) -> list[KitRESTStream]:
        return [_DaysStream(self)]

    def build_authenticator(self, runtime: t.Any) -> None:
        return None


@pytest.mark.parametrize("sdk_loop", ["0", "1"], ids=["kit loop", "sdk loop"])
def test_a_read_after_a_failed_one_announces_its_own_start_and_sets(
    monkeypatch: pytest.MonkeyPatch, sdk_loop: str
) -> None:
    monkeypatch.setenv("XLR8_TAP_SDK_RECORD_LOOP", sdk_loop)
    monkeypatch.setattr(_DaysStream, "attempts", 0)
    monkeypatch.setattr(_Clock, "readings", list(STARTS))
    monkeypatch.setattr("xlr8_kit.rest.datetime", _Clock)
    tap = _DaysTap(config={}, parse_env_config=False)
    assert tap.streams["totals"]._plain_record_loop is (sdk_loop == "0")
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(ConnectionError):
        tap.sync_all()
    first = [json.loads(line) for line in out.getvalue().splitlines()]
    assert not [m for m in first if m.get("stream") == SETS_READ_STREAM]  # a failed read announces nothing
    out = io.StringIO()
    with redirect_stdout(out):
        tap.sync_all()
    second = [json.loads(line) for line in out.getvalue().splitlines()]
    announced = [m["record"] for m in second if m["type"] == "RECORD" and m["stream"] == SETS_READ_STREAM]
    assert announced == [{"stream": "totals", "sets": {"day": ["d3"]}, "read_start": STARTS[1].isoformat()}]


class _SortedDaysStream(_DaysStream):
    """Incremental and sorted: its STATEs during the read move the bookmark past the days read so far."""

    replication_key = "day"
    is_sorted = True

    def get_records(self, context: t.Any) -> t.Iterator[dict]:
        for day in ["d1", "d2"]:
            yield {"person": "E1", "day": day}
            self.xlr8_read_whole({"day": [day]})


class _SortedDaysTap(_DaysTap):
    def discover_streams(self) -> list[KitRESTStream]:
        return [_SortedDaysStream(self)]


@pytest.mark.parametrize("sdk_loop", ["0", "1"], ids=["kit loop", "sdk loop"])
def test_sets_read_whole_on_a_sorted_incremental_stream_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, sdk_loop: str
) -> None:
    """review27f L5: a sorted incremental stream's STATEs during the read (every STATE_MSG_FREQUENCY records, a
    BATCH file's, one a failure releases) carry its bookmark past the sets it announces only at the read's end: a
    run stopped after one never announces them. Noting sets there is refused, naming the stream (was: accepted)."""
    monkeypatch.setenv("XLR8_TAP_SDK_RECORD_LOOP", sdk_loop)
    tap = _SortedDaysTap(config={}, parse_env_config=False)
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(ValueError, match="totals: sets read whole on a sorted incremental"):
        tap.sync_all()
    assert SETS_READ_STREAM not in out.getvalue()


class _ParentsStream(KitRESTStream):
    """Full-table parents: the first read reads P1 (and its child), then fails; the second reads none."""

    name = "parents"
    path = "/parents"
    url_base = "http://127.0.0.1:9"
    primary_keys = ("id",)
    replication_key = None
    schema: t.ClassVar[dict] = th.PropertiesList(th.Property("id", th.StringType)).to_dict()
    attempts: t.ClassVar[int] = 0

    def get_records(self, context: t.Any) -> t.Iterator[dict]:
        type(self).attempts += 1
        if type(self).attempts == 1:
            yield {"id": "P1"}
            raise ConnectionError("the request for the second page failed")

    def get_child_context(self, record: dict, context: t.Any) -> dict:
        return {"parent": record["id"]}


class _ChildrenStream(KitRESTStream):
    name = "children"
    path = "/children"
    url_base = "http://127.0.0.1:9"
    primary_keys = ("id",)
    replication_key = None
    parent_stream_type = _ParentsStream
    schema: t.ClassVar[dict] = th.PropertiesList(
        th.Property("id", th.StringType), th.Property("parent", th.StringType)
    ).to_dict()

    def get_records(self, context: t.Any) -> t.Iterator[dict]:
        yield {"id": "C1", "parent": context["parent"]}


class _FamilyTap(_DaysTap):
    name = "tap-family"

    def discover_streams(self) -> list[KitRESTStream]:
        return [_ParentsStream(self), _ChildrenStream(self)]


@pytest.mark.parametrize("sdk_loop", ["0", "1"], ids=["kit loop", "sdk loop"])
def test_a_read_after_a_failed_one_sends_no_version_its_children_held_from_it(
    monkeypatch: pytest.MonkeyPatch, sdk_loop: str
) -> None:
    """review28d L3: a child's ACTIVATE_VERSION is held from when the child is read, under a parent record. The
    failed first read read P1's child (version held), the second read reads no parent, so no child: it sent the
    failed read's child version (the target would mark deleted every child row of earlier runs, though the read
    read no child). Now ``_xlr8_read_begins`` drops the children's held versions; the parent's own is sent."""
    monkeypatch.setenv("XLR8_TAP_SDK_RECORD_LOOP", sdk_loop)
    monkeypatch.setattr(_ParentsStream, "attempts", 0)
    tap = _FamilyTap(config={"emit_activate_version_messages": True}, parse_env_config=False)
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(ConnectionError):
        tap.sync_all()
    first = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [m["record"] for m in first if m["type"] == "RECORD" and m["stream"] == "children"] == [
        {"id": "C1", "parent": "P1"}
    ]
    assert not [m for m in first if m["type"] == "ACTIVATE_VERSION"]  # a failed read activates nothing
    out = io.StringIO()
    with redirect_stdout(out):
        tap.sync_all()
    second = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [m["stream"] for m in second if m["type"] == "ACTIVATE_VERSION"] == ["parents"]


class _PartitionedDaysStream(_SortedDaysStream):
    """Incremental, not sorted, read in two partitions: the first partition's bookmark is final when it ends."""

    is_sorted = False

    @property
    def partitions(self) -> list[dict]:
        return [{"region": "north"}, {"region": "south"}]


class _PartitionedDaysTap(_DaysTap):
    def discover_streams(self) -> list[KitRESTStream]:
        return [_PartitionedDaysStream(self)]


@pytest.mark.parametrize("sdk_loop", ["0", "1"], ids=["kit loop", "sdk loop"])
def test_sets_read_whole_on_a_partitioned_incremental_stream_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, sdk_loop: str
) -> None:
    """review28d L2: the SDK finalizes each partition's bookmark when the partition ends, so the STATEs after it
    carry the bookmark past sets announced only at the read's end, sorted or not: a run stopped in partition 2
    never announces partition 1's sets. Refused, naming the stream (was: accepted; the sorted refusal's advice,
    "declare it is_sorted = False", does not help here)."""
    monkeypatch.setenv("XLR8_TAP_SDK_RECORD_LOOP", sdk_loop)
    tap = _PartitionedDaysTap(config={}, parse_env_config=False)
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(ValueError, match="totals: sets read whole on a partitioned incremental"):
        tap.sync_all()
    assert SETS_READ_STREAM not in out.getvalue()
