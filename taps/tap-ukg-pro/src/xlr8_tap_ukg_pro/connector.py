"""Python surface for the gatherer (``xlr8.connectors`` entry point ``ukg_pro``): the kit's ``TapConnector`` over
this tap, so ``get_entity`` sends the requests a sync sends and returns the rows a sync emits, plus UKG's own
calls through the same clients: ``execute_raas_report``, ``list_available_reports``, ``get_employees`` and
``get_earnings``. ``test_connection`` reads one REST page and, with RaaS credentials, logs on to RaaS."""

from __future__ import annotations

import typing as t
from collections.abc import Mapping
from datetime import date

from xlr8_kit.connectors import TapConnector
from xlr8_kit.connectors.tap import sync_records
from xlr8_tap_ukg_pro import discovery
from xlr8_tap_ukg_pro.raas import ReportInfo
from xlr8_tap_ukg_pro.tap import TapUkgPro

#: Connector-only setting: the RaaS report ``get_earnings`` runs (default: the first report named like earnings).
EARNINGS_REPORT_SETTING = "earnings_report_path"


class UkgProConnector(TapConnector):
    product_id = "ukg_pro"
    tap_class = TapUkgPro
    probe_stream = "companies"

    def __init__(self, config: Mapping[str, t.Any]) -> None:
        self._earnings_report = config.get(EARNINGS_REPORT_SETTING)
        super().__init__({k: v for k, v in config.items() if k != EARNINGS_REPORT_SETTING})

    @property
    def ukg_tap(self) -> TapUkgPro:
        return t.cast("TapUkgPro", self.tap)

    def probe(self) -> None:
        """One REST page (Basic + API key), then a RaaS LogOn/LogOff when RaaS credentials are configured."""
        super().probe()
        if self.ukg_tap.settings.user_access_key:
            self.ukg_tap.raas.authenticator.force_refresh()
            self.ukg_tap.log_off_raas()

    def list_available_reports(self) -> list[ReportInfo]:
        try:
            return self.ukg_tap.raas.list_reports()
        finally:
            self.ukg_tap.log_off_raas()

    def execute_raas_report(self, path: str, params: Mapping[str, t.Any] | None = None) -> list[dict[str, t.Any]]:
        """Run a report; its rows typed as discovery would type them (inferred from CSV, declared in XML)."""
        tap = self.ukg_tap
        try:
            content = tap.raas.run_report(path, dict(params or {}))
        finally:
            tap.log_off_raas()
        table = discovery.parse_report(content, encoding=tap.settings.raas_csv_encoding)
        zone = tap.settings.raas_timezone
        return [
            {c: discovery.coerce(row.get(c), table.types[c], c, zone=zone) for c in table.columns} for row in table.rows
        ]

    def get_employees(self, filters: Mapping[str, t.Any] | str | None = None) -> list[dict[str, t.Any]]:
        """Employment details joined with person details by employeeID. ``filters``: a universal filter string
        (``"employment_status = 'active'"``) or ``{column: value}`` (a list means any of them)."""
        universal = filters if isinstance(filters, str) else None
        people = {row["employeeID"]: row for row in sync_records(self.tap.streams["person_details"])}
        merged = []
        for row in self.get_entity("employment_details", universal):
            combined = {**people.get(row["employeeID"], {}), **row}
            if isinstance(filters, Mapping) and not _matches(combined, filters):
                continue
            merged.append(combined)
        return merged

    def get_earnings(self, pay_period: date | str | None = None) -> list[dict[str, t.Any]]:
        """Earnings lines paid on ``pay_period`` (a pay date), all periods when None, from the earnings report."""
        path = self._earnings_report or next(
            (r.path for r in self.list_available_reports() if "earning" in r.name.lower()), None
        )
        if path is None:
            raise LookupError(f"no RaaS earnings report found; set {EARNINGS_REPORT_SETTING!r} in the connector config")
        params: dict[str, t.Any] = {}
        if pay_period is not None:
            day = pay_period if isinstance(pay_period, date) else date.fromisoformat(str(pay_period))
            params = {"PayDateFrom": day.isoformat(), "PayDateTo": day.isoformat()}
        return self.execute_raas_report(path, params)


def _matches(row: Mapping[str, t.Any], filters: Mapping[str, t.Any]) -> bool:
    for column, wanted in filters.items():
        if column not in row:
            raise KeyError(f"employees have no column {column!r}")
        options = wanted if isinstance(wanted, list | tuple | set) else [wanted]
        if row[column] not in options:
            return False
    return True
