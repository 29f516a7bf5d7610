"""Batch files as a killed run leaves them, for the tests of the tap's and the target's clean-up at start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

#: A tap process that writes one complete batch file and starts a second (its ``.partial``), then waits to be killed.
_KILLED_WRITER = """
import sys
from pathlib import Path
from singer_sdk.helpers._batch import BatchConfig
from xlr8_kit.batching import BatchFileWriter, WRITE_BYTES
config = BatchConfig.from_dict({"encoding": {"format": "jsonl", "compression": "none"},
                                "storage": {"root": Path(sys.argv[1]).as_uri()}, "batch_size": 10})
writer = BatchFileWriter("tap-things", "things", config)
writer.write(0, [{"id": 1, "ssn": "123-45-6789"}])
partial = writer.open(1)
partial.add(b'{"id": 2, "ssn": "987-65-4321"}' + b" " * WRITE_BYTES + b"\\n", 1)
print("written", flush=True)
sys.stdin.read()
"""


def killed_run_files(folder: Path) -> list[Path]:
    """The files a tap SIGKILLed mid-run leaves in ``folder`` (run under a shell, as ``meltano run`` or a pipeline
    runs it, that ends once the tap is gone): a complete file its target never loaded and a partial one."""
    before = set(folder.iterdir()) if folder.exists() else set()
    shell = subprocess.Popen(
        ["sh", "-c", '"$0" -c "$1" "$2"; echo ended', sys.executable, _KILLED_WRITER, str(folder)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert shell.stdout is not None
    assert shell.stdout.readline() == "written\n"
    (tap,) = [int(p) for p in Path(f"/proc/{shell.pid}/task/{shell.pid}/children").read_text().split()]
    os.kill(tap, signal.SIGKILL)
    assert shell.stdout.readline() == "ended\n"
    assert shell.wait() == 0
    left = sorted(set(folder.iterdir()) - before)
    assert len(left) == 2, left
    assert any(p.name.endswith(".partial") for p in left), left
    return left
