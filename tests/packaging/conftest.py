"""Shared by the packaging tests: the plugin docs generator (scripts/gen_plugin_docs.py) and each plugin's
``--about`` output, run once per session."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import tomllib
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@cache
def gen_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_plugin_docs", ROOT / "scripts" / "gen_plugin_docs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    module.run_about = module.about  # kept when a test swaps ``about`` for the cached one below
    return module


@cache
def about(name: str, fmt: str = "json") -> str:
    gen = gen_module()
    plugin = next(p for p in gen.discover_plugins() if p.name == name)
    return str(gen.run_about(plugin, fmt))


def about_json(name: str) -> dict[str, Any]:
    return dict(json.loads(about(name)))


def plugin_names() -> list[str]:
    """Every tap under taps/ (new ones are covered without editing the tests) and the target."""
    return [p.name for p in gen_module().discover_plugins()]


def workspace_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def member_dirs() -> list[Path]:
    """Every distribution of the workspace (the kit, the sandbox, the target, every tap)."""
    return [ROOT / "shared", ROOT / "sandbox", ROOT / "target-xlr8-truths", *sorted(ROOT.glob("taps/*/"))]


def uv_exe() -> str:
    found = shutil.which("uv")
    assert found, "uv is not on PATH (scripts/bootstrap.sh installs it into ~/.local/bin)"
    return found


class Helpers:
    """What the packaging test modules share (they cannot import each other under --import-mode=importlib)."""

    root = ROOT
    gen = staticmethod(gen_module)
    about = staticmethod(about)
    about_json = staticmethod(about_json)
    plugin_names = staticmethod(plugin_names)
    workspace_version = staticmethod(workspace_version)
    member_dirs = staticmethod(member_dirs)
    uv = staticmethod(uv_exe)


@pytest.fixture(scope="session")
def pkg() -> type[Helpers]:
    return Helpers
