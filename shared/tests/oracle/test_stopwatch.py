"""``xlr8_kit.oracle.stopwatch.Stopwatch.busy``: the reading thread's time on our own machine (CPU time plus the
run-queue delay Linux reports in ``/proc/thread-self/schedstat``), which a keyset read's round trips leave out; the
CPU time alone where the OS does not tell the delay. The read's use of it, over real HTTP:
taps/tap-oracle-hcm/tests/test_slow_bodies.py."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from xlr8_kit.oracle import stopwatch
from xlr8_kit.oracle.stopwatch import SCHEDSTAT, Stopwatch, run_queue_delay


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


def test_the_machines_own_figure_is_the_calling_threads() -> None:
    """Where Linux tells it, the stopwatch reads it, in the thread that asks (a reader thread, not the process's
    main thread): its ``busy`` lies between the thread's own CPU time plus run-queue delay read just before and just
    after (both only ever grow)."""
    if run_queue_delay(SCHEDSTAT) is None:
        assert Stopwatch().schedstat is None
        return
    watch = Stopwatch()
    assert watch.schedstat == SCHEDSTAT
    readings: list[tuple[float, float, float]] = []

    def read() -> None:
        before = stopwatch.time.thread_time() + (run_queue_delay() or 0.0)
        busy = watch.busy()
        readings.append((before, busy, stopwatch.time.thread_time() + (run_queue_delay() or 0.0)))

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    [(before, busy, after)] = readings
    assert before <= busy <= after
