"""Test seam for E2 (SIGKILL inside the batch transaction): off unless the environment variable is set.

``XLR8_TRUTHS_HOLD_BEFORE_COMMIT=<marker path>:<n>`` makes the n-th batch transaction create the marker file and
wait (uncommitted) so a test can kill the process at exactly that point.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ENV = "XLR8_TRUTHS_HOLD_BEFORE_COMMIT"
_commits = 0


def hold_before_commit() -> None:
    global _commits
    spec = os.environ.get(ENV)
    if not spec:
        return
    _commits += 1
    marker, _, nth = spec.rpartition(":")
    if _commits != int(nth):
        return
    Path(marker).write_text(str(os.getpid()))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.05)
