"""Oracle Fusion collection pages written through msgspec are ``json.dumps``'s bytes (issue 14 goal 1, cold reads).

A page whose attribute values are all str, int, bool or None goes to ``wirejson.spaced_ascii_bytes``; any other
value (a Decimal amount, a datetime a client stored) sends the page to ``json.dumps(default=json_default)`` as
before. Read over HTTP the way the ceiling and the tap read workers (``fields``, ``expand``, framework 4).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import requests

from xlr8_sandbox.platform.server import Sandbox, run_sandbox
from xlr8_sandbox.platform.wirejson import spaced_ascii_bytes
from xlr8_sandbox.products.oracle_fusion.framework import FusionEmulator, _PlainPage
from xlr8_sandbox.products.oracle_fusion.hcm import person_id

WORKERS = "/hcmRestApi/resources/11.13.18.05/workers"
PARAMS = {
    "orderBy": "LastUpdateDate:asc,PersonId:asc",
    "fields": "PersonId,PersonNumber,CorrespondenceLanguage,LastUpdateDate;names:FirstName,LastName,DisplayName;"
    "workRelationships:StartDate;workRelationships.assignments:JobCode,ManagerPersonNumber,PrimaryFlag",
    "expand": "names,workRelationships,workRelationships.assignments",
    "limit": "50",
}


@pytest.fixture
def hcm() -> Iterator[Sandbox]:
    with run_sandbox(["oracle_hcm"], seed=42, scale=120) as sandbox:
        yield sandbox


def _read(sandbox: Sandbox, **extra: str) -> bytes:
    emulator = sandbox.emulator("oracle_hcm")
    credentials = emulator.test_credentials()
    answer = requests.get(
        sandbox.url("oracle_hcm") + WORKERS,
        params={**PARAMS, **extra},
        auth=(credentials["username"], credentials["password"]),
        headers={"REST-Framework-Version": "4"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    return answer.content


def _as_json_dumps_writes_it(served: bytes) -> bytes:
    """What ``json.dumps`` writes for the page it parses to (every float here round-trips through its repr)."""
    return json.dumps(json.loads(served)).encode()


@pytest.mark.parametrize("only_data", ["true", "false"])
def test_a_plain_page_is_what_json_dumps_writes(hcm: Sandbox, only_data: str) -> None:
    emulator: Any = hcm.emulator("oracle_hcm")
    odd = 'Zoë Ñ 😀 \x7f "quoted" back\\slash, a: b'
    emulator.update_row("workers", 3, {"CorrespondenceLanguage": odd})
    served = _read(hcm, onlyData=only_data)
    assert served == _as_json_dumps_writes_it(served)
    assert served.isascii()
    assert b"\\u00eb" in served
    assert b"\\ud83d\\ude00" in served
    assert b"\\u007f" in served
    items = json.loads(served)["items"]
    assert len(items) == 50
    assert odd in [item["CorrespondenceLanguage"] for item in items]
    assert all(item["names"]["items"][0]["DisplayName"] for item in items)


def test_decimals_and_datetimes_still_go_through_json_default(hcm: Sandbox) -> None:
    emulator: Any = hcm.emulator("oracle_hcm")
    emulator.change_rows(
        "workers",
        lambda i, row: {**row, "CorrespondenceLanguage": Decimal("12.50")} if i % 2 else
        {**row, "CorrespondenceLanguage": datetime(2026, 12, 7, 8, 0, tzinfo=UTC)},
    )  # fmt: skip
    served = _read(hcm, onlyData="true")
    assert served == _as_json_dumps_writes_it(served)
    values = {type(v).__name__: v for v in (item["CorrespondenceLanguage"] for item in json.loads(served)["items"])}
    assert values == {"float": 12.5, "str": "2026-12-07 08:00:00+00:00"}  # float(Decimal), str(datetime)


def test_a_page_is_plain_only_while_every_value_is(hcm: Sandbox) -> None:
    emulator: FusionEmulator[Any] = hcm.emulator("oracle_hcm")  # type: ignore[assignment]
    params = {**PARAMS, "onlyData": "true"}
    body = emulator._page(emulator.resources["workers"], params, 4, "http://x/workers")
    first = body["items"][0]["PersonId"] - person_id(0)  # the first worker on the page, by index
    assert isinstance(body, _PlainPage)
    assert spaced_ascii_bytes(body) == json.dumps(body).encode()
    emulator.change_rows("workers", lambda i, row: {**row, "CorrespondenceLanguage": Decimal(i)} if i == first else row)
    body = emulator._page(emulator.resources["workers"], params, 4, "http://x/workers")
    assert type(body) is dict
