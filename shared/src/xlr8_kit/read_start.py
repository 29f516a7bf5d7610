"""The bookmark of an unsorted incremental read, held at the moment the read started.

An unsorted read's bookmark is the largest change stamp it saw. A row served early and edited while later pages
are read keeps its old values in this read, and an edit to another row served later can carry the bookmark past
the first edit: the next run, reading ``>= bookmark``, never reads it (review audit24a H3). Capping the final
bookmark at the read's start (the server's ``Date`` on its first answer, less a skew for the server's own clocks)
re-reads every row changed during the read on the next run; the target upserts them.
"""

from __future__ import annotations

import logging
import typing as t
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

    from xlr8_kit.rest import KitRESTStream

    _Base = KitRESTStream
else:
    _Base = object

logger = logging.getLogger(__name__)

#: How far the server's clock stamping rows may trail the clock writing its ``Date`` header.
READ_START_SKEW = timedelta(seconds=60)
PROGRESS_MARKERS = "progress_markers"


def server_time(response: requests.Response) -> datetime | None:
    """The response's ``Date`` header as an aware UTC moment, None when absent or malformed."""
    value = response.headers.get("Date")
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def aware_instant(value: t.Any) -> datetime | None:
    """An ISO 8601 text (``Z`` or an offset; none read as UTC) as an aware moment, None when it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cap_bookmark(state: dict[str, t.Any], cap: datetime) -> str | None:
    """Lower the unsorted read's bookmark (its progress marker) to ``cap`` when it went past it; the new value, or
    None when it was not past."""
    markers = state.get(PROGRESS_MARKERS)
    if not isinstance(markers, dict):
        return None
    seen = aware_instant(markers.get("replication_key_value"))
    if seen is None or seen <= cap:
        return None
    markers["replication_key_value"] = capped = cap.strftime("%Y-%m-%dT%H:%M:%SZ")
    return capped


class ReadStartCap(_Base):
    """For unsorted incremental streams: call ``note_read_start`` with each response (the first one counts); the
    final bookmark is then ``min(largest stamp seen, read start - read_start_skew)``. Without a ``Date`` header the
    local clock when the first answer came is used."""

    read_start_skew: t.ClassVar[timedelta] = READ_START_SKEW
    _read_start: datetime | None = None
    _sync_started: datetime | None = None

    def note_read_start(self, response: requests.Response) -> None:
        if self._read_start is None:
            self._read_start = server_time(response) or datetime.now(UTC)

    def _write_starting_replication_value(self, context: Context | None) -> None:
        """A read starts here (both record loops call it first): a new read start is noted."""
        self._read_start = None
        self._sync_started = datetime.now(UTC)
        super()._write_starting_replication_value(context)

    def _finalize_state(self, state: dict[str, t.Any] | None = None) -> None:
        started = self._read_start or self._sync_started
        if state and started is not None and self.replication_key:
            capped = cap_bookmark(state, started.replace(microsecond=0) - self.read_start_skew)
            if capped is not None:
                logger.info(
                    "%s: bookmark held at the read's start (%s): rows changed while it read are read again next run",
                    self.name, capped,
                )  # fmt: skip
        super()._finalize_state(state)
