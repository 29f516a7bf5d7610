"""Python surface for the gatherer: RaaS reports, employees and earnings, and a connection check, through the same
settings, authenticators, resilient session and decoding the tap uses."""

from __future__ import annotations

import typing as t
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cached_property

from xlr8_kit.http.errors import KitHTTPError
from xlr8_kit.redaction import Redactor
from xlr8_tap_ukg_pro import discovery
from xlr8_tap_ukg_pro.raas import ReportInfo
from xlr8_tap_ukg_pro.tap import TapUkgPro

#: Report columns the engine already understands for earnings lines (used by ``get_earnings``).
EARNINGS_REPORT_SETTING = "earnings_report_path"


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str
    rest: bool = False
    raas: bool | None = None  # None when no RaaS credentials are configured


class UkgProConnector:
    """One tenant (one credential). ``config`` takes the tap's settings; ``earnings_report_path`` (optional) names
    the RaaS report ``get_earnings`` runs, else the first report whose name mentions earnings."""

    product_id = "ukg_pro"

    def __init__(self, config: Mapping[str, t.Any]) -> None:
        self._config = {k: v for k, v in config.items() if k != EARNINGS_REPORT_SETTING}
        self._earnings_report = config.get(EARNINGS_REPORT_SETTING)

    @cached_property
    def tap(self) -> TapUkgPro:
        return TapUkgPro(config=self._config, parse_env_config=False, validate_config=True)

    @property
    def client(self) -> t.Any:
        """The RaaS client shared with the tap's report streams."""
        return self.tap.raas

    def list_available_reports(self) -> list[ReportInfo]:
        return self.tap.raas.list_reports()

    def execute_raas_report(self, path: str, params: Mapping[str, t.Any] | None = None) -> list[dict[str, t.Any]]:
        """Run a report and return its rows typed as the tap would emit them (types inferred from the data)."""
        table = discovery.parse_report(
            self.tap.raas.run_report(path, dict(params or {})), encoding=self.tap.settings.raas_csv_encoding
        )
        zone = self.tap.settings.raas_timezone
        return [
            {c: discovery.coerce(row.get(c), table.types[c], c, zone=zone) for c in table.columns} for row in table.rows
        ]

    def get_employees(self, filters: Mapping[str, t.Any] | None = None) -> list[dict[str, t.Any]]:
        """Employment details joined with person details by employeeID; ``filters`` is ``{column: value}``
        (a list value means any of them), e.g. ``{"employeeStatusCode": ["A", "L"]}``."""
        people = {row["employeeID"]: row for row in self._rows("person_details")}
        merged = []
        for row in self._rows("employment_details"):
            combined = {**people.get(row["employeeID"], {}), **row}
            if _matches(combined, filters or {}):
                merged.append(combined)
        return merged

    def get_earnings(self, pay_period: date | str | None = None) -> list[dict[str, t.Any]]:
        """Earnings lines of the pay period whose pay date is ``pay_period`` (all periods when None)."""
        path = self._earnings_report or next(
            (r.path for r in self.list_available_reports() if "earning" in r.name.lower()), None
        )
        if path is None:
            raise LookupError("no RaaS earnings report found; set 'earnings_report_path' in the connector config")
        params: dict[str, t.Any] = {}
        if pay_period is not None:
            day = pay_period if isinstance(pay_period, date) else date.fromisoformat(str(pay_period))
            params = {"PayDateFrom": day.isoformat(), "PayDateTo": day.isoformat()}
        return self.execute_raas_report(path, params)

    def test_connection(self) -> ConnectionCheck:
        """One REST page and, with RaaS credentials, a LogOn; never raises for a reachable-but-refusing tenant."""
        try:
            stream = self.tap.streams["companies"]
            companies = list(stream.get_records(None))
        except (KitHTTPError, OSError, ValueError) as exc:
            return ConnectionCheck(False, Redactor.default().redact(str(exc)))
        raas_ok: bool | None = None
        if self.tap.settings.user_access_key:
            try:
                self.tap.raas_authenticator.force_refresh()
                raas_ok = True
                self.tap.raas.log_off()
            except (KitHTTPError, OSError, ValueError) as exc:
                return ConnectionCheck(False, Redactor.default().redact(f"RaaS: {exc}"), rest=True, raas=False)
        return ConnectionCheck(True, f"connected: {len(companies)} companies", rest=True, raas=raas_ok)

    def _rows(self, stream_name: str) -> list[dict[str, t.Any]]:
        stream = self.tap.streams[stream_name]
        rows = []
        for row in stream.get_records(None):
            processed = stream.post_process(t.cast("dict[str, t.Any]", row), None)
            if processed is not None:
                rows.append(processed)
        return rows


def _matches(row: Mapping[str, t.Any], filters: Mapping[str, t.Any]) -> bool:
    for column, wanted in filters.items():
        if column not in row:
            raise KeyError(f"employees have no column {column!r}")
        options = wanted if isinstance(wanted, list | tuple | set) else [wanted]
        if row[column] not in options:
            return False
    return True
