"""Writing one record into Common.

``purchase_orders`` (Common's shape, e.g. from ``mapper-common`` with ``direction: from_erp``): looked up by
``po_number``; created when absent; when present, only the fields that differ are sent, so a re-run changes
nothing. The amendment workflow is respected: a PO that has left draft/pending (the supplier may have confirmed
it) gets changes to quantity, unit price or delivery date as a *proposal* (``PUT propose-changes``), never
overwritten; other fields are updated directly, but a record not known to be the PO's ERP line (another product or
unit; for a cancellation, another product, quantity, price or date) is refused whole, and so is, in that run, a new
line of its order with the PO's product and unit; a total that the proposal's approval would not give is refused.
``supplier_number`` (an ERP supplier id) is resolved to Common's supplier company by its ``erp_supplier_id``.

``amendments``: ``status: proposed`` proposes the changes on the PO named by ``po_number`` (unless the same
proposal is open); ``approved``/``rejected`` decides the open proposal (nothing open and the PO already shows that
decision: nothing to do).

Common's business answers (4xx in its error format), records that cannot be sent (unknown supplier) and records
that fail their stream's schema (``INVALID_RECORD``: the field's path and the rule, never the value) go to the dead
letters with the error code, detail and ``request_id``; a 405 stops the run (``CommonRouteError``); 429/5xx are
retried by the kit's session and, when the budget is spent, stop the run before any STATE past the record is
emitted.
"""

from __future__ import annotations

import json
import typing as t
from collections import Counter
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks import RecordSink

from target_common.client import CommonClient, CommonError
from xlr8_kit.dead_letters import datelike_properties, redacted_payload, schema_violation, unparseable_datelike
from xlr8_kit.redaction import Redactor

COMMERCIAL = ("quantity", "unit_price", "delivery_date")
WRITABLE = ("seller_company_id", "product_id", "product_name", "unit", "quantity", "unit_price", "total_amount",
            "currency", "order_date", "delivery_date", "delivery_location", "status", "notes")  # fmt: skip
OPEN_STATUSES = ("draft", "pending")
# Common's PO lifecycle, in the order a PO moves. The buyer's ERP owns only the buyer's steps (draft, released to the
# supplier = pending, cancelled): confirmation is the supplier's (plan 000, "Seller confirmation": POST
# .../seller-confirm), shipping to receipt are recorded in Common, amendment_pending is Common's own. So an ERP
# status is written only when the ERP owns it and it moves the PO forward; never backwards, never a guess.
LIFECYCLE = {"draft": 0, "pending": 1, "confirmed": 2, "in_transit": 3, "shipped": 3, "delivered": 4, "received": 5}
ERP_OWNED_STATUSES = ("draft", "pending", "cancelled")
CENT = Decimal("0.01")


class RecordFailed(Exception):
    """A record that cannot be written without a guess (dead-lettered like Common's own refusals)."""


#: Common's decimal fields (sent and served as text at their scale: "4.10"), and their proposals' names.
NUMERIC = frozenset({"quantity", "unit_price", "total_amount", "proposed_quantity", "proposed_unit_price"})


def _same_line_value(name: str, ours: t.Any, theirs: t.Any) -> bool:
    """Whether the record's ``name`` and Common's name the same line: units case-insensitively (S/4 spells them per
    language and case); a record without one leaves Common's as it is, but a value where Common has none is a
    difference (it would be written straight onto the PO, review29a L2)."""
    if name in ("product_id", "unit"):
        mine, common = (str(v).strip().upper() if v is not None else "" for v in (ours, theirs))
        return not mine or mine == common
    return _same(ours, theirs, name in NUMERIC)


def _same(ours: t.Any, theirs: t.Any, numeric: bool = False) -> bool:
    """Whether the record's value ``ours`` is what Common holds; a decimal field compares as a number whatever its
    text (an ERP's ``4.1`` is Common's ``4.10``: as text it would propose an unchanged price on a confirmed PO)."""
    if ours is None:
        return True  # a field the source does not carry is left as Common has it
    if numeric or isinstance(ours, int | float | Decimal) or isinstance(theirs, int | float | Decimal):
        try:
            return Decimal(str(ours)) == Decimal(str(theirs))
        except ArithmeticError:
            return False
    return str(ours) == str(theirs)


class CommonSink(RecordSink):
    """One stream of records into Common (purchase orders or amendments)."""

    def __init__(self, target: t.Any, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(target, *args, **kwargs)
        self.client: CommonClient = target.client
        self.dead_letters: DeadLetters = target.dead_letters
        self.counts: Counter[str] = target.counts
        self._datelike = datelike_properties(self.schema)
        #: Why the record being processed is refused before it is sent (its field's path and the rule), or None.
        self._rejection: tuple[str, str] | None = None
        #: po_number -> Common's PO, for POs refused in this run as not known to be the ERP record's line
        self._unsettled: dict[str, dict[str, t.Any]] = {}

    def _validate_and_parse(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        """Like the SDK's, but a record that fails the stream's schema, or whose date does not parse, is set aside
        as a dead letter naming the field's path and the rule, never the value (the SDK logged and raised the
        validator's text, which quotes it), and the others go on (RELIABILITY F1, D3)."""
        self._rejection = None
        try:
            if self._validator is not None:
                self._validator.validate(record)
        except InvalidRecord as exc:
            self._rejection = schema_violation(exc)
        else:
            self._rejection = unparseable_datelike(self, record, self._datelike)
        return record

    def _singer_validate_message(self, record: dict[str, t.Any]) -> None:
        if self._rejection is None:  # a refused record is lettered whole, key or not
            super()._singer_validate_message(record)

    def process_record(self, record: dict[str, t.Any], context: dict[str, t.Any]) -> None:
        if self._rejection is not None:
            path, reason = self._rejection
            self.dead_letters.add(self.stream_name, record, "INVALID_RECORD", f"{reason} at {path}", None, None)
            return
        try:
            if self.stream_name == "amendments":
                self.write_amendment(record)
            else:
                self.write_purchase_order(record)
        except CommonError as exc:
            self.dead_letters.add(self.stream_name, record, exc.error_code, exc.detail, exc.request_id, exc.status)
        except RecordFailed as exc:
            self.dead_letters.add(self.stream_name, record, "UNWRITABLE", str(exc), None, None)

    # --- purchase orders ----------------------------------------------------------------------------------
    def _body(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        body = {k: record[k] for k in WRITABLE if record.get(k) is not None}
        supplier = record.get("supplier_number")
        if "seller_company_id" not in body and supplier:
            company = self.client.suppliers_by_erp_id.get(str(supplier))
            if company is None:
                raise RecordFailed(f"supplier_number {supplier!r} is not a supplier company in Common")
            body["seller_company_id"] = company
        for name in ("quantity", "unit_price", "total_amount"):
            if name in body:
                body[name] = str(body[name])
        return body

    def _status(self, body: dict[str, t.Any], existing: dict[str, t.Any] | None) -> None:
        """Drop the ERP's status from ``body`` unless the ERP owns it and it moves the PO forward (see LIFECYCLE).

        A new PO takes the ERP's status as it is: the plan's create carries the PO's ``status`` with no rule on the
        first one (plan 000: ``POST /api/v1/purchase-orders``, PurchaseOrder ``status: enum``, ``status ->
        OrderStatus``), and there is nothing to move backwards from; created as ``pending`` a received order would
        stay open for good. Only ``amendment_pending``, Common's own (its amendment calls set it), is refused.

        A cancellation that cannot be written is refused (dead letter), never dropped: Common would keep the PO
        live and the supplier could ship against an order the buyer cancelled."""
        ours = body.get("status")
        if ours is None:
            return
        if existing is None:
            if ours == "amendment_pending":
                raise RecordFailed(
                    "a new PO whose ERP change awaits approval: Common cannot create a PO as amendment_pending "
                    "(its amendment calls set it); re-send once the ERP has decided the change"
                )
            return
        theirs = existing.get("status")
        if ours == "cancelled" and theirs != "cancelled":
            self._cancellable(existing)
            return
        if ours not in ERP_OWNED_STATUSES:
            forward = False  # the supplier's or Common's step: not the ERP's to set
        elif ours == theirs:
            forward = True
        else:
            forward = LIFECYCLE[ours] > LIFECYCLE.get(str(theirs), 99)  # draft -> pending only
        if not forward:
            del body["status"]
            if ours != theirs:
                self.counts["status_left_to_common"] += 1

    @staticmethod
    def _cancellable(po: dict[str, t.Any]) -> None:
        """Raise RecordFailed unless Common's PO may take the ERP's cancellation now (nothing delivered yet).

        An open amendment is judged by the status it was proposed from (``status_before_amendment``) when Common
        gives it; either way Common refuses the write until the amendment is decided (409 AMENDMENT_PENDING)."""
        number, theirs = po.get("po_number"), str(po.get("status"))
        before = po.get("status_before_amendment") if theirs == "amendment_pending" else theirs
        if before is not None and LIFECYCLE.get(str(before), 99) >= LIFECYCLE["delivered"]:
            raise RecordFailed(
                f"the ERP cancelled PO {number}, which Common shows as {before}: past delivery it cannot be "
                "cancelled from the ERP; settle it in Common"
            )
        if theirs == "amendment_pending":
            raise RecordFailed(
                f"the ERP cancelled PO {number}, whose amendment is open in Common: decide the open amendment "
                "first, then re-send the cancellation"
            )

    def _same_line(self, body: dict[str, t.Any], po: dict[str, t.Any]) -> None:
        """Raise RecordFailed when a record might be another ERP line than the one Common's PO past pending stands
        for (review28h H1, M1; review29a H1, M1, L2). Common has no field that carries the ERP's line, so it is
        judged by the values (the PO is remembered, see ``_held_line``).

        With ``multi_line: split`` the order's number stands for its lowest line as read, and that moves (the first
        line deleted after ``refuse`` landed the order with another live line, a line numbered below it added, the
        first line removed). A cancellation is written only when the record's product, quantity, unit price and
        delivery date are Common's (also after an approved amendment: ``amendment_status`` tells only the PO's last
        decision, review29k H1; until the ERP's order carries Common's values its cancellation is lettered, and no
        shipped job writes them back: review29l M1, open): a re-spelled unit does
        not stop it, another line's cancellation of the same material does. Any other write needs Common's product
        and unit; a record that brings a product to a PO without one is refused too. Cancelled on both sides:
        nothing to judge (M2)."""
        if po.get("status") in OPEN_STATUSES:
            return  # nothing promised yet: the PO takes the ERP's line as it is
        cancels = body.get("status") == "cancelled" and po.get("status") != "cancelled"
        names: tuple[str, ...] = (
            ("product_id", "quantity", "unit_price", "delivery_date") if cancels else ("product_id", "unit")
        )
        if po.get("status") == "cancelled" and body.get("status") == "cancelled":
            for name in [n for n in body if n != "status"]:
                del body[name]  # cancelled on both sides: nothing promised, nothing to settle or write (review29k M2)
            return
        differ = [n for n in names if not _same_line_value(n, body.get(n), po.get(n))]
        if differ:
            self._unsettled[str(po.get("po_number"))] = po  # also when refused below for another reason
        if cancels:
            self._cancellable(po)  # past delivery, or an amendment open: refused for that, more to the point
        if not differ:
            if cancels:
                for name in ("product_id", "product_name", "unit"):
                    body.pop(name, None)  # a cancellation writes the cancellation, nothing of another spelling
            return
        shown = "; ".join(f"{n} {po.get(n)!r} in Common, {body.get(n)!r} in the ERP's record" for n in differ)
        what = "cancellation" if cancels else "record"
        raise RecordFailed(
            f"PO {po.get('po_number')} is {po.get('status')} in Common and the ERP's {what} for it differs ({shown}): "
            "it is not known to be the same line, so nothing of the record is written (no cancellation, no "
            "overwrite, no proposal). Causes: the ERP's line changed (a corrected material or unit; tap-sap-s4hana's "
            "'language' re-spells units), or with multi_line split the order's lowest line moved (it was deleted "
            "or removed, or a line numbered below it was added; then a new line of the order cannot land under this "
            "number until it is settled). Settle in Common which line the PO stands for; if the ERP did cancel it, "
            "cancel it in Common"
        )

    def _held_line(self, number: str, body: dict[str, t.Any]) -> None:
        """Raise RecordFailed instead of creating ``number`` when it is a line (``<N><separator>...``) of a PO ``N``
        refused in this run by ``_same_line`` and has its product and unit (review29a H2): ``N`` may already carry
        this very line (``refuse`` landed it there, or it was ``N``'s first line before another moved in front), and
        created, the supplier would be sent it a second time."""
        for order, po in self._unsettled.items():
            rest = number[len(order) :] if number.startswith(order) else ""
            if not rest or rest[0].isalnum():
                continue
            if all(_same_line_value(n, body.get(n), po.get(n)) for n in ("product_id", "unit")):
                raise RecordFailed(
                    f"PO {number} is not created: Common's PO {order} ({po.get('status')}) has the same product "
                    f"{po.get('product_id')!r} and unit {po.get('unit')!r} and was refused in this run as not known "
                    f"to be the same line, so it may already carry this line (with multi_line split, when the order's "
                    f"lowest line moved); created, the supplier would get it twice. Settle {order} in Common first"
                )

    def write_purchase_order(self, record: dict[str, t.Any]) -> None:
        number = record.get("po_number")
        if not number:
            raise RecordFailed("record has no po_number")
        body = self._body(record)
        existing = self.client.find_po(str(number))
        if existing is not None:
            self._same_line(body, existing)
        else:
            self._held_line(str(number), body)
        self._status(body, existing)
        if existing is None:
            try:
                self.client.call("POST", "/purchase-orders", {"po_number": number, **body})
                self.counts["created"] += 1
                return
            except CommonError as exc:
                # a retried create whose first attempt did land (its answer was lost): carry on as an update
                if exc.error_code != "DUPLICATE_PO_NUMBER":
                    raise
                existing = self.client.find_po(str(number))
                if existing is None:
                    raise
                body = self._body(record)
                self._same_line(body, existing)
                self._status(body, existing)
        changed = {k: v for k, v in body.items() if not _same(v, existing.get(k), k in NUMERIC)}
        # review28f M3: Common's amendments carry quantity, unit price and delivery date, never a total, and its
        # approval works the total out of them; a total written straight onto a PO past pending would be a price
        # change the supplier never saw (S/4's 1.255 -> 1.258 keeps unit_price 1.26), so it is refused instead
        held = changed.pop("total_amount", None) if existing["status"] not in OPEN_STATUSES else None
        if held is not None and not self._total_held(existing, changed, held):
            held = None
        if not changed and held is None:
            self.counts["unchanged"] += 1
            return
        if changed:
            self._write_changes(existing, changed, record)
        if held is not None:
            raise RecordFailed(
                f"PO {number} is {existing['status']} in Common with total_amount {existing.get('total_amount')}; "
                f"the ERP's is {held}: Common's amendments propose quantity, unit price and delivery date only, so "
                "a total past pending is not written behind the supplier's back (the record's other changes were "
                "written or proposed); "
                + (
                    f"the PO is {existing['status']}: settle the total with the supplier"
                    if LIFECYCLE.get(str(existing["status"]), -1) >= LIFECYCLE["delivered"]
                    else "settle the total in Common"
                )
            )

    def _total_held(self, po: dict[str, t.Any], changed: dict[str, t.Any], total: t.Any) -> bool:
        """Whether the ERP's ``total`` for ``po`` (past pending) must be lettered (review28h M2, L4; review29a M2): not
        when it is what Common's approval of the quantity/price written or proposed with it gives (the emulator's
        approval works the total out as quantity x unit price, half up to the cent; the plan does not say so, an
        assumption about Common: an ordinary quantity change of a confirmed Fusion order moves its Amount with it),
        and not on a cancelled PO, whose total no longer matters (counted). A delivered or received PO's total change
        is lettered: a price correction after receipt is money the supplier and the buyer must settle."""
        before = po.get("status_before_amendment") if po.get("status") == "amendment_pending" else po.get("status")
        if before == "cancelled":
            self.counts["total_left_to_common"] += 1
            return False
        if "quantity" not in changed and "unit_price" not in changed:
            return True  # a total-only change: a price the supplier would never see
        try:
            quantity = Decimal(str(changed.get("quantity", po.get("quantity"))))
            price = Decimal(str(changed.get("unit_price", po.get("unit_price"))))
            return (quantity * price).quantize(CENT, ROUND_HALF_UP) != Decimal(str(total))
        except ArithmeticError:
            return True

    def _write_changes(self, existing: dict[str, t.Any], changed: dict[str, t.Any], record: dict[str, t.Any]) -> None:
        """``changed`` onto Common's PO: written while it is open, else its commercial part proposed."""
        commercial = {k: v for k, v in changed.items() if k in COMMERCIAL}
        direct = {k: v for k, v in changed.items() if k not in COMMERCIAL and k != "total_amount"}
        if existing["status"] in OPEN_STATUSES or not commercial:
            self.client.call("PUT", f"/purchase-orders/{existing['id']}", changed)
            self.counts["updated"] += 1
            return
        if direct:
            self.client.call("PUT", f"/purchase-orders/{existing['id']}", direct)
        self._propose(existing, commercial, reason=str(record.get("notes") or "changed in the ERP"))

    def _propose(self, po: dict[str, t.Any], changes: dict[str, t.Any], *, reason: str) -> None:
        proposal = {f"proposed_{k}": v for k, v in changes.items()}
        if po.get("amendment_status") == "proposed" and self._open_proposal_is(po, proposal):
            self.counts["unchanged"] += 1
            return  # the same proposal is already waiting for the supplier: nothing new
        try:
            self.client.call(
                "PUT", f"/purchase-orders/{po['id']}/propose-changes", {**proposal, "amendment_reason": reason}
            )
        except CommonError as exc:
            # a retried call whose first attempt landed (its answer lost) meets our own proposal: Common holds it
            if exc.error_code != "AMENDMENT_PENDING" or not self._open_proposal_is(po, proposal):
                raise
        self.counts["proposed"] += 1

    def _open_proposal_is(self, po: dict[str, t.Any], proposal: dict[str, t.Any]) -> bool:
        open_ones = self.client.call("GET", f"/purchase-orders/{po['id']}/amendments")["data"]
        current = next((a for a in open_ones if a["status"] == "proposed"), None)
        return current is not None and all(_same(v, current.get(k), k in NUMERIC) for k, v in proposal.items())

    # --- amendments ---------------------------------------------------------------------------------------
    def write_amendment(self, record: dict[str, t.Any]) -> None:
        number = record.get("po_number")
        po = self.client.find_po(str(number)) if number else None
        if po is None:
            raise RecordFailed(f"amendment for unknown purchase order {number!r}")
        status = record.get("status")
        if status == "proposed":
            changes = {k: record.get(f"proposed_{k}") for k in COMMERCIAL if record.get(f"proposed_{k}") is not None}
            if not changes:
                raise RecordFailed("a proposed amendment needs proposed_quantity, _unit_price or _delivery_date")
            self._propose(po, changes, reason=str(record.get("amendment_reason") or "amendment"))
        elif status in ("approved", "rejected"):
            if po.get("amendment_status") != "proposed":
                if po.get("amendment_status") == status:
                    self.counts["unchanged"] += 1
                    return
                raise RecordFailed(f"purchase order {number} has no open proposal to mark {status}")
            try:
                self.client.call(
                    "PUT",  # Common's method for both amendment calls (plan: PUT .../propose-changes, approve-changes)
                    f"/purchase-orders/{po['id']}/approve-changes",
                    {"approve": status == "approved", "buyer_notes": record.get("decision_notes")},
                )
            except CommonError as exc:
                # a retried decision whose first attempt landed: Common now shows that decision, nothing open
                now = self.client.find_po(str(number)) if exc.error_code == "NO_PENDING_AMENDMENT" else None
                if now is None or now.get("amendment_status") != status:
                    raise
            self.counts[status] += 1
        else:
            raise RecordFailed(f"amendment status {status!r} is not proposed, approved or rejected")


class DeadLetters:
    """JSON lines: stream, key, error code, detail, request_id, HTTP status, the record; a ceiling fails the run.

    The file outlives the run and is read by people, so the record is kept as every dead letter keeps one
    (``xlr8_kit.dead_letters``): secret-named and PII-named fields masked at any depth (this target has no PII key to
    protect them with), registered secrets masked, long strings cut."""

    def __init__(self, path: str, ceiling: int, redactor: Redactor) -> None:
        self.path = Path(path)
        self.ceiling = ceiling
        self.redactor = redactor
        self.count = 0

    def add(
        self,
        stream: str,
        record: dict[str, t.Any],
        error_code: str,
        detail: str,
        request_id: str | None,
        status: int | None,
    ) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = {
            "at": datetime.now(UTC).isoformat(),
            "stream": stream,
            "po_number": record.get("po_number"),
            "error_code": error_code,
            "detail": detail,
            "request_id": request_id,
            "status": status,
            "record": redacted_payload(record, self.redactor, personal=True),
        }
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, default=str) + "\n")
            handle.flush()
        self.count += 1
        if self.count > self.ceiling:
            raise RuntimeError(
                f"target-common: {self.count} records dead-lettered (setting 'dead_letter_ceiling' is "
                f"{self.ceiling}); see {self.path}"
            )
