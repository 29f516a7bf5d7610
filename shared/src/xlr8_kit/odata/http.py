"""HTTP answers of OData services (SuccessFactors, S/4HANA): an error document inside a 2xx is an error, and a
final non-2xx becomes the kit's error carrying the vendor's code and message (redacted, short)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

import msgspec
import requests

from xlr8_kit.http.classify import ResponseClassifier, is_utf8, json_or_not, kept_body
from xlr8_kit.http.errors import AuthenticationError, ClientRequestError
from xlr8_kit.odata.paging import _payload, odata_error
from xlr8_kit.redaction import Redactor

MAX_MESSAGE = 300


class _ErrorProbe(msgspec.Struct):
    """Only the ``error`` member of an object body; every other member is checked but not built."""

    error: Any = None


#: Reads a whole body as strictly as ``json.loads`` (a cut body or a control character in any string fails; the
#: last of repeated keys wins) and builds nothing but a top-level ``error``.
_ERROR_PROBE = msgspec.json.Decoder(_ErrorProbe | list[msgspec.Raw] | str | int | float | bool | None)


def _error_document(response: requests.Response) -> tuple[str, str] | None:
    """``odata_error(json.loads(response.content))``, None where ``json.loads`` raises. A page of rows (the usual
    answer) is probed in C without building its rows; a body the probe cannot vouch for (not UTF-8, NaN literals,
    malformed) and every error document go through ``json.loads`` itself."""
    content = response.content
    if is_utf8(content):  # json.loads rejects invalid UTF-8 inside strings the probe does not build
        try:
            probed = _ERROR_PROBE.decode(content)
        except (msgspec.DecodeError, RecursionError):  # nested too deep: json.loads below settles it
            pass
        else:
            if not (isinstance(probed, _ErrorProbe) and isinstance(probed.error, dict)):
                return None
    return odata_error(json_or_not(response, json.loads))


class ODataClassifier(ResponseClassifier):
    """An OData error document inside a 2xx body is an error, never "zero rows" (RELIABILITY A8).

    A 2xx JSON body is parsed here once, as the stream reads it (``paging._payload``, kept on the response), and
    the classifier's questions (cut? a top-level ``status``? an ``error`` member?) are answered from that parse
    instead of two probes of the whole body; a body that does not parse, or that holds an ``error`` object, gets
    the probes' answers as before."""

    def parse_body(self, response: requests.Response) -> dict[str, Any]:
        return _payload(response)

    def error_in_body(self, response: requests.Response) -> str | None:
        found = super().error_in_body(response)
        if found is not None:
            return found
        if "json" in (response.headers.get("Content-Type") or ""):
            parsed = kept_body(response)
            if isinstance(parsed, dict) and not isinstance(parsed.get("error"), dict):
                return None  # an object without an error object: what the probe finds in the same bytes
            error = _error_document(response)
            if error is not None:
                return f"OData error {error[0]}"
        return None


ODATA_CLASSIFIER = ODataClassifier()


def raise_for_status(response: requests.Response, redactor: Redactor, product: str) -> None:
    """Turn a final non-2xx answer into ``AuthenticationError`` (401/403) or ``ClientRequestError``."""
    if response.status_code < 400:
        return
    path = urlparse(response.url).path
    detail = ""
    error = odata_error(json_or_not(response))
    if error is not None:
        detail = f": {error[0]} {error[1]}"
    elif response.content:
        detail = f": {' '.join(response.text[:MAX_MESSAGE].split())}"
    message = redactor.redact(f"{product}: HTTP {response.status_code} for path {path}{detail}"[:1000])
    if response.status_code in (401, 403):
        raise AuthenticationError(
            message + " (check the configured credentials and the API user's permissions)",
            status=response.status_code,
            path=path,
        )
    raise ClientRequestError(message, status=response.status_code, path=path)
