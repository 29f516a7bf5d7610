"""A REST read whose records only the writer reads decodes a page of the SOQL's fields straight into structs
(``client.QueryRecord``, ``query_page_type``) and writes the lines and the state the SDK's own record loop writes for
the same pages (dicts, ``Decimal`` numbers, record by record). A page that is not exactly the SOQL's fields (one
missing or another added, the first record in another order, no ``attributes`` first, what msgspec refuses) is read
as dicts, as before; what a struct page holds (nulls, compound fields, duplicate keys, an ``attributes`` missing from
a later record) is written as the dict page would be, byte for byte."""

from __future__ import annotations

import copy
import io
import json
import logging
import re
import typing as t
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from xlr8_kit.redaction import Redactor
from xlr8_kit.singer_io import IsoClock, KitSingerWriter
from xlr8_tap_salesforce import client
from xlr8_tap_salesforce.client import JsonNumbers, QueryPage, QueryRecord, SalesforceClient, SalesforceStream
from xlr8_tap_salesforce.tap import TapSalesforce

#: What differs between two runs of the same read: the clock.
_EXTRACTED = re.compile(r',"time_extracted":"[^"]*"')


def _deleted_accounts_config(sf: t.Any, sandbox: t.Any, width: int) -> dict[str, t.Any]:
    """A REST read of Account with its deleted rows, 200 a page, ``width`` cursors."""
    return sf.password_config(
        sandbox,
        objects=["Account"],
        api_type="rest",
        include_deleted=True,
        batch_size=200,
        rest_concurrent_queries=width,
    )


def _struct_pages(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Per REST page parsed with a struct page type: whether it became structs (True) or dicts."""
    taken: list[bool] = []
    real = client.QueryPageType.parser

    def spy(self: client.QueryPageType, numbers: t.Any, *name: str) -> t.Callable[[bytes], tuple[t.Any, bool]]:
        parse = real(self, numbers, *name)

        def counted(content: bytes) -> tuple[t.Any, bool]:
            body, plain = parse(content)
            taken.append(isinstance(body, QueryPage))
            return body, plain

        return counted

    monkeypatch.setattr(client.QueryPageType, "parser", spy)
    return taken


@pytest.mark.parametrize("width", [1, 4])
def test_rest_struct_pages_land_as_the_sdk_record_loop_writes_them(
    sf: t.Any, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    taken = _struct_pages(monkeypatch)
    with sf.start_sandbox({"Account": 1200}) as sandbox:
        em = sf.emulator(sandbox)
        em.touch("Account", 3, Name='Acme, "Holdings" Ltd', Description="first line\nsecond\u2028third\x7f")
        em.touch("Account", 4, Name="Zoë Ünïcødé 日本 — «ok» 😀", BillingCity="São Paulo", Description="")
        em.touch(
            "Account",
            5,
            AnnualRevenue=Decimal("123456789012345678.250"),
            NumberOfEmployees=2**53 + 1,
            BillingLatitude=Decimal("-0.0000001"),
            Description=None,
        )
        parts = ("Street", "City", "State", "PostalCode", "Country", "Latitude", "Longitude", "GeocodeAccuracy")
        em.touch("Account", 6, **{f"Billing{part}": None for part in parts})  # the address is null
        em.delete("Account", 7)
        em.delete("Account", 8)
        config = _deleted_accounts_config(sf, sandbox, width)
        plain = sf.run_tap(config)
        assert len(taken) >= 6  # 1,200 rows, 200 a page: the struct parse read every page ...
        assert all(taken)  # ... and every one became structs
        taken.clear()
        monkeypatch.setenv("XLR8_TAP_SDK_RECORD_LOOP", "1")
        sdk = sf.run_tap(config)
        assert not taken  # the SDK's loop reads the records itself: dicts
        deleted = [em.objects["Account"].record_id(i) for i in (7, 8)]
        odd = [em.objects["Account"].record_id(i) for i in (3, 4, 5, 6)]
    assert [_EXTRACTED.sub("", line) for line in plain.lines] == [_EXTRACTED.sub("", line) for line in sdk.lines]
    assert plain.state == sdk.state
    records = {record["Id"]: record for record in plain.records("Account")}
    assert len(records) == 1200
    for record_id in deleted:
        assert records[record_id]["IsDeleted"] is True
        assert records[record_id]["_sdc_deleted_at"] == records[record_id]["SystemModstamp"]
        assert records[record_id]["SystemModstamp"].endswith("Z")
    assert records[odd[0]]["Description"] == "first line\nsecond\u2028third\x7f"
    assert records[odd[1]]["Name"] == "Zoë Ünïcødé 日本 — «ok» 😀"
    assert set(records[odd[3]]["BillingAddress"].values()) == {None}  # REST writes the empty address's parts
    assert all("attributes" not in record for record in records.values())
    line = next(line for line in plain.lines if f'"record":{{"Id":"{odd[2]}"' in line)
    assert '"AnnualRevenue":1.2345678901234568E+17,' in line  # the emulator's float, as Decimal writes it
    assert '"NumberOfEmployees":9007199254740993,' in line


# -- crafted pages ----------------------------------------------------------------------------------------------------

FIELDS = ("Id", "IsDeleted", "Name", "AnnualRevenue", "SystemModstamp", "CreatedDate", "BillingAddress")
INSTANCE = "https://example.my.salesforce.com"
NEXT = "/services/data/v60.0/query/01gxx0000000001-2000"


def _record(i: int, **changes: t.Any) -> dict[str, t.Any]:
    record: dict[str, t.Any] = {
        "attributes": {"type": "Account", "url": f"/services/data/v60.0/sobjects/Account/001{i:015d}"},
        "Id": f"001{i:015d}",
        "IsDeleted": i % 3 == 0,
        "Name": f"Acme {i} “quoted” \\ /",
        "AnnualRevenue": 1.5 + i,
        "SystemModstamp": f"2024-01-0{1 + i % 9}T10:00:00.000+0000",
        "CreatedDate": "2023-01-01T00:00:00.000+0000",
        "BillingAddress": {"city": "Paris", "latitude": 48.8566, "longitude": 2.3522, "when": "x+0000"},
    }
    record.update(changes)
    return {key: value for key, value in record.items() if value is not _DROP}


_DROP = object()


def _body(records: list[t.Any], **envelope: t.Any) -> bytes:
    """A query page as Salesforce writes it; a record given as bytes is put in as it is."""
    texts = [item if isinstance(item, bytes) else json.dumps(item, ensure_ascii=False).encode() for item in records]
    head = {"totalSize": len(records), "done": True, **envelope}
    return json.dumps(head).encode()[:-1] + b', "records": [' + b", ".join(texts) + b"]}"


def _compact(body: bytes) -> bytes:
    """The page as Salesforce writes it: no spaces between tokens (the order check reads ``"records":[{``)."""
    return json.dumps(json.loads(body), ensure_ascii=False, separators=(",", ":")).encode()


def _ordered(*keys: str) -> bytes:
    return json.dumps({key: _record(1)[key] for key in keys}, separators=(",", ":")).encode()


#: (case, body, read as structs)
CASES: list[tuple[str, bytes, bool]] = [
    ("exact", _compact(_body([_record(i) for i in range(4)])), True),
    ("nulls where allowed", _compact(_body([_record(1), _record(2, Name=None, BillingAddress=None)])), True),
    ("deleted, stamp rewritten first", _compact(_body([_record(3), _record(6, IsDeleted=True)])), True),
    (  # an exponent and trailing zeros: written as their canonical text
        "numbers",
        _compact(_body([_record(1)])).replace(b'"AnnualRevenue":2.5', b'"AnnualRevenue":1.50e3'),
        True,
    ),
    ("next page", _compact(_body([_record(1)], done=False, nextRecordsUrl=NEXT)), True),
    ("no records", _compact(_body([])), True),
    ("attributes missing in a later record", _compact(_body([_record(1), _record(2, attributes=_DROP)])), True),
    (
        "a key twice in a later record",  # a dict keeps the first place and the last value; so does the struct
        _compact(_body([_record(1)]))
        .replace(b"}]}", b"}," + _ordered("attributes", *FIELDS) + b"]}")
        .replace(b'"Name":"Acme 1', b'"Name":"first","Name":"Acme 1', 2),
        True,
    ),
    ("non-ASCII escapes", _compact(_body([_record(1)])).replace(b"Acme 1", b"\\u00e9\\u2028\\ud83d\\ude00 1"), True),
    (  # a dict keeps the first place and the last value: here the SOQL's order, so the struct writes it alike
        "a key twice in the first record, in place first",
        _compact(_body([_record(2)])).replace(
            b'"records":[', b'"records":[' + _ordered("attributes", *FIELDS)[:-1] + b',"Name":"last"},', 1
        ),
        True,
    ),
    ("a field missing", _compact(_body([_record(1), _record(2, Name=_DROP)])), False),
    (  # the order check's cut must not run on into the next record when that one has no ``attributes``
        "the first record in another order, the next without attributes",
        _compact(
            _body(
                [
                    json.loads(_ordered("attributes", "Name", "Id", "IsDeleted", *FIELDS[3:])),
                    _record(2, attributes=_DROP),
                ]
            )
        ),
        False,
    ),
    (  # a dict keeps a key twice at its first place: here out of the SOQL's order
        "a key twice in the first record, first out of place",
        _compact(_body([_record(2)])).replace(
            b'"records":[',
            b'"records":['
            + _ordered("attributes", "Id", "BillingAddress", "IsDeleted", "Name", *FIELDS[3:6])[:-1]
            + b',"BillingAddress":'
            + json.dumps(_record(1)["BillingAddress"], separators=(",", ":")).encode()
            + b"},",
            1,
        ),
        False,
    ),
    ("an extra field", _compact(_body([_record(1), _record(2), _record(3, Extra__c="x")])), False),
    ("an sObject field it did not select", _compact(_body([_record(1, Phone="+1")])), False),
    (
        "the first record in another order",
        _compact(_body([json.loads(_ordered("attributes", "Id", "Name", "IsDeleted", *FIELDS[3:])), _record(2)])),
        False,
    ),
    (  # one record: its keys read from the records cut unbuilt
        "a lone record in another order",
        _compact(_body([json.loads(_ordered("attributes", "Id", "Name", "IsDeleted", *FIELDS[3:]))])),
        False,
    ),
    ("attributes missing in the first record", _compact(_body([_record(1, attributes=_DROP), _record(2)])), False),
    ("attributes not first", _compact(_body([json.loads(_ordered(*FIELDS, "attributes"))])), False),
    ("spaces between tokens", _body([_record(1)]), False),
    ("a NaN literal", _compact(_body([_record(1)])).replace(b'"AnnualRevenue":2.5', b'"AnnualRevenue":NaN'), False),
]


def _stream() -> t.Any:
    """What the finishers read of a stream: Account's datetime fields, its IsDeleted, its replication key."""
    info = SimpleNamespace(has_is_deleted=True)
    # no properties: the finish step's undeclared-key check is off (test_undeclared_keys.py)
    return SimpleNamespace(_datetime_fields=["CreatedDate", "SystemModstamp", "LastModifiedDate"], info=info, schema={})


def _pages(body: bytes, records: client.QueryPageType | None, monkeypatch: pytest.MonkeyPatch) -> list[t.Any]:
    """The read's pages of ``body`` (then an empty last page when it says there is a next) and whether more came."""
    sf_client = SalesforceClient(requests.Session(), t.cast("t.Any", None), api_version="60.0", redactor=Redactor())
    monkeypatch.setattr(SalesforceClient, "instance_url", property(lambda _self: INSTANCE))
    bodies = [body, _compact(_body([]))]

    def request(_method: str, url: str, **_options: t.Any) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response._content = bodies.pop(0)
        response.headers["Content-Type"] = "application/json;charset=UTF-8"
        response.url = url
        return response

    monkeypatch.setattr(sf_client, "request", request)
    pages = sf_client.query_pages_marked("SELECT ...", numbers=JsonNumbers(), records=records)
    found = []
    for page, plain in pages:
        found.append((page, plain, pages.more))
    return found


def _written(records: list[t.Any]) -> bytes:
    """What the kit's page emitter writes for ``records`` (the clock read as one fixed time)."""
    out = io.BytesIO()
    with pytest.MonkeyPatch.context() as patch:
        stdout = SimpleNamespace(buffer=out, flush=lambda: None, write=lambda text: out.write(text.encode()))
        patch.setattr("sys.stdout", stdout)
        patch.setattr("xlr8_kit.singer_io.IsoClock", lambda: IsoClock(lambda: 1_765_000_000_123_456_000))
        writer = KitSingerWriter()
        writer.record_page_emitter("Account", None)(records, True)
        writer.flush()
    return out.getvalue()


def _finished(stream: t.Any, page: list[t.Any], kind: type[QueryRecord]) -> list[t.Any]:
    """The page as ``SalesforceStream._fetch`` finishes it."""
    if page and type(page[0]) is kind:
        return list(map(SalesforceStream._struct_finisher(stream, kind), page))
    return list(map(SalesforceStream._finisher(stream), page))


@pytest.mark.parametrize(("case", "body", "as_structs"), CASES, ids=[case for case, _b, _s in CASES])
def test_a_crafted_page_is_written_as_the_dict_page_or_read_as_dicts(
    monkeypatch: pytest.MonkeyPatch, case: str, body: bytes, as_structs: bool
) -> None:
    records = client.query_page_type(FIELDS, "_sdc_deleted_at")
    assert records is not None
    for replication_key in ("SystemModstamp", None):
        stream = _stream()
        stream.replication_key = replication_key
        structs = _pages(body, records, monkeypatch)
        dicts = _pages(body, None, monkeypatch)
        assert [(plain, more) for _page, plain, more in structs] == [(plain, more) for _page, plain, more in dicts]
        first = structs[0][0]
        assert all(type(record) is records.record for record in first) == as_structs or not first, case
        assert not any(isinstance(record, QueryRecord) for page, _plain, _more in dicts for record in page)
        for (struct_page, _p, _m), (dict_page, _p2, _m2) in zip(structs, dicts, strict=True):
            written = _written(_finished(stream, struct_page, records.record))
            assert written == _written(_finished(stream, dict_page, records.record)), case
            assert b'"attributes"' not in written


def test_a_struct_record_reads_as_its_dict() -> None:
    """The state steps and the SDK's serializer (a record the fast encoder refuses) read a struct as its dict:
    ``attributes`` unset is absent, ``_sdc_deleted_at`` set is there."""
    records = client.query_page_type(FIELDS, "_sdc_deleted_at")
    assert records is not None
    parse = records.parser(JsonNumbers())
    page, plain = parse(_compact(_body([_record(3)])))
    assert plain
    stream = _stream()
    stream.replication_key = "SystemModstamp"
    (record,) = _finished(stream, page.records, records.record)
    expected = _finished(
        stream, JsonNumbers().loads_marked(_compact(_body([_record(3)])))[0]["records"], records.record
    )[0]
    expected.pop("attributes")
    assert dict(record.items()) == expected
    assert list(record) == list(record.keys()) == list(expected) == [*FIELDS, "_sdc_deleted_at"]
    assert record.values() == list(expected.values())
    assert "attributes" not in record
    assert "_sdc_deleted_at" in record
    assert record.get("attributes", 1) == 1
    assert record.get("Nope", 2) == 2
    assert record["SystemModstamp"] == record.get("SystemModstamp") == "2024-01-04T10:00:00.000Z"
    assert record.get("_sdc_deleted_at") == "2024-01-04T10:00:00.000Z"  # IsDeleted: the rewritten stamp


def test_a_page_msgspec_refuses_is_read_as_dicts_and_written_as_before() -> None:
    """A lone surrogate (``json.loads`` keeps it, msgspec refuses the page): the page is the dict parse's, and the
    writer sends it to the SDK's serializer as before."""
    records = client.query_page_type(FIELDS, "_sdc_deleted_at")
    assert records is not None
    body = _compact(_body([_record(1), _record(2)])).replace(b'"Acme 2', b'"\\ud800 Acme 2')
    stream = _stream()
    stream.replication_key = "SystemModstamp"
    parsed, plain = records.parser(JsonNumbers())(body)
    assert type(parsed) is dict
    dict_page, dict_plain = JsonNumbers().loads_marked(body)
    assert parsed == dict_page
    assert plain == dict_plain
    for record in parsed["records"]:
        record.pop("attributes")
    written = _written(_finished(stream, parsed["records"], records.record))
    assert b"\\ud800 Acme 2" in written


@pytest.mark.parametrize(
    ("member", "value"),
    [(b"x", b'"\xff"'), (b"nextRecordsUrl", b'"/next/\xff"'), (b"totalSize", b'"\xff"'), (b"x", b"1")],
)
def test_a_page_with_an_envelope_member_the_dict_parse_refuses_or_does_not_know_is_judged_as_before(
    member: bytes, value: bytes
) -> None:
    """Invalid UTF-8 in an envelope member (read or not) fails the dict parse, so the classifier asks for a retry:
    the struct parse must not skip it and have the page written. A member the page type does not declare is the dict
    parse's (what msgspec skips it does not check)."""
    records = client.query_page_type(FIELDS, "_sdc_deleted_at")
    assert records is not None
    body = _compact(_body([_record(1)])).replace(b'"totalSize":1', b'"totalSize":1,"' + member + b'":' + value, 1)
    if member == b"totalSize":
        body = body.replace(b'"totalSize":1,', b"", 1)
    verdicts = []
    for parse in (records.parser(JsonNumbers()), JsonNumbers().loads_marked):
        response = requests.Response()
        response.status_code = 200
        response._content = body
        response.headers["Content-Type"] = "application/json;charset=UTF-8"
        verdicts.append(client.QueryPageClassifier(parse).classify(response))
    valid = b"\xff" not in value
    assert verdicts == (["ok", "ok"] if valid else ["retry", "retry"])
    if valid:  # a member it does not know: the dict parse's page
        parsed, _plain = records.parser(JsonNumbers())(body)
        assert type(parsed) is dict
        assert parsed == JsonNumbers().loads_marked(body)[0]


def _read(bodies: list[bytes], records: client.QueryPageType, monkeypatch: pytest.MonkeyPatch) -> list[t.Any]:
    """The pages one REST query of Account reads from ``bodies`` (each but the last says there is a next)."""
    sf_client = SalesforceClient(requests.Session(), t.cast("t.Any", None), api_version="60.0", redactor=Redactor())
    monkeypatch.setattr(SalesforceClient, "instance_url", property(lambda _self: INSTANCE))
    left = list(bodies)

    def request(_method: str, url: str, **_options: t.Any) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response._content = left.pop(0)
        response.headers["Content-Type"] = "application/json;charset=UTF-8"
        return response

    monkeypatch.setattr(sf_client, "request", request)
    numbers = JsonNumbers()
    soql = "SELECT Id, Name FROM Account WHERE Name = 'Acme 1' ORDER BY Id ASC"
    return [page for page, _plain in sf_client.query_pages_marked(soql, numbers=numbers, records=records)]


def _next(records: list[t.Any]) -> bytes:
    return _compact(_body(records, done=False, nextRecordsUrl=NEXT))


@pytest.mark.parametrize(
    ("case", "first"),
    [
        (
            "another order",
            _compact(_body([json.loads(_ordered("attributes", "Name", "Id", *FIELDS[1:2], *FIELDS[3:]))])),
        ),
        ("not compact JSON", _body([_record(1)])),
    ],
)
def test_a_query_whose_page_fails_the_order_check_reads_its_other_pages_as_dicts_logged_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, case: str, first: bytes
) -> None:
    """No struct decode, then a dict parse, of every page of a query whose pages are not in the SOQL's order or
    format: after the first such page the query's pages go straight to the dict parse, said once at INFO (the
    sObject, no record value, no URL)."""
    records = client.query_page_type(FIELDS, "_sdc_deleted_at")
    assert records is not None
    checked: list[bytes] = []
    real = client.QueryPageType.first_in_order
    monkeypatch.setattr(
        client.QueryPageType, "first_in_order", lambda self, content: checked.append(content) or real(self, content)
    )
    first = first.replace(b'"done": true', b'"done": false, "nextRecordsUrl": "' + NEXT.encode() + b'"')
    first = first.replace(b'"done":true', b'"done":false,"nextRecordsUrl":"' + NEXT.encode() + b'"')
    later = [_next([_record(i) for i in range(4)]), _compact(_body([_record(5)]))]
    with caplog.at_level(logging.INFO, logger="xlr8_tap_salesforce"):
        pages = _read([first, *later], records, monkeypatch)
    assert len(pages) == 3, case
    assert all(type(record) is dict for page in pages for record in page), case
    assert len(checked) == 1  # the first page's check; the others were not decoded as structs
    said = [record for record in caplog.records if "read as dicts" in record.getMessage()]
    assert len(said) == 1
    assert said[0].levelno == logging.INFO
    message = said[0].getMessage()
    assert message.startswith("Account: ")
    for value in ("Acme", "001", "http", "SELECT", "Name ="):
        assert value not in message


def test_a_page_msgspec_refuses_leaves_the_query_s_other_pages_as_structs(monkeypatch: pytest.MonkeyPatch) -> None:
    """One odd page (a NaN) is read as dicts; the query's next page of the SOQL's fields is structs again."""
    records = client.query_page_type(FIELDS, "_sdc_deleted_at")
    assert records is not None
    odd = _next([_record(1)]).replace(b'"AnnualRevenue":2.5', b'"AnnualRevenue":NaN')
    pages = _read([odd, _compact(_body([_record(2)]))], records, monkeypatch)
    assert [type(page[0]) for page in pages] == [dict, records.record]


# -- where struct pages must not go, and BATCH ------------------------------------------------------------------------


def _deselected(config: dict[str, t.Any], field: str) -> dict[str, t.Any]:
    """The tap's catalog with ``field`` of every stream deselected."""
    catalog = TapSalesforce(config=config, parse_env_config=False).catalog_dict
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == ["properties", field]:
                entry["metadata"]["selected"] = False
    return catalog


@pytest.mark.parametrize("run", ["one field deselected", "a stream map", "a filter"])
def test_a_run_whose_records_something_else_reads_gets_no_struct_page(
    sf: t.Any, monkeypatch: pytest.MonkeyPatch, run: str
) -> None:
    """Structs are for records only the kit's writer reads, of every property: a catalog with a property deselected
    (the SDK's loop drops it), a stream map (the SDK's mapper reads and rewrites the records) or a universal filter
    (the tap compares values) reads dicts, and lands what the SDK's own record loop lands."""
    taken = _struct_pages(monkeypatch)
    with sf.start_sandbox({"Account": 500}) as sandbox:
        config = sf.password_config(sandbox, objects=["Account"], api_type="rest", batch_size=200)
        catalog = None
        if run == "one field deselected":
            catalog = _deselected(config, "Description")
        elif run == "a stream map":
            config["stream_maps"] = {"Account": {"Name": "Name.upper()", "Phone": None}}
        else:
            config["filters"] = "crm_account where industry = 'Retail'"
        out = sf.run_tap(config, catalog=copy.deepcopy(catalog))
        assert not taken  # no page went to the struct parse
        monkeypatch.setenv("XLR8_TAP_SDK_RECORD_LOOP", "1")
        sdk = sf.run_tap(config, catalog=copy.deepcopy(catalog))
    assert [_EXTRACTED.sub("", line) for line in out.lines] == [_EXTRACTED.sub("", line) for line in sdk.lines]
    assert out.state == sdk.state
    records = out.records("Account")
    assert records
    if run == "one field deselected":
        assert all("Description" not in record and "Name" in record for record in records)
    elif run == "a stream map":
        assert all("Phone" not in record and record["Name"] == record["Name"].upper() for record in records)
        assert any(record["Name"] != record["Name"].lower() for record in records)
    else:
        assert 0 < len(records) < 500
        assert {record["Industry"] for record in records} == {"Retail"}


@pytest.mark.parametrize("width", [1, 4])
def test_rest_struct_pages_through_batch_land_the_dict_pages_files(
    sf: t.Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, width: int
) -> None:
    """BATCH files written from struct pages are byte for byte those written from the same pages read as dicts
    (the plain loop) and those of the SDK's own batch path, with the same state."""
    taken = _struct_pages(monkeypatch)
    runs: dict[str, t.Any] = {}
    with sf.start_sandbox({"Account": 700}) as sandbox:
        em = sf.emulator(sandbox)
        em.touch("Account", 3, Name='A "q" \u2028 😀', Description=None)
        em.delete("Account", 5)
        config = _deleted_accounts_config(sf, sandbox, width)
        for run in ("structs", "dicts", "sdk"):
            (tmp_path / run).mkdir()
            storage = {"root": (tmp_path / run).as_uri(), "prefix": "b-"}
            batch = {"encoding": {"format": "jsonl", "compression": "none"}, "storage": storage, "batch_size": 150}
            with monkeypatch.context() as patch:
                if run == "dicts":
                    patch.setattr(client.SalesforceStream, "_query_page_type", lambda _self, _fields: None)
                if run == "sdk":
                    patch.setenv("XLR8_TAP_SDK_RECORD_LOOP", "1")
                runs[run] = sf.run_tap({**config, "batch_config": batch})
            if run == "structs":
                assert len(taken) >= 4
                assert all(taken)
                taken.clear()
            else:
                assert not taken

    def landed(out: t.Any) -> list[bytes]:
        urls = [url for message in out.of_type("BATCH") for url in message["manifest"]]
        assert urls
        return [Path(url.removeprefix("file://")).read_bytes() for url in urls]

    files = landed(runs["structs"])
    assert b"".join(files) == b"".join(landed(runs["dicts"])) == b"".join(landed(runs["sdk"]))
    lines = b"".join(files).split(b"\n")[:-1]  # BATCH files keep non-ASCII (U+2028 too) raw
    assert len(lines) == 700
    assert all(b'"attributes"' not in line for line in lines)
    assert any('"Name":"A \\"q\\" \u2028 😀"'.encode() in line for line in lines)
    assert runs["structs"].state == runs["dicts"].state == runs["sdk"].state
