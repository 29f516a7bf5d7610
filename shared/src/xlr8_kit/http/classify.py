"""What a response means for the retry loop. Product bases override ``ResponseClassifier`` (or
``KitRESTStream.classify_response``) for vendor quirks: quota signals that are not 429, errors inside 200 bodies.

Verdicts:
- ``ok``: hand the response to the caller.
- ``retry``: transient (429, 5xx, a truncated or unparsable body); back off and try again within the budget.
- ``quota``: the vendor's quota is spent (e.g. Salesforce 403 ``REQUEST_LIMIT_EXCEEDED``); stop now, no retry.
- ``auth``: credentials rejected (401); one forced token refresh and one retry, then the caller decides.
- ``fatal``: the request is wrong (400/404/422) or a 200 carries an error; never retried.
"""

from __future__ import annotations

import functools
import json
import re
import typing as t
from typing import Any, Literal

import msgspec
import requests

Verdict = Literal["ok", "retry", "quota", "auth", "fatal"]
VERDICTS: frozenset[str] = frozenset({"ok", "retry", "quota", "auth", "fatal"})

_SOAP_FAULT = re.compile(rb"<(?:[A-Za-z0-9_-]+:)?Fault[\s>]")
_HTML = re.compile(rb"^\s*(?:<!doctype html|<html)", re.IGNORECASE)
_SFORCE_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
_ERROR_STATUSES = {"error", "failure", "failed", "fault"}


def _content_type(response: requests.Response) -> str:
    return (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()


def _is_json_type(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


def _expected_html(response: requests.Response) -> bool:
    accept = (response.request.headers.get("Accept") if response.request is not None else None) or ""
    return "html" in accept.lower()


#: What ``json_or_not`` gives for a body that is not JSON (``_UNPARSABLE`` in the classifier's questions).
NOT_JSON: Any = object()
_UNPARSABLE = NOT_JSON
#: Parses exactly as ``json.loads`` does (floats, big ints, last duplicate key wins), in C.
_DECODER = msgspec.json.Decoder()


class _StatusProbe(msgspec.Struct):
    """Only the ``status`` member of an object body; every other member is skipped, not built."""

    status: Any = None


#: Reads a whole body (a cut one fails) but builds nothing except a top-level ``status``.
_PROBE = msgspec.json.Decoder(_StatusProbe | list[msgspec.Raw] | str | int | float | bool | None)


def loads_plain(content: bytes) -> Any:
    """``content`` parsed as ``json.loads`` parses it (numbers as int and float), in C when msgspec reads it; raises
    ``ValueError`` when neither reads it."""
    try:
        return _DECODER.decode(content)
    except msgspec.DecodeError:
        return json.loads(content)  # what msgspec refuses and json accepts (NaN literals, UTF-16)


def json_or_not(response: requests.Response, parse: t.Callable[[bytes], Any] | None = None) -> Any:
    """``response.json()`` (or ``parse(response.content)``), else ``NOT_JSON``: a vendor's body may be HTML, cut
    short, empty or nested deeper than the parser recurses (``RecursionError``, not a ``ValueError``), and whoever
    reads it (an error's detail, a token answer, the classifier's questions) wants the value or "not JSON", never
    an exception in place of the product's own error."""
    try:
        return response.json() if parse is None else parse(response.content)
    except (ValueError, RecursionError):
        return NOT_JSON


def parsed_json(response: requests.Response) -> object:
    """The body parsed once per response (classification asks several questions of it); ``_UNPARSABLE`` if not."""
    cached = response.__dict__.get("_xlr8_json", None)
    if cached is None:
        cached = response.__dict__["_xlr8_json"] = json_or_not(response, loads_plain)
    return cached


#: What the probe found, kept on the response (``body_truncated`` and ``error_in_body`` both ask): whether the body
#: is a JSON object and its top-level ``status``, or ``_UNPROBED`` when the probe cannot vouch for the body.
_PROBED = "_xlr8_probe"
#: Set on a response whose body the probe proved UTF-8 (``utf8_proven``).
_UTF8 = "_xlr8_utf8"
_UNPROBED = object()


#: Bytes ``is_utf8`` decodes at a time: each piece's text stays small (a few "\u2019" in a 5 MB page would otherwise
#: make the whole page's text two bytes a character).
_UTF8_PIECE = 4096


def is_utf8(content: bytes) -> bool:
    """Whether ``content.decode()`` succeeds, without building the text of the whole body: an ASCII body at once,
    else piece by piece. A piece ends before a byte that is not a continuation byte (0x80-0xBF), where a character
    of valid UTF-8 starts, so the body is valid exactly when every piece is. A cut is moved past at most three
    continuation bytes: a fourth in a row is invalid anyway, and the piece it starts fails to decode."""
    if content.isascii():
        return True
    end = len(content)
    start = 0
    while start < end:
        cut = start + _UTF8_PIECE
        stop = min(cut + 3, end)
        while cut < stop and 0x80 <= content[cut] < 0xC0:
            cut += 1
        piece = content[start:cut]
        if not piece.isascii():
            try:
                piece.decode()
            except UnicodeDecodeError:
                return False
        start = cut
    return True


def _probe(response: requests.Response) -> object:
    found = response.__dict__.get(_PROBED)
    if found is None:
        content = response.content
        found = _UNPROBED
        if is_utf8(content):  # the probe skips strings it does not build: json.loads would check them
            try:
                probed = _PROBE.decode(content)
            except (msgspec.DecodeError, RecursionError):  # nested too deep: the slow path settles it (unparsable)
                pass
            else:
                found = (True, probed.status) if isinstance(probed, _StatusProbe) else (False, None)
                response.__dict__[_UTF8] = True
        response.__dict__[_PROBED] = found
    return found


def utf8_proven(response: requests.Response) -> bool:
    """Whether the classifier's probe already read ``response``'s body as UTF-8 (it checks the whole body): a
    decoder that skips the strings it does not build may rely on it. A product's kept parse proves nothing here
    (``json.loads`` also reads UTF-16 and UTF-32 bodies)."""
    return _UTF8 in response.__dict__


#: Where ``keep_parsed`` keeps a product's own parse of a response's body (``kept_body``).
_KEPT = "_xlr8_kept"
_SAME = object()


def keep_parsed(response: requests.Response, parsed: object, body: object = _SAME) -> None:
    """Keep ``parsed``, a product's parse of ``response``'s whole body, on the response (``kept_body``), and tell the
    classifier: it reads the top-level ``status`` from ``body`` (the JSON value; ``parsed`` itself unless the parse
    gives more, as Salesforce's (body, plain) pair) instead of probing the whole body again. Only for a body that
    did parse (a cut one is the classifier's to find)."""
    response.__dict__[_KEPT] = parsed
    value = parsed if body is _SAME else body
    status = value.get("status") if isinstance(value, dict) else None
    response.__dict__[_PROBED] = (isinstance(value, dict), status)


def kept_body(response: requests.Response, default: Any = None) -> Any:
    """The parse ``keep_parsed`` kept on ``response`` (``ResponseClassifier.parse_body``'s), else ``default``: what a
    product's page reader and paginator read, so a page is parsed once."""
    return response.__dict__.get(_KEPT, default)


def _body_status(response: requests.Response) -> object:
    """``_UNPARSABLE``, or the top-level ``status`` of an object body (None when absent or not an object).

    From the full parse when one is cached; else from a probe that builds no records, so a page the stream
    parses itself afterwards (numbers as Decimal) is not also built once here."""
    cached = response.__dict__.get("_xlr8_json", None)
    if cached is None:
        probed = _probe(response)
        if probed is not _UNPROBED:
            return t.cast("tuple[bool, object]", probed)[1]
        cached = parsed_json(response)  # the slow path settles what the probe could not
    if cached is _UNPARSABLE:
        return _UNPARSABLE
    return cached.get("status") if isinstance(cached, dict) else None


@functools.cache
def _members_decoder(keys: frozenset[str]) -> msgspec.json.Decoder:
    members = msgspec.defstruct("_Members", [(key, Any, msgspec.UNSET) for key in sorted(keys)])
    return msgspec.json.Decoder(members | list[msgspec.Raw] | str | int | float | bool | None)


def json_members(response: requests.Response, keys: frozenset[str] | None) -> dict[str, Any] | None:
    """The body when it is a JSON object, else None (a body that does not parse counts as not an object). With
    ``keys``, only those top-level members of it (the ones present, valued as ``parsed_json`` values them), built
    from a probe instead of the whole page: for a product that reads a page's records with its own parse and
    asks the classifier or paginator about one or two members."""
    cached = response.__dict__.get("_xlr8_json", None)
    if cached is None:
        probed = _probe(response)
        if probed is not _UNPROBED:
            if not t.cast("tuple[bool, object]", probed)[0]:
                return None  # an array or a scalar: nothing else to build
            if keys is not None:  # the probe (or a product's parse: NaN, UTF-16) read the body whole
                try:
                    found = _members_decoder(keys).decode(response.content)
                except msgspec.DecodeError:
                    pass  # a body only ``json.loads`` reads (a product's parse accepted it): settled below
                else:
                    return {key: value for key in keys if (value := getattr(found, key)) is not msgspec.UNSET}
    data = parsed_json(response)
    return t.cast("dict[str, Any]", data) if isinstance(data, dict) else None


#: Set on a response a product's classifier read as a rate limit although it is not a 429 (``mark_rate_limited``).
_RATE_LIMITED = "_xlr8_rate_limited"


def mark_rate_limited(response: requests.Response) -> None:
    """Tell the session that ``response`` (verdict ``retry``) is the vendor's rate limit in a status other than 429
    (UKG Ready's error code 100): it is waited out as a 429 is (Retry-After, else ``http.rate_window``), is never
    held against the host's circuit, and a request that gives up on it raises ``RateLimitedError``."""
    response.__dict__[_RATE_LIMITED] = True


def is_rate_limited(response: requests.Response) -> bool:
    """Whether ``response`` is a rate limit: a 429, or an answer a product's classifier marked as one."""
    return response.status_code == 429 or _RATE_LIMITED in response.__dict__


class ResponseClassifier:
    """Status and body rules every product starts from."""

    retry_statuses: frozenset[int] = frozenset({408, 425, 429, 500, 502, 503, 504})

    def classify(self, response: requests.Response) -> Verdict:
        status = response.status_code
        if status >= 400:
            return self.classify_status(response)
        if status < 300 and response.content:
            if self.body_truncated(response):
                return "retry"
            if self.error_in_body(response) is not None:
                return "fatal"
        return "ok"

    def classify_status(self, response: requests.Response) -> Verdict:
        """The verdict from the status alone, the body unread: what a streamed response (a large report read row
        by row) is classified by, since reading its body here would hold it whole."""
        status = response.status_code
        if status == 429 or status in self.retry_statuses or status >= 500:
            return "retry"
        if status == 401:
            return "auth"
        if status >= 400:
            return "fatal"
        return "ok"

    def body_truncated(self, response: requests.Response) -> bool:
        """A JSON body that does not parse was cut mid-way (the connection closed early): worth a retry.

        The first question asked of a 2xx body: a product that overrides ``parse_body`` has the body parsed with it
        here, once, and kept (``kept_body``); the other questions read that parse instead of probing the body."""
        if not _is_json_type(_content_type(response)):
            return False
        if (
            type(self).parse_body is not ResponseClassifier.parse_body  # only products that parse pay
            and 200 <= response.status_code < 300
            and _KEPT not in response.__dict__
        ):
            try:
                parsed = self.parse_body(response)
            except (ValueError, RecursionError):
                pass  # cut, not UTF-8, not the product's JSON: the probes decide, as without a parse
            else:
                keep_parsed(response, parsed, self.body_of(parsed))
        return _body_status(response) is _UNPARSABLE

    def parse_body(self, response: requests.Response) -> Any:
        """How the product's streams read a 2xx JSON body (numbers as Decimal, through msgspec, ...); overridden,
        ``body_truncated`` parses the body with it and keeps the result. Raises ``ValueError`` for a body that does
        not parse. The base class parses nothing (the probes answer its questions without building the rows)."""
        raise NotImplementedError(f"{type(self).__name__} does not parse bodies")

    def body_of(self, parsed: Any) -> object:
        """The JSON value inside what ``parse_body`` returned (all of it, unless a product's parse returns more)."""
        return parsed

    def parsed_body(self, response: requests.Response) -> Any:
        """The parse the classifier kept, else ``parse_body``'s parse now (kept): a page reader's and paginator's
        one parse of the body. Raises what ``parse_body`` raises."""
        parsed = response.__dict__.get(_KEPT, _KEPT)
        if parsed is _KEPT:
            parsed = self.parse_body(response)
            keep_parsed(response, parsed, self.body_of(parsed))
        return parsed

    def error_in_body(self, response: requests.Response) -> str | None:
        """A short reason when a 2xx body is really an error (RELIABILITY A8), else None."""
        body = response.content
        content_type = _content_type(response)
        if _is_json_type(content_type):
            status = _body_status(response)
            if isinstance(status, str) and status.strip().lower() in _ERROR_STATUSES:
                return f"body status {status!r}"
            if type(self).json_error is not ResponseClassifier.json_error:  # only products that look inside pay
                data = json_members(response, self.json_error_keys)
                if isinstance(data, dict):
                    return self.json_error(data)
            return None
        if "xml" in content_type or body.lstrip().startswith(b"<?xml") or b"Envelope" in body[:400]:
            if _SOAP_FAULT.search(body):
                return "SOAP fault"
            return None
        if (content_type == "text/html" or _HTML.match(body)) and not _expected_html(response):
            return "HTML page instead of API data (login page or proxy error)"
        return None

    #: The top-level members ``json_error`` reads, when it reads no others: it then gets an object body holding
    #: only those (the ones present), built by a probe instead of a parse of the whole page. None: the whole body.
    json_error_keys: frozenset[str] | None = None

    def json_error(self, body: dict[str, Any]) -> str | None:
        """A product's own error object in a 2xx JSON body (UKG's ``message``, Common's ``error_code``): a short
        reason, else None. Products override this instead of ``error_in_body``. Only object bodies are asked."""
        del body
        return None

    def quota_usage(self, response: requests.Response) -> tuple[int, int] | None:
        """(used, limit) of a daily quota the vendor reports on every response, for the proactive guard (A7).

        Salesforce's ``Sforce-Limit-Info: api-usage=used/limit`` is understood out of the box.
        """
        found = _SFORCE_USAGE.search(response.headers.get("Sforce-Limit-Info") or "")
        return (int(found.group(1)), int(found.group(2))) if found else None


DEFAULT_CLASSIFIER = ResponseClassifier()
