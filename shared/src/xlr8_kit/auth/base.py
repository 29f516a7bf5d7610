"""What every token-based authenticator shares: the token value object, refresh before expiry, one refresh per
expiry across threads, the 401 "refresh once and retry once" hook, and the token-endpoint call with its error
classification.

Lifecycle (RELIABILITY B1-B4):
- A token is refreshed when ``now >= expires_at - margin`` where ``margin = min(margin_s, margin_ratio * lifetime)``
  (60 s or 10 %, whichever is smaller, so a 60 s token is renewed 6 s early, a one-hour token 60 s early).
- A token response without ``expires_in`` (Salesforce) is given ``assumed_lifetime_s`` and relies on the 401 hook.
- ``current_token()`` holds a lock while refreshing: parallel threads wait for the one refresh, then share it.
- 401 handling, one outcome whichever way the request is sent (one forced refresh, one retry, a second 401 raises
  ``ReauthorizationRequiredError``, never a loop):
  * ``ResilientSession.send(..., authenticate=auth)`` (``KitRESTStream``; preferred): the session signs a fresh copy
    on every attempt and calls ``auth.force_refresh()`` on a 401, so the retry counts against its attempt bound.
    The hook recognises such a request (signed by this authenticator right before it was sent through the kit
    session) and leaves the 401 to the session.
  * anything else (``auth=auth`` on a plain or kit session): a response hook registered when the request is signed
    checks ``is_auth_failure(response)`` (default HTTP 401; products pass a predicate for "invalid session"
    bodies), forces one refresh, re-signs a copy and resends it once through the session given at construction.
  ``force_refresh()`` refreshes only if the token the rejected request carried (default: the one this thread last
  sent) is still current, so parallel threads rejected together share one refresh.
- Token endpoint: 400/401/403 with ``invalid_grant`` raise ``ReauthorizationRequiredError`` at once (re-authorise);
  other 4xx raise ``AuthenticationError`` at once; 429/5xx/timeouts/resets are retried within ``TokenRetryBudget``
  then raise ``ServerUnavailableError``. When the session is the kit's ``ResilientSession`` it already retries, so
  the default budget here is a single attempt (no multiplied retries, RELIABILITY A14).
- Every token received is registered with the redactor before anything else touches it; client secrets and
  refresh tokens are registered at construction. Messages never carry them.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import requests
from requests.auth import AuthBase

from xlr8_kit.http import abort
from xlr8_kit.http.classify import json_or_not
from xlr8_kit.http.errors import (
    AuthenticationError,
    KitHTTPError,
    ReauthorizationRequiredError,
    ServerUnavailableError,
    TLSVerificationError,
)
from xlr8_kit.http.retry import parse_retry_after
from xlr8_kit.redaction import Redactor
from xlr8_kit.singer_io import writing

Clock = Callable[[], float]
Sleep = Callable[[float], None]
AuthFailurePredicate = Callable[[requests.Response], bool]

#: Token-response fields that are credentials: registered with the redactor, never kept in ``Token.extra``.
SECRET_TOKEN_FIELDS = ("access_token", "refresh_token", "id_token")
MAX_ERROR_DESCRIPTION = 300
RETRIABLE_TOKEN_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
#: Seconds a signed assertion's issue time (JWT ``iat``/``nbf``, SAML ``IssueInstant``/``AuthnInstant``) is set back
#: from our clock: a tenant whose clock is a few seconds behind ours refuses an assertion issued in its future
#: (audit25d F10). RFC 7519 (4.1.4, 4.1.5) leaves the verifier "some small leeway, usually no more than a few
#: minutes", but verifiers differ (PyJWT checks ``iat`` and ``nbf`` with none by default); 30 s covers an NTP-synced
#: pair with room, is a sixth of Salesforce's three minutes and a twentieth of the ten minutes SuccessFactors' own
#: assertions are valid for. At most half the assertion's lifetime.
ISSUED_SKEW_S = 30


def is_http_401(response: requests.Response) -> bool:
    return response.status_code == 401


class NoAuth(AuthBase):
    """Explicit "no auth" for token calls so a session-level ``auth`` (the SDK sets one) is never applied to them."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r


@dataclass(frozen=True)
class Token:
    """One access token. ``expires_at`` and ``obtained_at`` are in the authenticator's clock (seconds)."""

    access_token: str = field(repr=False)
    obtained_at: float
    expires_at: float
    token_type: str = "Bearer"
    refresh_token: str | None = field(default=None, repr=False)
    scope: str | None = None
    lifetime_assumed: bool = False
    #: Non-secret fields of the token response, e.g. Salesforce's ``instance_url``.
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def lifetime(self) -> float:
        return self.expires_at - self.obtained_at

    @classmethod
    def from_response(cls, payload: Mapping[str, Any], *, now: float, assumed_lifetime_s: float) -> Token:
        expires_in = payload.get("expires_in")
        try:
            lifetime = float(expires_in) if expires_in not in (None, "") else None
        except (TypeError, ValueError):
            lifetime = None
        assumed = lifetime is None or lifetime <= 0
        token_type = str(payload.get("token_type") or "Bearer")
        return cls(
            access_token=str(payload["access_token"]),
            obtained_at=now,
            expires_at=now + (assumed_lifetime_s if assumed or lifetime is None else lifetime),
            token_type="Bearer" if token_type.lower() == "bearer" else token_type,
            refresh_token=payload.get("refresh_token") or None,
            scope=payload.get("scope"),
            lifetime_assumed=assumed,
            extra={k: v for k, v in payload.items() if k not in SECRET_TOKEN_FIELDS},
        )


@dataclass(frozen=True)
class TokenRetryBudget:
    """Attempts at the token endpoint for 429/5xx/timeouts/resets (RELIABILITY B3)."""

    max_attempts: int = 4
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    max_elapsed_s: float = 300.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff for the wait after ``attempt`` (1-based), jitter added on top."""
        base = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
        return base + random.uniform(0, self.backoff_base_s / 2)


def _is_kit_session(session: requests.Session) -> bool:
    from xlr8_kit.http.session import ResilientSession

    return isinstance(session, ResilientSession)


def default_retry_budget(session: requests.Session) -> TokenRetryBudget:
    """One attempt when the session already retries (the kit's ResilientSession), else our own small budget."""
    return TokenRetryBudget(max_attempts=1) if _is_kit_session(session) else TokenRetryBudget()


class TokenAuthenticator(AuthBase, ABC):
    """Base for every flow that obtains an expiring token. Subclasses implement ``fetch_token``.

    One instance per credential: never a singleton, never shared between tenants.
    """

    #: Human name of the flow, used in error messages.
    flow_name = "token"

    def __init__(
        self,
        *,
        session: requests.Session,
        clock: Clock = time.time,
        sleep: Sleep = time.sleep,
        margin_s: float = 60.0,
        margin_ratio: float = 0.1,
        assumed_lifetime_s: float = 1800.0,
        is_auth_failure: AuthFailurePredicate = is_http_401,
        retry_budget: TokenRetryBudget | None = None,
        redactor: Redactor | None = None,
        retry_hook: bool = True,
    ) -> None:
        if margin_s < 0 or not 0 <= margin_ratio < 1:
            raise ValueError("margin_s must be >= 0 and margin_ratio in [0, 1)")
        if assumed_lifetime_s <= 0:
            raise ValueError("assumed_lifetime_s must be > 0")
        self.session = session
        self.clock = clock
        self.sleep = sleep
        self.margin_s = margin_s
        self.margin_ratio = margin_ratio
        self.assumed_lifetime_s = assumed_lifetime_s
        self.is_auth_failure = is_auth_failure
        self.retry_budget = retry_budget or default_retry_budget(session)
        self._session_is_kit = _is_kit_session(session)
        #: Whether signed requests get the 401 response hook (see module docstring).
        self.retry_hook = retry_hook
        self._applied = threading.local()
        self.redactor = redactor if redactor is not None else Redactor.default()
        self._token: Token | None = None
        self._lock = threading.Lock()
        self._sent_with: weakref.WeakKeyDictionary[requests.PreparedRequest, Token] = weakref.WeakKeyDictionary()
        self._sent_lock = threading.Lock()
        #: Refreshes started (observability and tests); token-endpoint retries inside one refresh count once.
        self.refresh_count = 0

    # -- what subclasses provide -------------------------------------------------------------------------------

    @abstractmethod
    def fetch_token(self) -> Token:
        """Obtain a new token from the vendor. Called with the refresh lock held."""

    def apply_token(self, request: requests.PreparedRequest, token: Token) -> None:
        """Put the token on the request; vendors with other carriers (headers, SOAP bodies) override."""
        request.headers["Authorization"] = f"{token.token_type} {token.access_token}"

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def margin_for(self, token: Token) -> float:
        return min(self.margin_s, self.margin_ratio * max(token.lifetime, 0.0))

    def needs_refresh(self, token: Token | None) -> bool:
        return token is None or self.clock() >= token.expires_at - self.margin_for(token)

    @property
    def token(self) -> Token | None:
        """The token currently held (possibly stale); ``current_token()`` returns a usable one."""
        return self._token

    def current_token(self) -> Token:
        """A token valid beyond the safety margin; exactly one refresh per expiry across threads."""
        token = self._token
        if not self.needs_refresh(token):
            assert token is not None
            return token
        with self._lock:
            token = self._token
            if token is None or self.needs_refresh(token):
                token = self._refresh_locked()
            return token

    def force_refresh(self, stale: Token | None = None) -> Token:
        """Replace ``stale`` (the token a rejected request carried; default: the one this thread last sent). If
        another thread already replaced it, reuse that newer token instead of refreshing again."""
        if stale is None:
            stale = getattr(self._applied, "token", None)
        with self._lock:
            token = self._token
            if token is not None and stale is not None and token is not stale and not self.needs_refresh(token):
                return token
            return self._refresh_locked()

    def invalidate(self) -> None:
        """Drop the held token so the next request refreshes (e.g. after a vendor-side logout)."""
        with self._lock:
            self._token = None

    def _refresh_locked(self) -> Token:
        self.refresh_count += 1
        # On the main thread a signal's handler would raise its SystemExit inside the token request: the answer, and
        # a refresh token the vendor rotated in it, lost (ends21: the first token cut in 0.13 s). In a tap's own CLI
        # run the handler waits for the refresh as for a write (the kit's grace cuts a stalled one:
        # ``abort.EXEMPT_GRACE_SECONDS``); elsewhere nothing bounds that wait, so a Ctrl-C ends it at once.
        main = threading.current_thread() is threading.main_thread()
        held = writing() if main and abort.PROCESS_RUN else contextlib.nullcontext()
        with held:
            token = self.fetch_token()
            self.redactor.add(token.access_token)
            self.redactor.add(token.refresh_token)
            self._token = token  # before the held handler runs: the way out's requests sign with it (review 21c)
        return token

    # -- requests integration ----------------------------------------------------------------------------------

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self.current_token()
        self.apply_token(r, token)
        self._applied.token = token
        with self._sent_lock:
            self._sent_with[r] = token
        if self.retry_hook and self._on_response not in r.hooks["response"]:
            r.register_hook("response", self._on_response)
        return r

    def _on_response(self, response: requests.Response, **send_kwargs: Any) -> requests.Response:
        if not self.is_auth_failure(response):
            return response
        request = response.request
        with self._sent_lock:
            signed_for_this_send = request in self._sent_with
            stale = self._sent_with.get(request)
        if self._session_is_kit and signed_for_this_send:
            return response  # ResilientSession(authenticate=...) re-signs per attempt and owns refresh + retry
        if not isinstance(request.body, str | bytes | type(None)):
            raise AuthenticationError(
                self._message(f"{self.flow_name}: session rejected and the streamed request cannot be resent"),
                status=response.status_code,
                path=_path(request.url),
            )
        token = self.force_refresh(stale)
        response.content  # noqa: B018 - drain so the connection goes back to the pool
        response.close()
        retry = request.copy()
        retry.hooks = {
            "response": [h for h in request.hooks["response"] if h != self._on_response] + [self._on_retry_response]
        }
        self.apply_token(retry, token)
        with self._sent_lock:
            self._sent_with[retry] = token
        resent = self.session.send(retry, **send_kwargs)
        resent.history.insert(0, response)
        return resent

    def _on_retry_response(self, response: requests.Response, **_: Any) -> requests.Response:
        if self.is_auth_failure(response):
            raise ReauthorizationRequiredError(
                self._message(
                    f"{self.flow_name}: HTTP {response.status_code} for path {_path(response.url)} again after a "
                    "fresh token; re-authentication required (check the credential's permissions, or re-authorise "
                    "the connection)"
                ),
                status=response.status_code,
                path=_path(response.url),
            )
        return response

    # -- token endpoint ----------------------------------------------------------------------------------------

    def post_token_request(
        self,
        url: str,
        data: Mapping[str, str],
        *,
        auth: AuthBase | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """POST a form to a token endpoint; return the JSON body (secrets already registered) or raise."""
        budget = self.retry_budget
        started = self.clock()
        path = _path(url)
        kit_options: dict[str, Any] = {"kind": "token"} if self._session_is_kit else {}  # labels the audit line
        attempt = 0
        while True:
            attempt += 1
            failure: str
            retry_after: float | None = None
            try:
                response = self.session.request(
                    "POST",
                    url,
                    data=dict(data),
                    auth=auth or NoAuth(),
                    headers={"Accept": "application/json", **(headers or {})},
                    allow_redirects=False,
                    **kit_options,
                )
            except KitHTTPError:
                raise
            except requests.exceptions.SSLError:
                raise TLSVerificationError(
                    self._message(f"{self.flow_name}: TLS verification failed for token endpoint {path}"), path=path
                ) from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                failure = type(exc).__name__
            else:
                payload = self._json_or_none(response)
                if 200 <= response.status_code < 300 and payload is not None and payload.get("access_token"):
                    return payload
                if response.status_code in RETRIABLE_TOKEN_STATUSES or (
                    200 <= response.status_code < 300 and payload is None
                ):
                    failure = f"HTTP {response.status_code}"
                    retry_after = _retry_after_seconds(response, now=self.clock())
                else:
                    self._raise_rejected(response, payload, path)
            elapsed = self.clock() - started
            wait = max(budget.delay(attempt), retry_after or 0.0)
            if attempt >= budget.max_attempts or elapsed + wait > budget.max_elapsed_s:
                raise ServerUnavailableError(
                    self._message(
                        f"{self.flow_name}: token endpoint {path} unavailable after {attempt} attempt(s) "
                        f"({failure}); try again later"
                    ),
                    path=path,
                )
            self.sleep(wait)

    def _json_or_none(self, response: requests.Response) -> dict[str, Any] | None:
        payload = json_or_not(response)
        if not isinstance(payload, dict):
            return None
        for name in SECRET_TOKEN_FIELDS:
            value = payload.get(name)
            if isinstance(value, str):
                self.redactor.add(value)
        return payload

    def _raise_rejected(self, response: requests.Response, payload: dict[str, Any] | None, path: str) -> None:
        body = payload or {}
        error = str(body.get("error") or "")
        description = str(body.get("error_description") or body.get("errorMessage") or "").strip()
        detail = f"HTTP {response.status_code}" + (f" {error}" if error else "")
        if description:
            detail += f": {description[:MAX_ERROR_DESCRIPTION]}"
        if 200 <= response.status_code < 300:
            raise AuthenticationError(
                self._message(f"{self.flow_name}: token endpoint {path} answered without an access_token ({detail})"),
                status=response.status_code,
                path=path,
            )
        if error == "invalid_grant":
            raise ReauthorizationRequiredError(
                self._message(
                    f"{self.flow_name}: the grant was rejected by {path} ({detail}); re-authorise the connection "
                    "(the refresh token, assertion user or consent is no longer valid)"
                ),
                status=response.status_code,
                path=path,
            )
        raise AuthenticationError(
            self._message(f"{self.flow_name}: token endpoint {path} rejected the credentials ({detail})"),
            status=response.status_code,
            path=path,
        )

    def _message(self, text: str) -> str:
        return self.redactor.redact(text)


def _path(url: str | None) -> str:
    return urlparse(url or "").path or "/"


def _retry_after_seconds(response: requests.Response, *, now: float) -> float | None:
    """The token endpoint's ``Retry-After``, seconds or an HTTP-date on the server's clock (its ``Date``; audit25d
    F5): a date was ignored before, and the backoff's first second or two asked again far too early."""
    return parse_retry_after(response.headers.get("Retry-After"), now=now, server_date=response.headers.get("Date"))
