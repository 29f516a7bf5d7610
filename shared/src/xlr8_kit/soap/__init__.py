"""SOAP for every tap that speaks it (UKG Pro RaaS, Workday web services): envelopes in both versions, WS-Addressing
and WS-Security headers, safe parsing, and faults as data.

    body = element(f"{{{NS}}}LogOn", element(f"{{{NS}}}logOnRequest", element(f"{{{NS}}}UserName", "me")))
    payload = build_envelope(body, version=SOAP12, action=ACTION, to=url)
    headers = request_headers(SOAP12, ACTION)
    message = parse_envelope(response.content)      # .headers, .body, .fault, .action
    message.raise_for_fault(path="/services/X")     # SoapFaultError with code, subcodes and reason

Parsing never resolves entities, never reaches the network and refuses DTDs (XXE, billion laughs): a vendor
document is data, not instructions. ``SoapFault.is_client_fault`` separates "the request is wrong" (SOAP 1.1
``Client``, 1.2 ``Sender``: never retried) from server faults that may be transient.
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree

from xlr8_kit import xmlsafe
from xlr8_kit.http.errors import KitHTTPError
from xlr8_kit.xmlsafe import safe_parser

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
WSA_NS = "http://www.w3.org/2005/08/addressing"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_WSS_BASE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-"
PASSWORD_TEXT = _WSS_BASE + "username-token-profile-1.0#PasswordText"
PASSWORD_DIGEST = _WSS_BASE + "username-token-profile-1.0#PasswordDigest"
NONCE_BASE64 = _WSS_BASE + "soap-message-security-1.0#Base64Binary"
ANONYMOUS = WSA_NS + "/anonymous"


@dataclass(frozen=True)
class SoapVersion:
    name: str
    namespace: str
    content_type: str
    #: Name of the fault's code element in this version (``faultcode`` / ``Code``).
    client_codes: frozenset[str]


SOAP11 = SoapVersion(
    "1.1", "http://schemas.xmlsoap.org/soap/envelope/", "text/xml; charset=utf-8", frozenset({"Client"})
)
SOAP12 = SoapVersion(
    "1.2",
    "http://www.w3.org/2003/05/soap-envelope",
    "application/soap+xml; charset=utf-8",
    frozenset({"Sender", "VersionMismatch", "MustUnderstand", "DataEncodingUnknown"}),
)
_VERSIONS = {SOAP11.namespace: SOAP11, SOAP12.namespace: SOAP12}


class SoapParseError(KitHTTPError):
    """The response is not a SOAP envelope (an HTML error page, a truncated body, plain text)."""


class SoapFaultError(KitHTTPError):
    """The service answered with a SOAP fault."""

    def __init__(self, fault: SoapFault, *, status: int | None = None, path: str | None = None) -> None:
        super().__init__(f"SOAP fault {fault.describe()}" + (f" for path {path}" if path else ""), status=status,
                         path=path)  # fmt: skip
        self.fault = fault


@dataclass(frozen=True)
class SoapFault:
    version: SoapVersion
    code: str  # local name of the code value, e.g. "Sender" or "Client"
    reason: str
    subcodes: tuple[str, ...] = ()
    actor: str | None = None
    detail: str | None = None  # text of the detail element, whitespace collapsed

    @property
    def is_client_fault(self) -> bool:
        """The request itself was refused (never worth a retry)."""
        return self.code.split(".")[0] in self.version.client_codes

    def describe(self, limit: int = 300) -> str:
        code = ":".join((self.code, *self.subcodes))
        reason = self.reason if len(self.reason) <= limit else self.reason[:limit] + "..."
        return f"{code}: {reason}" if reason else code


@dataclass
class SoapMessage:
    version: SoapVersion
    headers: list[etree._Element] = field(default_factory=list)
    body: etree._Element | None = None  # the first child of Body (the payload element)
    fault: SoapFault | None = None

    @property
    def action(self) -> str | None:
        """The WS-Addressing Action header, if any."""
        return self.header_text(f"{{{WSA_NS}}}Action")

    def header(self, tag: str) -> etree._Element | None:
        """A header block by Clark name (``{ns}Local``), or by local name alone when ``tag`` has no namespace."""
        for block in self.headers:
            if block.tag == tag or (not tag.startswith("{") and local_name(block) == tag):
                return block
        return None

    def header_text(self, tag: str) -> str | None:
        block = self.header(tag)
        return None if block is None else (block.text or "").strip()

    def raise_for_fault(self, *, status: int | None = None, path: str | None = None) -> None:
        if self.fault is not None:
            raise SoapFaultError(self.fault, status=status, path=path)


def local_name(node: etree._Element) -> str:
    return etree.QName(node).localname


def element(tag: str, *children: etree._Element | str | None, attrib: Mapping[str, str] | None = None,
            nsmap: Mapping[str | None, str] | None = None) -> etree._Element:  # fmt: skip
    """An element with children; string children become its text, None children are skipped."""
    node = etree.Element(tag, attrib=dict(attrib or {}), nsmap=dict(nsmap) if nsmap else None)
    for child in children:
        if child is None:
            continue
        if isinstance(child, str):
            node.text = (node.text or "") + child
        else:
            node.append(child)
    return node


def nil(tag: str) -> etree._Element:
    """An ``xsi:nil="true"`` element (how WCF services say "no value")."""
    return element(tag, attrib={f"{{{XSI_NS}}}nil": "true"})


def addressing_headers(
    version: SoapVersion, action: str, to: str | None = None, *, message_id: str | None = None, reply_to: bool = False
) -> list[etree._Element]:
    """WS-Addressing 1.0 headers; ``Action`` and ``To`` are marked mustUnderstand as WCF expects."""
    must = {f"{{{version.namespace}}}mustUnderstand": "1"}
    blocks = [element(f"{{{WSA_NS}}}Action", action, attrib=must)]
    if message_id is not None:
        blocks.append(element(f"{{{WSA_NS}}}MessageID", message_id))
    if reply_to:
        blocks.append(element(f"{{{WSA_NS}}}ReplyTo", element(f"{{{WSA_NS}}}Address", ANONYMOUS)))
    if to is not None:
        blocks.append(element(f"{{{WSA_NS}}}To", to, attrib=must))
    return blocks


def new_message_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def username_token(
    username: str,
    password: str,
    *,
    version: SoapVersion = SOAP11,
    digest: bool = False,
    created: datetime | None = None,
    nonce: bytes | None = None,
) -> etree._Element:
    """A WS-Security ``Security`` header with a UsernameToken (text password, or the SHA-1 digest form)."""
    token = element(f"{{{WSSE_NS}}}UsernameToken", element(f"{{{WSSE_NS}}}Username", username))
    if not digest:
        token.append(element(f"{{{WSSE_NS}}}Password", password, attrib={"Type": PASSWORD_TEXT}))
    else:
        nonce = nonce if nonce is not None else os.urandom(16)
        stamp = (created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        value = base64.b64encode(hashlib.sha1(nonce + stamp.encode() + password.encode()).digest()).decode()  # noqa: S324 - the profile's algorithm
        token.append(element(f"{{{WSSE_NS}}}Password", value, attrib={"Type": PASSWORD_DIGEST}))
        token.append(element(f"{{{WSSE_NS}}}Nonce", base64.b64encode(nonce).decode(),
                             attrib={"EncodingType": NONCE_BASE64}))  # fmt: skip
        token.append(element(f"{{{WSU_NS}}}Created", stamp))
    return element(f"{{{WSSE_NS}}}Security", token, attrib={f"{{{version.namespace}}}mustUnderstand": "1"})


def build_envelope(
    body: etree._Element | Iterable[etree._Element] | None,
    *,
    version: SoapVersion = SOAP12,
    action: str | None = None,
    to: str | None = None,
    headers: Iterable[etree._Element] = (),
    message_id: str | None = None,
) -> bytes:
    """The serialized envelope (UTF-8, with declaration). ``action`` adds WS-Addressing headers."""
    soap = version.namespace
    nsmap: dict[str | None, str] = {"s": soap}
    if action is not None:
        nsmap["a"] = WSA_NS
    envelope = etree.Element(f"{{{soap}}}Envelope", nsmap=nsmap)
    header = etree.SubElement(envelope, f"{{{soap}}}Header")
    if action is not None:
        for block in addressing_headers(version, action, to, message_id=message_id):
            header.append(block)
    for block in headers:
        header.append(block)
    if len(header) == 0:
        envelope.remove(header)
    body_node = etree.SubElement(envelope, f"{{{soap}}}Body")
    if body is not None:
        for child in [body] if isinstance(body, etree._Element) else body:
            body_node.append(child)
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def request_headers(version: SoapVersion, action: str | None) -> dict[str, str]:
    """HTTP headers: SOAP 1.1 carries the action in ``SOAPAction``, 1.2 in the content type."""
    if version is SOAP11:
        return {"Content-Type": version.content_type, "SOAPAction": f'"{action or ""}"', "Accept": "text/xml"}
    content_type = version.content_type + (f'; action="{action}"' if action else "")
    return {"Content-Type": content_type, "Accept": "application/soap+xml, text/xml"}


def parse_xml(content: bytes, *, huge: bool = False) -> etree._Element:
    """Parse a vendor document with the kit's hardened parser (``xlr8_kit.xmlsafe``); a DOCTYPE is refused."""
    try:
        return xmlsafe.parse_xml(content, huge=huge)
    except xmlsafe.UnsafeXMLError as exc:
        raise SoapParseError(str(exc)) from None
    except xmlsafe.XMLParseError as exc:
        raise SoapParseError(f"response is {exc}") from None


def parse_envelope(content: bytes, *, huge: bool = False) -> SoapMessage:
    """Split an envelope into header blocks, the body payload and a parsed fault (either version)."""
    root = parse_xml(content, huge=huge)
    version = _VERSIONS.get(etree.QName(root).namespace or "")
    if version is None or local_name(root) != "Envelope":
        raise SoapParseError(f"response is not a SOAP envelope (root element {local_name(root)!r})")
    soap = version.namespace
    header = root.find(f"{{{soap}}}Header")
    body = root.find(f"{{{soap}}}Body")
    message = SoapMessage(version, headers=[] if header is None else [c for c in header if isinstance(c.tag, str)])
    if body is None:
        raise SoapParseError("SOAP envelope without a Body")
    payload = next((c for c in body if isinstance(c.tag, str)), None)
    if payload is not None and payload.tag == f"{{{soap}}}Fault":
        message.fault = parse_fault(payload, version)
    else:
        message.body = payload
    return message


def parse_fault(node: etree._Element, version: SoapVersion) -> SoapFault:
    soap = version.namespace
    if version is SOAP11:
        code = _qname_local(node.findtext("faultcode") or "")
        detail = node.find("detail")
        return SoapFault(
            version,
            code=code,
            reason=(node.findtext("faultstring") or "").strip(),
            actor=node.findtext("faultactor"),
            detail=_text_of(detail),
        )
    code_node = node.find(f"{{{soap}}}Code")
    code = _qname_local(code_node.findtext(f"{{{soap}}}Value") or "") if code_node is not None else ""
    subcodes: list[str] = []
    sub = code_node.find(f"{{{soap}}}Subcode") if code_node is not None else None
    while sub is not None:
        subcodes.append(_qname_local(sub.findtext(f"{{{soap}}}Value") or ""))
        sub = sub.find(f"{{{soap}}}Subcode")
    reason_node = node.find(f"{{{soap}}}Reason")
    reason = ""
    if reason_node is not None:
        texts = reason_node.findall(f"{{{soap}}}Text")
        english = [t for t in texts if (t.get("{http://www.w3.org/XML/1998/namespace}lang") or "").startswith("en")]
        chosen = (english or texts)[:1]
        reason = (chosen[0].text or "").strip() if chosen else ""
    return SoapFault(
        version,
        code=code,
        reason=reason,
        subcodes=tuple(subcodes),
        actor=node.findtext(f"{{{soap}}}Role"),
        detail=_text_of(node.find(f"{{{soap}}}Detail")),
    )


def _qname_local(value: str) -> str:
    return value.strip().rsplit(":", 1)[-1]


def _text_of(node: etree._Element | None) -> str | None:
    if node is None:
        return None
    text = " ".join("".join(node.itertext()).split())
    return text or None


def child_text(node: etree._Element | None, *path: str) -> str | None:
    """Text of a descendant reached by local names (namespace-agnostic; WCF payloads mix default namespaces)."""
    current = node
    for name in path:
        if current is None:
            return None
        current = next((c for c in current if isinstance(c.tag, str) and local_name(c) == name), None)
    if current is None or current.get(f"{{{XSI_NS}}}nil") == "true":
        return None
    return current.text or ""


def children(node: etree._Element | None, name: str) -> list[etree._Element]:
    """Direct children with a local name."""
    if node is None:
        return []
    return [c for c in node if isinstance(c.tag, str) and local_name(c) == name]


__all__ = [
    "SOAP11",
    "SOAP12",
    "WSA_NS",
    "WSSE_NS",
    "XSI_NS",
    "SoapFault",
    "SoapFaultError",
    "SoapMessage",
    "SoapParseError",
    "SoapVersion",
    "addressing_headers",
    "build_envelope",
    "child_text",
    "children",
    "element",
    "local_name",
    "new_message_id",
    "nil",
    "parse_envelope",
    "parse_fault",
    "parse_xml",
    "request_headers",
    "safe_parser",
    "username_token",
]
