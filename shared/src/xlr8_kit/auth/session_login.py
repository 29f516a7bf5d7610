"""Vendor session logins (UKG Pro RaaS ``LogOn``, UKG WFM appkey + access token, UKG Ready login).

A product tap subclasses ``SessionLogin`` and implements ``login(session) -> Token`` (and ``apply_token`` when the
token does not travel as ``Authorization: Bearer``). Expiry margins, one login per expiry across threads, and
"on 401 (or the vendor's invalid-session signal) log in again once and retry once" come from the base.

``login`` must register nothing itself: the returned token is added to the redactor before use. It should raise
``xlr8_kit.http.errors.AuthenticationError`` (wrong password) or ``ReauthorizationRequiredError`` (locked
account) with a message naming the setting to fix, and may use ``post_token_request`` for JSON login endpoints.
"""

from __future__ import annotations

from abc import abstractmethod

import requests

from xlr8_kit.auth.base import Token, TokenAuthenticator
from xlr8_kit.http.classify import ResponseClassifier, Verdict


def login_verdict(response: requests.Response) -> Verdict:
    """The kit session's ``classify`` for a login (or its refresh) sent by ``login`` itself: what the kit retries
    for any request (408, 425, 429) and every 5xx are retried by the session; any other answer, a refused login
    included, goes back to ``login`` at once (never retried), to be explained there with the setting to fix."""
    status = response.status_code
    return "retry" if status in ResponseClassifier.retry_statuses or status >= 500 else "ok"


class SessionLogin(TokenAuthenticator):
    """Base for username/password (or key) logins that yield a session token."""

    flow_name = "session login"

    @abstractmethod
    def login(self, session: requests.Session) -> Token:
        """Log in through ``session`` and return the session token (use ``self.clock()`` for its times)."""

    def fetch_token(self) -> Token:
        return self.login(self.session)
