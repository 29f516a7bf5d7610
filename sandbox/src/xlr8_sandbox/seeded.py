"""Per-record generators, cheaper to make and draw from, with exactly the draws of ``random.Random(seed)``.

The fictional company seeds one Mersenne Twister per record from a digest of ``"{seed}:{kind}:{i}"``. That
seeding (in C) is the floor; what this module removes is the Python around it: ``random.Random.__init__`` and
``seed()`` (type checks), the f-string and the digest's prefix (hashed once per kind), and ``randrange`` /
``choice``'s three Python calls per draw (``_index`` checks, ``_randbelow``). Every draw reads the same 32-bit
words in the same order as the stdlib methods (``sandbox/tests/test_fast_paths_exact.py`` holds them side by
side, and the served-bytes golden holds every emulator's output), so every value the emulators serve stays the same.
"""

from __future__ import annotations

import _random
import hashlib
import random
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import SupportsLenAndGetItem

T = TypeVar("T")

_seed_state = _random.Random.seed
_ONE = 1


class SeededRandom(random.Random):
    """``random.Random(x)``: the same state and the same draws; fast paths for int ``randrange`` and ``choice``."""

    def __init__(self, x: int) -> None:
        # The C seed alone: what random.Random.__init__ ends in for an int, without the Python type checks.
        _seed_state(self, x)
        self.gauss_next = None

    def randrange(self, start: int, stop: int | None = None, step: int = _ONE) -> int:
        if step is _ONE and type(start) is int and (stop is None or type(stop) is int):
            n = start if stop is None else stop - start
            if n > 0:
                getrandbits = self.getrandbits
                k = n.bit_length()
                r = getrandbits(k)
                while r >= n:
                    r = getrandbits(k)
                return r if stop is None else start + r
        return super().randrange(start, stop, step)

    def choice(self, seq: SupportsLenAndGetItem[T]) -> T:
        n = len(seq)
        if not n:
            raise IndexError("Cannot choose from an empty sequence")
        getrandbits = self.getrandbits
        k = n.bit_length()
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return seq[r]


def below(getrandbits: Any, n: int) -> int:
    """``randrange(n)`` (``n > 0``) from a generator's bound ``getrandbits``: the same words as ``_randbelow``, one
    Python call instead of ``SeededRandom.randrange``'s checks, for builders that draw a dozen values a record."""
    k = n.bit_length()
    r = getrandbits(k)
    while r >= n:
        r = getrandbits(k)
    return r


class SeedDigests:
    """``blake2b(f"{prefix}{kind}:{i}", digest_size=8)`` as a big-endian int, the prefix and kind hashed once."""

    def __init__(self, prefix: str, max_kinds: int = 4096) -> None:
        self._prefix = prefix
        self._max_kinds = max_kinds
        self._hashers: dict[str, Any] = {}

    def __call__(self, kind: str, i: int) -> int:
        hasher = self._hashers.get(kind)
        if hasher is None:
            if len(self._hashers) >= self._max_kinds:  # kinds that carry a day or period: keep the memo bounded
                self._hashers.clear()
            hasher = self._hashers[kind] = hashlib.blake2b(f"{self._prefix}{kind}:".encode(), digest_size=8)
        h = hasher.copy()
        h.update(b"%d" % i)
        return int.from_bytes(h.digest(), "big")

    def rng(self, kind: str, i: int) -> SeededRandom:
        return SeededRandom(self(kind, i))
