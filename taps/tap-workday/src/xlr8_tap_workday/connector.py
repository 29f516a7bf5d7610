"""Python surface for the gatherer: workers, organizations, custom reports, journals and suppliers through the
same client, authenticators, resilient session and record extraction the tap uses."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator
from datetime import date

from xlr8_kit.connectors.base import ConnectorError, EntityFilters
from xlr8_kit.connectors.tap import TapConnector, sync_records
from xlr8_tap_workday.client import bsvc
from xlr8_tap_workday.streams import JournalsStream, SuppliersStream
from xlr8_tap_workday.tap import TapWorkday, parse_report_setting

if t.TYPE_CHECKING:
    from xlr8_tap_workday.tap import ReportSpec


class TapWorkdayFinancials(TapWorkday):
    """The same tap for a Workday Financials credential (its credentials are checked against that product)."""

    product_id = "workday_fins"


class WorkdayConnector(TapConnector):
    """One tenant. ``config`` takes the tap's settings."""

    product_id = "workday_hcm"
    tap_class = TapWorkday

    @property
    def workday(self) -> TapWorkday:
        return t.cast("TapWorkday", self.tap)

    def _first_stream(self, *names: str) -> t.Any:
        streams = self.tap.streams
        for name in names:
            if name in streams:
                return streams[name]
        raise ConnectorError(f"{self.product_id}: none of the streams {names} is configured (setting 'streams')")

    def get_workers(self, filters: EntityFilters = None) -> list[dict[str, t.Any]]:
        """Workers: REST when an API client is configured, else SOAP Get_Workers; ``filters`` (universal text or
        the plan's dict) go through ``get_entity`` (pushed down where Workday can)."""
        if filters:
            return list(self.get_entity("employee", filters))
        return list(sync_records(self._first_stream("workers", "soap_workers")))

    def get_organizations(self) -> list[dict[str, t.Any]]:
        return list(sync_records(self._first_stream("organizations", "soap_organizations")))

    def _report_spec(self, report: str) -> ReportSpec:
        settings = self.workday.settings
        for spec in settings.reports:
            if report in (spec.name, spec.report, spec.url):
                return spec
        errors: list[str] = []
        adhoc = parse_report_setting(
            {"name": "adhoc_report", "url": report}, 0, settings.base_url, settings.tenant, errors
        )
        if errors or adhoc is None:
            raise ConnectorError(f"{self.product_id}: {report!r} is neither a configured report nor a RaaS URL: "
                                 + "; ".join(errors))  # fmt: skip
        return adhoc

    def execute_report(self, report: str, params: dict[str, str] | None = None) -> list[dict[str, t.Any]]:
        """Entries of a custom report (configured name, report name or RaaS URL) with prompts, typed by its XSD."""
        spec = self._report_spec(report)
        return self.workday.client.report_entries(spec, [(str(k), str(v)) for k, v in (params or {}).items()])

    def execute_query(self, query: str) -> Iterator[dict[str, t.Any]]:
        """A RaaS URL or path runs that report; anything else is a universal query."""
        if "/customreport2/" in query:
            return iter(self.execute_report(query))
        return super().execute_query(query)

    def get_journal_entries(self, date_range: tuple[date, date] | None = None) -> list[dict[str, t.Any]]:
        """Journal entries (with lines) whose Accounting_Date is in ``date_range`` (inclusive), via Get_Journals."""
        criteria = []
        if date_range is not None:
            start, end = date_range
            if start > end:
                raise ValueError(f"date_range starts after it ends: {start} > {end}")
            criteria = [bsvc("Accounting_From_Date", start.isoformat()), bsvc("Accounting_To_Date", end.isoformat())]
        extractor = JournalsStream(self.workday)
        rows = self.workday.client.soap_rows(JournalsStream.service, JournalsStream.operation, criteria)
        return [extractor.extract(node) for node in rows]

    def get_suppliers(self) -> list[dict[str, t.Any]]:
        extractor = SuppliersStream(self.workday)
        rows = self.workday.client.soap_rows(SuppliersStream.service, SuppliersStream.operation)
        return [extractor.extract(node) for node in rows]

    def probe(self) -> None:
        """One small authenticated call: REST jobs (one row) with an API client, else SOAP organizations."""
        client = self.workday.client
        if self.workday.settings.oauth is not None:
            next(iter(client.rest_rows("jobs", page_size=1)), None)
        else:
            next(iter(client.soap_rows("Human_Resources", "Get_Organizations")), None)

    def api_version(self) -> str | None:
        return self.workday.settings.soap_version


class WorkdayHcmConnector(WorkdayConnector):
    product_id = "workday_hcm"


class WorkdayFinsConnector(WorkdayConnector):
    product_id = "workday_fins"
    tap_class = TapWorkdayFinancials
