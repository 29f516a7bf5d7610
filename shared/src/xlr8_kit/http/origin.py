"""Whether a link stays on the tenant's server, the check before credentials follow it.

Compared as origins, not strings: SAP's ``__next`` and Oracle's ``self`` links name ``:443`` where the configured
URL does not (SAP KBA 2489065, review23i #1), and host names are case-insensitive with an optional trailing dot.
"""

from __future__ import annotations

from urllib.parse import ParseResult, SplitResult, urlsplit

DEFAULT_PORTS = {"https": 443, "http": 80}


#: Never in a tenant's host part: user info (``@``), a backslash (``requests`` ends the host there, Python's parser
#: does not: ``https://evil\\@tenant/`` reads as the tenant but connects to ``evil``, review24a #1), percent
#: escapes, white space and control characters.
_UNSAFE_NETLOC = frozenset("@\\%") | frozenset(map(chr, range(33))) | {"\x7f"}
#: What ``origin`` answers for a link whose host part cannot be trusted: it matches no tenant.
_NO_ORIGIN = ("", "", -1)


def origin(url: str | SplitResult | ParseResult) -> tuple[str, str, int | None]:
    """Scheme and host in lower case (no trailing dot) and the effective port (the scheme's default when none is
    named; -1 when the port is malformed, which never matches a tenant's). A host part that parsers could read two
    ways (``_UNSAFE_NETLOC``) has no origin."""
    parts = urlsplit(url) if isinstance(url, str) else url
    if not parts.netloc or not _UNSAFE_NETLOC.isdisjoint(parts.netloc):
        return _NO_ORIGIN
    scheme = parts.scheme.lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = -1
    return scheme, (parts.hostname or "").lower().rstrip("."), port


def same_origin(link: str | SplitResult | ParseResult, base: str | SplitResult | ParseResult) -> bool:
    found = origin(link)
    return found != _NO_ORIGIN and found == origin(base)
