"""A Fusion body is parsed exactly once (``FusionClassifier.parse_body``, kept): workers with their expanded
children flattened, and a child stream, read page by page and by ranges."""

from __future__ import annotations

import pytest

from xlr8_kit.testing.probes import spy_body_reads
from xlr8_sandbox.products.oracle_fusion.hcm import OracleHcmEmulator

from .conftest import hcm_config, run_tap


@pytest.mark.parametrize("width", [1, 4])
def test_every_body_of_a_read_is_parsed_once(
    width: int, url: str, emulator: OracleHcmEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = spy_body_reads(monkeypatch)
    streams = {"workers", "workers_emails"}
    out = run_tap(hcm_config(url, resources=["workers"], max_concurrent_requests=width), streams=streams)
    people = {e.employee_id: e for e in emulator.company.employees()}
    workers = out.records("workers")
    assert len(people) == 100
    assert sorted(r["PersonNumber"] for r in workers) == sorted(people)
    assert all(r["WorkEmail"] == people[r["PersonNumber"]].email for r in workers)  # flattened from the one parse
    assert len(out.records("workers_emails")) == 100
    pages = [body for body in reads.bodies(1) if b'"items"' in body]
    assert len(pages) >= 2 * 100 // 40  # page_size 40, two streams: every page's body was read
    assert reads.bodies(2) == []
    assert set(reads.counts()) == {1}
