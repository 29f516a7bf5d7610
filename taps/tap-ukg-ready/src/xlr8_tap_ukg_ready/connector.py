"""Python surface for the gatherer (``xlr8.connectors`` entry point ``ukg_ready``): the kit's ``TapConnector`` over
this tap (``get_entity``, ``get_entity_schema``, ``test_connection`` with the same client a sync uses), and
``execute_query`` that also takes UKG Ready's own requests:

- ``report saved/1001`` (or ``report global/2001``): the report's rows, typed by its metadata;
- ``/ta/rest/v2/companies/{company}/config/cost-centers``: a GET of a REST path (``{company}`` filled in), its rows;
- anything else: the universal query language (``employee where ... fields ... limit n``).
"""

from __future__ import annotations

import re
import typing as t
from collections.abc import Iterator
from urllib.parse import quote

from xlr8_kit.connectors import ConnectorError, TapConnector
from xlr8_tap_ukg_ready import reports
from xlr8_tap_ukg_ready.tap import TapUkgReady

_REPORT = re.compile(r"^\s*report\s+(saved|global)\s*/\s*(\d+)\s*$", re.IGNORECASE)


class UkgReadyConnector(TapConnector):
    product_id = "ukg_ready"
    tap_class = TapUkgReady
    probe_stream = "employees"

    @property
    def ready_tap(self) -> TapUkgReady:
        return t.cast("TapUkgReady", self.tap)

    def execute_query(self, query: str) -> Iterator[dict[str, t.Any]]:
        found = _REPORT.match(query)
        if found:
            return self.run_report(found.group(1).lower(), int(found.group(2)))
        if query.strip().startswith("/ta/rest/"):
            return self.get_path(query.strip())
        return super().execute_query(query)

    def run_report(self, kind: str, report_id: int) -> Iterator[dict[str, t.Any]]:
        """A saved or global report's rows, typed as its metadata says. A cell that does not fit its column stops
        the rows naming the report, the row (1 = the first data row) and the column, never the value."""
        ref = reports.ReportRef(kind, report_id)
        client = self.ready_tap.client
        metadata = client.metadata(ref)
        columns = metadata.columns
        settings = self.ready_tap.settings
        fmt = settings.report_date_format
        dates = [name for name, kind_ in columns.items() if kind_ in reports.DATE_KINDS]

        def raw_rows() -> Iterator[dict[str, t.Any]]:
            try:
                yield from client.report_rows(ref, settings.report_format, dates, fmt, expected=list(columns))
            except reports.ReportDataError as exc:  # a date proving the other order (its rows were held back)
                raise reports.naming_report(exc, metadata.name, ref) from None

        zone = settings.report_time_zone
        for number, row in enumerate(raw_rows(), start=1):
            try:
                record = {
                    name: reports.coerce(row.get(name), kind_, name, fmt, zone) for name, kind_ in columns.items()
                }
            except reports.ReportDataError as exc:
                raise reports.naming_report(exc, metadata.name, ref, f"row {number}") from None
            yield record

    def get_path(self, path: str) -> Iterator[dict[str, t.Any]]:
        """The rows of one GET: a list under the body's first list-valued key, or the object itself."""
        if "?" in path:
            raise ConnectorError(f"{self.product_id}: give the REST path without a query string: {path!r}")
        company = quote(self.ready_tap.settings.company_ref, safe="")
        data = self.ready_tap.client.get_json(path.replace("{company}", company))
        if isinstance(data, list):
            yield from data
            return
        rows = next((v for k, v in data.items() if isinstance(v, list) and k != "errors"), None)
        if rows is None:
            yield {k: v for k, v in data.items() if k != "_links"}
            return
        for row in rows:
            yield {k: v for k, v in row.items() if k != "_links"} if isinstance(row, dict) else {"value": row}
