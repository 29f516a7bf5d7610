"""The universal query language and its compilers to each product's dialect.

``translate(query, source_product, target_product)`` and ``translate_filters(filters, target_product, ...)``
return a ``Translation``: request parameters for what the product filters itself, plus ``matches``/``apply``
for what must be filtered after fetching. ``plan_filters`` is what a tap's ``filters`` setting goes through.
"""

from xlr8_kit.query.ast import (
    And,
    Between,
    Compare,
    Const,
    Contains,
    Filter,
    In,
    Or,
    Query,
    QueryError,
    QueryRefused,
    QuerySyntaxError,
)
from xlr8_kit.query.evaluate import matches
from xlr8_kit.query.parser import format_filter, format_query, parse_filter, parse_query
from xlr8_kit.query.stream import UniversalFilterMixin
from xlr8_kit.query.translate import Translation, filter_for_stream, plan_filters, translate, translate_filters
from xlr8_kit.query.translator import QueryTranslator, as_filter, filter_from_mapping, filter_to_mapping

__all__ = [
    "And",
    "Between",
    "Compare",
    "Const",
    "Contains",
    "Filter",
    "In",
    "Or",
    "Query",
    "QueryError",
    "QueryRefused",
    "QuerySyntaxError",
    "QueryTranslator",
    "Translation",
    "UniversalFilterMixin",
    "as_filter",
    "filter_for_stream",
    "filter_from_mapping",
    "filter_to_mapping",
    "format_filter",
    "format_query",
    "matches",
    "parse_filter",
    "parse_query",
    "plan_filters",
    "translate",
    "translate_filters",
]
