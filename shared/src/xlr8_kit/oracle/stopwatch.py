"""Where a keyset read's timing verdicts take their times from: one object, so a test can decide them.

The read judges by time whether its pages come back slowly against what they cost the tap: one cursor or ranges
(``ranges.latency_shows``), how many requests in flight (``ranges.latency_width``), how many pages ahead and whether
a free reader may split a range (``ranges.Growth``). Every reading they take comes from the stream's ``Stopwatch``
(``FusionStream.stopwatch``): the machine's clocks in a run, a test's own in a test, so its verdicts follow what the
test says and not how loaded the machine is (``xlr8_kit.oracle.testing.ScriptedStopwatch``)."""

from __future__ import annotations

import os
import time
import typing as t

if t.TYPE_CHECKING:
    import requests

#: Linux's scheduler statistics of the calling thread: time on a CPU, time runnable waiting for one (run-queue
#: delay), timeslices; nanoseconds. Absent elsewhere (or without ``CONFIG_SCHED_INFO``): ``busy`` is CPU time alone.
SCHEDSTAT = "/proc/thread-self/schedstat"


def run_queue_delay(path: str = SCHEDSTAT) -> float | None:
    """Seconds the calling thread has waited runnable for a CPU since it started (the second field of ``path``),
    or None where the OS does not tell it. Accounted when the thread gets a CPU, so read by the thread itself (it
    is running) it holds every wait before this reading."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fields = os.read(fd, 128).split()
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        return int(fields[1]) / 1e9
    except (IndexError, ValueError):
        return None


class Stopwatch:
    """The machine's clocks: ``now`` is ``time.monotonic``; a response's round trip is requests' ``elapsed`` (sent
    to its headers read); ``busy`` the calling thread's CPU time and run-queue delay."""

    def __init__(self, schedstat: str = SCHEDSTAT) -> None:
        self.schedstat: str | None = schedstat if run_queue_delay(schedstat) is not None else None

    def now(self) -> float:
        """Seconds from any origin (differences only)."""
        return time.monotonic()

    def round_trip(self, response: requests.Response) -> float:
        """Seconds from the request sent to its answer's headers read."""
        return response.elapsed.total_seconds()

    def busy(self) -> float:
        """Seconds the calling thread was on a CPU or runnable waiting for one (differences only): time a read
        spent on our own machine, not waiting for the tenant. On a loaded machine a starved thread reads a body
        that is all there in tens of ms, all of it CPU and run queue; counted as round trip, it looked like a far
        tenant at 0 ms (ora27, review27d M1). Where the OS does not tell the run-queue delay, the CPU time alone.
        (Waiting for the GIL is neither: a thread blocked on it sleeps, so it still counts as round trip.)"""
        queued = run_queue_delay(self.schedstat) if self.schedstat is not None else None
        return time.thread_time() + (queued or 0.0)


#: The stopwatch of every read (``FusionStream.stopwatch``).
WALL = Stopwatch()
