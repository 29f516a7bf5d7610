"""``q`` literals compiled by the kit's dialects (rowmatch for framework 2+, simple for framework 1) select exactly
the rows the universal evaluator selects, against the emulator's own q parser: values with quotes, dates and
timestamps, ``in`` lists."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xlr8_kit.query import And, Compare, In, matches
from xlr8_kit.query.dialects import OracleREST, OracleRESTSimple
from xlr8_kit.vocabulary import mapping_for_stream
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.oracle_fusion.framework import Attr
from xlr8_sandbox.products.oracle_fusion.hcm import PASSWORD, USERNAME, OracleHcmEmulator

TEXT = st.text(alphabet=st.sampled_from("abO'B \"r;,()%_-é"), min_size=0, max_size=8)
NOTES = ["O'Brien", "it''s", "a;b", "(x)", "Léa", "", "%_", "don't, won't"]


def _rows(url: str, q: str, framework: str) -> set[str]:
    response = requests.get(
        f"{url}/hcmRestApi/resources/11.13.18.05/workers",
        params={"q": q, "onlyData": "true", "limit": "500", "fields": "PersonNumber"},
        headers={"REST-Framework-Version": framework},
        auth=(USERNAME, PASSWORD),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return {r["PersonNumber"] for r in response.json()["items"]}


def _local(rows: list[dict[str, Any]], node: Any) -> set[str]:
    return {r["PersonNumber"] for r in rows if matches(r, node)}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    notes=st.lists(st.one_of(st.sampled_from(NOTES), TEXT), min_size=1, max_size=4),
    since_days=st.integers(min_value=0, max_value=4000),
    birth=st.dates(min_value=date(1960, 1, 1), max_value=date(2000, 12, 31)),
)
def test_q_literals_select_what_the_filter_means(
    sandbox: Sandbox, url: str, notes: list[str], since_days: int, birth: date
) -> None:
    emulator = sandbox.emulator("oracle_hcm")
    assert isinstance(emulator, OracleHcmEmulator)
    if "Note_c" not in emulator.resources["workers"].extra:
        emulator.add_attribute("workers", Attr("Note_c"), lambda row: NOTES[int(row["PersonNumber"][1:]) % len(NOTES)])
    rows = [
        {
            "PersonNumber": e.employee_id,
            "Note_c": NOTES[(e.index + 1) % len(NOTES)],
            "LastUpdateDate": e.last_modified,
            "DateOfBirth": e.birth_date,
        }
        for e in emulator.company.employees()
    ]
    types = {"Note_c": "string", "LastUpdateDate": "datetime", "DateOfBirth": "date", "PersonNumber": "string"}
    mapping = mapping_for_stream("oracle_hcm", "workers")
    assert mapping is not None
    since = datetime(2015, 1, 1, tzinfo=UTC) + timedelta(days=since_days)
    cases = [
        In("Note_c", tuple(notes)),
        Compare("Note_c", "=", notes[0]),
        And((Compare("LastUpdateDate", ">=", since), Compare("DateOfBirth", "<", birth))),
        And((In("Note_c", tuple(notes)), Compare("LastUpdateDate", "<", since))),
    ]
    advanced, simple = OracleREST(mapping, types), OracleRESTSimple(mapping, types)  # type: ignore[arg-type]
    for node in cases:
        expected = _local(rows, node)
        assert _rows(url, advanced.compile(node), "4") == expected, advanced.compile(node)
        if simple.pushable(node):
            assert _rows(url, simple.compile(node), "1") == expected, simple.compile(node)
