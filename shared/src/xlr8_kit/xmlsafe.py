"""The one hardened XML parser for every vendor document (SOAP envelopes, OData EDMX, UKG RaaS, Workday XSD).

Vendor XML is untrusted input: a DOCTYPE can declare entities that expand to gigabytes (billion laughs), pull
files or URLs into the document (XXE) or make the parser fetch a DTD over the network. Every parse here has no
DTD loading, no entity resolution and no network access, and a document that declares a DOCTYPE is refused
outright, whether it is parsed whole (``parse_xml``), streamed (``iterparse_xml``) or fed in pieces to a SAX-like
target (``SafeFeedParser``, which also bounds the nesting depth).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import IO, Any

from lxml import etree

__all__ = ["SafeFeedParser", "UnsafeXMLError", "XMLParseError", "iterparse_xml", "parse_xml", "safe_parser"]

PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
}


class XMLParseError(ValueError):
    """The document is not well-formed XML, or it is refused (see ``UnsafeXMLError``)."""


class UnsafeXMLError(XMLParseError):
    """The document declares a DOCTYPE or entities; vendor documents never need one."""


def safe_parser(*, huge: bool = False, remove_comments: bool = False) -> etree.XMLParser:
    """A parser without DTDs, entities or network. ``huge`` lifts lxml's text-node limit (multi-MB base64)."""
    return etree.XMLParser(**PARSER_OPTIONS, huge_tree=huge, remove_comments=remove_comments)


def _refuse_declarations(head: bytes) -> None:
    lowered = head.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise UnsafeXMLError("refusing an XML document with a DOCTYPE/ENTITY declaration")


def parse_xml(content: bytes, *, huge: bool = False) -> etree._Element:
    """Parse a whole vendor document; a DOCTYPE is refused, malformed XML raises ``XMLParseError``."""
    _refuse_declarations(content[:4096])
    try:
        root = etree.fromstring(content, parser=safe_parser(huge=huge))
    except etree.XMLSyntaxError as exc:
        raise XMLParseError(f"not well-formed XML ({exc.msg})") from None
    if root.getroottree().docinfo.doctype:
        raise UnsafeXMLError("refusing an XML document with a DOCTYPE/ENTITY declaration")
    return root


def iterparse_xml(
    source: bytes | str | os.PathLike[str] | IO[bytes],
    *,
    events: tuple[str, ...] = ("start", "end"),
    huge: bool = False,
    remove_comments: bool = True,
) -> Iterator[tuple[str, etree._Element]]:
    """Stream (event, element) pairs with the hardened settings; a DOCTYPE is refused before the first element.

    ``source`` is bytes, a path or a binary file. lxml reports a DOCTYPE on the document info once the root
    element has started, so the check runs on the first ``start`` event (``start`` is always listened for).
    """
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    wanted = set(events)
    context = etree.iterparse(
        os.fspath(source) if isinstance(source, (str, os.PathLike)) else source,
        events=tuple(wanted | {"start"}),
        huge_tree=huge,
        remove_comments=remove_comments,
        **PARSER_OPTIONS,
    )
    checked = False
    try:
        for event, element in context:
            if not checked:
                checked = True
                if element.getroottree().docinfo.doctype:
                    raise UnsafeXMLError("refusing an XML document with a DOCTYPE/ENTITY declaration")
            if event in wanted:
                yield event, element
    except etree.XMLSyntaxError as exc:
        raise XMLParseError(f"not well-formed XML ({exc.msg})") from None


#: Deepest element nesting a fed document may have (vendor envelopes are a dozen levels deep).
MAX_FEED_DEPTH = 256


class _GuardedTarget:
    """Passes parser events to a target; refuses a DOCTYPE and nesting deeper than ``max_depth``."""

    def __init__(self, target: Any, max_depth: int) -> None:
        self.target = target
        self.max_depth = max_depth
        self.depth = 0

    def doctype(self, *_args: Any) -> None:
        raise UnsafeXMLError("refusing an XML document with a DOCTYPE/ENTITY declaration")

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise XMLParseError(f"XML nested deeper than {self.max_depth} elements")
        self.target.start(tag, attrib)

    def end(self, tag: str) -> None:
        self.depth -= 1
        self.target.end(tag)

    def data(self, text: str) -> None:
        self.target.data(text)

    def close(self) -> Any:
        return self.target.close()


class SafeFeedParser:
    """A document fed in pieces (``feed(bytes)``, then ``close()``) to ``target``'s ``start(tag, attrib)``,
    ``end(tag)``, ``data(text)`` and ``close()``: text arrives in pieces too, so a multi-megabyte text node (a
    base64 report) never has to sit in memory whole. Same protections as ``parse_xml``: no DTD, entities or
    network, a DOCTYPE refused (by the head check and by the parser), depth bounded by ``max_depth``."""

    def __init__(self, target: Any, *, max_depth: int = MAX_FEED_DEPTH) -> None:
        self._parser = etree.XMLParser(
            target=_GuardedTarget(target, max_depth), huge_tree=True, remove_comments=True, **PARSER_OPTIONS
        )
        self._head = b""
        self._checked = False

    def feed(self, data: bytes) -> None:
        if not self._checked:  # declarations are refused before any byte reaches the parser
            self._head += data
            if len(self._head) < 4096:
                return
            data, self._head = self._head, b""
            _refuse_declarations(data[:4096])
            self._checked = True
        self._run(self._parser.feed, data)

    def close(self) -> Any:
        if not self._checked:
            self._checked = True
            _refuse_declarations(self._head[:4096])
            if self._head:
                self._run(self._parser.feed, self._head)
        return self._run(self._parser.close)

    @staticmethod
    def _run(call: Any, *args: Any) -> Any:
        try:
            return call(*args)
        except etree.XMLSyntaxError as exc:
            raise XMLParseError(f"not well-formed XML ({exc.msg})") from None
