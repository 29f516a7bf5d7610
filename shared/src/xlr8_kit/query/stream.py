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

# The mixin lives in ``xlr8_kit.filtering`` so that a tap imports it without the query language (this package's
# ``__init__`` imports all of it); the documentation above is its contract.
from xlr8_kit.filtering import UniversalFilterMixin as UniversalFilterMixin
