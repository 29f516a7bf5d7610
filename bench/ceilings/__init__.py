"""Ceiling readers: per product, the least code that reads one stream from the emulator (the practical ceiling).

A tap engineer adds ``bench/ceilings/<product>.py`` (``<product>`` is the emulator registry id) defining:

- ``TAP: str``: the tap's executable, e.g. ``"tap-salesforce"``.
- ``tap_config(url: str, credentials: dict[str, str], stream: str) -> dict``: the tap's config against the
  emulator at ``url`` (credentials are the emulator's ``test_credentials()``).
- ``read(url: str, credentials: dict[str, str], stream: str) -> Iterator[dict]``: the same records the tap
  would emit for ``stream``, read with plain ``requests`` and nothing else (no SDK, no retries, no validation).
- optional ``STREAMS: dict[str, str]``: friendly names to the tap's stream ids (``{"accounts": "Account"}``).

The harness (``bench/run.py``) imports the module by product id, runs ``read`` in a child process so its wall
time and peak memory are measured the same way as the tap's.
"""

from __future__ import annotations

import importlib
from types import ModuleType

REQUIRED = ("TAP", "tap_config", "read")


def load(product: str) -> ModuleType:
    try:
        module = importlib.import_module(f"ceilings.{product}")
    except ModuleNotFoundError as exc:
        raise SystemExit(f"no ceiling reader for product {product!r}: add bench/ceilings/{product}.py") from exc
    missing = [name for name in REQUIRED if not hasattr(module, name)]
    if missing:
        raise SystemExit(f"bench/ceilings/{product}.py lacks {', '.join(missing)} (see bench/ceilings/__init__.py)")
    return module


def resolve_stream(module: ModuleType, stream: str) -> str:
    aliases: dict[str, str] = getattr(module, "STREAMS", {})
    return aliases.get(stream, aliases.get(stream.lower(), stream))
