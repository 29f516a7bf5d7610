"""``SeededRandom`` (the company's per-record generator, issue 14) draws exactly what ``random.Random`` draws."""

from __future__ import annotations

import random

import pytest

from xlr8_sandbox.company import SeededRandom


@pytest.mark.parametrize("seed", [0, 1, 42, 2**63 - 1, 0x9E3779B97F4A7C15, 123456789])
def test_same_draws_as_random_random(seed: int) -> None:
    reference, fast = random.Random(seed), SeededRandom(seed)
    for n in range(1, 400):
        assert fast.randrange(n) == reference.randrange(n)
        assert fast.randrange(-n, n * 7) == reference.randrange(-n, n * 7)
        assert fast.randrange(10, 10 + n, 3) == reference.randrange(10, 10 + n, 3)
        assert fast.choice(range(n)) == reference.choice(range(n))
        assert fast.choice("abcdefg"[: 1 + n % 7]) == reference.choice("abcdefg"[: 1 + n % 7])
        assert fast.random() == reference.random()
        assert fast.randrange(0, 10**15) == reference.randrange(0, 10**15)


def test_errors_as_random_random() -> None:
    fast = SeededRandom(7)
    with pytest.raises(ValueError, match="empty range"):
        fast.randrange(0)
    with pytest.raises(ValueError, match="empty range"):
        fast.randrange(5, 5)
    with pytest.raises(IndexError):
        fast.choice([])
