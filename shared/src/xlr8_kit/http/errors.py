"""Error taxonomy shared by every tap: what stops a run, what is retried, what means 're-authorise'.

Every message is redacted before it is built (see ``xlr8_kit.redaction``) and names the path (never the query
string), the status and a truncated body.
"""

from __future__ import annotations

from singer_sdk.exceptions import FatalAPIError

from xlr8_kit.redaction import Redactor


class KitHTTPError(FatalAPIError):
    """A request that failed for good after the retry policy gave up (or that must not be retried).

    The message is masked again with the process-wide redactor: a caller that forgot cannot leak a token.
    """

    def __init__(self, message: str, *, status: int | None = None, path: str | None = None) -> None:
        super().__init__(Redactor.default().redact(message))
        self.status = status
        self.path = path


class ClientRequestError(KitHTTPError):
    """400/404/422 and friends: not retried, the request itself is wrong."""


class ServerUnavailableError(KitHTTPError):
    """5xx, resets, truncated bodies or timeouts beyond the retry budget."""


#: What every report give-up says (F13): the run of a report failed after the tenant ran it, twice. A scheduler that
#: re-runs a failed sync must not retry one whose tap said it, since each retry runs the report on the tenant again
#: (``xlr8_orchestration.runner`` reads it on the tap's stderr and leaves the report to the next scheduled run).
REPORT_SPENT = "not run again, since every attempt runs the whole report on the tenant"


class OutcomeUnknownError(ServerUnavailableError):
    """A non-idempotent request (a job's create) failed after it may have reached the server (a read timeout, a
    reset after sending, a 5xx): not resent, since the server may have acted on it (audit25d F1)."""

    def explained(self, what_may_exist: str) -> OutcomeUnknownError:
        """The same error saying what the server may have made and where the user looks for it."""
        return OutcomeUnknownError(f"{self}; {what_may_exist}", status=self.status, path=self.path)


class RateLimitedError(KitHTTPError):
    """The vendor asked us to wait longer than the configured cap ("rate limited until ...")."""

    def __init__(
        self, message: str, *, until: str | None = None, status: int | None = None, path: str | None = None
    ) -> None:
        super().__init__(message, status=status, path=path)
        self.until = until


class QuotaExhaustedError(KitHTTPError):
    """A vendor quota signal that is not a 429 (Salesforce REQUEST_LIMIT_EXCEEDED, the proactive guard)."""


class AuthenticationError(KitHTTPError):
    """Credentials rejected; the message tells the user what to do (for example re-authorise)."""


class ReauthorizationRequiredError(AuthenticationError):
    """invalid_grant or a second 401 after a forced refresh: a human must re-authorise."""


class TLSVerificationError(KitHTTPError):
    """Certificate or hostname verification failed: never retried, never disabled."""


class InsecureTransportError(KitHTTPError):
    """http:// outside loopback, or a redirect to another host or to http://."""


class CircuitOpenError(KitHTTPError):
    """The host's circuit breaker is open: failing fast without touching the network."""


class ErrorBodyError(KitHTTPError):
    """A 200 OK whose body is an error (SOAP fault, {"status":"ERROR"}, an HTML login page)."""


class AnswerShapeError(KitHTTPError):
    """A 2xx answer without the list its rows come under (a gateway's page, a changed shape): read as "no rows" it
    would land nothing and exit 0, a silent loss, so the stream stops naming the endpoint and the key (never a value
    of the answer: they may be personal data). Not retried: the same call gives the same answer."""


def json_kind(value: object) -> str:
    """What a value in an unexpected shape is, for an error: its JSON kind only, never its text (an id, a name or an
    e-mail is personal data, and errors reach logs unredacted: review26a L7); nor an object's keys (an answer keyed by
    values would put them in the error: review27b L6)."""
    if isinstance(value, dict):
        return f"an object with {len(value)} key(s)"
    kinds = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def missing_list(key: str, answer: object, where: str) -> AnswerShapeError:
    """The error for an ``answer`` of ``where`` (a stream and its endpoint) that has no list under ``key``."""
    if not isinstance(answer, dict):
        got = f"the answer is {json_kind(answer)}, not an object"
    elif key not in answer:
        got = f"the answer has no {key!r}"
    else:
        got = f"{key!r} is {json_kind(answer[key])}"
    return AnswerShapeError(
        f"{where}: {got}, where the rows come as a list under {key!r} (an empty list when there are none); an answer "
        "in another shape is not read as no rows, so the stream stops here; its bookmark does not move past the "
        "rows that landed before this answer",
        path=where,
    )


class AuditLogError(KitHTTPError):
    """The audit log (setting ``audit_log_path``) cannot be written: we fail closed rather than call unaudited."""


class RequestAbortedError(KitHTTPError):
    """The request was given up from another thread (``xlr8_kit.http.abort``): its answer is no longer wanted."""
