"""A tap's end without the interpreter's teardown loses nothing: every line written (stdout block-buffered into a
pipe), the ``atexit`` handlers (logging's shutdown flushing a log file), the exit code; and where the end is not the
plain one, the interpreter's own exit runs as before (its teardown is seen: an object's ``__del__`` runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

#: A console script whose command writes 20,000 lines (more than any stdout buffer holds), logs to a file, registers
#: an ``atexit`` line, and ends as ``END`` says. ``__del__`` of a module-level object marks the teardown.
SCRIPT = """
import atexit, logging, sys, threading, time
from xlr8_kit.process_end import ends_without_teardown

class Teardown:
    def __del__(self):
        sys.stderr.write("TEARDOWN\\n")

marker = Teardown()
log = logging.getLogger("tap-x")
log.addHandler(logging.FileHandler(sys.argv[1]))
log.setLevel(logging.INFO)

def command():
    for i in range(20000):
        print(f'{{"type":"RECORD","stream":"s","record":{{"i":{i}}}}}')
    log.info("last log line")
    atexit.register(lambda: print('{"type":"STATE","value":{"from":"atexit"}}'))
    END

main = ends_without_teardown(command)
main()
"""


#: stdout block-buffered into its pipe, as a tap's is under Meltano (the test's own shell may set it unbuffered).
BUFFERED = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def _run(end: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = SCRIPT.replace("END", end)
    log = tmp_path / "tap.log"
    return subprocess.run(
        [sys.executable, "-c", script, str(log)], capture_output=True, text=True, timeout=60, check=False, env=BUFFERED
    )


@pytest.mark.parametrize(
    ("end", "code", "torn_down"),
    [
        ("sys.exit(0)", 0, False),  # click's standalone end of a run
        ("return None", 0, False),
        ("sys.exit(75)", 75, False),  # a partial run
        ("sys.exit(1)", 1, False),
        ("sys.exit('fatal: message')", 1, True),  # not an int: Python prints it
        ("threading.Thread(target=time.sleep, args=(0.3,)).start(); sys.exit(0)", 0, True),  # a thread to wait for
    ],
)
def test_every_line_and_atexit_handler_and_the_exit_code(end: str, code: int, torn_down: bool, tmp_path: Path) -> None:
    done = _run(end, tmp_path)
    lines = done.stdout.splitlines()
    assert done.returncode == code, done.stderr[-2000:]
    assert len(lines) == 20001
    assert lines[:3] == [f'{{"type":"RECORD","stream":"s","record":{{"i":{i}}}}}' for i in range(3)]
    assert lines[-2:] == [
        '{"type":"RECORD","stream":"s","record":{"i":19999}}',
        '{"type":"STATE","value":{"from":"atexit"}}',
    ]
    assert (tmp_path / "tap.log").read_text() == "last log line\n"
    assert ("TEARDOWN" in done.stderr) is torn_down  # the fast end skips only the teardown
    if end.startswith("sys.exit('"):
        assert done.stderr.startswith("fatal: message")


def test_a_stdout_that_fails_to_flush_ends_as_the_interpreter_ends_it(tmp_path: Path) -> None:
    """The reader went away (a closed pipe): the interpreter reports the failed flush and exits 120, as before."""
    script = SCRIPT.replace("END", "sys.exit(0)")
    with subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "tap.log")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=BUFFERED,
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith('{"type":"RECORD"')
        proc.stdout.close()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode in (1, 120), err[-2000:]  # 1: the print itself hit the closed pipe
    assert "BrokenPipeError" in err
