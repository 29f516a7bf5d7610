"""Python surface for the gatherer (``xlr8.connectors`` entry point ``common``): the kit's ``TapConnector`` over
this tap, so ``get_entity`` sends the requests a sync sends and returns the rows a sync emits."""

from __future__ import annotations

from xlr8_kit.connectors import TapConnector
from xlr8_tap_common.tap import TapCommon


class CommonConnector(TapConnector):
    product_id = "common"
    tap_class = TapCommon
    probe_stream = "companies"
