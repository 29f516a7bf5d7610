"""Spies on the readers of a response body: the classifier's body probe (``xlr8_kit.http.classify._PROBE``), for
tests that a body read once is not probed again, and every JSON reader a body can go through (``spy_body_reads``),
for tests that a page is parsed exactly once."""

from __future__ import annotations

import json
import typing as t

import pytest
import requests

from xlr8_kit.http import classify


def spy_probes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The bodies the classifier's probe reads from now on (the probe still answers as before)."""
    seen: list[bytes] = []
    real = classify._PROBE

    class _Spy:
        def decode(self, content: bytes) -> t.Any:
            seen.append(content)
            return real.decode(content)

    monkeypatch.setattr(classify, "_PROBE", _Spy())
    return seen


class BodyReads:
    """How many times each body was read whole, by object (a response's ``content`` is one ``bytes`` object for the
    response's life; each is kept here, so an id is never reused within a test)."""

    def __init__(self) -> None:
        self._reads: dict[int, tuple[t.Any, list[int]]] = {}

    def add(self, content: t.Any) -> None:
        if isinstance(content, bytes | bytearray | memoryview):
            self._reads.setdefault(id(content), (content, [0]))[1][0] += 1

    def counts(self) -> list[int]:
        """Per body read, the number of reads, in the order bodies were first read."""
        return [count[0] for _, count in self._reads.values()]

    def bodies(self, times: int) -> list[bytes]:
        """The bodies read exactly ``times`` times."""
        return [bytes(content) for content, count in self._reads.values() if count[0] == times]


def spy_body_reads(monkeypatch: pytest.MonkeyPatch) -> BodyReads:
    """Every whole read of a body from now on, by each JSON reader the kit and ``requests`` have: the classifier's
    decoder, probe and member decoders, ``json.loads`` of bytes, and ``Response.json``. The readers still answer as
    before."""
    reads = BodyReads()

    class _Spy:
        def __init__(self, real: t.Any) -> None:
            self.real = real

        def decode(self, content: bytes) -> t.Any:
            reads.add(content)
            return self.real.decode(content)

    real_members = classify._members_decoder
    real_loads = json.loads
    real_json = requests.Response.json

    def loads(text: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        reads.add(text)
        return real_loads(text, *args, **kwargs)

    def response_json(response: requests.Response, **kwargs: t.Any) -> t.Any:
        reads.add(response.content)  # it parses the body's text: ``loads`` above sees a str and counts nothing
        return real_json(response, **kwargs)

    monkeypatch.setattr(classify, "_DECODER", _Spy(classify._DECODER))
    monkeypatch.setattr(classify, "_PROBE", _Spy(classify._PROBE))
    monkeypatch.setattr(classify, "_members_decoder", lambda keys: _Spy(real_members(keys)))
    monkeypatch.setattr(json, "loads", loads)
    monkeypatch.setattr(requests.Response, "json", response_json)
    return reads
