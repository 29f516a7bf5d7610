"""A Bulk CSV page read as lists (``SalesforceStream._csv_builder``) gives the records the page's ``csv.DictReader``
rows gave before (the reference below is the earlier per-row code), odd rows included."""

from __future__ import annotations

import csv
import functools
import io
import operator
import re
import typing as t
from decimal import Decimal
from types import SimpleNamespace

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlr8_tap_salesforce import discovery
from xlr8_tap_salesforce.client import (
    _CSV_CONVERTERS,
    BulkPage,
    SalesforceStream,
    WrittenRecord,
    _compound_structs,
    _csv_integer,
    bulk_row_chunks,
    canonical_numbers,
    written_record_type,
)

FIELD_TYPES = {
    "Id": "id",
    "IsDeleted": "boolean",
    "NumberOfEmployees": "int",
    "AnnualRevenue": "currency",
    "BillingStreet": "string",
    "BillingCity": "string",
    "BillingLatitude": "double",
    "BillingAddress": "address",
    "HQ__Latitude__s": "double",
    "HQ__Longitude__s": "double",
    "HQ__c": "location",
}
COMPOUNDS = {
    "BillingAddress": ("address", ("BillingStreet", "BillingCity", "BillingLatitude")),
    "HQ__c": ("location", ("HQ__Latitude__s", "HQ__Longitude__s")),
}
FIELDS = ["Id", "IsDeleted", "NumberOfEmployees", "AnnualRevenue", "BillingAddress", "BillingCity", "HQ__c", "Gone"]


def _stream() -> t.Any:
    fake = SimpleNamespace(info=SimpleNamespace(field_types=FIELD_TYPES, compounds=COMPOUNDS))
    fake._csv_plan = functools.partial(SalesforceStream._csv_plan, fake)
    fake._csv_columns = functools.partial(SalesforceStream._csv_columns, fake)
    return fake


def _reference(row: dict[str, str], fields: list[str]) -> dict[str, t.Any]:
    record: dict[t.Any, t.Any] = {name: raw or None for name, raw in row.items()}
    for name, sf_type in FIELD_TYPES.items():
        convert = _CSV_CONVERTERS.get(sf_type)
        if convert is not None and record.get(name) is not None:
            record[name] = convert(record[name])
    for compound, (kind, parts) in COMPOUNDS.items():
        if compound in fields:
            value = {discovery.compound_key(compound, kind, part): record.get(part) for part in parts}
            record[compound] = value if any(map(functools.partial(operator.is_not, None), value.values())) else None
    return {name: record.get(name) for name in fields}


PAGES = [
    "Id,IsDeleted,NumberOfEmployees,AnnualRevenue,BillingStreet,BillingCity,BillingLatitude,HQ__Latitude__s,"
    "HQ__Longitude__s\n"
    '001,false,12,1250.500000,"1 Main St, Unit 2",London,51.507350900000000,51.5,-0.12\n'
    "002,true,,,,,,,\n"
    "\n"  # a blank line: no record
    "003,FALSE,7\n"  # short: the rest is null
    "004,true,1,2.0,s,c,1.5,0.0,0.0,extra,cells\n",  # long: the extra cells are ignored
    "Id,BillingCity,BillingCity,IsDeleted\n001,first,second,true\n",  # a repeated column: the last one counts
    "Id,IsDeleted\n",  # a header and no rows
]


@pytest.mark.parametrize("page", PAGES)
def test_rows_as_lists_give_the_dictreader_records(page: str) -> None:
    expected = [_reference(row, FIELDS) for row in csv.DictReader(io.StringIO(page))]
    reader = csv.DictReader(io.StringIO(page))
    build = SalesforceStream._csv_builder(_stream(), list(reader.fieldnames or []), FIELDS)
    found = [build(row) for row in reader.reader if row]
    assert repr(found) == repr(expected)


@pytest.mark.parametrize("page", PAGES)
def test_rows_with_written_numbers_give_the_lines_of_the_decimal_records(page: str) -> None:
    """Fractional cells as ``canonical_numbers`` gives them (records only the writer reads) write the same text."""
    reader = csv.DictReader(io.StringIO(page))
    header = list(reader.fieldnames or [])
    rows = [row for row in reader.reader if row]
    decimals = SalesforceStream._csv_builder(_stream(), header, FIELDS)
    written = SalesforceStream._csv_builder(_stream(), header, FIELDS, canonical_numbers())
    encode = msgspec.json.Encoder(decimal_format="number").encode
    assert [encode(written(row)) for row in rows] == [encode(decimals(row)) for row in rows]


CHUNK_FIELD_TYPES = {
    **FIELD_TYPES,
    "SystemModstamp": "datetime",
    "CreatedDate": "datetime",
    "Unselected__c": "datetime",
    "Name": "string",
}
CHUNK_COLUMNS = [*FIELD_TYPES, "SystemModstamp", "CreatedDate", "Unselected__c", "Name", "Other"]
CELLS = [
    "",
    "true",
    "false",
    "FALSE",
    "TRUE",
    "12",
    "-7",
    "3.0",
    "1.500000000",
    "2.5E3",
    "x",
    "Zoë",
    "2024-01-02T03:04:05.000+0000",
    "2024-01-02T03:04:05.000+0000",
    "2024-01-02T03:04:05.000Z",
    "+0000",
]


def _shape(value: t.Any) -> t.Any:
    if isinstance(value, msgspec.Raw):
        return ("raw", bytes(value))
    if isinstance(value, dict):
        return [(key, _shape(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return value


def _chunk_stream(has_is_deleted: bool, replication_key: str | None) -> t.Any:
    fake = SimpleNamespace(
        info=SimpleNamespace(field_types=CHUNK_FIELD_TYPES, compounds=COMPOUNDS, has_is_deleted=has_is_deleted),
        replication_key=replication_key,
        schema={},  # no properties: the finish step's undeclared-key check is off (test_undeclared_keys.py)
        _datetime_fields=[n for n, kind in CHUNK_FIELD_TYPES.items() if kind == "datetime"],
    )
    fake._csv_plan = functools.partial(SalesforceStream._csv_plan, fake)
    fake._csv_columns = functools.partial(SalesforceStream._csv_columns, fake)
    fake._csv_builder = functools.partial(SalesforceStream._csv_builder, fake)
    fake._finisher = functools.partial(SalesforceStream._finisher, fake)
    return fake


@st.composite
def _with_core(draw: st.DrawFn, names: st.SearchStrategy[list[str]]) -> list[str]:
    """``names`` with the columns the finish step reads (a datetime key, IsDeleted), each at a drawn place."""
    found = draw(names)
    for core in ("SystemModstamp", "IsDeleted"):
        if core not in found and draw(st.integers(0, 4)):
            found.insert(draw(st.integers(0, len(found))), core)
    return found


@settings(max_examples=300, deadline=None)
@given(
    header=_with_core(st.lists(st.sampled_from(CHUNK_COLUMNS), max_size=10)),
    fields=_with_core(
        st.lists(st.sampled_from([*CHUNK_COLUMNS, "BillingAddress", "HQ__c", "Gone"]), max_size=8, unique=True)
    ),
    rows=st.lists(st.lists(st.sampled_from(CELLS), max_size=14), max_size=6),
    has_is_deleted=st.booleans(),
    replication_key=st.sampled_from([None, "SystemModstamp", "CreatedDate"]),
    numbers=st.booleans(),
)
def test_the_chunk_builder_gives_the_finished_records_of_the_row_builder(
    header: list[str],
    fields: list[str],
    rows: list[list[str]],
    has_is_deleted: bool,
    replication_key: str | None,
    numbers: bool,
) -> None:
    """``_csv_chunk_builder`` (column by column) == ``_csv_builder`` then ``_finisher`` per row: values, types, key
    order, blank, short and long rows, repeated and missing columns, compounds, ``+0000`` cells, deletions."""
    stream = _chunk_stream(has_is_deleted, replication_key)
    row_numbers = canonical_numbers() if numbers else None
    build = SalesforceStream._csv_builder(stream, header, fields, row_numbers)
    finish = SalesforceStream._finisher(stream)
    chunk_numbers = canonical_numbers() if numbers else None
    build_chunk = SalesforceStream._csv_chunk_builder(stream, header, fields, chunk_numbers)
    try:
        expected = [finish(build(row)) for row in rows if row]
    except Exception as exc:  # a cell its converter refuses: the same error, row by row
        error: Exception | None = exc
    else:
        error = None
    if error is not None:
        with pytest.raises(type(error), match=re.escape(str(error))):
            build_chunk(rows)
        return
    found = build_chunk(rows)
    _assert_same_records(found, expected, numbers)


_WRITE = msgspec.json.Encoder(decimal_format="number").encode_lines


def _assert_same_records(found: list[dict[str, t.Any]], expected: list[dict[str, t.Any]], written: bool) -> None:
    """Values, their types and key order; for records only the writer reads (``written``, compounds then come as
    their JSON text) the keys in order and the lines the writer writes."""
    if not written:
        assert repr(_shape(found)) == repr(_shape(expected))
        return
    assert [list(record) for record in found] == [list(record) for record in expected]
    assert _WRITE(found) == _WRITE(expected)


#: Cells a column of each kind holds in a Bulk result (the chunk builder's column steps in C take such columns).
TYPED_CELLS = {
    "boolean": ["true", "false", "TRUE"],
    "int": ["12", "-7", "0"],
    "currency": ["1250.500000", "3.0", "2"],
    "double": ["51.507350900000000", "-0.12", "0.0", "2.5E3"],
    "datetime": ["2024-01-02T03:04:05.000+0000", "2024-01-02T03:04:06.000+0000", "2024-01-02T03:04:05.000Z"],
}


@st.composite
def _typed_rows(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    """A header of typed columns and full-width rows whose cells are what each column's kind holds, with or without
    empty cells in a column (so a column may be taken by a step in C, or not)."""
    header = draw(st.lists(st.sampled_from(CHUNK_COLUMNS), min_size=1, max_size=10, unique=True))
    choices = []
    for name in header:
        cells = TYPED_CELLS.get(CHUNK_FIELD_TYPES.get(name, ""), ["x", "Zoë", "1"])
        cells = draw(st.lists(st.sampled_from(cells), min_size=1, max_size=3, unique=True))
        choices.append(cells + ([""] if draw(st.booleans()) else []))
    count = draw(st.integers(1, 6))
    rows = [[draw(st.sampled_from(cells)) for cells in choices] for _ in range(count)]
    return header, rows


@settings(max_examples=300, deadline=None)
@given(
    typed=_typed_rows(),
    fields=_with_core(
        st.lists(st.sampled_from([*CHUNK_COLUMNS, "BillingAddress", "HQ__c", "Gone"]), max_size=8, unique=True)
    ),
    has_is_deleted=st.booleans(),
    numbers=st.booleans(),
)
def test_the_chunk_builder_gives_the_row_builder_records_on_typed_columns(
    typed: tuple[list[str], list[list[str]]], fields: list[str], has_is_deleted: bool, numbers: bool
) -> None:
    """As above, on columns holding their kind's cells (every Boolean cell a literal, every datetime ``+0000``,
    no empty cell in a column): the column steps taken in C give what the comprehensions give."""
    header, rows = typed
    stream = _chunk_stream(has_is_deleted, "SystemModstamp")
    build = SalesforceStream._csv_builder(stream, header, fields, canonical_numbers() if numbers else None)
    finish = SalesforceStream._finisher(stream)
    build_chunk = SalesforceStream._csv_chunk_builder(stream, header, fields, canonical_numbers() if numbers else None)
    expected = [finish(build(row)) for row in rows]
    _assert_same_records(build_chunk(rows), expected, numbers)


def test_the_chunk_builder_raises_the_error_of_the_first_bad_row(monkeypatch: t.Any) -> None:
    """Row by row the first refused cell is row 0's amount; column by column it would be row 1's count."""

    def refuse(kind: str) -> t.Callable[[str], t.Any]:
        def convert(cell: str) -> t.Any:
            if not cell[0].isdigit():
                raise ValueError(f"{kind} {cell}")
            return cell

        return convert

    monkeypatch.setitem(_CSV_CONVERTERS, "int", refuse("count"))
    monkeypatch.setitem(_CSV_CONVERTERS, "currency", refuse("amount"))
    header = ["NumberOfEmployees", "AnnualRevenue"]
    build_chunk = SalesforceStream._csv_chunk_builder(_chunk_stream(False, None), header, header)
    with pytest.raises(ValueError, match="amount x"):
        build_chunk([["12", "x"], ["y", "1.5"]])


@settings(deadline=None)  # "1e99999" is a large integer either way
@given(st.text(alphabet="0123456789_+- .eE\t\n\u00a0\u0661", max_size=8))
def test_integer_cells_read_as_int_decimal_reads_them(raw: str) -> None:
    def outcome(read: t.Callable[[str], int]) -> t.Any:
        try:
            value = read(raw)
        except Exception as exc:
            return type(exc)
        return (type(value), value)

    assert outcome(_csv_integer) == outcome(lambda text: int(Decimal(text)))


#: Fraction cells: own text (no trailing zero, exponent or tiny fraction) or not, empty, a newline inside one, a
#: text that is no number (looked up as before: the map decides).
FRACTION_CELLS = [
    "",
    "6140558.67",
    "211850.04",
    "-0.12",
    "2",
    "1250.50",
    "100",
    "51.507350900000000",
    "0.0",
    "-0.000",
    "-0",
    "0",
    "10.0",
    "-120.00",
    "0.50",
    "123456789012345678901234567890.10",
    "0.00000012",
    "-0.0000001",
    "0.0000011",
    "2.5E3",
    "1e-7",
    "7.1\n0",
    "1.5\n0.0000001",
    "abc",
    "NaN",
    "+1.5",
]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(FRACTION_CELLS), max_size=12), st.booleans())
def test_a_fraction_column_at_once_gives_the_cells_looked_up(cells: list[str], as_tuple: bool) -> None:
    """``CanonicalNumbers.column``: the texts the map gives cell by cell (an empty cell null), whichever way the
    column goes (own texts taken at once with the trailing zeros looked up, or the whole column looked up)."""
    column = tuple(cells) if as_tuple else cells

    def looked_up() -> t.Any:
        numbers = canonical_numbers()
        return _shape([numbers[cell] if cell else None for cell in cells])

    assert _outcome(lambda: _shape(canonical_numbers().column(column))) == _outcome(looked_up)


def _outcome(read: t.Callable[[], t.Any]) -> t.Any:
    """What ``read`` gives, or the class of the error it raises (a cell that is no number is refused)."""
    try:
        return read()
    except (ValueError, ArithmeticError) as exc:
        return type(exc)


@pytest.mark.parametrize("cell", ["abc", "NaN", "-Infinity", "1\n2", "-", "1.5.5"])
def test_a_cell_that_is_no_json_number_is_refused_never_written_as_it_is(cell: str) -> None:
    """A Bulk cell of a fractional field that is no JSON number (``abc``, ``NaN``) raises, looked up alone or in a
    column, as ``canonical_decimal`` or the record path would; written verbatim it would make the RECORD line
    invalid JSON."""
    with pytest.raises((ValueError, ArithmeticError)):
        canonical_numbers()[cell]
    with pytest.raises((ValueError, ArithmeticError)):
        canonical_numbers().column(["1.5", cell, "2.25"])


@pytest.mark.parametrize(("cell", "written"), [("+1.5", b"1.5"), (" 2.25", b"2.25"), ("1_000.5", b"1000.5")])
def test_a_cell_decimal_reads_but_json_does_not_is_written_as_the_decimal(cell: str, written: bytes) -> None:
    assert bytes(canonical_numbers()[cell]) == written
    assert [bytes(v) for v in canonical_numbers().column([cell, "3.5"])] == [written, b"3.5"]


def test_a_column_of_distinct_amounts_does_not_fill_the_map() -> None:
    """Amounts are taken as their own text, trailing zeros stripped: the map holds only what it had to read (a
    signed zero)."""
    numbers = canonical_numbers()
    cells = [f"{n}.{n % 9 + 1}" for n in range(1000)] + ["1.50", "2.0", "-0.00"]
    values = numbers.column(cells)
    assert [bytes(v) for v in values[-4:]] == [b"999.1", b"1.5", b"2", b"0"]
    assert sorted(numbers) == ["-0.00"]


def test_written_records_are_structs_written_as_their_dicts_and_read_as_them() -> None:
    """Records only the writer reads are ``WrittenRecord`` structs (the fast path is taken), their compounds
    structs (an address of null parts is null): the writer writes each as the dict the row builder gives, and the
    state steps read them as that dict (``record[key]`` in C, ``get``, keys in order)."""
    header = ["Id", "BillingStreet", "BillingCity", "BillingLatitude", "SystemModstamp", "IsDeleted"]
    fields = ["Id", "BillingAddress", "SystemModstamp", "IsDeleted"]
    stream = _chunk_stream(True, "SystemModstamp")
    build_chunk = SalesforceStream._csv_chunk_builder(stream, header, fields, canonical_numbers())
    rows = [
        ["001", 'say "hi", then\nleave', "Zoë", "51.50", "2024-01-02T03:04:05.000+0000", "true"],
        ["002", "", "", "", "2024-01-02T03:04:06.000+0000", "false"],
    ]
    found = build_chunk(rows)
    assert all(type(record).__mro__[1] is WrittenRecord for record in found)
    expected = [
        {
            "Id": "001",
            "BillingAddress": {"street": 'say "hi", then\nleave', "city": "Zoë", "latitude": msgspec.Raw(b"51.5")},
            "SystemModstamp": "2024-01-02T03:04:05.000Z",
            "IsDeleted": True,
            "_sdc_deleted_at": "2024-01-02T03:04:05.000Z",
        },
        {
            "Id": "002",
            "BillingAddress": None,
            "SystemModstamp": "2024-01-02T03:04:06.000Z",
            "IsDeleted": False,
            "_sdc_deleted_at": None,
        },
    ]
    assert _WRITE(found) == _WRITE(expected)
    record = found[0]
    assert list(record) == list(record.keys()) == list(expected[0])
    assert record["Id"] == record.get("Id") == "001"
    assert record.get("Gone") is None
    assert record.get("Gone", 7) == 7
    assert "Id" in record
    assert "Gone" not in record
    assert record.items()[0] == ("Id", "001")
    assert [value for _key, value in record.items()] == record.values()
    assert all(found)  # a record is never empty (the state's page step asks)
    assert operator.itemgetter("SystemModstamp")(found[1]) == "2024-01-02T03:04:06.000Z"
    # without the replication key or Id among the keys (what the state steps read), the records stay dicts
    for key_fields in (["Id", "BillingAddress"], ["SystemModstamp", "BillingAddress"]):
        build_chunk = SalesforceStream._csv_chunk_builder(stream, header, key_fields, canonical_numbers())
        assert {type(record) for record in build_chunk(rows)} == {dict}


def test_keys_no_struct_can_hold_stay_dicts() -> None:
    """A key that cannot name a field (not an identifier, a keyword, one of the struct's own methods) or that
    repeats leaves the page's records dicts, as the row builder makes them."""
    assert written_record_type(("Id", "Name")) is not None
    for keys in (("Id", "a b"), ("Id", "class"), ("Id", "get"), ("Id", "items"), ("Id", "Id"), ()):
        assert written_record_type(keys) is None, keys


def test_a_compound_whose_keys_repeat_is_built_as_a_dict() -> None:
    """A JSON object written with a repeated key would not be the dict's text (the dict keeps the last value)."""
    assert _compound_structs(["street", "street"]) is None
    assert _compound_structs([]) is None
    structs = _compound_structs(["a", "b c"])
    assert structs is not None
    assert _WRITE(structs([["x", None, msgspec.Raw(b"1.5")], [None, None, None]])) == (
        b'{"a":"x","b c":null}\nnull\n{"a":1.5,"b c":null}\n'
    )


#: Pieces of a Bulk CSV page's text: plain cells, quoted cells with commas, quotes and line ends inside, blank
#: lines, carriage returns, NUL, a quote inside an unquoted cell, and a quoted cell left open at the end.
CSV_PIECES = ["a", "Zoë", "", ",", "\n", "\n", "\n", '"x,y"', '"say ""hi"""', '"two\nlines"', "\r\n", "\r", "\0", 'b"c']


@settings(max_examples=500, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(CSV_PIECES), max_size=40),
    open_quote=st.booleans(),
    size=st.integers(1, 4),
)
def test_row_chunks_are_the_csv_readers_rows(pieces: list[str], open_quote: bool, size: int) -> None:
    """``bulk_row_chunks`` gives the rows the page's csv reader gives, in chunks of at most ``size`` rows, whichever
    way each block of lines is read (split at its commas, or through a csv reader running past the block)."""
    text = "Id,Name\n" + "".join(pieces) + ('"open\n,' if open_quote else "")
    expected = list(csv.reader(io.StringIO(text, newline="")))[1:]
    page = BulkPage(io.StringIO(text, newline=""))
    assert page.fieldnames == ["Id", "Name"]
    chunks = list(bulk_row_chunks(page, size))
    assert [row for chunk in chunks for row in chunk] == expected
    assert all(0 < len(chunk) <= size for chunk in chunks)


def test_row_chunks_of_plain_lines_are_split_at_commas(monkeypatch: t.Any) -> None:
    """Plain lines never reach a csv reader (the split is what makes the read cheaper); a quoted cell does."""
    made: list[int] = []
    real = csv.reader

    def counting(*args: t.Any, **kwargs: t.Any) -> t.Any:
        made.append(1)
        return real(*args, **kwargs)

    page = BulkPage(io.StringIO("Id,Name\n001,a\n002,b\n003,c\n", newline=""))
    monkeypatch.setattr(csv, "reader", counting)
    assert list(bulk_row_chunks(page, 2)) == [[["001", "a"], ["002", "b"]], [["003", "c"]]]
    assert made == []
    page = BulkPage(io.StringIO('Id,Name\n001,"a,b"\n', newline=""))
    made.clear()  # the page's own reader (its header)
    assert list(bulk_row_chunks(page, 2)) == [[["001", "a,b"]]]
    assert made == [1]


def test_a_cell_past_the_field_limit_raises_as_the_csv_reader_does() -> None:
    """A line longer than the csv module's field limit goes to a csv reader, which refuses its long cell."""
    limit = csv.field_size_limit(5)
    try:
        page = BulkPage(io.StringIO("Id\n123456\n", newline=""))
        with pytest.raises(csv.Error, match="field larger than field limit"):
            list(bulk_row_chunks(page, 10))
    finally:
        csv.field_size_limit(limit)
