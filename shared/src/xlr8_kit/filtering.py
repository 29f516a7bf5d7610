"""A tap's ``filters`` setting: the stream mixin and the settings check, without the query language at import.

Every kit tap's streams mix in ``UniversalFilterMixin`` and most settings classes call ``filters_setting``, so
both are imported at every tap start. The query language behind them (parser, dialects, translation, the
vocabulary) costs 10-25 ms to import; it is imported here only when a ``filters`` setting is set. The mixin's
contract is documented in ``xlr8_kit.query.stream``, which re-exports it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from xlr8_kit.query.translate import Translation


def filters_setting(config: dict[str, object], errors: list[str]) -> str | None:
    """A tap's ``filters`` setting, checked once with its other settings: the text, or None when unset; a query
    that does not parse adds an error naming the setting."""
    filters = config.get("filters") or None
    if filters:
        from xlr8_kit.query.parser import parse_query  # only when a filter is set

        try:
            parse_query(str(filters))
        except ValueError as exc:
            errors.append(f"setting 'filters' is not a valid xlr8 query: {exc}")
    return str(filters) if filters else None


class UniversalFilterMixin:
    """Mix into a ``KitRESTStream`` subclass (before it); reads the tap's ``filters`` setting."""

    #: True: a filter naming a field this stream does not carry leaves the stream unfiltered, with a warning
    #: (products whose streams share few columns: one filter for the run must not stop the streams it is not
    #: about). False: the run stops with an error naming the field.
    skip_filter_on_unknown_field: ClassVar[bool] = False

    name: str
    config: Mapping[str, Any]
    logger: logging.Logger
    _tap: Any

    def universal_dialect(self) -> str | None:
        """The query dialect when the tenant's differs from the product's (None: the product's own)."""
        return None

    @cached_property
    def universal_filter(self) -> Translation | None:
        """This stream's translation of the ``filters`` setting, or None when the filter is not for it."""
        filters = self.config.get("filters")
        if not filters or not str(filters).strip():
            return None  # what ``filter_for_stream`` returns for no filter, without importing the query language
        from xlr8_kit.query.translate import filter_for_stream
        from xlr8_kit.vocabulary.model import UnknownFieldError

        try:
            return filter_for_stream(filters, self._tap.product_id, self.name, dialect=self.universal_dialect())
        except UnknownFieldError as exc:
            if not self.skip_filter_on_unknown_field:
                raise
            self.logger.warning("setting 'filters' not applied to %s: %s", self.name, exc)
            return None

    @property
    def filter_matches_nothing(self) -> bool:
        """True when the filter can never match (``x in ()``): the stream sends no request at all."""
        translation = self.universal_filter
        return translation is not None and translation.empty

    def universal_params(self) -> dict[str, str]:
        """Request parameters carrying the pushed-down part (empty when nothing is pushed)."""
        translation = self.universal_filter
        return dict(translation.params) if translation is not None and translation.pushed is not None else {}

    def keep_record(self, record: Mapping[str, Any]) -> bool:
        """Whether a fetched record satisfies the part of the filter the API did not apply."""
        translation = self.universal_filter
        return translation is None or translation.matches(record)

    def post_process(self, row: dict[str, Any], context: Context | None = None) -> dict[str, Any] | None:
        return row if self.keep_record(row) else None

    @property
    def post_process_is_identity(self) -> bool:
        """``KitRESTStream.post_process_is_identity``: this ``post_process`` keeps every record when no filter
        applies to the stream (a subclass overriding it says nothing here)."""
        return type(self).post_process is UniversalFilterMixin.post_process and self.universal_filter is None
