"""``wirejson`` answers msgspec's bytes only where they equal the stdlib encoder's (issue 14, emulator speed)."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import pytest

from xlr8_sandbox.platform.rowcache import json_bytes
from xlr8_sandbox.platform.wirejson import content_bytes, projected_bytes, row_bytes, spaced_ascii_bytes


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(type(value).__name__)


STDLIB = json.JSONEncoder(default=_default, ensure_ascii=False, separators=(",", ":"))
TEXT = "".join(chr(c) for c in range(0, 0xD800, 3)) + 'é\u2028\x7f\x00"\\\n</script>Ω😀'


def _values() -> list[Any]:
    r = random.Random(14)
    values: list[Any] = [None, True, False, 0, -1, 2**70, -(2**63) - 1, "", TEXT, 0.0, -0.0, 0.1, 1e-4, 9.99e15]
    values += [Decimal(r.randrange(-(10**12), 10**12)) / 100 for _ in range(2000)]
    values += [r.uniform(-1e6, 1e6) for _ in range(2000)]
    values += [{"street": "1 Main", "latitude": Decimal("43.6532"), "n": [1, 2.5, None]}, [Decimal("1.50"), "x"]]
    return values


@pytest.mark.parametrize("value", _values()[:14] + _values()[-2:])
def test_plain_values_give_the_stdlib_bytes(value: Any) -> None:
    row = {"a": value, "b": "c"}
    assert row_bytes(row, decimal_as_float=True) == STDLIB.encode(row).encode()


def test_many_numbers_give_the_stdlib_bytes() -> None:
    values = _values()
    row = {f"f{i}": v for i, v in enumerate(values)}
    assert row_bytes(row, decimal_as_float=True) == STDLIB.encode(row).encode()
    head = {"attributes": {"type": "Account", "url": "/x/001"}}
    assert projected_bytes(head, row, list(row), decimal_as_float=True) == STDLIB.encode({**head, **row}).encode()


@pytest.mark.parametrize(
    "value", [1e16, 1e-5, -1e22, float("nan"), float("inf"), Decimal("1E+20"), Decimal("0.00001"), {1: 2}, (1, 2)]
)
def test_values_msgspec_would_write_differently_fall_back(value: Any) -> None:
    assert row_bytes({"a": value}, decimal_as_float=True) is None
    assert projected_bytes({}, {"a": value}, ["a"], decimal_as_float=True) is None


def test_decimals_fall_back_unless_they_are_floats_on_the_wire() -> None:
    assert row_bytes({"a": Decimal("1.5")}) is None
    assert row_bytes({"a": Decimal("1.5")}, decimal_as_float=True) == b'{"a":1.5}'


def test_content_gives_json_bytes_of_the_stdlib() -> None:
    plain = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    content = {
        "d": {"results": [{"a": TEXT, "b": 1.25, "c": [1, None, True, ("t", 2)], "e": {}, "f": []}] * 3},
        "n": -0.0,
        "big": 2**80,
    }
    assert content_bytes(content) == plain.encode(content).encode()
    assert json_bytes(content) == plain.encode(content).encode()


@pytest.mark.parametrize("value", [1e16, 1e-7, float("nan"), Decimal("1.5"), {1: "a"}, {"s": {1, 2}}])
def test_content_msgspec_would_write_differently_falls_back(value: Any) -> None:
    assert content_bytes({"x": [value]}) is None


def test_json_bytes_still_rejects_what_the_stdlib_rejects() -> None:
    with pytest.raises(TypeError):
        json_bytes({"x": Decimal("1.5")})
    with pytest.raises(ValueError, match="Out of range float"):
        json_bytes({"x": float("nan")})


def test_decimals_kept_as_floats_give_the_stdlib_bytes_in_any_order() -> None:
    """``_float_of`` keeps floats per Decimal value: equal Decimals of other exponents, both zeros, repeats (hits)
    and more distinct values than it keeps (cleared), each as ``float(d)`` writes it, in the order met."""
    r = random.Random(17)
    pool = [Decimal("0"), Decimal("-0"), Decimal("0.00"), Decimal("-0.000"), Decimal("1.1"), Decimal("1.10")]
    pool += [Decimal("-33.868820000000000"), Decimal("51.507350900000000"), Decimal("1E+16"), Decimal("1E-5")]
    pool += [Decimal("Infinity"), Decimal("-Infinity")]
    numbers = [*pool, *(Decimal(r.randrange(-(10**9), 10**9)).scaleb(-r.randrange(0, 12)) for _ in range(9000))]
    numbers += [r.choice(pool) for _ in range(3000)]
    r.shuffle(numbers)
    head = {"attributes": {"type": "Account"}}
    for k in range(0, len(numbers), 3):
        record = {"a": numbers[k], "b": "x", "c": numbers[k + 1 : k + 3]}
        expected = None
        floats = [float(n) for n in (record["a"], *record["c"])]
        if all(f == 0.0 or 1e-4 <= abs(f) < 1e16 for f in floats):
            expected = STDLIB.encode({**head, **record}).encode()
        assert projected_bytes(head, record, ("a", "b", "c"), decimal_as_float=True) == expected, record
        assert row_bytes(record, decimal_as_float=True) == (
            None if expected is None else STDLIB.encode(record).encode()
        ), record
    for zero in (Decimal("-0"), Decimal("0"), Decimal("-0.0")):  # a zero never answers for the other zero
        assert row_bytes({"z": zero}, decimal_as_float=True) == STDLIB.encode({"z": zero}).encode()


def test_a_signalling_nan_fails_as_float_does() -> None:
    with pytest.raises(ValueError, match="signaling NaN"):
        float(Decimal("sNaN"))
    with pytest.raises(ValueError, match="signaling NaN"):
        projected_bytes({}, {"a": Decimal("sNaN")}, ("a",), decimal_as_float=True)
    assert projected_bytes({}, {"a": Decimal("NaN")}, ("a",), decimal_as_float=True) is None


def test_spaced_ascii_bytes_are_json_dumps_defaults() -> None:
    """Oracle Fusion's pages: ``json.dumps``'s separators and its escapes of every character outside printable
    ASCII (DEL, accents, astral pairs), msgspec's control escapes, empty containers, ints past 64 bits."""
    content = {
        "items": [{"a": TEXT, "b": "x, y: z", "c": [1, None, True, False], "e": {}, "f": [], "g": "\x7f"}] * 3,
        "count": 3,
        "big": -(2**80),
        "keys ,: é😀": "",
    }
    assert spaced_ascii_bytes(content) == json.dumps(content).encode()
    assert spaced_ascii_bytes([]) == b"[]"


def test_spaced_ascii_bytes_leave_a_lone_surrogate_to_the_stdlib() -> None:
    assert spaced_ascii_bytes({"a": "x\ud800y"}) is None
