"""A tap's start-up imports only what every run needs: the query language, key handling (cryptography, PyJWT,
signxml) load when a setting asks for them. Every run pays for its imports before the first record (issue 14:
a 50,000-record run takes 1-3 s, start-up 0.3-0.5 s of it)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Modules a tap with no ``filters`` setting and no key-based auth flow never uses.
LAZY = ("xlr8_kit.query", "jwt", "signxml", "cryptography")


def tap_modules() -> list[str]:
    """The module behind every ``tap-*`` console script (``taps/*/pyproject.toml``)."""
    modules = []
    for project in sorted(ROOT.glob("taps/tap-*/pyproject.toml")):
        scripts = tomllib.loads(project.read_text())["project"]["scripts"]
        modules += [target.split(":")[0] for name, target in scripts.items() if name.startswith("tap-")]
    return modules


@pytest.mark.parametrize("module", tap_modules())
def test_tap_module_imports_no_optional_machinery(module: str) -> None:
    probe = f"import sys, {module}; print(' '.join(m for m in {LAZY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [], f"{module} imports {done.stdout.strip()} at start-up"
