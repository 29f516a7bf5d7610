"""Incremental reads start ``lookback_seconds`` before the bookmark (audit24a H4): a row written before the
bookmark by a transaction that commits later still lands, and the bookmark never moves back. Emulator over HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest


def _bookmarks(output: Any) -> list[str]:
    return [
        m["value"]["bookmarks"]["Account"]["replication_key_value"]
        for m in output.of_type("STATE")
        if "Account" in m["value"].get("bookmarks", {})
    ]


def _late_commit_runs(sf: Any, api_type: str, **extra: Any) -> tuple[Any, Any, Any, Any]:
    """Run 1 reads everything; a user edits row 8 while a batch holds row 7 (written a minute earlier) in an open
    transaction; run 2 sees the edit; the batch commits; run 3 is the one that must find row 7."""
    with sf.start_sandbox({"Account": 50}) as sandbox:
        em = sf.emulator(sandbox)
        config = sf.password_config(sandbox, objects=["Account"], api_type=api_type, **extra)
        first = sf.run_tap(config)
        em.ctx.clock.advance(timedelta(days=1))
        written_at = em.ctx.clock.now()
        em.ctx.clock.advance(timedelta(minutes=1))
        em.touch("Account", 8, Name="Edited by a user")
        second = sf.run_tap(config, state=first.state)
        em.commit_late("Account", 7, written_at, Name="Loaded by a batch")
        third = sf.run_tap(config, state=second.state)
        return em, first, second, third


@pytest.mark.parametrize("api_type", ["rest", "bulk"])
def test_h4_a_row_committed_late_lands_on_the_next_run(sf: Any, api_type: str) -> None:
    em, _first, second, third = _late_commit_runs(sf, api_type)
    accounts = em.objects["Account"]
    edited = [r for r in second.records("Account") if r["Id"] == accounts.record_id(8)]
    assert [r["Name"] for r in edited] == ["Edited by a user"]
    landed = {r["Id"]: r for r in third.records("Account")}
    assert landed[accounts.record_id(7)]["Name"] == "Loaded by a batch"
    assert accounts.record_id(8) in landed  # the window's rows come again; the target upserts them by Id
    bookmark = second.state["bookmarks"]["Account"]["replication_key_value"]
    assert set(_bookmarks(third)) == {bookmark}  # every STATE of run 3: the bookmark never moved back


def test_h4_lookback_zero_is_the_old_read_from_the_bookmark(sf: Any) -> None:
    _em, _first, second, third = _late_commit_runs(sf, "rest", lookback_seconds=0)
    assert len(second.records("Account")) == 1
    assert third.records("Account") == []  # what every run did before the lookback: the late row is skipped


def test_h4_lookback_setting_is_checked() -> None:
    from xlr8_tap_salesforce.tap import SalesforceSettings

    auth = {"auth_type": "password", "client_id": "c", "client_secret": "s", "username": "u", "password": "p"}
    assert SalesforceSettings.parse(auth).lookback_seconds == 300
    with pytest.raises(ValueError, match="lookback_seconds"):
        SalesforceSettings.parse({"lookback_seconds": -1})
