"""``xlr8_kit.oracle.stopwatch.Stopwatch.busy``: the reading thread's time on our own machine (CPU time plus the
run-queue delay Linux reports in ``/proc/thread-self/schedstat``), which a keyset read's round trips leave out; the
CPU time alone where the OS does not tell the delay. The read's use of it, over real HTTP:
taps/tap-oracle-hcm/tests/test_slow_bodies.py."""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
import typing as t
from pathlib import Path

import pytest

from xlr8_kit.oracle import stopwatch
from xlr8_kit.oracle.stopwatch import SCHEDSTAT, TASK_SCHEDSTAT, Stopwatch, run_queue_delay

#: Whether this machine tells a thread's run-queue delay (Linux with scheduler statistics).
TOLD = run_queue_delay(TASK_SCHEDSTAT.format(tid=threading.get_native_id())) is not None


def in_a_thread(read: t.Callable[[], t.Any]) -> t.Any:
    """What ``read`` returns, run in a new thread (a reader's, not the process's main thread)."""
    got: list[t.Any] = []
    thread = threading.Thread(target=lambda: got.append(read()))
    thread.start()
    thread.join()
    [result] = got
    return result


def own_delay() -> float:
    """The calling thread's run-queue delay, read apart from the stopwatch, by the thread's id."""
    delay = run_queue_delay(TASK_SCHEDSTAT.format(tid=threading.get_native_id()))
    assert delay is not None
    return delay


def schedstat(tmp_path: Path, text: str) -> str:
    path = tmp_path / "schedstat"
    path.write_text(text)
    return str(path)


def test_the_run_queue_delay_is_the_second_field_in_seconds(tmp_path: Path) -> None:
    assert run_queue_delay(schedstat(tmp_path, "22970402 4500000000 29\n")) == 4.5


@pytest.mark.parametrize("text", ["", "22970402\n", "22970402 n/a 29\n"])
def test_a_schedstat_it_cannot_read_tells_nothing(tmp_path: Path, text: str) -> None:
    assert run_queue_delay(schedstat(tmp_path, text)) is None
    assert run_queue_delay(str(tmp_path / "absent")) is None


def test_busy_is_cpu_time_plus_the_run_queue_delay_or_cpu_time_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the OS's figure: both; without it (another OS, a kernel without scheduler statistics): the CPU time,
    never an error."""
    monkeypatch.setattr(stopwatch.time, "thread_time", lambda: 2.0)
    told = Stopwatch(schedstat(tmp_path, "22970402 4500000000 29\n"))
    assert told.schedstat is not None
    assert told.busy() == 6.5
    untold = Stopwatch(str(tmp_path / "absent"))
    assert untold.schedstat is None
    assert untold.busy() == 2.0


@pytest.mark.skipif(not TOLD, reason="this OS does not tell a thread's run-queue delay")
def test_the_machines_own_figure_is_the_calling_threads() -> None:
    """Where Linux tells it, ``busy`` reads the thread that asks (a reader thread, not the process's main thread):
    the file it reads is that thread's own (review28c L2: ``/proc/self/schedstat``, the main thread's, passed the
    old test), and its reading lies between the thread's CPU time plus run-queue delay read apart (by its id) just
    before and just after."""
    watch = Stopwatch()
    assert watch.schedstat == SCHEDSTAT

    def read() -> tuple[float, float | None, float, str, str]:
        before = time.thread_time() + own_delay()
        busy = watch.busy()
        after = time.thread_time() + own_delay()
        fd = watch._threads.schedstat.fd
        return (
            before,
            busy,
            after,
            os.readlink(f"/proc/self/fd/{fd}"),
            f"/proc/{os.getpid()}/task/{threading.get_native_id()}/schedstat",
        )

    before, busy, after, read_from, own = in_a_thread(read)
    assert read_from == own
    assert busy is not None
    assert before <= busy <= after


@pytest.mark.skipif(not TOLD, reason="this OS does not tell a thread's run-queue delay")
def test_busy_takes_out_what_the_thread_spent_on_our_machine_and_no_more() -> None:
    """A thread that spends 20 ms of CPU between two readings has at least that much busy time between them
    (CPU plus any wait for a CPU), and no more than the wall time between them (review28c L2: nothing showed the
    real ``busy`` takes anything out)."""

    def read() -> tuple[float, float]:
        began = time.monotonic()
        first = watch.busy()
        cpu = time.thread_time()
        while time.thread_time() - cpu < 0.02:
            pass
        last = watch.busy()
        ended = time.monotonic()
        assert first is not None
        assert last is not None
        return last - first, ended - began

    watch = Stopwatch()
    busy, wall = in_a_thread(read)
    assert 0.02 <= busy <= wall + 0.001


def test_a_reading_that_fails_after_the_delay_was_told_tells_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delay read at construction, then not (a malformed file, or no descriptor left for a new thread's):
    ``busy`` is None, not the CPU time alone, whose difference against a reading with the delay would be off by
    all the thread ever waited (review28c L1: -4.1 s, then +4.1 s)."""
    monkeypatch.setattr(stopwatch.time, "thread_time", lambda: 2.0)
    path = schedstat(tmp_path, "22970402 4500000000 29\n")
    watch = Stopwatch(path)
    assert watch.busy() == 6.5
    fresh = Stopwatch(path)
    Path(path).write_text("garbage\n")
    assert watch.busy() is None

    def no_descriptor(*args: t.Any) -> int:
        raise OSError(errno.EMFILE, "Too many open files")

    Path(path).write_text("22970402 4500000000 29\n")
    assert watch.busy() == 6.5
    monkeypatch.setattr(stopwatch.os, "open", no_descriptor)
    assert in_a_thread(fresh.busy) is None


def test_a_thread_opens_its_figure_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each reading is one ``pread`` on the thread's own descriptor, not open/read/close: three GIL releases a
    reading, 26-37 ms beside CPU-bound siblings (review28c L5)."""
    path = schedstat(tmp_path, "22970402 4500000000 29\n")
    watch = Stopwatch(path)
    opened: list[str] = []
    real_open = os.open

    def counted(name: t.Any, *args: t.Any) -> int:
        opened.append(str(name))
        return real_open(name, *args)

    monkeypatch.setattr(stopwatch.os, "open", counted)
    assert in_a_thread(lambda: [watch.busy() for _ in range(3)])[2] is not None
    assert opened == [path]


@pytest.mark.skipif(not TOLD, reason="this OS does not tell a thread's run-queue delay")
def test_without_thread_self_the_figure_is_read_by_the_threads_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Linux before 3.17 (RHEL 7's 3.10) has no ``/proc/thread-self`` but has ``/proc/self/task/<tid>``: the
    stopwatch reads the calling thread's figure there rather than fall back to CPU time alone, and says once which
    figure it reads (review28c L4)."""
    monkeypatch.setattr(stopwatch, "SCHEDSTAT", str(tmp_path / "absent"))
    watch = Stopwatch()
    assert watch.schedstat == TASK_SCHEDSTAT

    def read() -> tuple[float | None, str, str]:
        busy = watch.busy()
        watch.busy()
        fd = watch._threads.schedstat.fd
        return (
            busy,
            os.readlink(f"/proc/self/fd/{fd}"),
            f"/proc/{os.getpid()}/task/{threading.get_native_id()}/schedstat",
        )

    with caplog.at_level(logging.DEBUG, logger=stopwatch.__name__):
        busy, read_from, own = in_a_thread(read)
        watch.busy()
    assert busy is not None
    assert read_from == own
    [told] = [r.getMessage() for r in caplog.records if r.name == stopwatch.__name__]
    assert "run-queue delay (/proc/self/task/{tid}/schedstat)" in told
