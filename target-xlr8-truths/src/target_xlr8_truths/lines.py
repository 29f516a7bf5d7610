"""The target's input lines, with a look at the next one when it has already arrived (BATCH messages queued while the
target loads are loaded together, ``TargetXlr8Truths._process_batch_message``); never a wait for the writer."""

from __future__ import annotations

import codecs
import io
import os
import stat
import sys
import typing as t
from collections import deque


class InputLines:
    """The lines iterating ``source`` gives, in order, and ``ready()``: the next one when it can be had without
    waiting. Standard input on a pipe is read through its byte buffer (a text stream's own buffer hides what has
    arrived), split at "\\n" and decoded as ``sys.stdin`` decodes (it splits at "\\n" only on POSIX); an in-memory
    or regular file is always ready; any other source is iterated as it is, and never looked ahead in."""

    def __init__(self, source: t.Iterable[str]) -> None:
        self._queue: deque[str] = deque()
        self._source: t.Iterable[str] = source
        self._buffer: t.Any = None  # a pipe's io.BufferedReader
        self._errors = "strict"
        self._always = isinstance(source, io.StringIO)
        fileno = getattr(source, "fileno", None)
        if self._always or fileno is None:
            return
        try:
            mode = os.fstat(int(fileno())).st_mode
        except (OSError, ValueError, io.UnsupportedOperation):
            return
        if stat.S_ISREG(mode):
            self._always = True
        elif (
            source is sys.__stdin__
            and os.name == "posix"
            and _is_utf8(getattr(source, "encoding", None))
            and isinstance(getattr(source, "buffer", None), io.BufferedReader)
        ):
            self._buffer = source.buffer  # nothing read from the text stream yet: its buffer is empty
            self._errors = str(getattr(source, "errors", None) or "strict")

    def __iter__(self) -> t.Iterator[str]:
        """The lines in order (a generator: the record path reads millions of them)."""
        queue = self._queue
        popleft = queue.popleft
        if self._buffer is not None:
            errors = self._errors
            for raw in self._buffer:
                while queue:  # lines ``ready()`` read ahead come first
                    yield popleft()
                yield raw.decode("utf-8", errors)
        else:
            for line in self._source:
                while queue:
                    yield popleft()
                yield line
        while queue:
            yield popleft()

    def ready(self) -> str | None:
        """The next line if it has arrived (it stays next), else None: never waits for more input."""
        if not self._queue:
            if self._always:
                line = next(iter(self._source), None)
                if line is not None:
                    self._queue.append(line)
            elif self._buffer is not None and b"\n" in self._arrived():
                self._queue.append(self._buffer.readline().decode("utf-8", self._errors))
        return self._queue[0] if self._queue else None

    def take(self) -> str:
        """The line ``ready()`` returned."""
        return self._queue.popleft()

    def _arrived(self) -> bytes:
        """What the pipe's buffer holds, or when it is empty what one read that does not wait gives (the descriptor
        is non-blocking for that read only). A buffered partial line is not completed: no group that time."""
        fd = self._buffer.fileno()
        os.set_blocking(fd, False)
        try:
            return bytes(self._buffer.peek(1))
        except BlockingIOError:
            return b""
        finally:
            os.set_blocking(fd, True)


def _is_utf8(encoding: str | None) -> bool:
    try:
        return encoding is not None and codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False
