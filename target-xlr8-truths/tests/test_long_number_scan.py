"""The long-number scan of BATCH files (``has_long_number``) reads its blocks into one buffer and searches each from
its end. It must decide exactly what the plain scan decides: the reference below reads the data as one string, splits
it into blocks ending at line ends and searches every pattern forwards from the start of each block."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from target_xlr8_truths import duckdb_store
from target_xlr8_truths.duckdb_store import (
    _NUMBER_MARKS,
    _NUMBER_PATTERNS,
    _line_has_long_number,
    has_long_number,
)


def _ends_number(marked: bytes, at: int) -> bool:
    """An exponent match counts where its digits end as a JSON number may end (not ``-``, a letter, a quote)."""
    return re.match(rb"0*(?:[,\]} \t\r\n]|$)", marked[at:]) is not None


def full_scan(data: bytes, chunk: int) -> bool:
    """Every byte translated, the line of every match of every pattern decoded (an exponent's only where it ends
    a number), from the start."""
    offset = 0
    while offset < len(data):
        end = min(offset + chunk, len(data))
        if data[end - 1 : end] != b"\n":
            newline = data.find(b"\n", end)
            end = len(data) if newline < 0 else newline + 1
        block = data[offset:end]
        offset = end
        marked = block.translate(_NUMBER_MARKS)
        for pattern in _NUMBER_PATTERNS:
            start = marked.find(pattern)
            while start >= 0:
                if pattern == _NUMBER_PATTERNS[1] and not _ends_number(marked, start + len(pattern)):
                    start = marked.find(pattern, start + 1)
                    continue
                line_start = block.rfind(b"\n", 0, start) + 1
                line_end = block.find(b"\n", start)
                line_end = len(block) if line_end < 0 else line_end
                if _line_has_long_number(block[line_start:line_end]):
                    return True
                start = marked.find(pattern, line_end)
    return False


def _number(digits: str, dot: int | None, exponent: str) -> str:
    text = digits if dot is None else digits[: dot % (len(digits) + 1)] + "." + digits[dot % (len(digits) + 1) :]
    text = text.lstrip(".") or "0"
    if text.endswith("."):
        text += "0"
    if len(text) > 1 and text[0] == "0" and text[1] != ".":
        text = "1" + text[1:]
    return text + exponent


digits = st.text("0123456789", min_size=1, max_size=22)
#: exponents in and out of the double range (below 2.2e-308 a double holds fewer digits or reads 0)
exponents = st.sampled_from(["", "e3", "e-99", "e-307", "E-308", "e-310", "e-400", "E-0400", "e-1000"])
numbers = st.builds(_number, digits, st.none() | st.integers(0, 22), exponents)
# pieces that make runs of [0-9.] of every length, broken by other bytes at every alignment, inside and outside
# strings, across line ends; plus whole JSON lines holding numbers of 1-22 digits (decoded: true or false)
noise = st.text('0123456789.-eEx" :,{}\n', max_size=60)
json_line = st.builds(
    lambda key, value, pad, text: f'{{"{key}": {value}, "s": "{text}", "p": "{pad}"}}',
    st.sampled_from(["a", "amount", "n"]),
    numbers | st.builds(lambda n: f"[{n}]", numbers) | st.builds(lambda n: f'{{"b": {n}}}', numbers),
    st.text("ab", max_size=7),
    st.text("0123456789-.", max_size=24),
)
lines = st.lists(st.one_of(json_line, noise, json_line), min_size=1, max_size=12)


@settings(max_examples=400, deadline=None)
@given(lines, st.sampled_from([1, 7, 16, 64, 1 << 22]), st.booleans())
def test_the_scan_from_each_blocks_end_decides_what_the_forward_scan_decided(
    pieces: list[str], chunk: int, final_newline: bool
) -> None:
    data = "\n".join(pieces).encode() + (b"\n" if final_newline else b"")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batch.jsonl"
        path.write_bytes(data)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(duckdb_store, "_SCAN_CHUNK", chunk)
            assert has_long_number(str(path)) is full_scan(data, chunk), data


#: a dashed UUID whose group ends in ``<digit>e`` before a group of digits: ``0e-000`` once translated
uuid_like = st.builds(
    lambda head, digits, tail: f"{head}e-{digits}-{tail}",
    st.text("0123456789abcdef", min_size=1, max_size=8).map(lambda h: h[:-1] + "7"),
    st.text("0123456789", min_size=3, max_size=4),
    st.uuids().map(str),
)
json_or_uuid_line = st.one_of(
    json_line,
    st.builds(lambda u, n: f'{{"id": "{u}", "n": {n}}}', uuid_like | st.uuids().map(str), numbers),
    st.builds(lambda n, space: f'{{"n": [{n}{space}], "m": {n}{space}}}', numbers, st.sampled_from(" \t\r")),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(json_or_uuid_line, min_size=1, max_size=12), st.sampled_from([1, 64, 1 << 22]))
def test_on_json_lines_the_scan_decides_what_decoding_every_line_decides(pieces: list[str], chunk: int) -> None:
    """The ground truth, no pattern involved: a file of JSON lines (numbers in and out of the double range, dashed
    UUIDs that translate like an exponent) holds a long number exactly when one of its lines, decoded, does."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batch.jsonl"
        path.write_text("\n".join(pieces) + "\n")
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(duckdb_store, "_SCAN_CHUNK", chunk)
            found = has_long_number(str(path))
    assert found is any(_line_has_long_number(p.encode()) for p in pieces), pieces


def test_dashed_uuids_that_translate_like_an_exponent_are_not_decoded(tmp_path: Path) -> None:
    """A UUID-keyed stream's scan decodes no line for its ids (review 21d: about 4% of random UUIDs read
    ``0e-000`` once translated, and decoding their lines cost the scan ~3.7x); a real exponent still counts."""
    ids = [str(uuid.UUID(int=n * 0x9E3779B97F4A7C15 % 2**128)) for n in range(20_000)]
    lines = [f'{{"id": "{i}", "parent": "{i[::-1]}", "amount": 12.5}}' for i in ids]
    looks = [line for line in lines if re.search(rb"[0-9.][eE]-[0-9.]{3}", line.encode())]
    assert len(looks) > 100  # the data holds the case
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(lines) + "\n")
    decoded = []

    def counted(line: bytes, keys: object = None) -> bool:
        decoded.append(line)
        return _line_has_long_number(line, keys)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(duckdb_store, "_line_has_long_number", counted)
        assert has_long_number(str(path), {"amount": True}) is False
        assert decoded == []
        path.write_text("\n".join([*lines, '{"id": "x", "amount": 1e-400}']) + "\n")
        assert has_long_number(str(path), {"amount": True}) is True


def test_runs_of_exactly_sixteen_at_every_alignment(tmp_path: Path) -> None:
    """A 16-digit number, shifted through every offset of the 4-byte sampling, on a later line than a near miss."""
    for shift in range(8):
        path = tmp_path / f"{shift}.jsonl"
        near_miss = '{"a": 123456789012345, "b": "1234-5678-9012-3456"}'
        path.write_text(near_miss + "\n" + '{"' + "k" * shift + '": 1234567890123456}\n')
        assert has_long_number(str(path)) is True, shift
        path.write_text(near_miss + "\n" + '{"' + "k" * shift + '": 123456789012345}\n')
        assert has_long_number(str(path)) is False, shift


def test_a_line_flagged_in_vain_does_not_hide_a_run_at_the_start_of_the_next(tmp_path: Path) -> None:
    """Digits inside a string flag their line (decoded: not a number); the next line's 16-digit number starts right
    after the line end, at every alignment of that end."""
    for pad in range(8):
        path = tmp_path / f"{pad}.jsonl"
        path.write_text('{"s": "1234567890123456", "p": "' + "x" * pad + '"}\n1234567890123456\n')
        assert has_long_number(str(path)) is True, pad


def test_a_line_flagged_in_vain_does_not_hide_a_number_at_the_end_of_the_line_before(tmp_path: Path) -> None:
    """The search runs from a block's end: digits inside a string flag the later line in vain; the line before ends
    with the number a double would round, at every alignment of its end."""
    for pad in range(8):
        for number in ("1234567890123456", "1e-400"):
            path = tmp_path / f"{pad}.jsonl"
            path.write_text('{"p": "' + "x" * pad + '", "n": ' + number + '}\n{"s": "1234567890123456 0e-000"}\n')
            assert has_long_number(str(path)) is True, (pad, number)


@pytest.mark.parametrize(
    ("number", "rounded"),
    [("1e-400", True), ("-2.5E-0400", True), ("1.5e-310", True), ("0e-400", False), ("2.5e-308", False),
     ("1e-99", False), ("123.456e-300", False), ("1e400", False), ("1e-400 ", True), ("-1E-4000\t", True),
     ("1e-400\r", True)],
)  # fmt: skip
def test_numbers_below_the_double_range_count_and_zero_does_not(tmp_path: Path, number: str, rounded: bool) -> None:
    """DuckDB reads 1e-400 as 0 and 1.5e-310 with fewer digits (a subnormal double); a zero of any exponent is 0
    either way, and 1e400 (infinity) is the SQL's to refuse."""
    path = tmp_path / "batch.jsonl"
    path.write_text('{"id": "003000000000000AAA", "n": ' + number + "}\n")
    assert has_long_number(str(path)) is rounded
    assert has_long_number(str(path), {"n": False}) is rounded  # in nested JSON too
    assert has_long_number(str(path), {"other": True}) is False


@settings(max_examples=60, deadline=None)
@given(lines, st.booleans())
def test_the_scan_beside_a_load_decides_what_the_scan_decided(pieces: list[str], final_newline: bool) -> None:
    """``ExactnessCheck`` (the scan run in a thread while DuckDB loads the file) answers what ``has_long_number``
    answers, and refuses the commit exactly when it finds a long number."""
    data = "\n".join(pieces).encode() + (b"\n" if final_newline else b"")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batch.jsonl"
        path.write_bytes(data)
        long_number = has_long_number(str(path))
        check = duckdb_store.ExactnessCheck(str(path))
        assert check.exact() is not long_number, data
        assert check.exact() is not long_number, data  # asked again (the load, then the reason): same answer
        if long_number:
            with pytest.raises(duckdb_store.LongNumbers):
                check.require()
        else:
            check.require()


def test_the_scan_beside_a_load_raises_what_the_scan_raised(tmp_path: Path) -> None:
    """A scan that fails (an unreadable file) fails in the loading thread, as the scan before the load did."""
    check = duckdb_store.ExactnessCheck(str(tmp_path / "missing.jsonl"))
    with pytest.raises(FileNotFoundError):
        check.exact()
    with pytest.raises(FileNotFoundError):
        check.require()


@pytest.mark.skipif(sys.platform != "linux", reason="reads the peak RSS from /proc/self/status (Linux only)")
def test_the_scan_does_not_keep_the_file_it_scanned_in_memory(tmp_path: Path) -> None:
    """The scan holds one block of the file at a time, not the file (goal 4's peak counts RSS; a 75 MB BATCH file
    mapped whole added its size to the target's peak)."""
    path = tmp_path / "batch.jsonl"
    line = b'{"Id": "001000000000000AAA", "AnnualRevenue": 6140558.67, "Name": "' + b"x" * 900 + b'"}\n'
    path.write_bytes(line * (64 * 2**20 // len(line)))
    # the peak of the child's own memory (VmHWM: ru_maxrss starts from the parent's RSS at the fork)
    probe = (
        "import re, sys; from target_xlr8_truths.duckdb_store import content_refusal\n"
        "def peak(): return int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
        "before = peak(); assert content_refusal(sys.argv[1], {'AnnualRevenue': True}) is None\n"
        "print((peak() - before) // 1024)"
    )
    grown = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True)
    assert int(grown.stdout) < 32, grown.stdout  # MB: a block and its translation, not the file's 64


def test_the_scan_works_in_blocks_that_stay_in_a_cores_cache(tmp_path: Path) -> None:
    """The scan's block and its translation stay small (``_SCAN_CHUNK``: 4 MiB blocks were written out to memory and
    read back by each search, a third of the scan's CPU on Salesforce Contacts), however large the file; a line
    longer than a block is still read whole, and a long number in the file's last line is still found."""
    import tracemalloc

    path = tmp_path / "batch.jsonl"
    line = b'{"Id": "003000000000000AAA", "MailingLatitude": 37.7749, "Name": "' + b"x" * 200 + b'"}\n'
    path.write_bytes(line * (8 * 2**20 // len(line)))
    tracemalloc.start()
    try:
        assert duckdb_store.content_refusal(str(path), {"MailingLatitude": False}) is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20, peak  # a block and its translation: 8 MiB with blocks of 4 MiB
    with open(path, "ab") as out:
        out.write(b'{"Id": "003000000000001AAA", "Name": "' + b"y" * (1 << 20) + b'"}\n')
        out.write(b'{"Id": "003000000000002AAA", "MailingLatitude": 37.77490000000000123}\n')
    assert duckdb_store.content_refusal(str(path), {"MailingLatitude": False}) == duckdb_store.LONG_NUMBERS
    assert duckdb_store.content_refusal(str(path), {"Name": False}) is None
