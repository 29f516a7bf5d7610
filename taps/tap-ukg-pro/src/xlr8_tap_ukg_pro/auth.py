"""UKG Pro credentials: REST uses HTTP Basic plus the ``US-Customer-Api-Key`` header; RaaS logs on with user name,
password, client and user access keys and carries the session token inside each SOAP body's DataContext."""

from __future__ import annotations

import typing as t

import requests
from requests.auth import AuthBase

from xlr8_kit.auth import ApiKeyHeaders, Basic, SessionLogin, Token
from xlr8_kit.http.errors import AuthenticationError
from xlr8_tap_ukg_pro import raas

if t.TYPE_CHECKING:
    from xlr8_kit.redaction import Redactor

CUSTOMER_API_KEY_HEADER = "US-Customer-Api-Key"
#: RaaS does not say how long a token lives; it is renewed after this long, or at once when a call says it expired.
RAAS_TOKEN_LIFETIME_S = 1800.0


class UkgRestAuth(AuthBase):
    """Basic and the customer API key on every REST request (the kit's two static authenticators together)."""

    def __init__(self, username: str, password: str, customer_api_key: str, *, redactor: Redactor) -> None:
        self._basic = Basic(username, password, redactor=redactor)
        self._key = ApiKeyHeaders({CUSTOMER_API_KEY_HEADER: customer_api_key}, redactor=redactor)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return t.cast("requests.PreparedRequest", self._key(self._basic(r)))

    def __repr__(self) -> str:
        return f"UkgRestAuth({self._basic!r}, {self._key!r})"


class RaasLogOn(SessionLogin):
    """``LogOn`` to BIDataService; the token is written into the request's DataContext on every attempt."""

    flow_name = "ukg_pro RaaS LogOn"

    def __init__(
        self,
        *,
        base_url: str,
        username: str,
        password: str,
        client_access_key: str,
        user_access_key: str,
        session: requests.Session,
        redactor: Redactor,
        **kwargs: t.Any,
    ) -> None:
        kwargs.setdefault("assumed_lifetime_s", RAAS_TOKEN_LIFETIME_S)
        super().__init__(session=session, redactor=redactor, **kwargs)
        for secret in (password, user_access_key, client_access_key):
            redactor.add(secret)
        self.url = base_url.rstrip("/") + raas.DATA_PATH
        self._credentials = (username, password, client_access_key, user_access_key)

    def login(self, session: requests.Session) -> Token:
        prepared = session.prepare_request(raas.log_on_request(self.url, *self._credentials))
        send_options: dict[str, t.Any] = {"classify": _log_on_verdict, "kind": "token"} if self._session_is_kit else {}
        response = session.send(prepared, **send_options)
        outcome = raas.read_outcome(response)
        if response.status_code >= 400 or outcome.fault or outcome.unreadable:
            reason = raas.CLASSIFIER.response_error_in_body(response) or f"HTTP {response.status_code}"
            raise AuthenticationError(self._message(f"{self.flow_name} failed ({reason})"), path=raas.DATA_PATH,
                                      status=response.status_code)  # fmt: skip
        token = raas.child_text(outcome.result, "Token")
        if (outcome.status or "").lower() != "ok" or not token:
            raise AuthenticationError(
                self._message(
                    f"{self.flow_name} failed: Status {outcome.status or 'missing'}: "
                    f"{(outcome.message or 'no StatusMessage')[: raas.MAX_MESSAGE]} (check the settings 'username', "
                    "'password', 'customer_api_key' and 'user_access_key'; the user must be a web service user "
                    "with RaaS access)"
                ),
                status=response.status_code,
                path=raas.DATA_PATH,
            )
        self.redactor.add(token)
        now = self.clock()
        return Token(access_token=token, obtained_at=now, expires_at=now + self.assumed_lifetime_s,
                     token_type="RaaS", lifetime_assumed=True)  # fmt: skip

    def apply_token(self, request: requests.PreparedRequest, token: Token) -> None:
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        if not body:
            return
        updated = raas.set_context_token(body, token.access_token)
        request.body = updated
        request.prepare_content_length(updated)


def _log_on_verdict(response: requests.Response) -> t.Any:
    """LogOn's Failed status is a credential problem for ``login`` to explain, not a retry or a session error."""
    verdict = raas.CLASSIFIER.classify(response)
    return "ok" if verdict in ("auth", "fatal") and response.status_code < 400 else verdict
