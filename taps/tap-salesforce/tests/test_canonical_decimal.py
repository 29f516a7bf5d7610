"""``canonical_decimal``'s fast path (a fraction not ending in 0, no exponent) gives what the general rule gives, and
``canonical_numbers`` the text the writer writes for it."""

from __future__ import annotations

from decimal import Decimal

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from xlr8_tap_salesforce.client import JsonNumbers, canonical_decimal, canonical_numbers


def _general(text: str) -> Decimal:
    if "." in text and "e" not in text and "E" not in text:
        text = text.rstrip("0").rstrip(".") or "0"
    value = Decimal(text)
    return value if value else Decimal(0)


number_texts = st.from_regex(r"\A-?(0|[1-9][0-9]{0,12})(\.[0-9]{1,12})?([eE][-+]?[0-9]{1,3})?\Z")


@given(number_texts)
def test_every_json_number_text_reads_as_the_general_rule_reads_it(text: str) -> None:
    assert repr(canonical_decimal(text)) == repr(_general(text))


def test_spellings_of_one_value_read_alike() -> None:
    assert repr(canonical_decimal("-33.868820000000000")) == repr(canonical_decimal("-33.86882"))
    assert repr(canonical_decimal("100.0")) == "Decimal('100')"
    assert repr(canonical_decimal("-0.0")) == repr(canonical_decimal("0e5")) == "Decimal('0')"
    assert repr(canonical_decimal("7.25")) == "Decimal('7.25')"


_WRITE = msgspec.json.Encoder(decimal_format="number").encode


@given(st.one_of(number_texts, st.from_regex(r"\A-?0\.0{0,9}[0-9]{1,4}0{0,3}\Z")))
def test_written_numbers_are_the_text_written_for_the_canonical_decimal(text: str) -> None:
    """``canonical_numbers`` (records only the writer reads) holds the text the writer writes for the Decimal."""
    numbers = canonical_numbers()
    assert _WRITE({"n": numbers[text]}) == _WRITE({"n": canonical_decimal(text)})
    assert _WRITE({"n": numbers[text]}) == _WRITE({"n": numbers[text]})  # found again: the same text


def test_written_numbers_of_tiny_padded_and_exponent_texts() -> None:
    numbers = canonical_numbers()
    assert [bytes(numbers[text]) for text in ("0.0000001", "-33.868820000000000", "1e5", "7.25", "-0.0")] == [
        b"1E-7",
        b"-33.86882",
        b"1E+5",
        b"7.25",
        b"0",
    ]


@given(st.lists(st.one_of(number_texts, st.from_regex(r"\A-?0\.0{0,9}[0-9]{1,4}0{0,3}\Z")), max_size=8))
def test_a_json_page_through_json_numbers_writes_what_canonical_numbers_writes(texts: list[str]) -> None:
    """``JsonNumbers`` as the REST float hook (its one-frame path for a text that is its own written text) writes
    each number as ``canonical_numbers`` and the canonical Decimal write it, new and found again."""
    page = ("[" + ",".join(texts * 2) + "]").encode()
    hooked = JsonNumbers().loads_marked(page)
    assert hooked[1] is True
    assert _WRITE(hooked[0]) == _WRITE(canonical_numbers().loads_marked(page)[0])
    assert _WRITE(hooked[0]) == _WRITE(msgspec.json.Decoder(float_hook=canonical_decimal).decode(page))


def test_json_numbers_of_padded_exponent_and_tiny_texts() -> None:
    page = b'{"a":[1.50,-33.868820000000000,1e5,2.5E-3,0.0000001,-0.0,7.25,100.0,12.5,12.5]}'
    assert _WRITE(JsonNumbers().loads_marked(page)[0]) == b'{"a":[1.5,-33.86882,1E+5,0.0025,1E-7,0,7.25,100,12.5,12.5]}'
