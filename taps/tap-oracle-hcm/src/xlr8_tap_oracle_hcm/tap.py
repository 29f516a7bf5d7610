"""tap-oracle-hcm: Oracle HCM Cloud REST resources (``/hcmRestApi``), schemas from each resource's describe, and
HCM extracts as streams."""

from __future__ import annotations

from singer_sdk import typing as th

from xlr8_kit.oracle.bulk import bulk_outputs_setting
from xlr8_kit.oracle.settings import fusion_settings
from xlr8_kit.oracle.tap import FusionTap
from xlr8_kit.rest import kit_config_schema
from xlr8_tap_oracle_hcm.client import OracleHcmStream
from xlr8_tap_oracle_hcm.extracts import HcmExtractStream
from xlr8_tap_oracle_hcm.streams import DECLARATIONS, DEFAULT_RESOURCES

PRODUCT_SETTINGS = th.PropertiesList(
    *fusion_settings(DEFAULT_RESOURCES).wrapped.values(),
    bulk_outputs_setting(
        "hcm_extracts", "HCM extracts (name: the extract's flow; its output delimited on the content server)"
    ),
)


class TapOracleHcm(FusionTap):
    """Oracle HCM Cloud: workers (names, emails, work relationships, assignments), jobs, locations, departments,
    grades, positions, absences, or any other HCM resource by name."""

    name = "tap-oracle-hcm"
    product_id = "oracle_hcm"
    fusion_api = "hcmRestApi"
    default_resources = DEFAULT_RESOURCES
    declarations = DECLARATIONS
    stream_base = OracleHcmStream
    bulk_setting = "hcm_extracts"
    bulk_stream_base = HcmExtractStream
    config_jsonschema = kit_config_schema(PRODUCT_SETTINGS)


if __name__ == "__main__":
    TapOracleHcm.cli()
