"""A spy on the classifier's body probe (``xlr8_kit.http.classify._PROBE``), for tests that a body read once is not
probed again."""

from __future__ import annotations

import typing as t

import pytest

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
