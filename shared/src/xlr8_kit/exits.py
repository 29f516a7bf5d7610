"""Exit codes and one-line fatal errors for every tap and the target.

A fatal error is one ERROR line naming what to fix (setting, stream or file), already redacted by the logging
filter; its traceback is logged at DEBUG (``<PLUGIN>_LOGLEVEL=debug`` or ``LOGLEVEL=debug`` shows it).

Exit codes:
    0   done (a partial run only when setting ``allow_partial_run`` says so)
    1   failed (bad config, bad input, a source or destination error)
    2   usage error (unknown option, or a --state file that is not valid Singer state; from click)
    75  partial run: the tap stopped early on purpose (the vendor's API quota guard) with its STATE covering exactly
        what was emitted; re-run later to continue. Chosen from sysexits (EX_TEMPFAIL: try again later).
"""

from __future__ import annotations

import logging
import typing as t

import click

EXIT_FAILED = 1
EXIT_PARTIAL_RUN = 75


class PartialRunError(RuntimeError):
    """The run stopped early on purpose with state safe; not a success unless ``allow_partial_run`` is set."""


_PARTIAL_KEY = "xlr8.partial_run"


def note_partial_run(reason: str) -> None:
    """Make the running CLI command exit 75 once it has finished (a no-op outside a CLI run, e.g. in tests that
    call ``sync_all`` directly: they read ``KitTap.partial_reasons``)."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta.setdefault(_PARTIAL_KEY, []).append(reason)


def one_line(exc: BaseException) -> str:
    """The error's message on one line (the exception type when it has none)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def exit_code(exc: BaseException) -> int:
    return EXIT_PARTIAL_RUN if isinstance(exc, PartialRunError) else EXIT_FAILED


def with_one_line_errors(command: click.Command, logger: logging.Logger) -> click.Command:
    """Wrap a Singer command so an uncaught error ends the process with one ERROR line and its exit code."""
    invoke = command.invoke

    def guarded(ctx: click.Context) -> t.Any:
        try:
            result = invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            logger.debug("Traceback of the error below", exc_info=True)
            logger.error("%s", one_line(exc))
            ctx.exit(exit_code(exc))
        reasons = ctx.meta.get(_PARTIAL_KEY)
        if reasons:  # the command finished, every STATE written, but short
            logger.error(
                "partial run: %s. STATE covers every record emitted; re-run to continue, or set "
                "'allow_partial_run' to accept partial runs (exit 0).",
                "; ".join(reasons),
            )
            ctx.exit(EXIT_PARTIAL_RUN)
        return result

    command.invoke = guarded  # type: ignore[method-assign]
    return command
