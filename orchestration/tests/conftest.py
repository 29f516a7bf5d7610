"""A sandbox (Salesforce + SuccessFactors), a throwaway PostgreSQL and an encrypted credential store of several
projects, shared by the orchestration tests."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "target-xlr8-truths" / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from orchestration_testkit import SCALE
from truths_testkit import postgres_dsn

from xlr8_sandbox.platform.server import Sandbox, run_sandbox

__all__ = ["postgres_dsn"]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with run_sandbox(["salesforce", "successfactors", "ukg_pro"], scale=SCALE) as running:
        yield running


@pytest.fixture
def schema() -> str:
    return f"t_{uuid.uuid4().hex[:10]}"
