"""Discovery's describe answers in another shape stop it naming the call and the key, through the console script:
a global describe without its ``sobjects`` list (Salesforce documents it on every answer) was read as an org with no
objects (an empty catalog, exit 0, nothing synced ever after), and a composite describe batch without its ``results``
list, or with fewer results than requests, as no describes (a bare ``KeyError`` naming an object)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from xlr8_kit.testing.singer_cli import run_tap_cli, write_json
from xlr8_sandbox.platform.faults import FaultSpec


def _discover(sf: Any, tmp_path: Path, path: str, answer: dict[str, Any], **settings: Any) -> Any:
    """``tap-salesforce --discover`` with every answer at ``path`` replaced by ``answer`` (200)."""
    with sf.start_sandbox({"Account": 5}) as sandbox:
        sandbox.faults.add("salesforce", path, FaultSpec("status", status=200, body=json.dumps(answer)))
        config = write_json(tmp_path / "config.json", sf.password_config(sandbox, **settings))
        return run_tap_cli("tap-salesforce", ["--config", config, "--discover"], tmp_path)


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ({"encoding": "UTF-8", "maxBatchSize": 200}, "the answer has no 'sobjects'"),
        ({"encoding": "UTF-8", "sobjects": {"name": "Secret__c"}}, "'sobjects' is an object with 1 key(s)"),
    ],
)
def test_a_global_describe_without_its_sobjects_list_stops_discovery(
    sf: Any, tmp_path: Path, answer: dict[str, Any], named: str
) -> None:
    result = _discover(sf, tmp_path, "/services/data/*/sobjects", answer)
    assert result.returncode != 0, result.stdout[-2000:]
    assert named in result.stderr
    assert "salesforce global describe (/services/data/" in result.stderr
    assert "Secret__c" not in result.stderr
    assert '"streams"' not in result.stdout  # no catalog: never an empty one


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ({"hasErrors": False}, "the answer has no 'results'"),
        ({"hasErrors": False, "results": []}, "0 result(s) for 2 describe request(s)"),
    ],
)
def test_a_describe_batch_without_a_result_per_object_stops_discovery(
    sf: Any, tmp_path: Path, answer: dict[str, Any], named: str
) -> None:
    result = _discover(sf, tmp_path, "/services/data/*/composite/batch", answer, objects=["Account", "Contact"])
    assert result.returncode != 0, result.stdout[-2000:]
    assert named in result.stderr
    assert "salesforce describe of Account, Contact (/services/data/" in result.stderr
    assert '"streams"' not in result.stdout
