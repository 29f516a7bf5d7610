"""Entry point for ``dagster dev -m xlr8_orchestration.repository`` (or a code location): the definitions built
from ``XLR8_ORCHESTRATION_CONFIG`` (default ``orchestration.toml`` in the working directory)."""

from __future__ import annotations

import os

from xlr8_orchestration.definitions import build_definitions
from xlr8_orchestration.settings import load_settings

defs = build_definitions(load_settings(os.environ.get("XLR8_ORCHESTRATION_CONFIG", "orchestration.toml")))
