"""SOAP faults for the resilient session's retry loop. SOAP 1.1 requires HTTP 500 for every fault, so the status
alone cannot tell "your request is wrong" from "try again later": the fault's code can.

    verdict = fault_verdict(response)    # "fatal" for Client/Sender faults, "retry" for Server/Receiver ones,
                                         # None when the body is not a SOAP fault (use the status rules)
"""

from __future__ import annotations

import typing as t

import requests

from xlr8_kit.soap import SoapFault, SoapParseError, parse_envelope

if t.TYPE_CHECKING:
    from xlr8_kit.http.classify import Verdict

_MISSING = object()


def fault_of(response: requests.Response) -> SoapFault | None:
    """The SOAP fault in a response body (parsed once per response), None when there is none."""
    cached = response.__dict__.get("_xlr8_soap_fault", _MISSING)
    if cached is _MISSING:
        cached = None
        if b"Fault" in response.content[:8192]:
            try:
                cached = parse_envelope(response.content).fault
            except SoapParseError:
                cached = None
        response.__dict__["_xlr8_soap_fault"] = cached
    return t.cast("SoapFault | None", cached)


def fault_verdict(response: requests.Response) -> Verdict | None:
    """``fatal`` for a client fault (never retried), ``retry`` for a server fault, None without a fault."""
    fault = fault_of(response)
    if fault is None:
        return None
    return "fatal" if fault.is_client_fault else "retry"


__all__ = ["fault_of", "fault_verdict"]
