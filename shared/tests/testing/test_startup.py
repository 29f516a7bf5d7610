"""The start-up helpers leave the garbage collector as they found it, and a plugin's command freezes once."""

from __future__ import annotations

import gc
import subprocess
import sys

from xlr8_kit.startup import paused_gc


def test_paused_gc_restores_the_collector_state() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # it was off before: left off
    finally:
        gc.enable()


def test_paused_gc_restores_the_collector_when_the_import_fails() -> None:
    try:
        with paused_gc():
            raise ImportError("a tap that does not import")
    except ImportError:
        pass
    assert gc.isenabled()


def test_a_kit_command_freezes_the_start_up_objects_once() -> None:
    """In a fresh process (the freeze is per process): the command's start freezes what exists; a second call
    does not freeze what was created in between."""
    probe = (
        "import gc\n"
        "from xlr8_kit.startup import freeze_start_up_objects\n"
        "assert gc.get_freeze_count() == 0\n"
        "freeze_start_up_objects()\n"
        "first = gc.get_freeze_count()\n"
        "assert first > 0 and gc.isenabled()\n"
        "later = [[i] for i in range(1000)]\n"
        "freeze_start_up_objects()\n"
        "assert gc.get_freeze_count() == first\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)
