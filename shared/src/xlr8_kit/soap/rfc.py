"""RFC function modules (BAPIs) over SAP's SOAP-RFC handler (``/sap/bc/soap/rfc``, or an endpoint published in
SOAMANAGER): SOAP 1.1, payload element named after the function in ``urn:sap-com:document:sap:rfc:functions``,
the answer in ``<FUNCTION>.Response``.

Parameters map to elements by name: a scalar is text, a structure has one child per field, a table has one
``<item>`` child per row. A table the caller wants back is passed empty (``"POITEM": []``), as SAP requires.
BAPIs report problems in ``RETURN`` (``BAPIRET2``: TYPE, ID, NUMBER, MESSAGE, ...), a structure or a table;
types ``E`` (error) and ``A`` (abort) are failures, ``S``/``W``/``I`` are not.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lxml import etree

from xlr8_kit.http.errors import KitHTTPError
from xlr8_kit.soap import SOAP11, build_envelope, element, local_name

RFC_NS = "urn:sap-com:document:sap:rfc:functions"
FAILURE_TYPES = frozenset({"E", "A"})
Value = str | dict[str, str] | list[dict[str, str]]


class BapiError(KitHTTPError):
    """A BAPI answered with a RETURN message of type E or A."""

    def __init__(self, function: str, messages: list[dict[str, str]]) -> None:
        failures = [m for m in messages if m.get("TYPE") in FAILURE_TYPES]
        text = "; ".join(
            f"{m.get('TYPE')} {m.get('ID', '')}/{m.get('NUMBER', '')}: {m.get('MESSAGE', '')}".strip() for m in failures
        )
        super().__init__(f"{function} failed: {text}")
        self.function = function
        self.messages = messages


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "X" if value else ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | int | float):
        return str(value)
    return str(value)


def encode(tag: str, value: Any) -> etree._Element:
    """One parameter (unqualified element, as SAP writes them): scalar, structure (mapping) or table (list)."""
    if isinstance(value, Mapping):
        return element(tag, *(encode(str(k), v) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return element(tag, *(encode("item", row) for row in value))
    return element(tag, _text(value))


def request_envelope(function: str, params: Mapping[str, Any]) -> bytes:
    """The SOAP 1.1 envelope calling ``function`` with ``params``."""
    payload = element(f"{{{RFC_NS}}}{function}", *(encode(k, v) for k, v in params.items()), nsmap={"urn": RFC_NS})
    return build_envelope(payload, version=SOAP11)


def decode(node: etree._Element, tables: frozenset[str] = frozenset()) -> dict[str, Value]:
    """The parameters of a request or response payload: text, ``{field: text}`` or ``[{field: text}, ...]``.
    An empty element named in ``tables`` is an empty table (SAP writes empty tables and empty text alike)."""
    out: dict[str, Value] = {}
    for child in node:
        if not isinstance(child.tag, str):
            continue
        name = local_name(child)
        kids = [c for c in child if isinstance(c.tag, str)]
        if not kids:
            out[name] = [] if name in tables else (child.text or "")
        elif all(local_name(c) == "item" for c in kids):
            out[name] = [_fields(item) for item in kids]
        else:
            out[name] = _fields(child)
    return out


def _fields(node: etree._Element) -> dict[str, str]:
    return {local_name(c): (c.text or "") for c in node if isinstance(c.tag, str)}


def return_messages(result: Mapping[str, Value]) -> list[dict[str, str]]:
    """The RETURN parameter as a list of messages (it is a structure in some BAPIs, a table in others)."""
    value = result.get("RETURN")
    if isinstance(value, dict):
        return [value] if any(value.values()) else []
    if isinstance(value, list):
        return list(value)
    return []


def raise_for_return(function: str, result: Mapping[str, Value]) -> None:
    messages = return_messages(result)
    if any(m.get("TYPE") in FAILURE_TYPES for m in messages):
        raise BapiError(function, messages)


def response_payload(body: etree._Element | None, function: str) -> etree._Element:
    """The ``<FUNCTION>.Response`` element; anything else is a protocol error."""
    if body is None or local_name(body) != f"{function}.Response":
        found = local_name(body) if body is not None else "nothing"
        raise KitHTTPError(f"{function}: expected {function}.Response in the SOAP body, got {found}")
    return body


__all__ = [
    "FAILURE_TYPES",
    "RFC_NS",
    "BapiError",
    "decode",
    "encode",
    "raise_for_return",
    "request_envelope",
    "response_payload",
    "return_messages",
]
