"""Exit codes and one-line fatal errors for every tap and the target.

A fatal error is one ERROR line naming what to fix (setting, stream or file), already redacted by the logging
filter; its traceback is logged at DEBUG (``<PLUGIN>_LOGLEVEL=debug`` or ``LOGLEVEL=debug`` shows it).

The exit codes and their meanings are ``EXIT_CODES``; the README tables are rendered from it (``markdown_table``,
written by ``scripts/gen_plugin_docs.py`` and checked by the packaging tests), so the two cannot drift apart.
"""

from __future__ import annotations

import logging
import typing as t

import click
from singer_sdk.exceptions import ConfigValidationError

from xlr8_kit.startup import freeze_start_up_objects

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
#: From sysexits (EX_TEMPFAIL: try again later).
EXIT_PARTIAL_RUN = 75
#: The shell's code for a process ended by SIGTERM (128 + 15); SIGINT gives 130.
EXIT_TERMINATED = 128 + 15

#: Every exit code of a kit CLI (the taps and the target) and what it means, for people and orchestrators.
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "done",
    EXIT_FAILED: "failed: bad config, bad input, a source or destination error; one ERROR line names what to fix "
    "(setting, stream or file), its traceback at DEBUG",
    EXIT_USAGE: "usage error: an unknown option, or an option's file that cannot be used (a `--state` that is not "
    "valid Singer state); from click",
    EXIT_PARTIAL_RUN: "partial run: the tap stopped early on purpose (the vendor's API quota guard) and its STATE "
    "covers exactly what was emitted; run it again later to continue. Setting `allow_partial_run` makes such a run "
    "exit 0 instead",
    EXIT_TERMINATED: "stopped by SIGTERM (130: by SIGINT) before it finished: its last STATE covers only records "
    "written (with BATCH output, only the files its BATCH messages named); run it again to continue",
}

#: The codes only a tap ends with: the target never stops early, and drains and exits 0 on a signal (E3).
TAP_ONLY = frozenset({EXIT_PARTIAL_RUN, EXIT_TERMINATED})


def markdown_table(*, partial_runs: bool = True) -> str:
    """``EXIT_CODES`` as a Markdown table; without ``partial_runs`` (a plugin that never stops early, such as the
    target) the ``TAP_ONLY`` rows are left out."""
    rows = [(code, text) for code, text in EXIT_CODES.items() if partial_runs or code not in TAP_ONLY]
    return "\n".join(["| exit | meaning |", "|---|---|", *(f"| {code} | {text}. |" for code, text in rows)])


def handles_exits(command: click.Command) -> bool:
    """Whether a plugin's CLI command ends through ``with_one_line_errors`` (so ``EXIT_CODES`` describe it)."""
    return getattr(command.invoke, "__module__", None) == __name__


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
        freeze_start_up_objects()
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

    make_context = command.make_context

    def guarded_options(info_name: str | None, args: list[str], parent: click.Context | None = None,
                        **extra: t.Any) -> click.Context:  # fmt: skip
        """``--discover``, ``--about`` and ``--test`` run in eager option callbacks while the arguments are parsed,
        before ``invoke``: their errors end the same way (one ERROR line, audit23b #8), not in a traceback."""
        try:
            return make_context(info_name, args, parent=parent, **extra)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            logger.debug("Traceback of the error below", exc_info=True)
            logger.error("%s", one_line(exc))
            raise click.exceptions.Exit(exit_code(exc)) from None

    callback = command.callback
    if callback is not None:

        def named(*args: t.Any, **kwargs: t.Any) -> t.Any:
            """The SDK's CLI logs a ``ConfigValidationError``'s ``errors`` and then only "Config validation failed":
            one raised with a message alone (a plugin's own check of its settings) said nothing of what to fix."""
            try:
                return callback(*args, **kwargs)
            except ConfigValidationError as exc:
                if not exc.errors:
                    exc.errors = [one_line(exc)]
                raise

        command.callback = named
    command.invoke = guarded  # type: ignore[method-assign]
    command.make_context = guarded_options  # type: ignore[method-assign]
    return command
