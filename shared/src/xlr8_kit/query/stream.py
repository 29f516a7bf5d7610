"""``UniversalFilterMixin``: the ``filters`` setting on a tap stream, in three calls, so every tap handles it the
same way (and ``TapConnector`` can set a per-call filter through the same hook).

    class UkgRestStream(UniversalFilterMixin, KitRESTStream):
        def get_url_params(self, context, next_page_token):
            return {**base_params, **self.universal_params()}          # what the API filters itself

        def post_process(self, row, context=None):
            return row if self.keep_record(row) else None             # the rest, checked on every row

Dialects whose filter is part of a query text (SOQL, OData ``$filter``, Oracle ``q``) read
``self.universal_filter.where`` instead of ``universal_params()`` and combine it with their own clauses.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

from xlr8_kit.query.translate import Translation, filter_for_stream


class UniversalFilterMixin:
    """Mix into a ``KitRESTStream`` subclass (before it); reads the tap's ``filters`` setting."""

    name: str
    config: Mapping[str, Any]
    _tap: Any

    @cached_property
    def universal_filter(self) -> Translation | None:
        """This stream's translation of the ``filters`` setting, or None when the filter is not for it."""
        return filter_for_stream(self.config.get("filters"), self._tap.product_id, self.name)

    def universal_params(self) -> dict[str, str]:
        """Request parameters carrying the pushed-down part (empty when nothing is pushed)."""
        translation = self.universal_filter
        return dict(translation.params) if translation is not None and translation.pushed is not None else {}

    def keep_record(self, record: Mapping[str, Any]) -> bool:
        """Whether a fetched record satisfies the part of the filter the API did not apply."""
        translation = self.universal_filter
        return translation is None or translation.matches(record)
