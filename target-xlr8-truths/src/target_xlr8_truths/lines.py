"""The target's input lines, with a look at the next one when it has already arrived (BATCH messages queued while the
target loads are loaded together, ``TargetXlr8Truths._process_batch_message``); never a wait for the writer."""

from __future__ import annotations

import codecs
import io
import os
import select
import stat
import sys
import typing as t
from collections import deque

#: One read of a pipe: at most this many bytes (a longer line takes several).
_READ = 1 << 16


class InputLines:
    """The lines iterating ``source`` gives, in order, and ``ready()``: the next one when it can be had without
    waiting. Standard input on a pipe is read from its descriptor (a text stream's buffer hides what has arrived from
    ``select``), split at "\\n" and decoded as ``sys.stdin`` decodes (it splits at "\\n" only on POSIX); an
    in-memory or regular file is always ready; any other source is iterated as it is, and never looked ahead in."""

    def __init__(self, source: t.Iterable[str]) -> None:
        self._queue: deque[str] = deque()
        self._source = iter(source)
        self._fd: int | None = None
        self._always = isinstance(source, io.StringIO)
        self._eof = False
        self._bytes = bytearray()
        self._decode: t.Callable[[bytes], str] = str
        fileno = getattr(source, "fileno", None)
        if self._always or fileno is None:
            return
        try:
            fd = int(fileno())
            mode = os.fstat(fd).st_mode
        except (OSError, ValueError, io.UnsupportedOperation):
            return
        if stat.S_ISREG(mode):
            self._always = True
        elif source is sys.__stdin__ and os.name == "posix" and _is_utf8(getattr(source, "encoding", None)):
            errors = str(getattr(source, "errors", None) or "strict")
            self._fd = fd
            self._decode = lambda data: data.decode("utf-8", errors)

    def __iter__(self) -> InputLines:
        return self

    def __next__(self) -> str:
        if self._queue:
            return self._queue.popleft()
        if self._fd is None:
            return next(self._source)
        while not self._queue:
            if self._eof:
                raise StopIteration
            self._read()
        return self._queue.popleft()

    def ready(self) -> str | None:
        """The next line if it has arrived (it stays next), else None: never waits for more input."""
        if not self._queue:
            if self._always:
                try:
                    self._queue.append(next(self._source))
                except StopIteration:
                    return None
            elif self._fd is not None and not self._eof and select.select([self._fd], [], [], 0)[0]:
                self._read()
        return self._queue[0] if self._queue else None

    def take(self) -> str:
        """The line ``ready()`` returned."""
        return self._queue.popleft()

    def _read(self) -> None:
        """One read of the descriptor (it waits only when nothing has arrived); its complete lines queued."""
        assert self._fd is not None
        data = os.read(self._fd, _READ)
        if not data:
            self._eof = True
            if self._bytes:  # a last line without its newline, as the text stream gives it
                self._queue.append(self._decode(bytes(self._bytes)))
                self._bytes.clear()
            return
        self._bytes += data
        end = self._bytes.rfind(b"\n")
        if end < 0:
            return
        text = self._decode(bytes(self._bytes[: end + 1]))
        del self._bytes[: end + 1]
        parts = text.split("\n")
        parts.pop()  # empty: the text ends with a newline
        self._queue.extend(part + "\n" for part in parts)


def _is_utf8(encoding: str | None) -> bool:
    try:
        return encoding is not None and codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False
