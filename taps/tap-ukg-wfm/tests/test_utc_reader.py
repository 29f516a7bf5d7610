"""``utc_reader`` (zone looked up once, each distinct text kept) gives what ``UkgWfmStream.utc`` gives, values
and errors alike, with its memo cold, warm and after it starts afresh."""

from __future__ import annotations

import typing as t
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from xlr8_tap_ukg_wfm import client
from xlr8_tap_ukg_wfm.client import UkgWfmStream

VALUES = st.one_of(
    st.none(),
    st.just(""),
    st.just(0),
    st.integers(),
    st.text(max_size=5),
    st.sampled_from(
        ["2026-01-05T08:02:00", "2026-03-08T02:30:00", "2026-11-01T01:30:00", "2026-01-05T08:02:00+01:00", "x"]
    ),
)


def _outcome(convert: t.Callable[[t.Any], t.Any], value: t.Any) -> object:
    try:
        return ("ok", convert(value))
    except Exception as exc:  # the error is part of the contract
        return ("error", type(exc).__name__, str(exc))


@settings(max_examples=300, deadline=None)
@given(st.lists(VALUES, max_size=12), st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata"]), st.booleans())
def test_utc_reader_is_utc(values: list[t.Any], zone: str, tiny_memo: bool) -> None:
    stream = SimpleNamespace(settings=SimpleNamespace(zone=ZoneInfo(zone)))
    limit = client._UTC_MEMO
    client._UTC_MEMO = 2 if tiny_memo else limit
    try:
        read = UkgWfmStream.utc_reader(stream)  # type: ignore[arg-type]
        for value in values + values:
            assert _outcome(read, value) == _outcome(lambda v: UkgWfmStream.utc(stream, v), value)  # type: ignore[arg-type]
    finally:
        client._UTC_MEMO = limit
