"""Python surface for the gatherer (``xlr8.connectors`` entry point ``ukg_wfm``): the kit's ``TapConnector`` over
this tap (``get_entity`` sends the requests a sync sends and returns the rows a sync emits), plus the time calls
``get_timecards(date_range)``, ``get_schedules(date_range)`` and ``get_accruals(as_of_date)``, each a lazy iterator
over the same streams with the dates given instead of the configured ones (no bookmark, no lookback)."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator
from datetime import date

from xlr8_kit.connectors import TapConnector
from xlr8_kit.connectors.tap import sync_records
from xlr8_tap_ukg_wfm.tap import TapUkgWfm

DateLike = date | str
DateRange = tuple[DateLike, DateLike]


def _day(value: DateLike, what: str) -> str:
    try:
        return (value if isinstance(value, date) else date.fromisoformat(str(value)[:10])).isoformat()
    except ValueError:
        raise ValueError(f"{what} must be a date (YYYY-MM-DD), not {value!r}") from None


class UkgWfmConnector(TapConnector):
    product_id = "ukg_wfm"
    tap_class = TapUkgWfm
    probe_stream = "hyperfinds"

    def get_timecards(self, date_range: DateRange) -> Iterator[dict[str, t.Any]]:
        """Daily totals by pay code for every person of the hyperfind, first and last day included."""
        return self._read(
            "timecards",
            {"start_date": _day(date_range[0], "date_range[0]"), "end_date": _day(date_range[1], "date_range[1]")},
        )

    def get_punches(self, date_range: DateRange) -> Iterator[dict[str, t.Any]]:
        return self._read(
            "punches",
            {"start_date": _day(date_range[0], "date_range[0]"), "end_date": _day(date_range[1], "date_range[1]")},
        )

    def get_schedules(self, date_range: DateRange) -> Iterator[dict[str, t.Any]]:
        """Scheduled shifts starting within the range (nothing read ahead of it)."""
        return self._read(
            "schedules",
            {
                "start_date": _day(date_range[0], "date_range[0]"),
                "end_date": _day(date_range[1], "date_range[1]"),
                "schedule_days_ahead": 0,
            },
        )

    def get_accruals(self, as_of_date: DateLike) -> Iterator[dict[str, t.Any]]:
        """Accrual balances per person and accrual code as of the date."""
        day = _day(as_of_date, "as_of_date")
        return self._read("accruals", {"accruals_as_of": day, "end_date": day, "start_date": day})

    def _read(self, stream: str, overrides: dict[str, t.Any]) -> Iterator[dict[str, t.Any]]:
        """A tap built for these dates (its own session, closed when the iterator ends)."""
        tap = TapUkgWfm(
            config={**self.config, **overrides}, parse_env_config=False, validate_config=True, for_connector=True
        )
        try:
            yield from sync_records(tap.streams[stream])
        finally:
            if "kit" in tap.__dict__:
                tap.kit.session.close()
