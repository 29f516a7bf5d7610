"""A plugin process's start-up: its imports and what the garbage collector does with them.

A tap or target imports ~600 modules (singer_sdk, requests, jsonschema, the kit) before its first record: ~0.3 s
of CPU in a run of 1-3 s. Two things about the garbage collector cost a share of that, and neither changes what
the process does:

- while the modules import, the collector runs dozens of times over a heap that only grows (25-40 ms);
- at exit, the interpreter's final collections walk every one of those objects again (60-70 ms).

``paused_gc()`` wraps a console script's import of its plugin class; ``freeze_start_up_objects()`` runs when the
command starts (``xlr8_kit.exits``) and moves everything alive then into the collector's permanent generation
(``gc.freeze``): modules, classes and functions that live until the process ends anyway. The cyclic garbage the
paused imports left (about 1 MB) is frozen with them.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_frozen = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """No collections inside (a console script importing its plugin); the collector's state is restored after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def freeze_start_up_objects() -> None:
    """Once per process, as a command starts: ``gc.freeze()`` what the imports built (see the module doc). Later
    calls (a test running several commands in one process) do nothing."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()
