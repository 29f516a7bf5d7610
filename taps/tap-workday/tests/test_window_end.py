"""A RaaS report's windows end on today in the prompts' offset, not on UTC's date (mends4r24, the edit-during-read
argument of audit24a H3 for Workday's unsorted reports).

At 07:50 UTC it is 23:50 the day before in ``-08:00``. Windows ending on UTC's date ask for the local tomorrow too:
a read crossing local midnight sees a row changed at 00:05 there, its bookmark moves to that day, and an edit at
23:55 to a row an earlier window had already served is never read (the next run starts at the bookmark's day).
Ending on the local today, every row seen is dated on or before the read's first local day, so the next run reads
that day again, edits made during the read included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

import pytest

from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.workday import WorkdayEmulator, wid
from xlr8_tap_workday import client as client_module

from .conftest import base_config, report_url, run_tap


class _At(datetime):
    """``datetime`` whose ``now`` is a fixed moment (the tap's clock, patched in its module)."""

    moment = datetime(2026, 1, 6, 7, 50, tzinfo=UTC)

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        return cls.moment.astimezone(tz) if tz is not None else cls.moment.replace(tzinfo=None)


@pytest.mark.parametrize(
    ("moment", "suffix", "local_today"),
    [
        (datetime(2026, 1, 6, 7, 50, tzinfo=UTC), "-08:00", date(2026, 1, 5)),  # UTC's date is the local tomorrow
        (datetime(2026, 1, 5, 20, 0, tzinfo=UTC), "+05:30", date(2026, 1, 6)),  # UTC's date is the local yesterday
        (datetime(2026, 1, 6, 7, 50, tzinfo=UTC), "Z", date(2026, 1, 6)),
    ],
)
def test_the_last_window_ends_on_today_in_the_prompts_offset(
    url: str, sandbox: Sandbox, emulator: WorkdayEmulator, monkeypatch: pytest.MonkeyPatch,
    moment: datetime, suffix: str, local_today: date,
) -> None:  # fmt: skip
    monkeypatch.setattr(_At, "moment", moment)
    monkeypatch.setattr(client_module, "datetime", _At)
    report = {
        "name": "worker_report",
        "url": report_url(url, "XLR8_Workers") + f"?Organization!WID={wid('organization', 'SUP_TOP')}",
        "primary_keys": ["Employee_ID"],
        "incremental": {"from_prompt": "Updated_From", "to_prompt": "Updated_Through", "start_date": "2025-12-20",
                        "window_days": 30, "replication_key": "Last_Updated", "date_suffix": suffix},
    }  # fmt: skip
    run_tap(base_config(url, streams=[], reports=[report]))
    calls = [dict(c["prompts"]) for c in emulator.raas_calls if c["report"] == "XLR8_Workers"]
    assert [(c["Updated_From"], c["Updated_Through"]) for c in calls] == [
        (f"2025-12-20{suffix}", f"{local_today.isoformat()}{suffix}")
    ]
    assert local_today == moment.astimezone(client_module._suffix_offset(suffix) or timezone(timedelta(0))).date()
