"""Where a keyset read's timing verdicts take their times from: one object, so a test can decide them.

The read judges by time whether its pages come back slowly against what they cost the tap: one cursor or ranges
(``ranges.latency_shows``), how many requests in flight (``ranges.latency_width``), how many pages ahead and whether
a free reader may split a range (``ranges.Growth``). Every reading they take comes from the stream's ``Stopwatch``
(``FusionStream.stopwatch``): the machine's clocks in a run, a test's own in a test, so its verdicts follow what the
test says and not how loaded the machine is (``xlr8_kit.oracle.testing.ScriptedStopwatch``)."""

from __future__ import annotations

import time
import typing as t

if t.TYPE_CHECKING:
    import requests


class Stopwatch:
    """The machine's clocks: ``now`` is ``time.monotonic``; a response's round trip is requests' ``elapsed`` (sent
    to its headers read)."""

    def now(self) -> float:
        """Seconds from any origin (differences only)."""
        return time.monotonic()

    def round_trip(self, response: requests.Response) -> float:
        """Seconds from the request sent to its answer's headers read."""
        return response.elapsed.total_seconds()


#: The stopwatch of every read (``FusionStream.stopwatch``).
WALL = Stopwatch()
