"""Python surface for the gatherer (``xlr8.connectors`` entry point ``oracle_erp``): the kit's Fusion connector
over this tap, plus ``execute_ess_job`` (ERP integrations: submit, poll, download the output) and ``run_bi_report``
(BI Publisher ``runReport``, synchronous)."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator, Mapping, Sequence

from xlr8_kit.oracle.connector import DeferredDiscovery, FusionConnector
from xlr8_tap_oracle_erp.bip import run_report
from xlr8_tap_oracle_erp.ess import run_job
from xlr8_tap_oracle_erp.tap import TapOracleErp


class ConnectorTap(DeferredDiscovery, TapOracleErp):
    """The tap as the connector builds it (discovery errors surface at the first operation)."""


class OracleErpConnector(FusionConnector):
    product_id = "oracle_erp"
    tap_class = ConnectorTap

    def execute_ess_job(
        self, job_package: str, job_definition: str, parameters: Sequence[str] = ()
    ) -> Iterator[dict[str, t.Any]]:
        """Rows of the ESS job's CSV output (the job submitted now), lazily after it succeeded."""
        self.raise_deferred()
        settings = self.fusion_tap.settings
        return run_job(
            self.fusion_tap.client,
            job_package,
            job_definition,
            parameters=parameters,
            poll_interval=settings.extract_poll_interval,
            timeout=settings.extract_timeout,
        )

    def run_bi_report(
        self, report_path: str, parameters: Mapping[str, str | Sequence[str]] | None = None
    ) -> Iterator[dict[str, t.Any]]:
        """Rows of a BI Publisher report (``ExternalReportWSSService`` ``runReport``, CSV output)."""
        self.raise_deferred()
        return run_report(self.fusion_tap.client, report_path, parameters)
