"""Oracle Fusion Cloud REST (HCM ``hcmRestApi``, ERP ``fscmRestApi``): describe-driven schemas, ``hasMore``
paging, ``q`` in both framework syntaxes, expand flattening, the tap and stream bases both Oracle taps subclass."""

from xlr8_kit.oracle.client import BulkJobError, FusionClient, poll_until, raise_for_status
from xlr8_kit.oracle.describe import Attribute, DescribeError, Resource, parse_describe
from xlr8_kit.oracle.plan import ResourceDeclaration, StreamPlan, child_stream_name, plan_streams
from xlr8_kit.oracle.protocol import (
    ADVANCED_FRAMEWORK,
    MAX_LIMIT,
    SIMPLE_FRAMEWORK,
    Flatten,
    HasMorePaginator,
    child_rows,
    collection_page,
    fields_param,
)
from xlr8_kit.oracle.settings import FusionSettings, fusion_settings

__all__ = [
    "ADVANCED_FRAMEWORK",
    "MAX_LIMIT",
    "SIMPLE_FRAMEWORK",
    "Attribute",
    "BulkJobError",
    "DescribeError",
    "Flatten",
    "FusionClient",
    "FusionSettings",
    "HasMorePaginator",
    "Resource",
    "ResourceDeclaration",
    "StreamPlan",
    "child_rows",
    "child_stream_name",
    "collection_page",
    "fields_param",
    "fusion_settings",
    "parse_describe",
    "plan_streams",
    "poll_until",
    "raise_for_status",
]
