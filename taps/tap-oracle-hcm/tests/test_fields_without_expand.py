"""Children are asked for in ``fields``, never with ``expand`` beside it: Fusion documents that ``fields`` "cannot be
combined with expand query parameter. If both are provided, only fields will be considered" (audit25a F3), and the
emulator now answers so. A ``fields`` list that would pass the URL cap goes as ``expand`` alone instead."""

from __future__ import annotations

import pytest

from xlr8_kit.oracle import stream as stream_module
from xlr8_kit.testing.singer_cli import select_streams, sync_in_process
from xlr8_sandbox.products.oracle_fusion.hcm import OracleHcmEmulator
from xlr8_tap_oracle_hcm.tap import TapOracleHcm

from .conftest import SCALE, hcm_config, run_tap

CHILDREN = ("workers_names", "workers_emails", "workers_workRelationships", "workers_workRelationships_assignments")


def _both(emulator: OracleHcmEmulator) -> list[dict[str, str]]:
    return [q for q in emulator.collection_queries if "fields" in q and "expand" in q]


def test_embedded_children_and_flattened_columns_land(url: str, emulator: OracleHcmEmulator) -> None:
    emulator.collection_queries.clear()
    out = run_tap(hcm_config(url, child_mode="embed", resources=["workers"]))
    rows = out.records("workers")
    assert len(rows) == SCALE
    assert all(r["emails"] and r["names"] and r["workRelationships"][0]["assignments"] for r in rows)
    assert all(r["FirstName"] and r["WorkEmail"] and r["HireDate"] and r["JobCode"] for r in rows)
    assert not _both(emulator)


def test_every_child_stream_lands_its_rows(url: str, emulator: OracleHcmEmulator) -> None:
    emulator.collection_queries.clear()
    out = run_tap(hcm_config(url, resources=["workers"]), streams={"workers", *CHILDREN})
    for name in CHILDREN:
        assert len(out.records(name)) >= SCALE, name
    assert not _both(emulator)


@pytest.mark.parametrize("child_mode", ["embed", "streams"])
def test_past_the_url_cap_expand_goes_alone(
    url: str, emulator: OracleHcmEmulator, monkeypatch: pytest.MonkeyPatch, child_mode: str
) -> None:
    """The same records when the listed attributes would pass ``URL_BYTES``: ``expand`` alone reads whole rows and
    children, and the catalog's projection drops a deselected attribute as before."""
    config = hcm_config(url, child_mode=child_mode, resources=["workers"])
    wanted = {"workers", *CHILDREN} if child_mode == "streams" else {"workers"}

    def run() -> dict[str, list[dict[str, object]]]:
        catalog = select_streams(TapOracleHcm(config=config, parse_env_config=False).catalog_dict, wanted)
        for entry in catalog["streams"][0]["metadata"]:
            if entry["breadcrumb"] == ["properties", "DateOfBirth"]:
                entry["metadata"]["selected"] = False
        out = sync_in_process(TapOracleHcm(config=config, catalog=catalog, parse_env_config=False), exact_decimals=True)
        return {name: out.records(name) for name in wanted}

    listed = run()
    emulator.collection_queries.clear()
    monkeypatch.setattr(stream_module, "URL_BYTES", 150)
    alone = run()
    assert alone == listed
    assert all(len(rows) >= SCALE for rows in alone.values())
    assert "DateOfBirth" not in alone["workers"][0]
    pages = [q for q in emulator.collection_queries if q.get("onlyData")]
    assert pages
    assert all("expand" in q and "fields" not in q for q in pages)
