"""A termination signal handled while the writer writes its held RECORD lines. The tap's handler (the SDK's, under
``KitTap._handle_termination``) writes the STATE so far, which first flushes what is held, and ends the run: the
interrupted flush never resumes. Every record that STATE covers must be in the output before it; the lines were let
go before they were written, so they were lost while the STATE covering them went out."""

from __future__ import annotations

import io
import json
import os
import signal
import typing as t
from contextlib import redirect_stdout

import pytest
from singer_sdk.singerlib import StateMessage

from xlr8_kit.singer_io import KitSingerWriter


class _SignalledAtFlush(io.TextIOWrapper):
    """stdout whose first flush lets a SIGTERM in: the handler runs inside the writer's flush, before its write."""

    armed = True

    def flush(self) -> None:
        if self.armed:
            self.armed = False
            os.kill(os.getpid(), signal.SIGTERM)  # handled as this call returns
        super().flush()


@pytest.mark.parametrize("text", [False, True], ids=["binary buffer", "text only"])
def test_e3_records_held_when_sigterm_arrives_mid_flush_are_written_before_the_state(text: bool) -> None:
    writer = KitSingerWriter()
    emit = writer.record_emitter("s", None)
    stdout = _SignalledAtFlush(io.BytesIO(), encoding="utf-8")
    target: t.Any = stdout
    if text:  # a stdout without a binary buffer (the writer writes text there)
        target = type("TextOnly", (), {"write": stdout.write, "flush": stdout.flush})()

    def handler(signum: int, frame: t.Any) -> None:  # what Tap._handle_termination does, then KitTap's exit
        writer.write_message(StateMessage(value={"bookmarks": {"s": {"i": 2}}}))
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with redirect_stdout(target):
            for i in range(3):
                emit({"i": i}, True)
            with pytest.raises(SystemExit):
                writer.flush()
    finally:
        signal.signal(signal.SIGTERM, previous)
    stdout.flush()
    messages = [json.loads(line) for line in stdout.buffer.getvalue().decode().splitlines()]  # type: ignore[attr-defined]
    assert [m["type"] for m in messages] == ["RECORD", "RECORD", "RECORD", "STATE"]
    assert [m["record"]["i"] for m in messages[:3]] == [0, 1, 2]
