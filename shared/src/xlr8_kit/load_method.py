"""Meltano's standard target setting ``load_method`` for the project's targets.

The SDK gives every target ``load_method`` (``append-only`` by default, ``upsert``, ``overwrite``) and leaves it to
the sinks; our targets each do one thing (they replace a record by its key), so another value would be accepted and
silently land as that one thing: append-only would drop versions the user asked to keep, overwrite would keep rows
the user asked to replace. Each target declares the method it does as the default and refuses the others by name at
start-up, before anything is written or a STATE goes out (audit25e F16).
"""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

#: The SDK's methods (``singer_sdk.helpers.capabilities.TargetLoadMethods``); only the declared one runs.
SDK_LOAD_METHODS = ("append-only", "upsert", "overwrite")
UPSERT = "upsert"


def load_method_property(does: str, description: str) -> th.Property[t.Any]:
    """The ``load_method`` setting with the target's one method as default (the SDK's would be append-only, and
    Meltano passes a plugin definition's default on). ``description`` says what ``does`` means for this target."""
    others = " and ".join(f"'{m}'" for m in SDK_LOAD_METHODS if m != does)
    return th.Property(
        "load_method",
        th.StringType,
        default=does,
        description=f"How records land: '{does}' only ({description}). {others} are refused at start-up.",
    )


def refuse_other_load_methods(config: t.Mapping[str, t.Any], does: str, what: str) -> None:
    """Raise ``ConfigValidationError`` naming the setting when ``config['load_method']`` is not ``does``; ``what``
    says in a few words what the target does instead (so the user knows why it cannot honour the value)."""
    method = config.get("load_method") or does
    if method != does:
        message = (
            f"setting 'load_method' is {str(method)[:40]!r}: this target only does {does!r} ({what}); set "
            f"load_method to {does!r} (Meltano: `meltano config <loader> set load_method {does}`, or `meltano lock "
            "--update <loader>` when the project's lock file is from before 7 Dec 2026 and ships 'append-only')"
        )
        raise ConfigValidationError(message, errors=[message])
