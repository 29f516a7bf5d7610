"""tap-oracle-hcm: Oracle HCM Cloud REST resources (``/hcmRestApi``), schemas from each resource's describe."""

from __future__ import annotations

import typing as t
from functools import cached_property

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from xlr8_kit.oracle.settings import fusion_settings
from xlr8_kit.oracle.tap import FusionTap
from xlr8_kit.rest import kit_config_schema
from xlr8_tap_oracle_hcm.client import OracleHcmStream
from xlr8_tap_oracle_hcm.extracts import ExtractSpec, extract_stream_class
from xlr8_tap_oracle_hcm.streams import DECLARATIONS, DEFAULT_RESOURCES

PRODUCT_SETTINGS = th.PropertiesList(
    *fusion_settings(DEFAULT_RESOURCES).wrapped.values(),
    th.Property(
        "hcm_extracts",
        th.ArrayType(th.ObjectType(additional_properties=True)),
        description="HCM extracts offered as streams: [{name, stream, key_properties, columns, entity, parameters}] "
        "(name is the extract's flow; the output must be delimited on the content server).",
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
    config_jsonschema = kit_config_schema(PRODUCT_SETTINGS)

    @cached_property
    def extract_specs(self) -> list[ExtractSpec]:
        raw = self.resolved_config.get("hcm_extracts") or []
        try:
            return [ExtractSpec.parse(entry, i) for i, entry in enumerate(raw)]
        except ValueError as exc:
            raise ConfigValidationError(f"{self.name}: invalid configuration: {exc}", errors=[str(exc)]) from None

    def discover_streams(self) -> list[t.Any]:
        """Resources from describe, then the configured HCM extracts."""
        extracts = [extract_stream_class(spec)(self) for spec in self.extract_specs]
        return [*super().discover_streams(), *extracts]


if __name__ == "__main__":
    TapOracleHcm.cli()
