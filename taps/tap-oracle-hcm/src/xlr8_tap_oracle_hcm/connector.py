"""Python surface for the gatherer (``xlr8.connectors`` entry point ``oracle_hcm``): the kit's Fusion connector
over this tap, plus ``execute_hcm_extract`` (HCM Extracts: submit, poll, download)."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator, Mapping

from xlr8_kit.oracle.connector import DeferredDiscovery, FusionConnector
from xlr8_tap_oracle_hcm.extracts import run_extract
from xlr8_tap_oracle_hcm.tap import TapOracleHcm


class ConnectorTap(DeferredDiscovery, TapOracleHcm):
    """The tap as the connector builds it (discovery errors surface at the first operation)."""


class OracleHcmConnector(FusionConnector):
    product_id = "oracle_hcm"
    tap_class = ConnectorTap

    def execute_hcm_extract(
        self, extract_name: str, parameters: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, t.Any]]:
        """Rows of the HCM extract ``extract_name`` (its flow submitted now), lazily after it completed."""
        self.raise_deferred()
        settings = self.fusion_tap.settings
        return run_extract(
            self.fusion_tap.client,
            extract_name,
            parameters=parameters,
            poll_interval=settings.extract_poll_interval,
            timeout=settings.extract_timeout,
        )
