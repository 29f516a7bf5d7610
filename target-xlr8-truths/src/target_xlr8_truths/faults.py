"""Test seams for SIGKILL scenarios: off unless their environment variable is set.

``XLR8_TRUTHS_HOLD_BEFORE_COMMIT=<marker path>:<n>`` makes the n-th batch transaction create the marker file and
wait (uncommitted) so a test can kill the process at exactly that point (E2). ``XLR8_TRUTHS_HOLD_IN_SPOOL`` does the
same while the n-th batch's spool file exists (spool residue after SIGKILL), ``XLR8_TRUTHS_HOLD_AT_CHECKPOINT`` at the
n-th checkpoint the DuckDB store issues by rows (``DuckDBStore.checkpoint_if_due``).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

ENV = "XLR8_TRUTHS_HOLD_BEFORE_COMMIT"
SPOOL_ENV = "XLR8_TRUTHS_HOLD_IN_SPOOL"
CHECKPOINT_ENV = "XLR8_TRUTHS_HOLD_AT_CHECKPOINT"
_reached: Counter[str] = Counter()


def hold(env: str) -> None:
    spec = os.environ.get(env)
    if not spec:
        return
    _reached[env] += 1
    marker, _, nth = spec.rpartition(":")
    if _reached[env] != int(nth):
        return
    Path(marker).write_text(str(os.getpid()))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.05)


def hold_before_commit() -> None:
    hold(ENV)
