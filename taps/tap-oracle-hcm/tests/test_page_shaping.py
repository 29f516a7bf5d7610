"""A resource with flatten rules (``workers``) shapes every row, even of a body that holds no array besides its
``items`` (``holds_inner_arrays`` spares only resources without rules): a worker without children still gets the
rules' columns, as nulls."""

from __future__ import annotations

import json
import typing as t

from xlr8_kit.http.classify import keep_parsed
from xlr8_kit.oracle.stream import FusionStream
from xlr8_tap_oracle_hcm.tap import TapOracleHcm

from .conftest import hcm_config


class Answer:
    """What ``parse_response`` reads of a response: its body and the body parsed once."""

    def __init__(self, payload: dict[str, t.Any]) -> None:
        self.content = json.dumps(payload).encode()
        keep_parsed(t.cast("t.Any", self), json.loads(self.content))


def test_a_worker_without_children_gets_the_rules_columns(url: str) -> None:
    tap = TapOracleHcm(config=hcm_config(url, resources=["workers"]), parse_env_config=False)
    stream = t.cast("FusionStream", tap.streams["workers"])
    assert stream.plan.flatten
    row = {"PersonId": 1, "PersonNumber": "E1", "LastUpdateDate": "2024-01-01T00:00:00+00:00"}
    page = stream.parse_response(t.cast("t.Any", Answer({"items": [dict(row)], "hasMore": False})))
    columns = [target for rule in stream.plan.flatten for target in rule.columns.values()]
    assert "FirstName" in columns
    assert list(page) == [{**row, **dict.fromkeys(columns)}]
