"""One Python surface for every product, found by product id (issue 10).

- ``BaseConnector``: connect/disconnect, ``test_connection() -> ConnectionStatus``, ``get_entity`` (iterator),
  ``get_entity_schema``, ``execute_query`` (iterator), optional ``bulk_export``/``get_bulk_status``.
- ``TapConnector``: the generic implementation over a product's ``KitTap`` (same requests as a sync).
- ``ConnectorFactory.create(product_id, credential)``: entry point group ``xlr8.connectors``.
"""

from xlr8_kit.connectors.base import (
    CHECK_NAMES,
    BaseConnector,
    BulkJob,
    BulkNotSupportedError,
    Check,
    ConnectionStatus,
    ConnectorError,
    ConnectorNotFoundError,
)
from xlr8_kit.connectors.factory import ENTRY_POINT_GROUP, ConnectorFactory
from xlr8_kit.connectors.tap import DeferredDiscovery, TapConnector, sync_records, tap_connector

__all__ = [
    "CHECK_NAMES",
    "ENTRY_POINT_GROUP",
    "BaseConnector",
    "BulkJob",
    "BulkNotSupportedError",
    "Check",
    "ConnectionStatus",
    "ConnectorError",
    "ConnectorFactory",
    "ConnectorNotFoundError",
    "DeferredDiscovery",
    "TapConnector",
    "sync_records",
    "tap_connector",
]
