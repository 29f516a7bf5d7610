"""A tap's start-up imports only what every run needs: the query language, key handling (cryptography, PyJWT,
signxml) load when a setting asks for them. Every run pays for its imports before the first record (issue 14:
a 50,000-record run takes 1-3 s, start-up 0.3-0.5 s of it)."""

from __future__ import annotations

import importlib.util
import os
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


def plugin_scripts() -> list[str]:
    """The module behind every plugin's console script: the taps' and the target's."""
    target = tomllib.loads((ROOT / "target-xlr8-truths/pyproject.toml").read_text())["project"]["scripts"]
    return [*tap_modules(), target["target-xlr8-truths"].split(":")[0]]


@pytest.mark.parametrize("module", plugin_scripts())
def test_plugin_command_keeps_numpys_blas_to_one_thread(module: str) -> None:
    # joblib (through singer_sdk) imports numpy when it is installed; its BLAS pool of spinning threads cost a tap
    # ~0.12 s of CPU per run. The variable must be set before numpy loads, so the script module sets it.
    probe = (
        f"import os, sys, {module}; "
        "print('numpy' in sys.modules, os.environ['OPENBLAS_NUM_THREADS'], os.environ['OMP_NUM_THREADS'])"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    numpy_loaded, blas, omp = done.stdout.split()
    # The workspace installs numpy (the target's dependency), so the variable was set before it loaded.
    assert numpy_loaded == str(importlib.util.find_spec("numpy") is not None)
    assert (blas, omp) == ("1", "1"), f"{module}: BLAS threads {blas}, OpenMP threads {omp}"
    kept = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={**env, "OPENBLAS_NUM_THREADS": "3"},
    )
    assert kept.stdout.split()[1] == "3", "a value the user set is kept"
