"""Fusion pages come marked conformed (``Conformer.vouches_records`` via ``MarkedPage``) in every reader: the ranged
keyset read, the window of offset pages and page after page. Every record reaches conformance with the mark set,
and the mark is gone once the stream is read. The records written are those of the conformance itself
(``tests/golden`` compares them byte for byte with the build before the marks)."""

from __future__ import annotations

import typing as t

import pytest

from xlr8_kit.conform import Conformer
from xlr8_kit.http.classify import keep_parsed
from xlr8_kit.rest import KitRESTStream, MarkedPage
from xlr8_kit.singer_io import KitSingerWriter
from xlr8_sandbox.products.oracle_fusion.hcm import OracleHcmEmulator

from .conftest import hcm_config, run_tap

READS = {
    "ranged keyset": {"page_size": 3, "max_concurrent_requests": 4},  # 100 rows: page 1, bounds, ranges
    "window of offset pages": {"page_size": 10, "rest_framework_version": "1", "max_concurrent_requests": 4},
    "page after page": {"page_size": 10, "max_concurrent_requests": 1},
}


@pytest.fixture(autouse=True)
def ranges_from_page_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ranged keyset read ranges its rows after page 1 whatever the round trips (else the machine's load decides
    whether this test reads ranges at all: 3 runs in 5, review 20b)."""
    monkeypatch.setattr("xlr8_kit.oracle.ranges.RANGES_AT", 0.0)


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("stream", ["workers", "workers_names"])
def test_every_record_is_written_as_it_is_from_a_page_vouched_for(
    read: str, stream: str, url: str, emulator: OracleHcmEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop conforms no record (``marked`` is never asked) and hands each to the writer marked plain (one by one
    or a page at a time)."""
    del emulator
    conformed: list[dict[str, t.Any]] = []
    written: list[bool] = []
    conformers: list[Conformer] = []
    marked, conformer_of = Conformer.marked, KitRESTStream._conformer
    record_emitter, page_emitter = KitSingerWriter.record_emitter, KitSingerWriter.record_page_emitter

    def spy_marked(self: Conformer, record: dict[str, t.Any]) -> tuple[dict[str, t.Any], bool]:
        conformed.append(record)
        return marked(self, record)

    def spy_emitter(self: KitSingerWriter, *args: t.Any) -> t.Any:
        emit = record_emitter(self, *args)

        def spy_emit(record: dict[str, t.Any], plain: bool = False) -> None:
            written.append(plain)
            emit(record, plain)

        return spy_emit

    def spy_page_emitter(self: KitSingerWriter, *args: t.Any) -> t.Any:
        emit_page = page_emitter(self, *args)

        def spy_emit_page(records: list[dict[str, t.Any]], plain: bool = False) -> None:
            written.extend([plain] * len(records))
            emit_page(records, plain)

        return spy_emit_page

    def spy_conformer(self: KitRESTStream) -> Conformer:
        found = conformer_of.fget(self)  # type: ignore[attr-defined]
        if found not in conformers:
            conformers.append(found)
        return t.cast("Conformer", found)

    monkeypatch.setattr(Conformer, "marked", spy_marked)
    monkeypatch.setattr(KitSingerWriter, "record_emitter", spy_emitter)
    monkeypatch.setattr(KitSingerWriter, "record_page_emitter", spy_page_emitter)
    monkeypatch.setattr(KitRESTStream, "_conformer", property(spy_conformer))
    out = run_tap(hcm_config(url, resources=["workers"], **READS[read]), streams={stream})
    assert len(out.records(stream)) == len(written) >= 100
    assert conformed == []
    assert set(written) == {True}
    assert len(conformers) == 1
    assert (conformers[0].vouched, conformers[0].vouched_plain) == (False, True)  # reset once the stream is read


def test_a_page_with_a_value_conformance_changes_is_not_vouched_for(url: str) -> None:
    """A float that is not finite (the SDK writes null) makes the page go through conformance as before."""
    from xlr8_tap_oracle_hcm.tap import TapOracleHcm

    tap = TapOracleHcm(config=hcm_config(url, resources=["workers"]), parse_env_config=False)
    stream = tap.streams["workers"]

    class Answer:
        def __init__(self, rows: list[dict[str, t.Any]]) -> None:
            keep_parsed(t.cast("t.Any", self), {"items": rows, "hasMore": False})

    usual = {"PersonId": 1, "PersonNumber": "E1", "LastUpdateDate": "2024-01-01T00:00:00+00:00"}
    page = stream.parse_response(t.cast("t.Any", Answer([dict(usual)])))
    assert type(page) is MarkedPage
    assert (page.conformed, page.plain) == (True, True)
    odd = stream.parse_response(t.cast("t.Any", Answer([dict(usual), {**usual, "PersonId": float("nan")}])))
    assert (odd.conformed, odd.plain) == (False, False)
