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
import os
from collections.abc import Iterator
from contextlib import contextmanager

_frozen = False


#: numpy's BLAS starts a pool of threads as it is imported, and they spin for a while: ~0.07 s CPU at import and
#: ~0.12 s over a tap's run (UKG Pro employment_details, 100,000 records: 15.3 vs 16.5 µs CPU per record).
#: singer_sdk imports joblib, and joblib imports numpy whenever it is installed (the target needs it for DuckDB's
#: Python functions; a workspace venv has it for every tap). No plugin does linear algebra, so one thread is
#: enough; a value the user set is kept.
_ONE_BLAS_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@contextmanager
def paused_gc() -> Iterator[None]:
    """No collections inside (a console script importing its plugin); the collector's state is restored after.
    Also keeps numpy's BLAS to one thread (``_ONE_BLAS_THREAD``), which must be set before numpy is imported."""
    for name in _ONE_BLAS_THREAD:
        os.environ.setdefault(name, "1")
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
