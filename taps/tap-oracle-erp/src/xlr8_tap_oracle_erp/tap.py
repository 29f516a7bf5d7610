"""tap-oracle-erp: Oracle ERP Cloud REST resources (``/fscmRestApi``), schemas from each resource's describe, and
BI Publisher reports as streams."""

from __future__ import annotations

from singer_sdk import typing as th

from xlr8_kit.oracle.bulk import bulk_outputs_setting
from xlr8_kit.oracle.settings import fusion_settings
from xlr8_kit.oracle.tap import FusionTap
from xlr8_kit.rest import kit_config_schema
from xlr8_tap_oracle_erp.bip import BiReportStream
from xlr8_tap_oracle_erp.client import OracleErpStream
from xlr8_tap_oracle_erp.streams import DECLARATIONS, DEFAULT_RESOURCES

PRODUCT_SETTINGS = th.PropertiesList(
    *fusion_settings(DEFAULT_RESOURCES).wrapped.values(),
    bulk_outputs_setting("bi_reports", "BI Publisher reports (name: the report's absolute path, CSV output)"),
)


class TapOracleErp(FusionTap):
    """Oracle ERP Cloud: suppliers (sites), purchase orders (lines), payables invoices (lines), journal lines,
    ledger balances, or any other Financials / Procurement resource by name."""

    name = "tap-oracle-erp"
    product_id = "oracle_erp"
    fusion_api = "fscmRestApi"
    default_resources = DEFAULT_RESOURCES
    declarations = DECLARATIONS
    stream_base = OracleErpStream
    bulk_setting = "bi_reports"
    bulk_stream_base = BiReportStream
    config_jsonschema = kit_config_schema(PRODUCT_SETTINGS)


if __name__ == "__main__":
    TapOracleErp.cli()
