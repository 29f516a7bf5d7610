"""Resilient HTTP for every tap: one ``requests.Session`` subclass that owns retries, Retry-After, circuit
breaking, rate limiting, redirect and TLS safety, explicit timeouts and the audit log.

Taps never retry on their own: ``KitRESTStream`` turns the SDK's backoff off (one try) so the total number of
attempts per request is bounded by the kit alone (RELIABILITY A14):

    HTTP requests per logical request  <=  max_attempts * (1 + max_redirects)

``max_attempts`` counts every attempt (the first one, backoff retries and the single retry after a forced token
refresh); each attempt may follow at most ``max_redirects`` same-origin redirects. Wall time per request is bounded
by ``max_elapsed`` (waits included; the last attempt's timeouts shrink to the budget left). Nothing else retries:
the session mounts adapters without urllib3 retries.

CONTRACT (helpers build against this; keep the names):
- ``HttpPolicy``: frozen dataclass of the knobs, built once from the tap's ``http`` config block.
- ``ResilientSession(policy, *, product, credential_id, redactor, audit, clock, sleep)``: ``send()`` applies the
  whole policy and returns the final response (2xx/3xx, or a non-retriable 4xx for the stream to classify), or
  raises one of ``xlr8_kit.http.errors``.
- ``send(request, *, classify=None, authenticate=None, kind="api")``: ``classify(response) -> Verdict`` overrides
  the session's classifier for this call; ``authenticate(prepared) -> prepared`` is applied to a fresh copy before
  every attempt (so a retry after a long wait carries a fresh token); if it has a ``force_refresh()`` method, a 401
  triggers one forced refresh and one retry, and a second 401 raises ``ReauthorizationRequiredError``. ``kind``
  labels the audit line (``api``, ``token``, ``secrets``, ``report``). ``kind="report"`` is a call the tenant
  answers only once it has run a report (Workday RaaS, UKG Pro ExecuteReport, UKG Ready report runs): it waits
  ``report_read_timeout`` for its answer, not the pages' ``read_timeout``, and an attempt that may have run the
  report and still failed (a read timeout, a reset or a body cut after the request was sent, a 500/502/504) runs
  it again once, with a warning, and then stops naming the report, since every attempt runs the whole report on
  the tenant (F13). ``report_runs`` (a ``ReportRuns``) carries that count across the re-sends of one streamed
  report (``xlr8_kit.streaming``).
  ``idempotent=False`` (a job's create) is resent only when it certainly did not reach the server or was certainly
  not applied (a connect failure, 429, 503 with Retry-After, 408, 425); any other failure raises
  ``OutcomeUnknownError``: a resend could make a second job.
- Under ``xlr8_kit.http.abort.Abort.applied()``, requests go over the ``Abort``'s own connections, and once it is
  aborted the request in flight and any later attempt raise ``RequestAbortedError`` (not retried); token requests
  (``kind="token"``) are never given up. The same holds for every request under ``abort.TERMINATION``, which only a
  signal ending the process aborts (token requests go over connections of their own, never cut).
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from http.cookiejar import CookieJar
from typing import Any, NoReturn, cast
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.cookies import RequestsCookieJar, cookiejar_from_dict, merge_cookies
from requests.sessions import merge_hooks, merge_setting
from requests.structures import CaseInsensitiveDict

from xlr8_kit.http.abort import (
    TERMINATION,
    Abort,
    abortable_adapter,
    applied_abort,
    exempt_adapter,
    is_exempt,
    nap,
    never_given_up,
)
from xlr8_kit.http.audit import AuditLog
from xlr8_kit.http.breaker import BreakerRegistry, CircuitBreaker
from xlr8_kit.http.classify import DEFAULT_CLASSIFIER, VERDICTS, ResponseClassifier, Verdict, is_rate_limited
from xlr8_kit.http.errors import (
    REPORT_SPENT,
    CircuitOpenError,
    ErrorBodyError,
    InsecureTransportError,
    KitHTTPError,
    OutcomeUnknownError,
    QuotaExhaustedError,
    RateLimitedError,
    ReauthorizationRequiredError,
    RequestAbortedError,
    ServerUnavailableError,
    TLSVerificationError,
)
from xlr8_kit.http.proxy import proxy_refused
from xlr8_kit.http.ratelimit import TokenBucket
from xlr8_kit.http.retry import Backoff, format_until, parse_retry_after, server_now
from xlr8_kit.redaction import Redactor

logger = logging.getLogger("xlr8_kit.http")

MAX_ERROR_BODY = 500
#: Distinct header sets whose checked form ``prepare_request`` keeps (a stream has one or two); past it, forgotten.
MAX_HEADER_SETS = 64

#: Transport failures worth another attempt. ``SSLError`` subclasses ``ConnectionError`` and is caught first.
RETRIABLE_EXCEPTIONS: tuple[type[BaseException], ...] = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    ConnectionResetError,
)


@dataclass(frozen=True)
class HttpPolicy:
    """Retry, timeout and protection knobs. Defaults suit a SaaS HR/ERP API over a WAN."""

    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    #: Seconds a report call (``kind="report"``) waits for its answer: the tenant runs the report while the request
    #: waits, far longer than a page takes. 1800 s is Workday's RaaS limit of 30 minutes (F13).
    report_read_timeout: float = 1800.0
    max_attempts: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    max_retry_after: float = 600.0
    max_elapsed: float = 1800.0
    requests_per_second: float | None = None
    rate_burst: float | None = None
    breaker_fail_max: int = 5
    breaker_reset_timeout: float = 30.0
    breaker_success_threshold: int = 1
    breaker_state_path: str | None = None
    allow_loopback_http: bool = True
    audit_path: str | None = None
    max_redirects: int = 5
    #: Stop before the vendor's daily quota share is used up (``Sforce-Limit-Info: api-usage=used/limit``), the
    #: requests in flight counted as used.
    max_quota_share: float | None = 0.9
    #: Extra CA bundle for private PKI; adds trust, never removes verification.
    ca_bundle: str | None = None
    #: The vendor's rate-limit window (s): a 429 without Retry-After waits it out (capped by ``max_retry_after``)
    #: instead of the 5xx backoff, which gave a one-minute quota window up after about 15 s (audit25d F6).
    rate_window: float | None = None
    #: A clean-up call (aborting a server-side job the run gave up on) passes an open circuit and is not counted:
    #: one request more to a host that just failed is the point of it (audit25d F16). Not a setting.
    bypass_breaker: bool = False

    def __post_init__(self) -> None:
        # Singer config arrives with JSON numbers as Decimal; the arithmetic here needs float/int.
        for name, kind in _NUMERIC_FIELDS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or value is None:
                continue
            if not isinstance(value, int | float | Decimal):
                raise ValueError(f"invalid HTTP policy: http.{name} must be a number, not {value!r}")
            object.__setattr__(self, name, kind(value))
        checks = {
            "connect_timeout": self.connect_timeout > 0,
            "read_timeout": self.read_timeout > 0,
            "report_read_timeout": self.report_read_timeout > 0,
            "max_attempts": self.max_attempts >= 1,
            "backoff_base": self.backoff_base >= 0,
            "backoff_max": self.backoff_max >= 0,
            "max_retry_after": self.max_retry_after >= 0,
            "max_elapsed": self.max_elapsed > 0,
            "requests_per_second": self.requests_per_second is None or self.requests_per_second > 0,
            "breaker_fail_max": self.breaker_fail_max >= 1,
            "breaker_reset_timeout": self.breaker_reset_timeout >= 0,
            "max_redirects": self.max_redirects >= 0,
            "max_quota_share": self.max_quota_share is None or 0 < self.max_quota_share <= 1,
            "rate_window": self.rate_window is None or self.rate_window >= 0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            values = ", ".join(f"http.{name}={getattr(self, name)!r}" for name in bad)
            raise ValueError(f"invalid HTTP policy: {values}")

    def for_report(self) -> HttpPolicy:
        """This policy for a report call: ``report_read_timeout`` to read, and an elapsed budget that holds the one
        re-run a read timeout gets (``max_elapsed`` sized for pages would cut a long report's first wait short)."""
        budget = 2 * (self.connect_timeout + self.report_read_timeout) + self.backoff_max
        return replace(self, read_timeout=self.report_read_timeout, max_elapsed=max(self.max_elapsed, budget))


_NUMERIC_FIELDS: dict[str, type] = {
    "connect_timeout": float,
    "read_timeout": float,
    "report_read_timeout": float,
    "max_attempts": int,
    "backoff_base": float,
    "backoff_max": float,
    "max_retry_after": float,
    "max_elapsed": float,
    "requests_per_second": float,
    "rate_burst": float,
    "breaker_fail_max": int,
    "breaker_reset_timeout": float,
    "breaker_success_threshold": int,
    "max_redirects": int,
    "max_quota_share": float,
    "rate_window": float,
}


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def origin_of(url: str) -> str:
    """``scheme://host:port`` with the default port made explicit: two URLs share credentials only if equal."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def path_of(url: str) -> str:
    """The path alone: query strings carry keys and filters, so they never reach logs, errors or the audit."""
    return urlsplit(url).path or "/"


_SSL_REASON = re.compile(r"\[SSL(?:: [A-Z_]+)?\] ([^(\]]+)")


def is_read_timeout(exc: BaseException | None) -> bool:
    """A read timeout, as requests raises it or as ``read_whole_body`` maps urllib3's (a ``ConnectionError``)."""
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return True
    if exc is None:
        return False
    if isinstance(exc, requests.exceptions.ConnectionError) and any(
        isinstance(arg, urllib3.exceptions.ReadTimeoutError) for arg in exc.args
    ):
        return True
    return "Read timed out" in str(exc)


#: The exception that cut a response's body while its classifier read it (``xlr8_kit.streaming``): what a retry says.
CUT_MARK = "_xlr8_cut"

#: Report runs that may fail after the tenant ran them before the report is given up: one re-run (F13).
REPORT_RERUNS = 1


@dataclass
class ReportRuns:
    """The attempts of one report request that may have run the report on the tenant and still failed, shared by
    every re-send of it (a streamed report asked again after its body broke off): past ``REPORT_RERUNS`` the report
    is not run again, whatever ``http.max_attempts`` allows pages (F13)."""

    report: str
    failed: int = 0
    #: What each failed run met, in order, and how many of them were read timeouts: the give-up names them all.
    problems: list[str] = field(default_factory=list)
    timeouts: int = 0

    def give_up_reason(
        self, problem: str, timed_out: bool, policy: HttpPolicy, *, proxy_retried: bool = False
    ) -> str | None:
        """Count one failed run; the reason to stop once the re-run is spent too, else None. The reason says
        ``REPORT_SPENT``, which tells a scheduler not to run the whole sync again. ``proxy_retried``: a gateway
        says it sent the request again itself (``_proxy_retried``), so this one failure may be several runs on the
        tenant already: the re-run is spent with it (review28e L1)."""
        self.failed += 1
        self.problems.append(problem)
        self.timeouts += timed_out
        if proxy_retried:
            return (
                f"report {self.report!r}: a gateway in front of the tenant retried the report itself and then "
                f"failed ({problem}), so the tenant may have run it more than once already; {REPORT_SPENT} (not run "
                "again from here): run again later, or narrow the report (prompts, date windows)"
            )
        if self.failed <= REPORT_RERUNS:
            return None
        timeout = f"http.report_read_timeout={policy.report_read_timeout:g} s"
        if self.timeouts == self.failed:
            return (
                f"report {self.report!r}: no answer within {timeout}, twice; {REPORT_SPENT}: raise "
                "http.report_read_timeout or narrow the report (prompts, date windows)"
            )
        advice = "run again later, or narrow the report (prompts, date windows)"
        if self.timeouts:
            advice = f"raise http.report_read_timeout ({timeout}), run again later, or narrow the report"
        return (
            f"report {self.report!r} failed twice after the tenant ran it ({'; then '.join(self.problems)}); "
            f"{REPORT_SPENT} (http.max_attempts counts page requests, not report runs): {advice}"
        )


def report_name(url: str) -> str:
    """The report a URL runs, for messages: its last path segment (a Workday RaaS report's name)."""
    return path_of(url).rstrip("/").rsplit("/", 1)[-1] or path_of(url)


def describe_exception(exc: BaseException) -> str:
    """A short, URL-free reason: requests' own messages embed the full URL, query string included."""
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        found = _SSL_REASON.search(text)
        return f"TLS verification failed: {found.group(1).strip() if found else 'certificate rejected'}"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connect timeout"
    if is_read_timeout(exc):
        return "read timeout"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "body truncated mid-transfer"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return "body could not be decoded"
    if "reset by peer" in text or isinstance(exc, ConnectionResetError):
        return "connection reset"
    if "Failed to resolve" in text or "Name or service not known" in text or "NameResolutionError" in text:
        return "DNS resolution failed"
    if "Connection refused" in text:
        return "connection refused"
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return "connection closed without a response"
    return f"connection error ({type(exc).__name__})"


_OPTIONAL: contextvars.ContextVar[bool] = contextvars.ContextVar("xlr8_kit_optional_request", default=False)


@contextlib.contextmanager
def optional_requests() -> Iterator[None]:
    """Requests sent inside only speed a read up (a ranged read's plan): near the quota share each leaves at least one
    slot free after it, so the requests the read needs (page 1, sent side by side with them) are never refused for
    them."""
    token = _OPTIONAL.set(True)
    try:
        yield
    finally:
        _OPTIONAL.reset(token)


_AT_SEND: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar("xlr8_kit_at_send", default=None)


@contextlib.contextmanager
def at_each_send(mark: Callable[[], None]) -> Iterator[None]:
    """``mark`` is called on this thread right before each attempt inside is handed to requests, where the
    answer's ``elapsed`` starts: a caller that times its own work against ``elapsed`` (the Oracle keyset reads'
    busy time) reads its clocks there, not before the kit's work ahead of the send (quota guard, limiter, a token
    fetched, a backoff), which it could only bound (review29c L3)."""
    token = _AT_SEND.set(mark)
    try:
        yield
    finally:
        _AT_SEND.reset(token)


class _NoBreaker:
    """What a call that bypasses the breaker (``HttpPolicy.bypass_breaker``) checks and reports to: nothing."""

    fail_max = 0

    def allow(self) -> bool:
        return True

    def retry_in(self) -> float:
        return 0.0

    def record_success(self) -> None:
        pass

    def record_failure(self) -> None:
        pass

    def record_attempt_failure(self) -> None:
        pass

    def release(self) -> None:
        pass


_NO_BREAKER = _NoBreaker()


class _Attempt:
    """What one attempt produced: a response, or a transport failure."""

    __slots__ = ("error", "response")

    def __init__(self, response: requests.Response | None = None, error: BaseException | None = None) -> None:
        self.response = response
        self.error = error


class ResilientSession(requests.Session):
    """See module docstring."""

    def __init__(
        self,
        policy: HttpPolicy | None = None,
        *,
        product: str = "unknown",
        credential_id: str | None = None,
        redactor: Redactor | None = None,
        audit: AuditLog | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
        rng: Callable[[], float] | None = None,
        run_id: str | None = None,
        classifier: ResponseClassifier | None = None,
        breakers: BreakerRegistry | None = None,
        rate_limiter: TokenBucket | None = None,
        tenant: str | None = None,
    ) -> None:
        super().__init__()
        self.policy = policy or HttpPolicy()
        self.product = product
        self.credential_id = credential_id
        self.redactor = redactor if redactor is not None else Redactor.default()
        self.clock = clock
        self.sleep = sleep
        self.wall = wall
        self.run_id = run_id or uuid.uuid4().hex
        self.classifier = classifier or DEFAULT_CLASSIFIER
        self.backoff = Backoff(base=self.policy.backoff_base, maximum=self.policy.backoff_max)
        if rng is not None:
            self.backoff.rng = rng
        self.breakers = breakers or BreakerRegistry(
            fail_max=self.policy.breaker_fail_max,
            reset_timeout=self.policy.breaker_reset_timeout,
            success_threshold=self.policy.breaker_success_threshold,
            clock=clock,
            wall=wall,
            state_path=self.policy.breaker_state_path,
            # a persisted breaker is one tenant's: vendors serve many tenants from one host, and one tenant's
            # failures must not stop another's run (audit25d F3); ``tenant`` names it where no credential does
            scope=f"{product}:{credential_id or tenant or ''}",
        )
        if rate_limiter is None and self.policy.requests_per_second:
            rate_limiter = TokenBucket(
                self.policy.requests_per_second, burst=self.policy.rate_burst, clock=clock, sleep=self._nap
            )
        self.rate_limiter = rate_limiter
        if audit is None and self.policy.audit_path:
            audit = AuditLog(
                self.policy.audit_path,
                run_id=self.run_id,
                product=product,
                credential_id=credential_id,
                redactor=self.redactor,
                wall=wall,
            )
        self.audit = audit
        self.quota_usage: tuple[int, int] | None = None
        #: Requests that passed the quota guard on a known reading and whose answer is not noted yet.
        self._quota_in_flight = 0
        self._paused_until = 0.0
        #: Attempts retried for the host's sake (429, 5xx with or without Retry-After, a timeout or dropped
        #: connection): any sign of distress, as Oracle asks clients to back off on 500/502/503/504. A read that widened
        #: its requests in flight narrows again once this grows (``xlr8_kit.oracle.ranges.InFlight``), and later
        #: reads do not widen (review 21b).
        self.throttled = 0
        #: Guards what answers read concurrently (a window of page requests) note from their headers.
        self._headers_lock = threading.Lock()
        self._call_options = threading.local()
        self._header_sets: dict[tuple[Any, ...], CaseInsensitiveDict[Any]] = {}
        #: The environment's proxies and CA bundle per origin (``_environment_for``), read once per session.
        self._environment: dict[tuple[str, str], tuple[dict[str, str], Any]] = {}
        # No urllib3-level retries: every attempt is ours, counted and audited (A14). Connections a signal ending
        # the process can cut (``abort.TERMINATION``); token requests have their own, never cut.
        adapter = abortable_adapter()
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        self._token_adapter = exempt_adapter()  # cut only at the grace's end after a signal
        self.max_redirects = self.policy.max_redirects

    # -- guards ---------------------------------------------------------------------------------------------

    def check_url(self, url: str) -> None:
        """https only; plain http only for loopback hosts (the sandbox)."""
        parts = urlsplit(url)
        if parts.scheme == "https":
            return
        if parts.scheme == "http" and self.policy.allow_loopback_http and is_loopback(parts.hostname):
            return
        raise InsecureTransportError(
            f"{self.product}: refusing {parts.scheme or '(no scheme)'}:// URL for host {parts.hostname!r}: "
            "only https:// is allowed (plain http only on loopback hosts); check the tap's base/instance URL",
            path=parts.path,
        )

    def _verify_setting(self, requested: Any) -> bool | str:
        """TLS verification is always on; a CA bundle path may add trust, ``False`` is refused."""
        for value in (requested, self.verify):
            if value is False:
                raise InsecureTransportError(
                    f"{self.product}: TLS certificate verification cannot be disabled (verify=False refused); "
                    "to trust a private CA set http.ca_bundle to its PEM file"
                )
        if self.policy.ca_bundle:  # the tap's own setting wins over REQUESTS_CA_BUNDLE from the environment
            return self.policy.ca_bundle
        if isinstance(requested, str) and requested:
            return requested
        if isinstance(self.verify, str) and self.verify:
            return self.verify
        return True

    def _environment_for(self, url: str) -> tuple[dict[str, str], Any]:
        """What ``session.request()`` takes from the environment for ``url`` (``merge_environment_settings``:
        ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` minus ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``), worked out once
        per origin for the session's life: a run's environment does not change, and the look-up (every variable
        scanned, ``NO_PROXY`` matched) is not paid per page. Taken before the attempts, so never timed with one."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        found = self._environment.get(key)
        if found is None:
            merged = self.merge_environment_settings(url, {}, None, None, None)
            found = (dict(merged["proxies"] or {}), merged["verify"])
            self._environment[key] = found  # a session speaks to one to three origins
        return found

    def _reserve_quota(self, path: str, kind: str, share: float | None) -> bool:
        """The proactive quota guard (A7): refuse a request once the usage the vendor last reported plus the
        requests already sent on it and not yet answered reach the share of the limit; else count this one in
        flight (True: ``_release_quota`` once its answer is noted or it failed). Requests sent side by side (a
        ranged read's cursors, its planning queries) would otherwise all pass on the same old reading. No reading
        yet: nothing to count against, as before. A token request (a refresh sent from inside a request that holds a
        slot) is judged on the reading alone and takes no slot: the request it serves already counted. ``share``
        is the call's policy's: a clean-up call (aborting a server-side job the run started) may pass it."""
        if share is None or self.quota_usage is None:
            return False
        spare = 1 if _OPTIONAL.get() else 0  # an optional request leaves a slot to a needed one
        with self._headers_lock:
            used, limit = self.quota_usage
            in_flight = 0 if kind == "token" else self._quota_in_flight
            if not (limit > 0 and used + in_flight + spare >= share * limit):
                if kind == "token":
                    return False
                self._quota_in_flight += 1
                return True
        sent = f" with {in_flight} more request(s) in flight" if in_flight else ""
        raise QuotaExhaustedError(
            f"{self.product}: API usage {used}/{limit}{sent} reached the configured share {share:g} of the daily "
            "limit (http.max_quota_share); stopping before the customer's quota runs out",
            path=path,
        )

    def _release_quota(self) -> None:
        with self._headers_lock:
            self._quota_in_flight -= 1

    def _note_headers(self, response: requests.Response) -> None:
        """Quota usage and rate-limit pauses the answer reports. Answers to concurrent requests arrive in any
        order, so an older, lower usage reading never replaces a higher one of the same limit, and a pause only
        ever grows."""
        parsed = self.classifier.quota_usage(response)
        pause = window_reset_in(response, now=self.wall())
        if parsed is None and pause is None:
            return
        with self._headers_lock:
            if parsed is not None:
                known = self.quota_usage
                if known is None or known[1] != parsed[1] or parsed[0] >= known[0]:
                    self.quota_usage = parsed
            if pause is not None:
                self._paused_until = max(self._paused_until, self.clock() + pause)
                if self.rate_limiter is not None:
                    self.rate_limiter.pause_until(self._paused_until)

    def _wait_for_window(self, path: str) -> None:
        wait = self._paused_until - self.clock()
        if wait <= 0 or self.rate_limiter is not None:  # the limiter applies the pause itself
            return
        if wait > self.policy.max_retry_after:
            until = format_until(self.wall(), wait)
            raise RateLimitedError(
                f"{self.product}: rate limited until {until} (rate-limit window reset in {wait:.0f} s exceeds "
                f"http.max_retry_after={self.policy.max_retry_after:g} s)",
                until=until,
                path=path,
            )
        self._nap(wait)

    def _nap(self, seconds: float) -> None:
        """``sleep``, cut short when a signal ends the process (``abort.TERMINATION``), as a retry's wait is: a
        rate-limit window may be minutes long. A token request, and a test's clock, sleep as told."""
        if self.sleep is time.sleep:
            nap(seconds)
        else:
            self.sleep(seconds)

    # -- preparing a request ---------------------------------------------------------------------------------

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        """``requests.Session.prepare_request`` (the same steps in the same order, the same bytes on the wire:
        tests/http/test_wire_bytes.py) without its cost for what a tap never has, about a third of it a request:
        - no ``~/.netrc`` look-up (two ``stat`` calls a request): a tap's credentials come from its settings
          alone, and a netrc entry for the vendor's host would add a Basic ``Authorization`` of its own;
        - the cookie jars merged and asked for a ``Cookie`` header only when one holds a cookie (a vendor that
          sets one gets it back exactly as before);
        - a header set checked once, not per request (``_checked_headers``).
        Proxies and CA bundles are untouched: they are decided at send time (``send``, ``_verify_setting``)."""
        cookies = request.cookies or {}
        if not isinstance(cookies, CookieJar):
            cookies = cookiejar_from_dict(cookies)
        prepared = requests.PreparedRequest()
        prepared.prepare_method(cast(str, request.method).upper())
        prepared.prepare_url(request.url, merge_setting(request.params, self.params))
        prepared.headers = self._checked_headers(request.headers)
        if len(self.cookies) or len(cookies):
            prepared.prepare_cookies(merge_cookies(merge_cookies(RequestsCookieJar(), self.cookies), cookies))
        else:
            # What the merge of two empty jars gives (a redirect's cookies are merged into it).
            prepared._cookies = RequestsCookieJar()  # type: ignore[attr-defined]
        prepared.prepare_body(request.data, request.files, request.json)
        prepared.prepare_auth(merge_setting(request.auth, self.auth), request.url)
        prepared.prepare_hooks(merge_hooks(request.hooks, self.hooks))
        return prepared

    def _checked_headers(self, headers: Any) -> CaseInsensitiveDict[Any]:
        """What ``PreparedRequest.prepare_headers`` makes of the request's headers merged over the session's (each
        name and value checked by a regular expression): made once per distinct set, a copy handed out."""
        try:
            # One snapshot of the session's headers is both the key and what is merged: a header another thread
            # changes between two reads must not be kept under the other state's key.
            session = tuple(self.headers.items())
            key = (tuple(headers.items()) if headers else (), session)
            checked = self._header_sets.get(key)
        except (AttributeError, TypeError):  # not a mapping of hashable values: prepared afresh every time
            key, checked = None, None
        if checked is None:
            scratch = requests.PreparedRequest()
            own = self.headers if key is None else CaseInsensitiveDict(session)
            scratch.prepare_headers(merge_setting(headers, own, dict_class=CaseInsensitiveDict))
            checked = scratch.headers
            if key is not None:
                if len(self._header_sets) >= MAX_HEADER_SETS:
                    self._header_sets.clear()
                self._header_sets[key] = checked
        return checked.copy()

    # -- the request loop -----------------------------------------------------------------------------------

    def request(
        self,
        method: str | bytes,
        url: str | bytes,
        *args: Any,
        classify: Callable[[requests.Response], Verdict] | None = None,
        authenticate: Callable[[requests.PreparedRequest], requests.PreparedRequest] | None = None,
        kind: str = "api",
        idempotent: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        """``session.get(url, classify=..., authenticate=..., kind=..., idempotent=...)`` works like ``send``'s
        options."""
        self._call_options.value = (classify, authenticate, kind, idempotent)
        try:
            return super().request(method, url, *args, **kwargs)
        finally:
            self._call_options.value = None

    def send(
        self,
        request: requests.PreparedRequest,
        *,
        classify: Callable[[requests.Response], Verdict] | None = None,
        authenticate: Callable[[requests.PreparedRequest], requests.PreparedRequest] | None = None,
        kind: str = "api",
        policy: HttpPolicy | None = None,
        idempotent: bool = True,
        report_runs: ReportRuns | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """``policy`` replaces the session's for this call only (a courtesy call such as aborting a server-side job
        the run gave up on: one attempt, a short budget, so it never delays the error that caused it; its
        ``max_quota_share`` too, so such a call can pass a guard that stopped the run)."""
        pending = getattr(self._call_options, "value", None)
        if pending is not None:  # options given to request()/get(); consumed so nested sends do not inherit them
            self._call_options.value = None
            classify, authenticate, kind = classify or pending[0], authenticate or pending[1], pending[2]
            idempotent = idempotent and pending[3]
        if kind == "token" and not is_exempt():
            with never_given_up():  # the refresh token may rotate as it answers: see xlr8_kit.http.abort
                return self.send(
                    request, classify=classify, authenticate=authenticate, kind=kind, idempotent=idempotent, **kwargs
                )
        url = request.url or ""
        path = path_of(url)
        method = request.method or "GET"
        label = f"{self.product} {method} {path}"
        self.check_url(url)
        allow_redirects = bool(kwargs.pop("allow_redirects", True))
        if "proxies" not in kwargs and self.trust_env:
            # Sent as a prepared request (every stream's pages, the taps' clients): the environment's proxy and CA
            # bundle apply as they do to ``request()`` (the token calls). Without it the token went through the
            # customer's proxy and the data direct (audit25d F9).
            proxies, verify = self._environment_for(url)
            kwargs["proxies"] = dict(proxies)
            # A CA bundle asked for by the call stays. Plain http (loopback only) verifies nothing: a bundle there
            # would only key another urllib3 pool than the one its requests used so far.
            if url.startswith("https:") and kwargs.get("verify") in (None, True):
                kwargs["verify"] = verify
        if self.proxies:  # the proxy_url setting wins over the environment's, on both paths
            kwargs["proxies"] = {**(kwargs.get("proxies") or {}), **self.proxies}
        kwargs["verify"] = self._verify_setting(kwargs.get("verify"))
        kwargs.setdefault("cert", self.cert)
        kwargs.setdefault("proxies", self.proxies)
        kwargs.pop("timeout", None)  # the policy decides; never None (wait forever) nor the SDK's 300 s
        classify = classify or self.classifier.classify
        policy = policy or self.policy
        runs: ReportRuns | None = None
        if kind == "report":
            policy = policy.for_report()
            runs = report_runs or ReportRuns(report_name(url))
        breaker: CircuitBreaker | _NoBreaker = (
            _NO_BREAKER if policy.bypass_breaker else self.breakers.get(origin_of(url))
        )
        abort = applied_abort()
        if abort is None and not is_exempt():
            abort = TERMINATION  # given up only when a signal ends the process
        started = self.clock()
        refreshed = False
        last_problem = ""
        attempt = 0
        while True:
            attempt += 1
            _check_abort(abort, label, path)
            reserved = self._reserve_quota(path, kind, policy.max_quota_share)
            try:  # the slot is given back on every way out of this attempt, its answer noted first
                self._wait_for_window(path)
                if not breaker.allow():
                    raise CircuitOpenError(
                        f"{label}: circuit open for {origin_of(url)} after {breaker.fail_max} consecutive failures; "
                        f"failing fast for another {breaker.retry_in():.0f} s",
                        path=path,
                    )
                if self.audit is not None:
                    self.audit.check()
                if self.rate_limiter is not None:
                    self.rate_limiter.acquire()
                if abort is not None and abort.aborted.is_set():  # given up while waiting for the window or limiter
                    breaker.release()
                    _check_abort(abort, label, path)
                remaining = policy.max_elapsed - (self.clock() - started)
                timeout = (
                    max(0.001, min(policy.connect_timeout, remaining)),
                    max(0.001, min(policy.read_timeout, remaining)),
                )
                prepared = request.copy()
                if authenticate is not None:
                    prepared = authenticate(prepared)
                try:
                    outcome = self._attempt(prepared, attempt, timeout, allow_redirects, kind, kwargs)
                except BaseException as exc:
                    breaker.release()  # TLS, redirect or audit refusals say nothing about the host's health
                    if isinstance(exc, Exception):  # never in place of the SystemExit a signal handler raised
                        _check_abort(abort, label, path)  # a TLS read cut by the abort is not a TLS failure
                    raise
                if outcome.error is not None and abort is not None and abort.aborted.is_set():
                    breaker.release()  # we cut the connection: nothing to say about the host's health
                    _check_abort(abort, label, path)

                response = outcome.response
                if response is not None:
                    self._note_headers(response)
            finally:
                if reserved:
                    self._release_quota()
            retry_after: float | None = None
            paced = False
            host_failed = True
            if response is None:
                assert outcome.error is not None
                breaker.record_attempt_failure()
                last_problem = describe_exception(outcome.error)
                verdict: str = "retry"
                with self._headers_lock:
                    self.throttled += 1
            else:
                verdict = classify(response)
                if verdict not in VERDICTS:
                    raise ValueError(f"classify_response returned {verdict!r}; expected one of {sorted(VERDICTS)}")
                status = response.status_code
                if verdict == "ok":
                    breaker.record_success()
                    return response
                if verdict == "retry":
                    retry_after = parse_retry_after(
                        response.headers.get("Retry-After"), now=self.wall(), server_date=response.headers.get("Date")
                    )
                    # A failed attempt counts against the host only when its request gives up (below): a round
                    # of 5xx on the requests in flight must not open the circuit before any was retried (F8). A
                    # 503 that says when to come back (throttling) is the host pacing us, not failing: no probe
                    # failure either; it too counts once the request gives up, so a host that answers nothing
                    # else still opens the circuit. 429 and the like never count.
                    paced = status == 503 and retry_after is not None and retry_after > 0
                    host_failed = (status >= 500 or status < 400) and not is_rate_limited(response)
                    with self._headers_lock:
                        self.throttled += 1
                    if host_failed and not paced:
                        breaker.record_attempt_failure()
                    else:
                        breaker.release()
                    cut = response.__dict__.get(CUT_MARK)
                    last_problem = (
                        f"HTTP {status}, {describe_exception(cut)}"
                        if isinstance(cut, BaseException)
                        else self._describe_response(response)
                    )
                    if retry_after is not None and retry_after > policy.max_retry_after:
                        until = format_until(self.wall(), retry_after)
                        response.close()
                        raise RateLimitedError(
                            f"{label}: rate limited until {until} (Retry-After {retry_after:.0f} s exceeds "
                            f"http.max_retry_after={policy.max_retry_after:g} s); stopping with state safe",
                            until=until,
                            status=status,
                            path=path,
                        )
                elif verdict == "quota":
                    breaker.record_success()
                    raise QuotaExhaustedError(
                        f"{label}: vendor quota exhausted ({self._describe_response(response)}); not retrying, "
                        "re-run after the quota resets",
                        status=status,
                        path=path,
                    )
                elif verdict == "auth":
                    breaker.record_success()
                    refresh = getattr(authenticate, "force_refresh", None)
                    if refreshed:
                        raise ReauthorizationRequiredError(
                            f"{label}: credentials rejected again after a forced token refresh "
                            f"({self._describe_response(response)}); re-authentication required",
                            status=status,
                            path=path,
                        )
                    if callable(refresh) and attempt < policy.max_attempts:
                        logger.warning("%s: HTTP %s; forcing one token refresh and retrying once", label, status)
                        response.close()
                        refresh()
                        refreshed = True
                        continue
                    return response
                else:  # fatal
                    breaker.record_success()
                    if status < 400:
                        owner = getattr(classify, "__self__", None)
                        explain = getattr(owner, "response_error_in_body", None) or self.classifier.error_in_body
                        reason = explain(response) or "classified as an error"
                        raise ErrorBodyError(
                            f"{label}: HTTP {status} but the body is an error ({reason}): "
                            f"{self._body_excerpt(response)}",
                            status=status,
                            path=path,
                        )
                    return response

            # verdict == "retry"
            if not idempotent and not _certainly_not_applied(outcome, retry_after):
                if host_failed:
                    breaker.record_failure()
                self._give_up_unsure(label, path, response, last_problem)
            rerun = runs is not None and _report_may_have_run(outcome, retry_after)
            timed_out = is_read_timeout(outcome.error if response is None else response.__dict__.get(CUT_MARK))
            if rerun:
                assert runs is not None
                reason = runs.give_up_reason(last_problem, timed_out, policy, proxy_retried=_proxy_retried(response))
                if reason is not None:
                    if host_failed:
                        breaker.record_failure()
                    self._give_up(label, path, response, reason)
            elapsed = self.clock() - started
            if attempt >= policy.max_attempts:
                if host_failed:
                    breaker.record_failure()
                self._give_up(label, path, response, f"gave up after {attempt} attempts: {last_problem}")
            if retry_after is None and policy.rate_window and response is not None and is_rate_limited(response):
                retry_after = min(policy.rate_window, policy.max_retry_after)  # the vendor's documented window
            wait = self.backoff.after_retry_after(retry_after) if retry_after is not None else None
            if wait is None:
                wait = self.backoff.delay(attempt)
            if elapsed + wait >= policy.max_elapsed:
                if host_failed:
                    breaker.record_failure()
                self._give_up(
                    label,
                    path,
                    response,
                    f"gave up after {attempt} attempts: waiting {wait:.1f} s more would exceed "
                    f"http.max_elapsed={policy.max_elapsed:g} s: {last_problem}",
                )
            if rerun:
                assert runs is not None
                if timed_out:
                    logger.warning(
                        "%s: no answer within http.report_read_timeout=%g s; running the report once more (%r: the "
                        "tenant runs it again)",
                        label,
                        policy.report_read_timeout,
                        runs.report,
                    )
                else:
                    logger.warning(
                        "%s: %s after the tenant may have run it; running the report once more (%r: the tenant runs "
                        "it again), and not after another failure",
                        label,
                        last_problem,
                        runs.report,
                    )
            logger.warning(
                "%s: %s on attempt %d/%d; retrying in %.1f s", label, last_problem, attempt, policy.max_attempts, wait
            )
            if response is not None:
                response.close()
            if abort is not None and (abort is not TERMINATION or self.sleep is time.sleep):
                abort.aborted.wait(wait)  # given up while waiting: no attempt more
            elif self.sleep is time.sleep:  # never given up (a token, a job's create or abort): no attempt more
                if TERMINATION.aborted.wait(wait):  # after a signal ends the process (review 20e: 12.4 s, 4 POSTs)
                    self._give_up(label, path, response, f"no attempt more: the process is ending ({last_problem})")
            else:
                self.sleep(wait)  # a test's clock

    def _give_up(self, label: str, path: str, response: requests.Response | None, reason: str) -> NoReturn:
        status = response.status_code if response is not None else None
        limited = response is not None and is_rate_limited(response)
        if response is not None:
            response.close()
        if limited:
            raise RateLimitedError(f"{label}: still rate limited; {reason}", status=status, path=path)
        raise ServerUnavailableError(f"{label}: {reason}", status=status, path=path)

    def _give_up_unsure(self, label: str, path: str, response: requests.Response | None, problem: str) -> NoReturn:
        status = response.status_code if response is not None else None
        if response is not None:
            response.close()
        raise OutcomeUnknownError(
            f"{label}: {problem} after the request was sent; not resent, since the server may have acted on it "
            "(a job or request it creates may exist)",
            status=status,
            path=path,
        )

    def _proxy_for(self, request: requests.PreparedRequest) -> str:
        scheme = urlsplit(request.url or "").scheme
        return str((self.proxies or {}).get(scheme) or "")

    def _attempt(
        self,
        prepared: requests.PreparedRequest,
        attempt: int,
        timeout: tuple[float, float],
        allow_redirects: bool,
        kind: str,
        kwargs: dict[str, Any],
    ) -> _Attempt:
        """One attempt: the request plus at most ``max_redirects`` same-origin hops, each audited."""
        current = prepared
        hops = 0
        while True:
            try:
                response = self._send_once(current, attempt, timeout, kind, kwargs)
            except requests.exceptions.ProxyError as exc:
                if "407" in str(exc):
                    raise proxy_refused(self._proxy_for(current), "407 Proxy Authentication Required") from None
                return _Attempt(error=exc)  # proxy unreachable: retried like any connection failure
            except requests.exceptions.SSLError as exc:
                raise TLSVerificationError(
                    f"{self.product} {current.method} {path_of(current.url or '')}: {describe_exception(exc)}; "
                    "not retried (verification cannot be disabled; set http.ca_bundle for a private CA)",
                    path=path_of(current.url or ""),
                ) from None
            except RETRIABLE_EXCEPTIONS as exc:
                return _Attempt(error=exc)
            if response.status_code == 407 and self._proxy_for(current):
                response.close()
                raise proxy_refused(self._proxy_for(current), "HTTP 407")
            if not (allow_redirects and response.is_redirect):
                return _Attempt(response=response)
            hops += 1
            target = urljoin(current.url or "", self.get_redirect_target(response) or "")
            if origin_of(target) != origin_of(current.url or ""):
                response.close()
                raise InsecureTransportError(
                    f"{self.product} {current.method} {path_of(current.url or '')}: refusing redirect "
                    f"(HTTP {response.status_code}) from {origin_of(current.url or '')} to "
                    f"{origin_of(target)}{path_of(target)}: credentials never follow a redirect to another host "
                    "or to plain http",
                    status=response.status_code,
                    path=path_of(current.url or ""),
                )
            if hops > self.policy.max_redirects:
                response.close()
                raise KitHTTPError(
                    f"{self.product} {current.method} {path_of(prepared.url or '')}: more than "
                    f"{self.policy.max_redirects} redirects (http.max_redirects)",
                    status=response.status_code,
                    path=path_of(prepared.url or ""),
                )
            self.check_url(target)
            follow = current.copy()
            follow.url = target
            if response.status_code == 303 or (response.status_code in (301, 302) and current.method == "POST"):
                follow.method = "GET" if current.method != "HEAD" else "HEAD"
                follow.body = None
                for header in ("Content-Length", "Content-Type", "Transfer-Encoding"):
                    follow.headers.pop(header, None)
            response.close()
            current = follow

    def _send_once(
        self,
        prepared: requests.PreparedRequest,
        attempt: int,
        timeout: tuple[float, float],
        kind: str,
        kwargs: dict[str, Any],
    ) -> requests.Response:
        url = prepared.url or ""
        parts = urlsplit(url)
        began = time.perf_counter()
        mark = _AT_SEND.get()
        try:
            if mark is not None:  # inside the ``try``: a mark that raises still gets this attempt's audit line
                mark()
            if kwargs.get("stream"):
                response = super().send(prepared, allow_redirects=False, timeout=timeout, **kwargs)
                body_size = None
            else:  # requests reads the body itself when not streaming; read here, whole, the same bytes
                response = super().send(prepared, allow_redirects=False, timeout=timeout, **{**kwargs, "stream": True})
                body_size = len(read_whole_body(response))
        except BaseException as exc:
            abort = applied_abort()
            given_up = (abort is not None and abort.aborted.is_set()) or (
                not is_exempt() and TERMINATION.aborted.is_set()
            )
            error = "given up (the answer is no longer wanted)" if given_up else describe_exception(exc)
            self._audit(prepared, parts, None, attempt, began, None, None, error, kind)
            raise
        self._audit(prepared, parts, response.status_code, attempt, began, body_size, response.headers, None, kind)
        return response

    def _audit(
        self,
        prepared: requests.PreparedRequest,
        parts: Any,
        status: int | None,
        attempt: int,
        began: float,
        body_size: int | None,
        headers: Any,
        error: str | None,
        kind: str,
    ) -> None:
        if self.audit is None:
            return
        self.audit.record(
            method=prepared.method or "GET",
            path=parts.path or "/",
            host=parts.hostname,
            status=status,
            attempt=attempt,
            duration_ms=(time.perf_counter() - began) * 1000,
            bytes_received=body_size,
            headers=headers,
            error=error,
            kind=kind,
        )

    def get_adapter(self, url: str) -> Any:
        """The adapter of the ``Abort`` applied on this thread (connections it can cut); a token request's own
        (never cut); else the session's (cut only by ``abort.TERMINATION``)."""
        abort = applied_abort()
        if abort is not None:
            return abort.adapter
        if is_exempt():
            return self._token_adapter
        return super().get_adapter(url)

    # -- messages -------------------------------------------------------------------------------------------

    def _body_excerpt(self, response: requests.Response) -> str:
        try:
            text = response.text if response.content else ""
        except (requests.exceptions.RequestException, RuntimeError):
            text = ""
        text = " ".join(text.split())
        if len(text) > MAX_ERROR_BODY:
            text = text[:MAX_ERROR_BODY] + f"... [{len(text) - MAX_ERROR_BODY} more chars]"
        return self.redactor.redact(text)

    def _describe_response(self, response: requests.Response) -> str:
        excerpt = self._body_excerpt(response)
        return f"HTTP {response.status_code}" + (f": {excerpt}" if excerpt else "")

    def close(self) -> None:
        try:
            self.breakers.save()
        finally:
            if self.audit is not None:
                self.audit.close()
            self._token_adapter.close()
            super().close()


def _check_abort(abort: Abort | None, label: str, path: str) -> None:
    if abort is not None and abort.aborted.is_set():
        raise RequestAbortedError(f"{label}: given up (the answer is no longer wanted)", path=path) from None


#: Answers that say the request was not applied: rate limited (429), paced (503 with Retry-After), or not
#: processed (408 Request Timeout, 425 Too Early; RFC 9110 / RFC 8470).
_NOT_APPLIED_STATUSES = frozenset({408, 425, 429})


def _certainly_not_applied(outcome: _Attempt, retry_after: float | None) -> bool:
    """May a non-idempotent request be sent again? Only if this attempt never reached the server (the connection
    was never made) or its answer says it was not applied."""
    if outcome.response is not None:
        status = outcome.response.status_code
        if status in _NOT_APPLIED_STATUSES or is_rate_limited(outcome.response):
            return True
        return status == 503 and retry_after is not None
    return _never_sent(outcome.error)


def _report_may_have_run(outcome: _Attempt, retry_after: float | None) -> bool:
    """May this failed attempt of a report call have run the report on the tenant? Yes unless it never reached the
    server or its answer says it was not served: a read timeout, a reset or cut body after the request was sent, a
    500/502/504 (a gateway gives up while the tenant runs on), and a 503 that is a proxy's word for an upstream
    reset after the connection was made (``_upstream_reset``) all count; any other 503 (unavailable, with or without
    Retry-After), 429, 408 or a connection never made do not."""
    # Any other 503 keeps the pages' retries (review27b L3): 503 says "unavailable, come back" (RFC 9110 15.6.4), what
    # a service or its load balancer answers while it is down, in maintenance (Salesforce: "HTTP 503" during its
    # maintenance windows), restarting or shedding load, before any work starts; counting it as a run would fail a
    # sync over a blip.
    if outcome.response is not None and outcome.response.status_code == 503:
        return retry_after is None and _upstream_reset(outcome.response)
    return not _certainly_not_applied(outcome, retry_after)


#: Envoy's (Istio's, and the edges built on them) local 503 for an upstream connection that was made and then reset
#: or closed before the answer's headers (response flag UC, ``upstream_reset_before_response_started{connection_
#: termination}``): "upstream connect error or disconnect/reset before headers. reset reason: connection
#: termination" (newer: "... retried and the latest reset reason: ...", Envoy's own retries spent). The tenant may
#: have read the request and run the report, as after a reset we see ourselves; the public threads say the usual
#: cause is a keep-alive race where it did not (an idle upstream connection closed as Envoy reused it), which the
#: report's one re-run absorbs. Reasons that say the request never reached it (``connection failure``,
#: ``overflow``, a refused stream, a connect timeout) are not in it.
_UPSTREAM_RESET = re.compile(
    rb"disconnect/reset before headers\.(?P<retried> retried and the latest)? reset reason: "
    rb"(?:connection termination|remote reset)\b"
)


def _upstream_reset_reply(response: requests.Response) -> re.Match[bytes] | None:
    """A proxy's words in a 503's body for an upstream that reset or closed the connection before answering."""
    try:
        content = response.content or b""
    except (requests.exceptions.RequestException, RuntimeError):
        return None
    return _UPSTREAM_RESET.search(content[:4096])


def _upstream_reset(response: requests.Response) -> bool:
    """Whether a 503's body is a proxy saying the upstream reset or closed the connection before answering."""
    return _upstream_reset_reply(response) is not None


def _proxy_retried(response: requests.Response | None) -> bool:
    """Whether a 503 is Envoy's upstream reset after Envoy retried the request itself ("retried and the latest reset
    reason"): each of its tries may have run the report on the tenant."""
    if response is None or response.status_code != 503:
        return False
    found = _upstream_reset_reply(response)
    return found is not None and found.group("retried") is not None


#: urllib3's errors that mean the request never left: no connection, or none through the proxy.
_NEVER_SENT = (
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.ConnectTimeoutError,
    urllib3.exceptions.ProxyError,
)


def _never_sent(error: BaseException | None) -> bool:
    """The connection (or the proxy's) was never made: a connect timeout, a refused connection, a name that did
    not resolve, or a proxy error. urllib3 raises ``ProxyError`` only before the connection through the proxy
    exists (a refused CONNECT tunnel: 502/503/504 from a proxy whose upstream hiccups), so the request never
    reached the server. A read timeout or a reset may come after the server read the request."""
    if isinstance(error, requests.exceptions.ConnectTimeout | requests.exceptions.ProxyError):
        return True
    seen: set[int] = set()
    pending: list[Any] = [error]
    while pending:
        item = pending.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, _NEVER_SENT):
            return True
        if isinstance(item, BaseException):
            pending.extend([getattr(item, "reason", None), item.__cause__, item.__context__, *item.args])
    return False


def window_reset_in(response: requests.Response, *, now: float) -> float | None:
    """Seconds until a spent rate-limit window resets, when a 2xx says ``remaining: 0`` (adaptive limiting). A reset
    given as an epoch is a moment on the server's clock: counted from the answer's ``Date`` (else ``now``)."""
    if response.status_code >= 400:
        return None  # 429 and friends go through Retry-After
    headers = response.headers
    for prefix in ("X-RateLimit-", "RateLimit-", "X-Rate-Limit-"):
        remaining = headers.get(prefix + "Remaining")
        reset = headers.get(prefix + "Reset")
        if remaining is None or reset is None:
            continue
        try:
            if float(remaining) > 0:
                return None
            value = float(reset)
        except ValueError:
            return None
        if value > 1_000_000_000:  # an epoch timestamp rather than a delta: a moment on the server's clock
            value -= server_now(headers.get("Date"), now)
        return max(0.0, value)
    return None


def read_whole_body(response: requests.Response) -> bytes:
    """``response.content`` for a body of known length sent as it is (``Content-Length``, no ``Content-Encoding``,
    not chunked): read in one call to urllib3 instead of 10 KiB pieces (each piece a few Python calls: about a
    tenth of a large JSON page's cost), with the errors mapped as ``Response.iter_content`` maps them. Any other
    body, or one already read, through ``response.content``."""
    raw = response.raw
    headers = response.headers
    if (
        response._content is not False
        or response._content_consumed
        or raw is None
        or response.status_code == 0
        or not isinstance(raw, urllib3.response.HTTPResponse)
        or raw.chunked
        or headers.get("Content-Encoding", "identity").strip().lower() != "identity"
        or not headers.get("Content-Length", "").strip().isdigit()
    ):
        return response.content
    try:
        body = raw.read(decode_content=True)
    except urllib3.exceptions.ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except urllib3.exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from exc
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc) from exc
    except urllib3.exceptions.SSLError as exc:
        raise requests.exceptions.SSLError(exc) from exc
    response._content = body or b""
    response._content_consumed = True
    return response._content
