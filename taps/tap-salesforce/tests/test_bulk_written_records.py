"""A Bulk read whose records only the writer reads (``WrittenRecord`` structs, the plain loop) writes the lines and
the state the SDK's own record loop writes for the same result pages (dicts, ``Decimal`` numbers, record by record),
awkward CSV cells included: quoted commas and quotes, line ends inside cells, empty cells, non-ASCII, long numbers."""

from __future__ import annotations

import json
import re
import typing as t
from decimal import Decimal
from pathlib import Path

from xlr8_tap_salesforce import client

#: What differs between two runs of the same read: the clock.
_EXTRACTED = re.compile(r',"time_extracted":"[^"]*"')


def _touch_awkward(em: t.Any) -> None:
    em.touch("Account", 3, Name='Acme, "Holdings" Ltd', Description="first line\nsecond, with a comma\r\nthird")
    em.touch("Account", 4, Name="Zoë Ünïcødé 日本 — «ok»", BillingCity="São Paulo", Description="")
    em.touch(
        "Account",
        5,
        AnnualRevenue=Decimal("123456789012345678.25"),
        NumberOfEmployees=2**53 + 1,
        BillingLatitude=Decimal("-0.0000001"),
        Description='"',
    )
    parts = ("Street", "City", "State", "PostalCode", "Country", "Latitude", "Longitude", "GeocodeAccuracy")
    em.touch("Account", 6, **{f"Billing{part}": None for part in parts})  # the address is null


def _exact(text: str) -> t.Any:
    """A JSON text's value, numbers kept as their text (BATCH files write non-ASCII as UTF-8, RECORD lines escape)."""
    return json.loads(text, parse_float=str, parse_int=str)


def _record_texts(lines: list[str]) -> list[str]:
    """Each RECORD line's record object, as written."""
    return [line.split(',"record":', 1)[1].rsplit(',"time_extracted":', 1)[0] for line in lines if '"RECORD"' in line]


def test_awkward_bulk_cells_land_as_the_sdk_record_loop_writes_them(
    sf: t.Any, monkeypatch: t.Any, tmp_path: Path
) -> None:
    made: list[bool] = []
    real = client.written_record_type

    def spy(keys: tuple[str, ...]) -> type[client.WrittenRecord] | None:
        kind = real(keys)
        made.append(kind is not None)
        return kind

    monkeypatch.setattr(client, "written_record_type", spy)
    with sf.start_sandbox({"Account": 250}) as sandbox:
        em = sf.emulator(sandbox)
        _touch_awkward(em)
        config = sf.password_config(sandbox, objects=["Account"], api_type="bulk", bulk_max_records=100)
        plain = sf.run_tap(config)
        assert len(made) == 3  # the fast path was taken, on every result page (250 rows, 100 a page)
        assert all(made)
        made.clear()
        monkeypatch.setenv("XLR8_TAP_SDK_RECORD_LOOP", "1")
        sdk = sf.run_tap(config)
        assert not made  # the SDK's loop reads the records itself: dicts
        monkeypatch.delenv("XLR8_TAP_SDK_RECORD_LOOP")
        rest = sf.run_tap({**config, "api_type": "rest"})
        made.clear()
        storage = {"root": tmp_path.as_uri(), "prefix": "b-"}
        batch_config = {"encoding": {"format": "jsonl", "compression": "none"}, "storage": storage, "batch_size": 100}
        batched = sf.run_tap({**config, "batch_config": batch_config})
        assert made
        assert all(made)  # BATCH files are written from the structs too
    urls = [url for message in batched.of_type("BATCH") for url in message["manifest"]]
    landed = b"".join(Path(url.removeprefix("file://")).read_bytes() for url in urls).decode()
    assert list(map(_exact, landed.split("\n")[:-1])) == list(map(_exact, _record_texts(plain.lines)))
    assert [_EXTRACTED.sub("", line) for line in plain.lines] == [_EXTRACTED.sub("", line) for line in sdk.lines]
    assert plain.state == sdk.state
    records = {record["Id"]: record for record in plain.records("Account")}
    assert len(records) == 250
    ids = [em.objects["Account"].record_id(i) for i in (3, 4, 5, 6)]
    assert records[ids[0]]["Name"] == 'Acme, "Holdings" Ltd'
    assert records[ids[0]]["Description"] == "first line\nsecond, with a comma\r\nthird"
    assert records[ids[1]]["Name"] == "Zoë Ünïcødé 日本 — «ok»"
    assert records[ids[1]]["BillingAddress"]["city"] == "São Paulo"
    assert records[ids[1]]["Description"] is None  # CSV has no null: an empty cell is null
    assert records[ids[2]]["NumberOfEmployees"] == 2**53 + 1
    assert records[ids[2]]["Description"] == '"'
    assert records[ids[3]]["BillingAddress"] is None
    rest_records = {record["Id"]: record for record in rest.records("Account")}
    for record_id in ids:  # the values REST gives (its empty text is empty, Bulk's null; so is an empty address)
        expected = {**rest_records[record_id]}
        if expected["Description"] == "":
            expected["Description"] = None
        if all(part is None for part in expected["BillingAddress"].values()):
            expected["BillingAddress"] = None
        assert records[record_id] == expected, record_id
    line = next(line for line in plain.lines if f'"record":{{"Id":"{ids[2]}"' in line)
    assert '"AnnualRevenue":123456789012345678.25' in line
    assert '"BillingLatitude":-1E-7' in line
