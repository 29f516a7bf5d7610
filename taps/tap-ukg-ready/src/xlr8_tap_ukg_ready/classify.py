"""What a UKG Ready answer means for the kit's retry loop: ``{"errors": [...]}`` in a 200 is an error (RELIABILITY
A8), and error code 100 is Ready's rate limit, waited out like a 429 (kit ``mark_rate_limited``)."""

from __future__ import annotations

import requests

from xlr8_kit.http.classify import ResponseClassifier, Verdict, json_members, mark_rate_limited

_ERRORS = frozenset({"errors"})


#: UKG Ready's rate-limit error: ``{"errors": [{"code": 100, "message": ...}]}`` (a public UKG Ready client retries
#: exactly this code, whatever the HTTP status; the status is not documented publicly).
RATE_LIMIT_CODE = 100


def rate_limit_error(response: requests.Response) -> bool:
    """Whether ``response``'s JSON body is Ready's rate-limit error: code 100 in ``errors[]``, the one shape the
    evidence shows. A flat top-level ``{"code": 100}`` is not taken for it (review26a L4): an answer of that shape
    that means something else would be waited on for minutes before its real error was told."""
    data = json_members(response, _ERRORS)
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list):
        return False
    return any(isinstance(item, dict) and item.get("code") == RATE_LIMIT_CODE for item in errors)


class ReadyClassifier(ResponseClassifier):
    """UKG Ready's ``{"errors": [...]}`` in a 200 is an error; its error code 100, in any status, is a rate limit."""

    def classify(self, response: requests.Response) -> Verdict:
        return self.rate_limit_verdict(response, super().classify(response))

    def classify_status(self, response: requests.Response) -> Verdict:
        """A streamed report's verdict: an error status's (small) body is read for code 100 too."""
        verdict = super().classify_status(response)
        if response.status_code >= 400:
            return self.rate_limit_verdict(response, verdict)
        return verdict

    @staticmethod
    def rate_limit_verdict(response: requests.Response, verdict: Verdict) -> Verdict:
        """``retry`` (marked a rate limit: waited out like a 429) for an answer that is not ok and whose body is
        code 100; else ``verdict``. Only an answer already not ok is read, so good pages cost nothing more."""
        if verdict not in ("ok", "auth") and rate_limit_error(response):
            mark_rate_limited(response)
            return "retry"
        return verdict

    def error_in_body(self, response: requests.Response) -> str | None:
        found = super().error_in_body(response)
        if found is not None:
            return found
        data = json_members(response, _ERRORS)  # the page's rows are parsed once, by the stream
        if isinstance(data, dict) and data.get("errors"):
            return f"errors instead of data: {str(data['errors'])[:200]}"
        return None


CLASSIFIER = ReadyClassifier()
