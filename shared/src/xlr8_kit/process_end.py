"""A plugin process's end (a tap's, the target's): the interpreter's exit without the teardown nobody reads.

After a tap's command returns, CPython's exit waits for the other threads, runs the ``atexit`` handlers (logging's
shutdown, ``weakref.finalize`` hooks such as the mTLS key directory's removal, coverage in tests), flushes
``sys.stdout`` and ``sys.stderr``, and then tears the interpreter down: every module's namespace cleared and each of
the ~60,000 start-up objects deallocated one by one, ~20-30 ms of CPU in a run of 1-3 s (issue 14 goal 2), for a
process about to end. ``ends_without_teardown`` does the first three steps itself, in that order, then ends the
process with the command's exit code (``os._exit``): the output is the same to the last byte, only the
deallocation is skipped.

It steps aside (the interpreter's own exit, exactly as before) whenever the end is not the plain one: another thread
still running, an exit code that is not a small int (Python prints it), a standard stream that fails to flush
(Python reports it and exits 120), or an exception other than ``SystemExit``. The taps and target-xlr8-truths use
it (the target closes its store at the end of pipe, or in an ``atexit`` handler after a fatal error); the mapper's
sinks still close at the interpreter's teardown.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import typing as t
from collections.abc import Callable

#: The exit codes ``os._exit`` takes (a C int); anything else goes through the interpreter's ``SystemExit``.
_C_INT = range(-(2**31), 2**31)


def _flushed() -> bool:
    """Every standard stream still open flushed, as the interpreter does before its teardown (the originals too, in
    case a command replaced them). False if one failed: the interpreter's exit then reports it as it would."""
    streams = {id(s): s for s in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__) if s is not None}
    for stream in streams.values():
        if getattr(stream, "closed", False):
            continue
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - the interpreter's own exit writes it out and exits 120
            return False
    return True


def ends_without_teardown(command: Callable[[], t.Any]) -> Callable[[], t.Any]:
    """``command`` (a click command in standalone mode, which ends in ``SystemExit``) as a console script's
    ``main``: its end without the interpreter's teardown (module doc)."""

    def main() -> t.Any:
        try:
            code = command()
        except SystemExit as exc:
            code = exc.code
        status = 0 if code is None else code
        if not isinstance(status, int) or status not in _C_INT or threading.active_count() > 1:
            raise SystemExit(code)
        atexit._run_exitfuncs()  # what Py_FinalizeEx runs first; they run once (the interpreter's list is cleared)
        if not _flushed():
            raise SystemExit(code)
        os._exit(status)

    main.__wrapped__ = command  # type: ignore[attr-defined]  # as functools.wraps leaves it (unwrap: the click command)
    return main
