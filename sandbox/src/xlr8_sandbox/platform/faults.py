"""Fault and latency injection, per product and endpoint (path glob), deterministic by request count.

A rule is ``(product, path_glob, FaultSpec)``. Every request to a product is counted by each rule that matches
it; of the rules due to fire on it, the first added handles it (the others do not use up a firing).
``after``/``every``/``times`` make "the 3rd request", "every 5th" and "twice, then OK" exact, so a test can
say which page fails. ``product="*"`` applies to every product (profiles).

Kinds (``FaultSpec.kind``):

- ``status``: answer ``status`` (default 503) with ``body``; ``times=N`` makes an N-times burst, then OK.
- ``rate_limit``: 429 with ``Retry-After`` in seconds, as an HTTP-date (``retry_after_format="http-date"``), or a
  raw string (``retry_after="abc"``) for malformed values.
- ``reset``: close the socket without a response (TCP RST).
- ``truncate``: the real response with its full ``Content-Length`` but only half the body, then close.
- ``stall``: wait ``seconds`` before answering normally (client read timeouts). With ``until_answered=N``, wait
  instead until N requests to the rule's path (any query, this one aside) have been answered since the rule was
  added, ``seconds`` at most: "page 2 answered after the pages asked for beside it" by what happened, not by a hold
  long enough on an idle machine (a loaded one may send those pages later than any fixed hold). With
  ``until_released=True``, wait instead until the test calls ``FaultRule.release()``, ``seconds`` at most: "the
  answer comes after the client did X", X seen by the test (a request it made, its read ending), not bet on.
- ``slow_answer``: serve the request at once (its effect on the vendor's data happens: a job is created), then hold
  the answer ``seconds`` before sending it, as a loaded vendor acts on a request once it is in and answers late (a
  client cut meanwhile never learns what it made).
- ``slow_body``: the answer's status line and headers sent at once, its body held ``seconds`` after them, as a tenant
  far away (or one that streams rows as its database reads them) delivers a body slowly: the client's time to the
  headers is short, its time to the whole answer is not.
- ``revoke_tokens`` / ``expire_tokens``: the product's issued tokens stop working, then the request goes on, so the
  emulator answers with its own 401 shape (token revocation or expiry mid-run).
- ``error_body``: 200 OK whose body is an error, in the vendor's shape (``ProductEmulator.error_body_response``).
- ``quota``: the vendor's quota error (``ProductEmulator.quota_error_response``), e.g. Salesforce 403
  ``REQUEST_LIMIT_EXCEEDED``.
- ``insert_records``: ``count`` records are inserted (``ProductEmulator.insert_records``) before the request is
  served, as if another user created them while the client was paging; with ``seconds``, the request is held
  back that long first (so requests sent beside it are answered before the insert), or, with ``until_answered``,
  until that many were answered, or with ``until_released`` until released, as for ``stall``.
"""

from __future__ import annotations

import fnmatch
import itertools
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

FaultKind = Literal[
    "status",
    "rate_limit",
    "reset",
    "truncate",
    "stall",
    "slow_answer",
    "slow_body",
    "revoke_tokens",
    "expire_tokens",
    "error_body",
    "quota",
    "insert_records",
]
FAULT_KINDS: tuple[str, ...] = FaultKind.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class FaultSpec:
    """What to do to a matching request and when (see the module docstring)."""

    kind: FaultKind
    status: int = 503
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: float | str | None = None
    retry_after_format: Literal["seconds", "http-date"] = "seconds"
    seconds: float = 0.0
    count: int = 1
    #: Matching requests to let through before the first firing (``after=2`` fires on the 3rd).
    after: int = 0
    #: Fire on every Nth matching request once ``after`` have passed.
    every: int = 1
    #: Stop after firing this many times; None fires forever.
    times: int | None = None
    #: Only requests with this method (``GET``), any when None.
    method: str | None = None
    #: Only requests whose query string has these parameters with these values (e.g. ``{"offset": "20"}``): a
    #: fault on one page whatever order concurrent page requests arrive in. Any query when None.
    query: dict[str, str] | None = None
    #: ``stall``/``insert_records``: hold the request until this many requests to the rule's path (any query, this
    #: one aside) were answered since the rule was added, ``seconds`` at most; 0: hold ``seconds``.
    until_answered: int = 0
    #: ``stall``/``insert_records``: hold the request until ``FaultRule.release()`` is called, ``seconds`` at most
    #: (the cap: a test that never releases fails on what it checks, not on a hang).
    until_released: bool = False

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind {self.kind!r} is not one of: {', '.join(FAULT_KINDS)}")
        if self.every < 1:
            raise ValueError(f"fault 'every' must be >= 1, got {self.every}")
        if self.after < 0:
            raise ValueError(f"fault 'after' must be >= 0, got {self.after}")
        if self.until_answered < 0:
            raise ValueError(f"fault 'until_answered' must be >= 0, got {self.until_answered}")
        if self.until_answered and self.kind not in ("stall", "insert_records"):
            raise ValueError(f"fault 'until_answered' holds a stall or insert_records, not {self.kind!r}")
        if self.until_released and self.until_answered:
            raise ValueError("fault 'until_released' and 'until_answered' are two holds: set one")
        if self.until_released and self.kind not in ("stall", "insert_records"):
            raise ValueError(f"fault 'until_released' holds a stall or insert_records, not {self.kind!r}")
        if self.times is not None and self.times < 0:
            raise ValueError(f"fault 'times' must be >= 0 or null, got {self.times}")
        if self.retry_after_format not in ("seconds", "http-date"):
            raise ValueError(f"fault 'retry_after_format' must be seconds or http-date: {self.retry_after_format!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultSpec:
        """Build from the admin endpoint's JSON; unknown fields are an error that names them."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        if "kind" not in data:
            raise ValueError("fault field 'kind' is required")
        return cls(**data)


@dataclass
class FaultRule:
    rule_id: int
    product: str
    path_glob: str
    spec: FaultSpec
    seen: int = 0
    fired: int = 0
    #: Requests to ``path_glob`` (any method and query) answered since the rule was added (``until_answered``).
    answered: int = 0
    #: Set by ``release()``: the requests it holds (``until_released``) go on, and those it fires on later too.
    released: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    def release(self) -> None:
        """End the hold of an ``until_released`` rule (thread-safe: called by the test while the server holds)."""
        self.released.set()

    def matches(self, product: str, method: str, path: str, query: str = "") -> bool:
        if self.product not in ("*", product):
            return False
        if self.spec.method and self.spec.method.upper() != method.upper():
            return False
        if self.spec.query:
            given = dict(parse_qsl(query, keep_blank_values=True))
            if any(given.get(name) != str(value) for name, value in self.spec.query.items()):
                return False
        return fnmatch.fnmatchcase(path, self.path_glob)

    def count(self) -> bool:
        """Count one matching request; True when this rule is due to fire on it."""
        self.seen += 1
        if self.spec.times is not None and self.fired >= self.spec.times:
            return False
        position = self.seen - self.spec.after
        return position >= 1 and (position - 1) % self.spec.every == 0

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.rule_id,
            "product": self.product,
            "path": self.path_glob,
            "spec": asdict(self.spec),
            "seen": self.seen,
            "fired": self.fired,
            "answered": self.answered,
            "released": self.released.is_set(),
        }


@dataclass
class LatencyRule:
    product: str
    path_glob: str
    ms: float


class FaultRegistry:
    """The live fault and latency rules of one sandbox (shared by all its products, thread-safe)."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._latency: list[LatencyRule] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, product: str, path_glob: str, spec: FaultSpec) -> FaultRule:
        """Add a rule; ``product="*"`` means every product. Returns the rule (its counters are live)."""
        rule = FaultRule(next(self._ids), product, path_glob or "*", spec)
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove(self, rule_id: int) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.rule_id != rule_id]
            return len(self._rules) != before

    def clear(self, product: str | None = None) -> None:
        """Remove fault and latency rules (of one product, or all)."""
        with self._lock:
            if product is None:
                self._rules.clear()
                self._latency.clear()
            else:
                self._rules = [r for r in self._rules if r.product != product]
                self._latency = [r for r in self._latency if r.product != product]

    def rules(self, product: str | None = None) -> list[FaultRule]:
        with self._lock:
            return [r for r in self._rules if product is None or r.product in ("*", product)]

    def decide(self, product: str, method: str, path: str, query: str = "") -> FaultRule | None:
        """The rule that fires on this request, if any (every matching rule counts the request)."""
        chosen: FaultRule | None = None
        with self._lock:
            for rule in self._rules:
                if rule.matches(product, method, path, query) and rule.count() and chosen is None:
                    chosen = rule
            if chosen is not None:
                chosen.fired += 1
        return chosen

    def note_answered(self, product: str, path: str) -> None:
        """One request to ``path`` answered (or cut): counted by every rule of the product on that path."""
        with self._lock:
            for rule in self._rules:
                if rule.product in ("*", product) and fnmatch.fnmatchcase(path, rule.path_glob):
                    rule.answered += 1

    def set_latency(self, product: str, ms: float, path_glob: str = "*") -> None:
        """Add ``ms`` of latency to every matching request; 0 removes the product's rule for that glob."""
        if ms < 0:
            raise ValueError(f"latency ms must be >= 0, got {ms}")
        with self._lock:
            self._latency = [r for r in self._latency if (r.product, r.path_glob) != (product, path_glob)]
            if ms:
                self._latency.append(LatencyRule(product, path_glob, float(ms)))

    def latency_ms(self, product: str, path: str) -> float:
        with self._lock:
            return sum(
                r.ms for r in self._latency if r.product in ("*", product) and fnmatch.fnmatchcase(path, r.path_glob)
            )

    def latency_rules(self) -> list[LatencyRule]:
        with self._lock:
            return list(self._latency)

    def apply_profile(self, name: str, product: str = "*") -> None:
        """Add the rules of a named profile (see ``PROFILES``)."""
        if name not in PROFILES:
            raise ValueError(f"unknown fault profile {name!r}; available: {', '.join(sorted(PROFILES))}")
        for path_glob, spec in PROFILES[name].faults:
            self.add(product, path_glob, spec)
        if PROFILES[name].latency_ms:
            self.set_latency(product, PROFILES[name].latency_ms)


@dataclass(frozen=True)
class FaultProfile:
    description: str
    faults: tuple[tuple[str, FaultSpec], ...] = ()
    latency_ms: float = 0.0


#: Named profiles for ``xlr8-sandbox --faults NAME`` and ``run_sandbox(faults=NAME)``. Every one is deterministic.
PROFILES: dict[str, FaultProfile] = {
    "none": FaultProfile("no faults"),
    "flaky": FaultProfile(
        "transient trouble a resilient tap must ride through: every 7th request 503, every 11th 429 "
        "(Retry-After: 1), every 13th connection reset, every 17th truncated body",
        (
            ("*", FaultSpec("status", status=503, after=6, every=7)),
            ("*", FaultSpec("rate_limit", retry_after=1, after=10, every=11)),
            ("*", FaultSpec("reset", after=12, every=13)),
            ("*", FaultSpec("truncate", after=16, every=17)),
        ),
    ),
    "rate-limited": FaultProfile(
        "every 3rd request 429, alternating Retry-After forms",
        (
            ("*", FaultSpec("rate_limit", retry_after=1, after=2, every=6)),
            ("*", FaultSpec("rate_limit", retry_after=1, retry_after_format="http-date", after=5, every=6)),
        ),
    ),
    "expiring-tokens": FaultProfile(
        "every 25th request revokes the product's tokens first, so the tap must re-authenticate mid-run",
        (("*", FaultSpec("revoke_tokens", after=24, every=25)),),
    ),
    "wan": FaultProfile("100 ms per request, like a tenant across an ocean", latency_ms=100.0),
    "hostile": FaultProfile(
        "flaky plus a 3 s stall every 19th request and 50 ms latency",
        (
            ("*", FaultSpec("status", status=502, after=6, every=7)),
            ("*", FaultSpec("rate_limit", retry_after=1, after=10, every=11)),
            ("*", FaultSpec("reset", after=12, every=13)),
            ("*", FaultSpec("truncate", after=16, every=17)),
            ("*", FaultSpec("stall", seconds=3.0, after=18, every=19)),
        ),
        latency_ms=50.0,
    ),
}
