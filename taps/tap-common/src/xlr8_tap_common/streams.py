"""Common's streams: declarations, plus the one behaviour that belongs to a stream, the ERP-sync acknowledgement.

``erp_sync_pending_updates`` never acknowledges what it just emitted. Each id it emits goes into its STATE
(``delivered_update_ids``) after the record is written, so a STATE naming an id only reaches the state backend
once the target committed that record. At the start of the next run the ids found in the *incoming* state are
acknowledged (idempotent on Common's side), then the pending list is read again. A crash before the target's
commit leaves the old state: nothing new is acknowledged and the updates are read again; a crash after it
re-acknowledges ids Common already has (a no-op). Stream maps that drop records would acknowledge them too: do not
filter this stream with one (mapper-common's ``drop_other_streams`` drops the stream's bookmark with its records).

An acknowledgement changes the orders' ``erp_sync_status`` (``pending`` to ``synced``) without moving their
``updated_at`` (Common keeps the flag in its own table), so ``purchase_orders``' incremental read never sees it. The
state also names the updates' orders (``delivered_order_ids``); right after acknowledging, the run re-reads them by id
and writes them as ``purchase_orders`` records, before any STATE that no longer names them: a crash before they
landed leaves the old state, and the next run acknowledges (a no-op) and re-reads them again.
"""

from __future__ import annotations

import contextvars
import typing as t
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from urllib.parse import quote

from singer_sdk.streams import Stream

from xlr8_kit.batching import KitBatchingMixin
from xlr8_kit.columns import schema_of
from xlr8_kit.http.errors import ClientRequestError
from xlr8_kit.rest import ActivateAtEndMixin, AnnotatedStreamMixin
from xlr8_tap_common.client import CommonStream, error_summary, parsed_body

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

ACK_BATCH = 500
DELIVERED_KEY = "delivered_update_ids"
#: The orders of the updates named in ``DELIVERED_KEY``: re-read once those are acknowledged.
ORDERS_KEY = "delivered_order_ids"
#: The receiver store the ``webhook_events`` bookmark was read from (``xlr8_tap_common.webhooks.store_position``).
STORE_ID_KEY = "store_id"
#: ``{"seq", "event_id"}`` of the last event the ``webhook_events`` bookmark covers (``_first_unread_after``).
BOOKMARK_EVENT_KEY = "bookmark_event"


class PurchaseOrdersStream(CommonStream):
    name = "purchase_orders"
    path = "/purchase-orders"
    primary_keys = ("id",)
    replication_key = "updated_at"
    is_sorted = True
    xlr8_entity = "purchase_order"
    xlr8_references = {"buyer_company_id": "company", "seller_company_id": "company", "supplier_number": "supplier"}
    columns = {"id": "s", "po_number": "s", "buyer_company_id": "s", "seller_company_id": "s",
               "buyer_contact_employee_id": "s", "product_id": "s", "product_name": "s", "unit": "s",
               "quantity": "n", "unit_price": "n", "total_amount": "n", "currency": "s", "order_date": "d",
               "delivery_date": "d", "delivery_location": "s", "status": "s", "amendment_status": "s",
               "amendment_count": "i", "erp_sync_status": "s", "notes": "s", "seller_confirmed_at": "dt",
               "created_at": "dt", "updated_at": "dt", "supplier_number": "s"}  # fmt: skip

    def shape(self, row: dict[str, t.Any]) -> dict[str, t.Any]:
        """Adds ``supplier_number``: the seller's ERP supplier id (``erp_supplier_id`` of its Common company), the
        key ERP purchase orders name suppliers by (mapper-common's templates map it)."""
        out = super().shape(row)
        out["supplier_number"] = self._supplier_number(out.get("seller_company_id"))
        return out

    def shape_columns(self, columns: dict[str, list[t.Any]]) -> None:
        """``shape``'s ``supplier_number`` for a page."""
        columns["supplier_number"] = list(map(self._supplier_number, columns["seller_company_id"]))

    def _supplier_number(self, seller: t.Any) -> str | None:
        """The ERP supplier id of company ``seller``. A seller the run's look-up never saw was created after it (a
        supplier onboarded mid-run): the look-up is read again, once per such id, so its orders do not land with a
        null ``supplier_number`` that no later incremental run would correct (their ``updated_at`` does not move
        when the company appears; cmnaud28 finding 4)."""
        if seller is None:
            return None
        key = str(seller)
        numbers = self.supplier_numbers
        if key not in numbers and key not in self._reread_for:
            self._reread_for.add(key)
            numbers = self.__dict__["supplier_numbers"] = _supplier_numbers(self._supplier_companies())
        return numbers.get(key)

    #: The supplier look-up being read beside the purchase orders (``request_record_pages``), None otherwise.
    _suppliers_beside: Future[dict[str, str | None]] | None = None

    @cached_property
    def _reread_for(self) -> set[str]:
        """Sellers the look-up was read again for this run (``_supplier_number``)."""
        return set()

    def request_record_pages(self, context: Context | None) -> t.Generator[list[dict[str, t.Any]], None, None]:
        """The purchase orders' pages, with the supplier look-up (every company, a few pages) read on a thread
        beside them from the start, instead of after the first page came back: its requests' waits overlap the
        orders' (measured: +6% records/s at 100 ms per request; nothing to hide at 0 ms). The first page's shaping
        waits for it and gets its result, or its error, as the first record would have. A run without purchase
        orders reads it too, and drops it (and its error) unseen."""
        if "supplier_numbers" in self.__dict__:
            yield from super().request_record_pages(context)
            return
        companies = self._supplier_companies()  # built here, read there
        with ThreadPoolExecutor(1, thread_name_prefix="xlr8-suppliers") as beside:
            self._suppliers_beside = beside.submit(contextvars.copy_context().run, _supplier_numbers, companies)
            try:
                yield from super().request_record_pages(context)
            finally:
                self._suppliers_beside = None

    @cached_property
    def supplier_numbers(self) -> dict[str, str | None]:
        """Common company id -> ERP supplier id (None: the company has none), read once per run through the same
        session (again for a seller it did not hold: ``_supplier_number``)."""
        pending = self._suppliers_beside
        if pending is not None:
            return pending.result()
        return _supplier_numbers(self._supplier_companies())

    def write_reread(self, ids: Iterable[str]) -> int:
        """Reads these orders by id (``GET /purchase-orders/{id}``) and writes them as this stream's records, shaped
        and filtered as the list's are, without touching the bookmark (they sort before it); the number written. An
        order Common no longer has (404) is passed over with a WARNING: nothing of it is left to read."""
        ids = list(ids)
        if not ids or not self.selected or self.filter_matches_nothing:
            return 0
        self._write_schema_message()  # the run may not have sent it yet (a catalog naming this stream later)
        written = 0
        gone: list[str] = []
        for po_id in ids:
            prepared = self.build_prepared_request(
                method="GET",
                url=f"{self.url_base}{self.path}/{quote(po_id, safe='')}",
                headers={"Accept": "application/json"},
            )
            try:
                response = self._request(prepared, None)
            except ClientRequestError as exc:
                if exc.status != 404:
                    raise
                gone.append(po_id)
                continue
            row = parsed_body(response)
            if type(row) is not dict or row.get("id") != po_id:
                raise ClientRequestError(
                    f"common purchase_orders: expected purchase order {po_id} from {self.path}/{{id}}, got "
                    f"{type(row).__name__}",
                    status=response.status_code,
                    path=f"{self.path}/{{id}}",
                )
            record = self.post_process(self.shape(row), None)
            if record is not None:
                self._write_record_message(record)
                written += 1
        if gone:
            self.logger.warning(
                "common purchase_orders: %d order(s) of acknowledged ERP-sync updates no longer found (404), not "
                "re-read",
                len(gone),
            )
        return written

    def _supplier_companies(self) -> CompaniesStream:
        companies = CompaniesStream(self._tap)
        companies.__dict__["universal_filter"] = None  # every supplier, whatever the run's ``filters`` say
        return companies


def _supplier_numbers(companies: CompaniesStream) -> dict[str, str | None]:
    """Every company's id -> its ERP supplier id, None for a company without one (seen, so not read again for)."""
    rows = companies.get_records(None)
    return {str(r["id"]): str(r["erp_supplier_id"]) if r.get("erp_supplier_id") else None for r in rows}


class AmendmentsStream(CommonStream):
    name = "amendments"
    path = "/amendments"
    primary_keys = ("id",)
    replication_key = "updated_at"
    is_sorted = True
    xlr8_entity = "amendment"
    xlr8_references = {"purchase_order_id": "purchase_order"}
    columns = {"id": "s", "purchase_order_id": "s", "po_number": "s", "status": "s", "proposed_by": "s",
               "proposed_quantity": "n", "proposed_unit_price": "n", "proposed_delivery_date": "d",
               "amendment_reason": "s", "decision_notes": "s", "proposed_at": "dt", "decided_at": "dt",
               "updated_at": "dt"}  # fmt: skip


class CompaniesStream(CommonStream):
    name = "companies"
    path = "/companies"
    primary_keys = ("id",)
    xlr8_entity = "company"
    xlr8_truth_type = "configuration"
    columns = {"id": "s", "name": "s", "company_type": "s", "erp_company_code": "s", "erp_supplier_id": "s",
               "country": "s", "currency": "s", "payment_terms": "s", "is_active": "b", "created_at": "dt",
               "updated_at": "dt"}  # fmt: skip


class BusinessRelationshipsStream(CommonStream):
    name = "business_relationships"
    path = "/business-relationships"
    primary_keys = ("id",)
    xlr8_entity = "business_relationship"
    xlr8_references = {"buyer_company_id": "company", "seller_company_id": "company"}
    columns = {"id": "s", "buyer_company_id": "s", "seller_company_id": "s", "relationship_type": "s",
               "status": "s", "invited_email": "s", "invited_name": "s", "created_at": "dt",
               "updated_at": "dt"}  # fmt: skip


class ErpSyncPendingUpdatesStream(CommonStream):
    name = "erp_sync_pending_updates"
    path = "/erp-sync/pending-updates"
    primary_keys = ("id",)
    xlr8_entity = "erp_sync_update"
    xlr8_references = {"purchase_order_id": "purchase_order"}
    columns = {"id": "s", "purchase_order_id": "s", "po_number": "s", "update_type": "s", "changes": "o",
               "created_at": "dt"}  # fmt: skip
    #: Acknowledgement calls of this run (tests and logs): ids sent, and what Common answered.
    ack_results: list[dict[str, t.Any]]

    @property
    def emit_activate_version_messages(self) -> bool:
        """Never: the pending list is a queue, not the table's rows. An update this tap acknowledged leaves it
        without being deleted, so an ACTIVATE_VERSION (``emit_activate_version_messages: true``) had the target
        mark deleted, or with ``hard_delete`` delete, every update an earlier run landed, exit 0."""
        return False

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        state = self.stream_state
        delivered = [str(i) for i in state.get(DELIVERED_KEY) or ()]
        orders = [str(i) for i in state.get(ORDERS_KEY) or ()]
        self.ack_results = []
        if delivered and self.settings.acknowledge_updates:
            self.acknowledge(delivered)
            self.reread_orders(orders)
            # acknowledged and re-read: the next state names only what this run delivers
            state[DELIVERED_KEY] = []
            state[ORDERS_KEY] = []
        elif not self.settings.acknowledge_updates:
            state[DELIVERED_KEY] = []
            state[ORDERS_KEY] = []
        yield from super().get_records(context)

    def post_process(self, row: dict[str, t.Any], context: Context | None = None) -> dict[str, t.Any] | None:
        out = super().post_process(row, context)
        if out is not None:
            # written to STATE only after the SDK writes this record (the state message follows the record)
            delivered = self.stream_state.setdefault(DELIVERED_KEY, [])
            if out["id"] not in delivered:
                delivered.append(out["id"])
            order = out.get("purchase_order_id")
            orders = self.stream_state.setdefault(ORDERS_KEY, [])
            if order is not None and order not in orders:
                orders.append(order)
        return out

    def reread_orders(self, ids: list[str]) -> None:
        """The acknowledged updates' orders, read again into ``purchase_orders`` (when selected): the
        acknowledgement changed their ``erp_sync_status`` and not their ``updated_at``. Written before this run's
        first STATE that drops the ids, so a crash first leaves them in the state for the next run."""
        orders = self._tap.streams.get(PurchaseOrdersStream.name)
        if ids and isinstance(orders, PurchaseOrdersStream):
            written = orders.write_reread(ids)
            self.logger.info("common: re-read %d purchase order(s) whose ERP-sync updates were acknowledged", written)

    def acknowledge(self, ids: list[str]) -> None:
        """Tell Common these updates reached the destination (a previous run's state says they did)."""
        path = "/erp-sync/" + self.settings.ack_route
        for start in range(0, len(ids), ACK_BATCH):
            chunk = ids[start : start + ACK_BATCH]
            response = self.post_json(path, {"update_ids": chunk})
            answer = response.json() if response.content else {}
            self.ack_results.append({"sent": chunk, "answer": answer})
            unknown = answer.get("unknown") or [] if isinstance(answer, dict) else []
            if unknown:
                self.logger.warning(
                    "common: %d delivered update id(s) unknown to Common when acknowledged (%s)",
                    len(unknown),
                    error_summary(response),
                )
            self.logger.info(
                "common: acknowledged %d ERP-sync update(s) delivered by the previous run (%d already acknowledged)",
                len(answer.get("acknowledged") or []) if isinstance(answer, dict) else 0,
                len(answer.get("already_acknowledged") or []) if isinstance(answer, dict) else 0,
            )


STREAMS: tuple[type[CommonStream], ...] = (
    PurchaseOrdersStream,
    AmendmentsStream,
    CompaniesStream,
    BusinessRelationshipsStream,
    ErpSyncPendingUpdatesStream,
)


class WebhookEventsStream(ActivateAtEndMixin, AnnotatedStreamMixin, KitBatchingMixin, Stream):
    """Events the ``xlr8-common-webhooks`` receiver stored (``webhook_store_path``), incremental by ``seq``. Not an
    HTTP stream, but its BATCH files are the kit's as every other stream's (``xlr8_kit.batching``: sizes growing
    from 10,000 to ``batch_size``, ``encoding.compression`` honoured, the STATE after each file covering it), and
    its SCHEMA carries Common's ``x-xlr8`` annotation, so it lands as ``{p8}_common_webhook_events``. Before it did,
    it landed under the run's source (``{p8}_singer_webhook_events`` piped, ``{p8}_tap_common_webhook_events`` under
    ``meltano run``): ``xlr8_formerly_unannotated`` has the target move that table to the new name, once."""

    name = "webhook_events"
    primary_keys = ("event_id",)
    replication_key = "seq"
    is_sorted = True
    xlr8_entity = "webhook_event"
    xlr8_formerly_unannotated = True
    schema = schema_of({"seq": "i", "event_id": "s", "event_type": "s", "signed_at": "i", "received_at": "dt",
                        "payload": "o"})  # fmt: skip

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        from xlr8_tap_common.webhooks import read_events

        path = self.config.get("webhook_store_path")
        if not path or not Path(path).exists():
            raise FileNotFoundError(f"setting 'webhook_store_path': no webhook event store at {path!r}")
        after = self._first_unread_after(path, int(self.get_starting_replication_key_value(context) or 0))
        state = self.stream_state
        for event in read_events(path, after):
            event["received_at"] = event["received_at"].replace("Z", "+00:00")
            # the STATE that follows this record carries its seq as the bookmark; a STATE held back (BATCH files)
            # pairs the bookmark with a later event, and its check is then passed over (the seqs differ)
            state[BOOKMARK_EVENT_KEY] = {"seq": event["seq"], "event_id": event["event_id"]}
            yield event

    def _first_unread_after(self, path: str, after: int) -> int:
        """The ``seq`` to read after: the bookmark, or 0 when it was read from another store. A recreated or
        replaced store (a new host or volume, a deleted file, another receiver's) numbers its events from 1 again,
        so the bookmark would skip every event up to it, for good and with exit 0. Its id (``store_id`` in this
        stream's state) or a bookmark past every ``seq`` it issued tells it apart: it is read from its first event,
        and events both stores hold land once (keyed by ``event_id``)."""
        from xlr8_tap_common.webhooks import event_id_at, store_created_with_id, store_position

        store_id, issued = store_position(path)
        state = self.stream_state
        known = state.get(STORE_ID_KEY)
        why = None
        if after and known and store_id and known != store_id:
            why = "its store id changed"
        elif after and after > issued:
            why = f"it issued seq {issued} at most"
        elif after and not known and BOOKMARK_EVENT_KEY not in state and store_created_with_id(path):
            # a bookmark from before store ids, and a store made with its id since (an upgraded receiver redeployed
            # on a new volume): read from before that store existed (at worst its events again, upserted once)
            why = "the bookmark is from before store ids, the store was created since"
        elif after:
            # the event at the bookmark, when the state names it and the store still holds it: a store restored
            # from an older backup, or one without an id recreated, has grown past the bookmark with other events
            mark = state.get(BOOKMARK_EVENT_KEY)
            if isinstance(mark, dict) and mark.get("seq") == after:
                found = event_id_at(path, after)
                if found is not None and found != mark.get("event_id"):
                    why = f"its event at seq {after} is not the one read there"
        if why is not None:
            self.logger.warning(
                "common webhook_events: the store at setting 'webhook_store_path' (%s) is not the one the bookmark "
                "(seq %d) was read from (%s): reading it from its first event",
                path,
                after,
                why,
            )
            after = 0
            state["starting_replication_value"] = state["replication_key_value"] = 0
            state.pop(BOOKMARK_EVENT_KEY, None)
        if store_id:
            state[STORE_ID_KEY] = store_id
        return after
