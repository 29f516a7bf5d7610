"""``Stopwatch.blocks()`` on the machine's own counters (review29c L1: every other test scripts it, so a ``blocks``
that always said "never slept", or counted the whole process's sleeps, passed them all). Run in a child interpreter
whose only other thread is the one the check starts: in the test process an emulator's or xdist's thread holding the
GIL when a read gives it back would make the read sleep for the GIL, a dependence on what else runs. No sleeps or
timeouts decide anything: the second part is sent, by a forked writer, only once the reader is seen asleep (``/proc``
state ``S``)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from xlr8_kit.oracle.stopwatch import RUSAGE_THREAD

#: Sleeps of the sleeper thread while the main thread only waits for it to end.
NAPS = 50

CHILD = r"""
import json, os, socket, threading, time
from xlr8_kit.oracle.stopwatch import Stopwatch

watch = Stopwatch()
ours, theirs = socket.socketpair()

# 1. Data already there: the read never sleeps (the only thread, so no wait for the GIL either).
theirs.sendall(b"x" * 1000)
before = watch.blocks()
assert ours.recv(1000, socket.MSG_WAITALL) == b"x" * 1000
all_there = watch.blocks() - before

# 2. Data sent only once this thread sleeps in its read: the read waited for the wire. The writer is a forked
# process, started before the window opens: a thread started inside it made the read's count move on its own
# (``Thread.start`` waits for the new thread, and the two then share the GIL), so a read of data already there
# passed too (review29h L1). This interpreter has no other thread, so the only sleep it can enter between the two
# readings is ``recv``'s, and the writer sends only once it sees this thread asleep (state ``S``).
main = threading.get_native_id()
writer = os.fork()
if writer == 0:  # the writer: wait for the reader to sleep, then send
    try:
        while True:
            with open(f"/proc/{os.getppid()}/task/{main}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "S":
                    break
        theirs.sendall(b"y" * 1000)
    finally:
        os._exit(0)
there = watch.blocks()
assert ours.recv(1000, socket.MSG_WAITALL) == b"y" * 1000
waited = watch.blocks() - there
assert os.waitpid(writer, 0)[1] == 0

# 3. Another thread's sleeps are its own: the main thread, only waiting for it, does not count them.
slept = []

def sleeper() -> None:
    start = watch.blocks()
    for _ in range(NAPS):
        time.sleep(0.001)
    slept.append(watch.blocks() - start)

mark = watch.blocks()
thread = threading.Thread(target=sleeper)
thread.start()
thread.join()
print(json.dumps({"all_there": all_there, "waited": waited, "slept": slept[0], "joined": watch.blocks() - mark}))
"""


@pytest.mark.skipif(RUSAGE_THREAD is None, reason="the OS does not tell a thread's sleeps (not Linux)")
def test_blocks_tells_a_read_of_data_there_from_one_that_waits_and_counts_only_its_thread() -> None:
    child = subprocess.run(
        [sys.executable, "-c", f"NAPS = {NAPS}\n{CHILD}"], capture_output=True, text=True, timeout=120, check=False
    )
    assert child.returncode == 0, child.stderr
    counts = json.loads(child.stdout)
    assert counts["all_there"] == 0, counts  # a body all there: the tap's cost
    assert counts["waited"] >= 1, counts  # a body that came over the wire: the thread slept for it
    assert counts["slept"] >= NAPS, counts  # each nap is a sleep of the sleeper
    assert counts["joined"] < NAPS, counts  # ...and not of the main thread (RUSAGE_SELF would count them all)
