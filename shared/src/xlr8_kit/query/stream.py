"""``UniversalFilterMixin``: the ``filters`` setting on a tap stream, in three calls, so every tap handles it the
same way (and ``TapConnector`` can set a per-call filter through the same hook).

    class UkgRestStream(UniversalFilterMixin, KitRESTStream):
        def get_url_params(self, context, next_page_token):
            return {**base_params, **self.universal_params()}          # what the API filters itself

        def get_records(self, context):
            if self.filter_matches_nothing:                            # ``x in ()``: no request needed
                return
            yield from super().get_records(context)

The mixin's ``post_process`` drops the records that fail the part of the filter the API did not apply; a stream
that reshapes its records in its own ``post_process`` ends it with ``return out if self.keep_record(out) else None``.
Dialects whose filter is part of a query text (SOQL, OData ``$filter``, Oracle ``q``) read
``self.universal_filter.where`` instead of ``universal_params()`` and combine it with their own clauses.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from xlr8_kit.query.translate import Translation, filter_for_stream
from xlr8_kit.vocabulary.model import UnknownFieldError

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


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
        try:
            return filter_for_stream(
                self.config.get("filters"), self._tap.product_id, self.name, dialect=self.universal_dialect()
            )
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
