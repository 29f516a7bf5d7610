"""Makes ``truths_testkit`` importable (pytest runs with --import-mode=importlib) and exposes its fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from truths_testkit import config, postgres_dsn, store

__all__ = ["config", "postgres_dsn", "store"]
