"""OData v2 and v4 machinery shared by the SuccessFactors and S/4HANA taps: EDMX parsing, Edm -> JSON Schema, value
decoding, ``$filter`` literals and server-driven paging."""

from xlr8_kit.odata.changes import S4_CHANGE_KEYS, SUCCESSFACTORS_CHANGE_KEYS, ChangeKey, change_key
from xlr8_kit.odata.edmx import (
    EdmProperty,
    EdmxError,
    EntitySet,
    EntityType,
    NavigationProperty,
    ServiceMetadata,
    parse_edmx,
)
from xlr8_kit.odata.filters import Filter, FilterError, all_of, compare, literal, quote_string
from xlr8_kit.odata.paging import (
    ODataNextLinkPaginator,
    ODataPagingError,
    ODataResponseError,
    iter_pages,
    next_link,
    odata_error,
    page_rows,
    total_count,
)
from xlr8_kit.odata.types import (
    ODataValueError,
    decode_entry,
    decode_value,
    edm_to_jsonschema,
    entity_jsonschema,
    format_odata_datetime,
    parse_edm_time,
    parse_odata_datetime,
)

__all__ = [
    "S4_CHANGE_KEYS",
    "SUCCESSFACTORS_CHANGE_KEYS",
    "ChangeKey",
    "EdmProperty",
    "EdmxError",
    "EntitySet",
    "EntityType",
    "Filter",
    "FilterError",
    "NavigationProperty",
    "ODataNextLinkPaginator",
    "ODataPagingError",
    "ODataResponseError",
    "ODataValueError",
    "ServiceMetadata",
    "all_of",
    "change_key",
    "compare",
    "decode_entry",
    "decode_value",
    "edm_to_jsonschema",
    "entity_jsonschema",
    "format_odata_datetime",
    "iter_pages",
    "literal",
    "next_link",
    "odata_error",
    "page_rows",
    "parse_edm_time",
    "parse_edmx",
    "parse_odata_datetime",
    "quote_string",
    "total_count",
]
