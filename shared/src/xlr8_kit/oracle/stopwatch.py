"""Where a keyset read's timing verdicts take their times from: one object, so a test can decide them.

The read judges by time whether its pages come back slowly against what they cost the tap: one cursor or ranges
(``ranges.latency_shows``), how many requests in flight (``ranges.latency_width``), how many pages ahead and whether
a free reader may split a range (``ranges.Growth``). Every reading they take comes from the stream's ``Stopwatch``
(``FusionStream.stopwatch``): the machine's clocks in a run, a test's own in a test, so its verdicts follow what the
test says and not how loaded the machine is (``xlr8_kit.oracle.testing.ScriptedStopwatch``)."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import typing as t

if t.TYPE_CHECKING:
    import requests

try:  # Linux: a thread's own counts (voluntary context switches); absent elsewhere
    import resource

    RUSAGE_THREAD: int | None = resource.RUSAGE_THREAD
except (ImportError, AttributeError):  # pragma: no cover - not Linux
    RUSAGE_THREAD = None

LOG = logging.getLogger(__name__)

#: Linux's scheduler statistics of the calling thread: time on a CPU, time runnable waiting for one (run-queue
#: delay), timeslices; nanoseconds. Absent elsewhere (or without ``CONFIG_SCHED_INFO``): ``busy`` is CPU time alone.
SCHEDSTAT = "/proc/thread-self/schedstat"
#: The same file where ``/proc/thread-self`` is missing (Linux before 3.17, e.g. RHEL 7's 3.10), by the thread's id.
TASK_SCHEDSTAT = "/proc/self/task/{tid}/schedstat"


def run_queue_delay(path: str = SCHEDSTAT) -> float | None:
    """Seconds the calling thread has waited runnable for a CPU since it started (the second field of ``path``),
    or None where the OS does not tell it. Accounted when the thread gets a CPU, so read by the thread itself (it
    is running) it holds every wait before this reading."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return _delay(fd)
    finally:
        os.close(fd)


def _delay(fd: int) -> float | None:
    try:
        return int(os.pread(fd, 128, 0).split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


class _Schedstat:
    """One thread's schedstat, open while the thread lives: a reading is one ``pread`` (one syscall, the GIL
    released once; open/read/close released it three times, up to 26-37 ms a reading beside CPU-bound siblings,
    review28c L5). Closed when the thread ends (its ``threading.local`` goes)."""

    fd: int | None = None  # until opened (an open that failed leaves nothing to close)

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDONLY)

    def delay(self) -> float | None:
        return _delay(self.fd) if self.fd is not None else None

    def __del__(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            with contextlib.suppress(OSError, TypeError):  # at interpreter exit ``os`` may be half torn down
                os.close(fd)


def _found_schedstat() -> str | None:
    for path in (SCHEDSTAT, TASK_SCHEDSTAT):
        if run_queue_delay(path.format(tid=threading.get_native_id())) is not None:
            return path
    return None


class Stopwatch:
    """The machine's clocks: ``now`` is ``time.monotonic``; a response's round trip is requests' ``elapsed`` (sent
    to its headers read); ``busy`` the calling thread's CPU time and run-queue delay; ``blocks`` how often it
    slept (waiting for something: the wire, a lock)."""

    def __init__(self, schedstat: str | None = None) -> None:
        #: The file ``busy`` reads the run-queue delay from (``{tid}``: the calling thread's id), or None: CPU alone.
        self.schedstat: str | None = (
            _found_schedstat() if schedstat is None else schedstat if run_queue_delay(schedstat) is not None else None
        )
        self._threads = threading.local()
        self._told = False

    def now(self) -> float:
        """Seconds from any origin (differences only)."""
        return time.monotonic()

    def round_trip(self, response: requests.Response) -> float:
        """Seconds from the request sent to its answer's headers read."""
        return response.elapsed.total_seconds()

    def busy(self) -> float | None:
        """Seconds the calling thread was on a CPU or runnable waiting for one (differences only): time a read
        spent on our own machine, not waiting for the tenant. On a loaded machine a starved thread reads a body
        that is all there in tens of ms, all of it CPU and run queue; counted as round trip, it looked like a far
        tenant at 0 ms (ora27, review27d M1). Where the OS does not tell the run-queue delay, the CPU time alone.
        None when the delay, told before, could not be read this time (no descriptor left, say): a difference
        against a reading with it would be off by all the thread ever waited (review28c L1), so the caller takes
        nothing out. (Waiting for the GIL is neither: a thread blocked on it sleeps, so it still counts as round
        trip.)"""
        if not self._told:
            self._told = True
            LOG.debug(
                "keyset reads leave out of their round trips the reading thread's CPU time%s",
                f" and run-queue delay ({self.schedstat})" if self.schedstat else " (no run-queue delay on this OS)",
            )
        if self.schedstat is None:
            return time.thread_time()
        mine: _Schedstat | None = getattr(self._threads, "schedstat", None)
        if mine is None:
            try:
                mine = _Schedstat(self.schedstat.format(tid=threading.get_native_id()))
            except OSError:
                return None
            self._threads.schedstat = mine
        queued = mine.delay()
        return None if queued is None else time.thread_time() + queued

    def blocks(self) -> int | None:
        """How many times the calling thread has slept so far (Linux's voluntary context switches: waiting for the
        socket, a lock, the GIL), or None where the OS does not tell it. A body read in which it never slept was
        all there: its time on our machine is the tap's cost; one in which it slept came over the wire while the
        thread also waited for a CPU, and those waits overlap the wire (review28c M1)."""
        if RUSAGE_THREAD is None:  # pragma: no cover - not Linux
            return None
        return resource.getrusage(RUSAGE_THREAD).ru_nvcsw


#: The stopwatch of every read (``FusionStream.stopwatch``).
WALL = Stopwatch()
