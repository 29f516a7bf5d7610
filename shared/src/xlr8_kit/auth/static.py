"""Credentials that never expire on our side: HTTP Basic and API-key headers.

Both register their secrets (and the Basic header's base64 form) with the redactor at construction, so a
rejected request's error text cannot carry them. A 401 is left to the stream to classify: there is nothing to
refresh.
"""

from __future__ import annotations

from collections.abc import Mapping

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from xlr8_kit.redaction import Redactor


class Basic(AuthBase):
    """HTTP Basic with a user and password (UKG Pro REST's service account, SuccessFactors' legacy Basic)."""

    def __init__(self, user: str, password: str, *, redactor: Redactor | None = None) -> None:
        if not user:
            raise ValueError("basic auth: user is required")
        if not password:
            raise ValueError("basic auth: password is required")
        (redactor if redactor is not None else Redactor.default()).add_pair(user, password)
        self._basic = HTTPBasicAuth(user, password)
        self.user = user

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return self._basic(r)

    def __repr__(self) -> str:
        return f"Basic(user={self.user!r})"


class ApiKeyHeaders(AuthBase):
    """Fixed headers carrying API keys (UKG's ``US-Customer-Api-Key``, Workday tenant keys, ...)."""

    def __init__(self, headers: Mapping[str, str], *, redactor: Redactor | None = None) -> None:
        if not headers:
            raise ValueError("api key headers: at least one header is required")
        for name, value in headers.items():
            if not name or not isinstance(value, str) or not value:
                raise ValueError(f"api key headers: header {name!r} needs a non-empty string value")
            if "\r" in value or "\n" in value:
                raise ValueError(f"api key headers: header {name!r} contains a line break")
        target = redactor if redactor is not None else Redactor.default()
        for value in headers.values():
            target.add(value)
        self._headers = dict(headers)

    @property
    def header_names(self) -> list[str]:
        return list(self._headers)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers.update(self._headers)
        return r

    def __repr__(self) -> str:
        return f"ApiKeyHeaders(headers={self.header_names!r})"
