"""Response bodies read as they arrive, so a report of a million rows never sits in memory whole.

- ``send_streamed``: one request through the resilient session with ``stream=True``. Retries, redaction, the
  breaker and the audit log are the session's as for any call. A body that fits in the first ``PEEK_BYTES`` (every
  error answer, small reports) is read whole and judged by the caller's classifier exactly as without streaming;
  a larger 2xx body is left unread for the caller.
- ``body_chunks``: the body's bytes. A connection cut mid-transfer re-sends the request and resumes after the bytes
  already handed out, once the re-sent body's prefix has proven identical (SHA-256); a body that changed, or cuts
  beyond the policy's ``max_attempts``, raise ``ServerUnavailableError``: never a silently shorter document. A
  report (``kind="report"``), whose every request runs it on the tenant, is asked again once only (F13).
- ``JsonArrayItems``: the items of one top-level array member (``{"Report_Entry": [...]}``), each decoded by
  ``loads_exact`` (fractions as ``Decimal``) from its own bytes; a document that ends early raises.
- ``Base64Stream``: incremental base64 (whitespace ignored, strictly validated, like ``b64decode(validate=True)``).
- ``ChunkReader``: an iterator of byte chunks as a binary file (``csv`` through ``io.TextIOWrapper``, lxml
  ``iterparse``), which also tells where a decoding error sits in the whole stream.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
import re
import typing as t
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

import msgspec
import requests

from xlr8_kit.http.classify import Verdict
from xlr8_kit.http.errors import ServerUnavailableError
from xlr8_kit.http.session import (
    CUT_MARK,
    ReportRuns,
    ResilientSession,
    describe_exception,
    is_read_timeout,
    path_of,
    report_name,
)
from xlr8_kit.singer_io import loads_exact

logger = logging.getLogger("xlr8_kit.streaming")

#: Bodies up to this size are read whole before they are judged (error answers, small reports).
PEEK_BYTES = 64 * 1024
#: Bytes per read from the socket.
CHUNK_BYTES = 64 * 1024

#: A transfer that breaks off after the headers arrived.
CUT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    ConnectionResetError,
)


class StreamedBodyError(ServerUnavailableError):
    """A streamed body could not be read to its end (cut too often, or different when asked again)."""


@dataclass
class _Stream:
    """What ``send_streamed`` keeps on a response: the bytes peeked, the rest unread, how to ask again."""

    prefix: bytes
    rest: Iterator[bytes] | None
    reopen: Callable[[], requests.Response]
    session: ResilientSession
    #: A report's failed runs, shared with the session's attempts (None: not a report, cuts bounded by attempts).
    runs: ReportRuns | None = None


def send_streamed(
    session: ResilientSession,
    prepared: requests.PreparedRequest,
    *,
    classify: Callable[[requests.Response], Verdict] | None = None,
    authenticate: t.Any = None,
    allow_redirects: bool = True,
    kind: str = "api",
    judge_unread: Callable[[requests.Response], Verdict] | None = None,
    report: str | None = None,
) -> requests.Response:
    """Send with ``stream=True``; see the module docstring. ``classify`` sees a small body whole; a large 2xx
    body is judged by ``judge_unread`` from its status and headers (default ``ok``: the caller's parser finds a
    document that is an error or ends early). ``report`` names a ``kind="report"`` call's report in errors
    (default: the URL's last path segment)."""
    judge = _classify_streamed(classify or session.classifier.classify, judge_unread)
    runs = ReportRuns(report or report_name(prepared.url or "")) if kind == "report" else None

    def reopen() -> requests.Response:
        response = session.send(
            prepared,
            classify=judge,
            authenticate=authenticate,
            allow_redirects=allow_redirects,
            kind=kind,
            report_runs=runs,
            stream=True,
        )
        stream = response.__dict__.get("_xlr8_stream")
        if isinstance(stream, _Stream):
            stream.reopen = reopen
            stream.session = session
            stream.runs = runs
        return response

    return reopen()


def _classify_streamed(
    classify: Callable[[requests.Response], Verdict], unread: Callable[[requests.Response], Verdict] | None
) -> Callable[[requests.Response], Verdict]:
    def judge(response: requests.Response) -> Verdict:
        try:
            complete = _peek(response)
        except CUT_EXCEPTIONS:
            return "retry"  # cut before the first PEEK_BYTES: nothing handed out yet, ask again
        if complete or not 200 <= response.status_code < 300:
            return classify(response)
        return unread(response) if unread is not None else "ok"

    judge.__self__ = getattr(classify, "__self__", None)  # type: ignore[attr-defined]  # the session's error text
    return judge


def _peek(response: requests.Response) -> bool:
    """Read up to ``PEEK_BYTES`` (all of an error answer); True when that was the whole body."""
    existing = response.__dict__.get("_xlr8_stream")
    if isinstance(existing, _Stream):
        return existing.rest is None
    pieces: list[bytes] = []
    size = 0
    chunks = response.iter_content(CHUNK_BYTES)
    reading_all = not 200 <= response.status_code < 300
    try:
        while reading_all or size < PEEK_BYTES:
            piece = next(chunks, None)
            if piece is None:
                break
            pieces.append(piece)
            size += len(piece)
        else:
            response.__dict__["_xlr8_stream"] = _Stream(b"".join(pieces), chunks, _no_reopen, t.cast("t.Any", None))
            return False
    except CUT_EXCEPTIONS as exc:
        response._content = b""  # a part of a body is no error text: the session retries, saying why
        response.__dict__["_content_consumed"] = True
        response.__dict__[CUT_MARK] = exc
        raise
    response._content = b"".join(pieces)
    response.__dict__["_content_consumed"] = True
    response.__dict__["_xlr8_stream"] = _Stream(response._content, None, _no_reopen, t.cast("t.Any", None))
    return True


def _no_reopen() -> requests.Response:
    raise RuntimeError("response was not sent through send_streamed")


def body_complete(response: requests.Response) -> bool:
    """True when the whole body is already in ``response.content`` (a small answer, or not streamed at all)."""
    stream = response.__dict__.get("_xlr8_stream")
    return not isinstance(stream, _Stream) or stream.rest is None


def _raw_chunks(response: requests.Response) -> Iterator[bytes]:
    stream = response.__dict__.get("_xlr8_stream")
    if not isinstance(stream, _Stream):
        yield response.content
        return
    if stream.prefix:
        yield stream.prefix
    if stream.rest is not None:
        yield from stream.rest


def body_chunks(response: requests.Response, *, what: str) -> Iterator[bytes]:
    """Every byte of the body once, in order (see the module docstring); ``what`` names the document in errors."""
    stream = response.__dict__.get("_xlr8_stream")
    if not isinstance(stream, _Stream) or stream.rest is None:
        if response.content:
            yield response.content
        return
    session = stream.session
    path = path_of(response.url or "")
    delivered = 0
    digest = hashlib.sha256()
    cuts = 0
    current = response
    try:
        while True:
            skip = delivered
            check = hashlib.sha256()
            try:
                for piece in _raw_chunks(current):
                    chunk = piece
                    if skip:
                        head = chunk[:skip]
                        check.update(head)
                        skip -= len(head)
                        chunk = chunk[len(head) :]
                        if skip == 0 and check.digest() != digest.digest():
                            raise StreamedBodyError(
                                f"{session.product}: {what} changed between attempts (its first {delivered} bytes "
                                "differ after a reconnect); rows read so far were emitted, nothing is bookmarked "
                                "past them: run again",
                                path=path,
                            )
                        if not chunk:
                            continue
                    digest.update(chunk)
                    delivered += len(chunk)
                    yield chunk
            except CUT_EXCEPTIONS as exc:
                current.close()
                cuts += 1
                reason = describe_exception(exc)
                if stream.runs is not None:  # a report: each re-send runs it again, so once only (F13)
                    problem = f"broke off after {delivered} bytes: {reason}"
                    stopped = stream.runs.give_up_reason(problem, is_read_timeout(exc), session.policy)
                    if stopped is not None:
                        raise StreamedBodyError(
                            f"{session.product}: {what}: {stopped}; rows read so far were emitted, nothing is "
                            "bookmarked past them",
                            path=path,
                        ) from None
                elif cuts >= session.policy.max_attempts:
                    raise StreamedBodyError(
                        f"{session.product}: {what} broke off after {delivered} bytes ({reason}) {cuts} times; "
                        "rows read so far were emitted, nothing is bookmarked past them: run again",
                        path=path,
                    ) from None
                wait = session.backoff.delay(cuts)
                logger.warning(
                    "%s: %s broke off after %d bytes (%s); asking again in %.1f s and resuming after them%s",
                    session.product, what, delivered, reason, wait,
                    f" (report {stream.runs.report!r} runs once more on the tenant, and not after another failure)"
                    if stream.runs is not None else "",
                )  # fmt: skip
                session.sleep(wait)
                try:
                    current = stream.reopen()
                except StreamedBodyError:
                    raise
                except ServerUnavailableError as again:  # e.g. the report's re-run cut in its first bytes
                    raise StreamedBodyError(
                        f"{session.product}: {what} broke off after {delivered} bytes ({reason}) and asking again "
                        f"failed: {again}; rows read so far were emitted, nothing is bookmarked past them",
                        status=again.status,
                        path=path,
                    ) from None
                if not 200 <= current.status_code < 300:
                    raise StreamedBodyError(
                        f"{session.product}: {what} broke off after {delivered} bytes ({reason}) and asking again "
                        f"answered HTTP {current.status_code}: {session._body_excerpt(current)}; rows read so far "
                        "were emitted, nothing is bookmarked past them: run again",
                        status=current.status_code,
                        path=path,
                    ) from None
                continue
            if skip:
                raise StreamedBodyError(
                    f"{session.product}: {what} is shorter on a second attempt than the {delivered} bytes already "
                    "read; run again",
                    path=path,
                )
            return
    finally:
        current.close()


# --- JSON ------------------------------------------------------------------------------------------------------

_WS = re.compile(rb"[ \t\r\n]*")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
#: Everything up to the next bracket, strings skipped whole (stops before an unterminated string).
_RUN = re.compile(rb'(?:[^"\[\]{}]+|"(?:[^"\\]|\\.)*")*', re.DOTALL)
_SCALAR_END = re.compile(rb"[,\]}\s]")
#: ``loads_exact``'s decoder (fractions as Decimal), for runs of items decoded in one call.
_EXACT = msgspec.json.Decoder(float_hook=Decimal)
#: Bytes ahead that make a batch worth trying.
_BATCH_MIN = 4096


class JsonStreamError(ValueError):
    """The streamed document is not the JSON expected (``truncated`` when it ended early)."""

    def __init__(self, message: str, *, truncated: bool = False) -> None:
        super().__init__(message)
        self.truncated = truncated


class _NeedMore(Exception):
    pass


class JsonArrayItems:
    """Iterate the items of the top-level member ``key`` of a streamed JSON object.

    An array yields its items, an object or scalar yields itself once, ``null`` nothing. Other members are
    skipped (their names kept in ``keys``). After iteration, ``found`` says whether ``key`` was there. A body that
    is not an object, or that ends before its closing brace, raises ``JsonStreamError``."""

    def __init__(self, chunks: Iterable[bytes], key: str, *, decode: Callable[[bytes], t.Any] = loads_exact) -> None:
        self._chunks = iter(chunks)
        self.key = key
        self.decode = decode
        self.keys: list[str] = []
        self.found = False
        self._buf = b""
        self._eof = False

    def _more(self) -> None:
        if self._eof:
            raise JsonStreamError("the JSON document ends early", truncated=True)
        chunk = next(self._chunks, None)
        if chunk is None:
            self._eof = True
        else:
            self._buf += chunk

    def _byte(self, pos: int) -> int:
        """The first non-blank position at or after ``pos`` (reading on as needed)."""
        while True:
            end = _WS.match(self._buf, pos).end()  # type: ignore[union-attr]
            if end < len(self._buf):
                return end
            self._more()

    def _value_end(self, start: int) -> int:
        """The end of the JSON value starting at ``start`` (brackets balanced, strings skipped)."""
        while True:
            buf = self._buf
            first = buf[start : start + 1]
            if first == b'"':
                found = _STRING.match(buf, start)
                if found is not None:
                    return found.end()
            elif first in (b"{", b"["):
                end = self._balanced(start)
                if end is not None:
                    return end
                continue  # _balanced read more
            else:
                found = _SCALAR_END.search(buf, start)
                if found is not None:
                    return found.start()
                if self._eof:
                    return len(buf)
            self._more()

    def _balanced(self, start: int) -> int | None:
        depth = 0
        pos = start
        while True:
            buf = self._buf
            size = len(buf)
            while pos < size:
                char = buf[pos]
                if char in b"{[":
                    depth += 1
                    pos += 1
                elif char in b"}]":
                    depth -= 1
                    pos += 1
                    if depth == 0:
                        return pos
                else:
                    end = _RUN.match(buf, pos).end()  # type: ignore[union-attr]
                    if end == pos:  # an unterminated string: read on
                        break
                    pos = end
            self._more()
            # ``pos`` sits outside any string: resume there with the same depth

    def __iter__(self) -> Iterator[t.Any]:
        for block in self.blocks():
            yield from block

    def blocks(self) -> Iterator[list[t.Any]]:
        """The items as ``__iter__`` gives them, in lists (never empty): the items of the buffer decoded by one C
        call, or a single item. Errors are raised at the same place, after the same items."""
        pos = self._byte(0)
        if self._buf[pos : pos + 1] != b"{":
            raise JsonStreamError("the body is not a JSON object")
        pos = self._byte(pos + 1)
        if self._buf[pos : pos + 1] == b"}":
            yield from self._end(pos + 1)
            return
        while True:
            if self._buf[pos : pos + 1] != b'"':
                raise JsonStreamError(f"expected a member name at byte {pos}")
            end = self._value_end(pos)
            name = loads_exact(self._buf[pos:end])
            pos = self._byte(end)
            if self._buf[pos : pos + 1] != b":":
                raise JsonStreamError(f"expected ':' at byte {pos}")
            pos = self._byte(pos + 1)
            if name == self.key and not self.found:
                self.found = True
                if self._buf[pos : pos + 1] == b"[":
                    pos = yield from self._items(pos + 1)
                else:
                    end = self._value_end(pos)
                    value = self.decode(self._buf[pos:end])
                    if value is not None:
                        yield [value]
                    pos = end
            else:
                self.keys.append(str(name))
                pos = self._value_end(pos)
            pos = self._byte(pos)
            marker = self._buf[pos : pos + 1]
            if marker == b"}":
                yield from self._end(pos + 1)
                return
            if marker != b",":
                raise JsonStreamError(f"expected ',' or '}}' at byte {pos}")
            pos = self._byte(pos + 1)

    def _items(self, pos: int) -> t.Generator[list[t.Any], None, int]:
        """Yield the array's items in lists; returns the position after its ``]``. Consumed bytes are dropped as it
        goes."""
        pos = self._byte(pos)
        if self._buf[pos : pos + 1] == b"]":
            return pos + 1
        decode = self.decode
        batch = decode is loads_exact
        while True:
            got = self._batch(pos) if batch else None
            if got is not None:
                items, end = got
                yield items
            else:
                end = self._value_end(pos)
                yield [decode(self._buf[pos:end])]
            pos = self._byte(end)
            marker = self._buf[pos : pos + 1]
            if marker == b"]":
                return pos + 1
            if marker != b",":
                raise JsonStreamError(f"expected ',' or ']' in the array at byte {pos}")
            pos = self._byte(pos + 1)
            if pos > CHUNK_BYTES:  # drop what was read (positions restart at 0)
                self._buf = self._buf[pos:]
                pos = 0

    def _batch(self, pos: int) -> tuple[list[t.Any], int] | None:
        """The items from ``pos`` up to the last object that ends in the buffer, decoded by one C call.

        The cut is tried right after a ``}``: ``[`` + those bytes + ``]`` is valid JSON only when that brace
        closes an item of this array (a brace inside a string leaves the string open, a nested object's brace
        leaves brackets open), so a successful decode is exactly the items a per-item scan finds. Otherwise (or
        for literals msgspec refuses, like NaN) None, and the item-by-item scan goes on."""
        buf = self._buf
        if len(buf) - pos < _BATCH_MIN:
            return None
        end = len(buf)
        for _ in range(3):
            brace = buf.rfind(b"}", pos, end)
            if brace < 0:
                return None
            try:
                items = _EXACT.decode(b"[" + buf[pos : brace + 1] + b"]")
            except msgspec.DecodeError:
                end = brace
                continue
            return t.cast("list[t.Any]", items), brace + 1
        return None

    def _end(self, pos: int) -> Iterator[t.Any]:
        """Only blanks may follow the closing brace."""
        while True:
            end = _WS.match(self._buf, pos).end()  # type: ignore[union-attr]
            if end < len(self._buf):
                raise JsonStreamError(f"unexpected data after the JSON document at byte {end}")
            if self._eof:
                return
            self._buf, pos = b"", 0
            chunk = next(self._chunks, None)
            if chunk is None:
                self._eof = True
            else:
                self._buf = chunk
        yield  # pragma: no cover - makes this a generator


# --- base64 ----------------------------------------------------------------------------------------------------


class Base64Stream:
    """Decode base64 text fed in pieces; whitespace is ignored, anything else not base64 raises
    ``binascii.Error`` (``validate=True``), as does a total length that is not a multiple of four."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, text: str) -> bytes:
        data = self._pending + "".join(text.split())
        cut = len(data) - len(data) % 4
        self._pending = data[cut:]
        return base64.b64decode(data[:cut], validate=True) if cut else b""

    def close(self) -> None:
        if self._pending:
            raise binascii.Error("base64 text ends with an incomplete group")


# --- file-like -------------------------------------------------------------------------------------------------


class ChunkReader(io.RawIOBase):
    """Byte chunks as a readable binary file; ``offset_of`` maps a decoder's error position to the stream."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self._chunks = iter(chunks)
        self._pending = b""
        self.position = 0  # bytes handed out so far
        self.last_read = (0, 0)  # (stream offset, length) of the last read

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return False
            self._pending = chunk
        return True

    def first_byte(self) -> bytes:
        """The first byte that is not blank, without consuming anything (b"" for an empty or blank stream)."""
        while True:
            stripped = self._pending.lstrip()
            if stripped:
                return stripped[:1]
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._pending += chunk

    def peek(self, size: int) -> bytes:
        """Up to ``size`` bytes ahead (fewer only at the end), without consuming them."""
        while len(self._pending) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._pending += chunk
        return self._pending[:size]

    def read1(self, size: int = -1) -> bytes:
        if not self._fill():
            return b""
        size = len(self._pending) if size is None or size < 0 else size
        out, self._pending = self._pending[:size], self._pending[size:]
        self.last_read = (self.position, len(out))
        self.position += len(out)
        return out

    def readinto(self, buffer: t.Any) -> int:
        out = self.read1(len(buffer))
        buffer[: len(out)] = out
        return len(out)

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = []
            while part := self.read1():
                parts.append(part)
            return b"".join(parts)
        return self.read1(size)

    def offset_of(self, error: UnicodeDecodeError) -> int:
        """Stream offset of a decode error raised on the last read (an incremental decoder's held-back bytes
        count before it)."""
        start, length = self.last_read
        held = max(0, len(error.object) - length)
        return start - held + error.start


__all__ = [
    "CHUNK_BYTES",
    "CUT_EXCEPTIONS",
    "PEEK_BYTES",
    "Base64Stream",
    "ChunkReader",
    "JsonArrayItems",
    "JsonStreamError",
    "StreamedBodyError",
    "body_chunks",
    "body_complete",
    "send_streamed",
]
