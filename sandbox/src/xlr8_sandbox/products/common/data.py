"""Common's records on the one fictional company: buyers, suppliers, relationships, POs, amendments, ERP updates.

Buyers are the company's legal entities; suppliers and purchase orders are ``company.supplier(i)`` and
``company.purchase_order(i)`` (the same numbers, amounts and currencies S/4HANA and Oracle ERP show). What the
company does not carry (product, quantity and unit price, delivery date, amendment history) is derived here from
the seed, deterministically. Quantities carry 3 decimals and money 2, as strings on the wire (exact decimals).

ERP-sync pending updates follow sandbox time: a backlog exists at the start, and one more appears every
``PENDING_INTERVAL``; each one is a change already visible on its purchase order (status or delivery date, with
``updated_at`` moved to the moment it appeared). Writes through the API add their own pending update.
"""

from __future__ import annotations

import functools
import hashlib
import random
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from xlr8_sandbox.company import EPOCH, Company, PurchaseOrder
from xlr8_sandbox.seeded import SeedDigests

PO_STATUSES = (
    "draft",
    "pending",
    "confirmed",
    "in_transit",
    "shipped",
    "delivered",
    "received",
    "amendment_pending",
    "cancelled",
)
AMENDMENT_STATUSES = ("none", "proposed", "approved", "rejected")
ERP_SYNC_STATUSES = ("not_required", "pending", "synced", "failed")
PENDING_INTERVAL = timedelta(hours=1)
QTY = Decimal("0.001")
CENT = Decimal("0.01")
_NAMESPACE = uuid.UUID("6f1c3a52-94c2-4c57-9a0e-2c1f6f0c0001")
#: SHA-1 of the namespace's bytes, copied per id (``uuid5_text``).
_NAMESPACE_SHA1 = hashlib.sha1(_NAMESPACE.bytes, usedforsecurity=False)
_VARIANT_VERSION_MASK = ~((0xC000 << 48) | (0xF000 << 64))
_VARIANT_VERSION_5 = (0x8000 << 48) | (5 << 76)


def uuid5_text(namespace_sha1: Any, name: str) -> str:
    """``str(uuid.uuid5(namespace, name))`` given ``hashlib.sha1(namespace.bytes)``: the same hash, RFC 4122
    variant and version bits and text, without the UUID object (``sandbox/tests/test_fast_paths_exact.py``)."""
    h = namespace_sha1.copy()
    h.update(name.encode())
    value = (int.from_bytes(h.digest()[:16], "big") & _VARIANT_VERSION_MASK) | _VARIANT_VERSION_5
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


_COMPANY_STATUS = {"Open": "pending", "Approved": "confirmed", "Received": "received", "Closed": "delivered"}
_SHIPPING = ("confirmed", "in_transit", "shipped")
_PRODUCTS = (
    ("MAT-1001", "Steel fasteners", "KG"),
    ("MAT-1002", "Copper wire", "M"),
    ("MAT-2001", "Industrial lubricant", "L"),
    ("MAT-3001", "Packaging cartons", "EA"),
    ("MAT-4001", "Hydraulic fittings", "EA"),
    ("SRV-9001", "Maintenance service", "H"),
)
_NEXT_STATUS = {
    "pending": "confirmed",
    "confirmed": "in_transit",
    "in_transit": "shipped",
    "shipped": "delivered",
    "delivered": "received",
}


def money(value: Decimal) -> str:
    return str(value.quantize(CENT, ROUND_HALF_UP))


def quantity(value: Decimal) -> str:
    return str(value.quantize(QTY, ROUND_HALF_UP))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class CommonApiError(Exception):
    """A business error the API answers in Common's error format."""

    def __init__(self, status: int, error_code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error_code = error_code
        self.detail = detail


@dataclass
class PendingUpdate:
    id: str
    po_index: int | None
    po_id: str
    po_number: str
    update_type: str
    changes: dict[str, Any]
    created_at: datetime

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "purchase_order_id": self.po_id,
            "po_number": self.po_number,
            "update_type": self.update_type,
            "changes": self.changes,
            "created_at": iso(self.created_at),
        }


@dataclass
class CommonState:
    """What the API changed on top of the derived data (reset forgets it)."""

    po_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # by id: full record
    created_order: list[str] = field(default_factory=list)
    amendments: dict[str, dict[str, Any]] = field(default_factory=dict)  # API-made amendments by id
    api_updates: list[PendingUpdate] = field(default_factory=list)
    relationships: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: update id -> how many acknowledge calls named it; ``first_acked`` keeps the first time it took effect.
    ack_calls: Counter[str] = field(default_factory=Counter)
    first_acked: dict[str, datetime] = field(default_factory=dict)
    inserted: int = 0


class CommonData:
    def __init__(self, company: Company) -> None:
        self.company = company
        self._seed_digests = SeedDigests(f"{company.seed}:common:")
        #: Company ids (a few buyers, one per supplier) are looked up for every order: uuid5 once per company.
        self._company_ids = functools.lru_cache(maxsize=16_384)(functools.partial(self.uid, "company"))
        self.state = CommonState()
        self.lock = threading.RLock()
        self._backlog = max(5, company.purchase_order_count // 10)
        self._version = 0
        self._companies: list[dict[str, Any]] | None = None
        self._companies_in_order: dict[str | None, list[dict[str, Any]]] = {}
        self._cache: tuple[tuple[datetime, int], tuple[list[dict[str, Any]], list[PendingUpdate]]] | None = None

    # --- helpers ------------------------------------------------------------------------------------------
    def _rng(self, kind: str, i: int) -> random.Random:
        """``random.Random(int(blake2b(f"{seed}:common:{kind}:{i}")))``, made and drawn from faster (same draws)."""
        return self._seed_digests.rng(kind, i)

    def now(self) -> datetime:
        return self.company.clock.now() if self.company.clock is not None else EPOCH

    def uid(self, kind: str, key: str) -> str:
        """``str(uuid.uuid5(_NAMESPACE, f"{seed}:{kind}:{key}"))``, without building the UUID object."""
        return uuid5_text(_NAMESPACE_SHA1, f"{self.company.seed}:{kind}:{key}")

    def reset(self) -> None:
        with self.lock:
            self.state = CommonState()
            self._version += 1

    def changed(self) -> None:
        """Writes call this so the next snapshot is rebuilt."""
        with self.lock:
            self._version += 1

    # --- companies and relationships ------------------------------------------------------------------------
    def buyer_id(self, code: str) -> str:
        return self._company_ids(code)

    def supplier_company_id(self, supplier_id: str) -> str:
        return self._company_ids(supplier_id)

    def companies(self) -> list[dict[str, Any]]:
        """Every company (buyers, then suppliers). They follow from the fictional company alone (no write changes
        them), so they are built once: callers only read them."""
        if self._companies is None:
            self._companies = self._build_companies()
        return self._companies

    def companies_in_order(self, kind: str | None) -> list[dict[str, Any]]:
        """The companies of ``kind`` (all for None) in ``(updated_at, id)`` order, the order pages are read in."""
        found = self._companies_in_order.get(kind)
        if found is None:
            rows = [c for c in self.companies() if kind is None or c["company_type"] == kind]
            found = self._companies_in_order[kind] = sorted(rows, key=lambda c: (c["updated_at"], c["id"]))
        return found

    def _build_companies(self) -> list[dict[str, Any]]:
        out = []
        for entity in self.company.legal_entities:
            out.append(
                {
                    "id": self.buyer_id(entity.code),
                    "name": entity.name,
                    "company_type": "buyer",
                    "erp_company_code": entity.code,
                    "country": "CA" if entity.code == "C200" else "US",
                    "currency": "CAD" if entity.code == "C200" else "USD",
                    "is_active": True,
                    "created_at": iso(datetime(2018, 1, 1, tzinfo=UTC)),
                    "updated_at": iso(datetime(2018, 1, 1, tzinfo=UTC)),
                }
            )
        for s in self.company.suppliers():
            out.append(
                {
                    "id": self.supplier_company_id(s.supplier_id),
                    "name": s.name,
                    "company_type": "supplier",
                    "erp_supplier_id": s.supplier_id,
                    "country": s.country,
                    "currency": s.currency,
                    "payment_terms": s.payment_terms,
                    "is_active": s.active,
                    "created_at": iso(s.created),
                    "updated_at": iso(s.created),
                }
            )
        return out

    def buyer_code_for_currency(self, currency: str) -> str:
        return "C200" if currency == "CAD" else "C100"

    def relationships(self) -> list[dict[str, Any]]:
        out = []
        for s in self.company.suppliers():
            buyer = self.buyer_id(self.buyer_code_for_currency(s.currency))
            out.append(
                {
                    "id": self.uid("relationship", s.supplier_id),
                    "buyer_company_id": buyer,
                    "seller_company_id": self.supplier_company_id(s.supplier_id),
                    "relationship_type": "supplier",
                    "status": "active" if s.active else "inactive",
                    "created_at": iso(s.created),
                    "updated_at": iso(s.created),
                }
            )
        with self.lock:
            out.extend(dict(r) for r in self.state.relationships.values())
        return out

    # --- purchase orders ----------------------------------------------------------------------------------
    def po_id(self, index: int) -> str:
        return self.uid("po", str(index))

    def _base_po(self, po: PurchaseOrder) -> dict[str, Any]:
        r = self._rng("po", po.index)
        product_code, product_name, unit = _PRODUCTS[r.randrange(len(_PRODUCTS))]
        qty = (Decimal(r.randrange(1_000, 500_000)) * QTY).quantize(QTY)
        unit_price = (po.amount / qty).quantize(CENT, ROUND_HALF_UP)
        if unit_price <= 0:
            unit_price = CENT
        status = _COMPANY_STATUS.get(po.status, "cancelled")
        if status == "confirmed":
            status = r.choice(_SHIPPING)
        if status == "pending" and r.random() < 0.1:
            status = "draft"
        created = datetime.combine(po.order_date, time(9), tzinfo=UTC) + timedelta(minutes=r.randrange(0, 480))
        updated = min(created + timedelta(days=r.randrange(0, 60), minutes=r.randrange(0, 1440)), EPOCH)
        updated = max(updated, created)
        buyer = self.buyer_id(self.buyer_code_for_currency(po.currency))
        amendment = self.historic_amendment(po.index)
        return {
            "id": self.po_id(po.index),
            "po_number": po.po_id,
            "buyer_company_id": buyer,
            "seller_company_id": self.supplier_company_id(po.supplier_id),
            "buyer_contact_employee_id": po.buyer_employee_id,
            "product_id": product_code,
            "product_name": product_name,
            "unit": unit,
            "quantity": quantity(qty),
            "unit_price": money(unit_price),
            "total_amount": money(po.amount),
            "currency": po.currency,
            "order_date": po.order_date.isoformat(),
            "delivery_date": (po.order_date + timedelta(days=r.randrange(7, 90))).isoformat(),
            "delivery_location": r.choice([loc.name for loc in self.company.locations]),
            "status": status,
            "amendment_status": amendment["status"] if amendment else "none",
            "amendment_count": 1 if amendment else 0,
            "erp_sync_status": "not_required" if status in ("draft", "cancelled") else "synced",
            "notes": None,
            "seller_confirmed_at": iso(created + timedelta(hours=6)) if status not in ("draft", "pending") else None,
            "created_at": iso(created),
            "updated_at": iso(updated),
        }

    @property
    def base_po_count(self) -> int:
        return self.company.purchase_order_count

    def _appeared_updates(self, now: datetime) -> list[PendingUpdate]:
        """The scheduled ERP-sync updates that exist by ``now`` (backlog first), oldest first."""
        count = self._backlog
        if now > EPOCH:
            count += (now - EPOCH) // PENDING_INTERVAL
        return [self._scheduled_update(k) for k in range(count)]

    def _scheduled_update(self, k: int) -> PendingUpdate:
        n = self.base_po_count
        index = (k * 7919 + self.company.seed) % n
        at = (
            EPOCH - (self._backlog - k) * PENDING_INTERVAL
            if k < self._backlog
            else EPOCH + (k - self._backlog + 1) * PENDING_INTERVAL
        )
        r = self._rng("update", k)
        kind = r.choice(["status_change", "status_change", "delivery_date_change"])
        return PendingUpdate(
            id=self.uid("update", str(k)),
            po_index=index,
            po_id=self.po_id(index),
            po_number=self.company.purchase_order(index).po_id,
            update_type=kind,
            changes={},  # filled by apply, relative to the PO as it stood
            created_at=at,
        )

    def _apply_update(self, po: dict[str, Any], update: PendingUpdate, k: int) -> None:
        if update.update_type == "status_change":
            new = _NEXT_STATUS.get(po["status"])
            if new is None:  # a finished or cancelled order: its ERP needs a confirmation date instead
                update.update_type = "delivery_date_change"
            else:
                update.changes = {"status": {"from": po["status"], "to": new}}
                po["status"] = new
        if update.update_type == "delivery_date_change":
            old = date.fromisoformat(po["delivery_date"])
            new_date = (old + timedelta(days=1 + k % 14)).isoformat()
            update.changes = {"delivery_date": {"from": po["delivery_date"], "to": new_date}}
            po["delivery_date"] = new_date
        po["updated_at"] = iso(update.created_at)

    def snapshot(self) -> tuple[list[dict[str, Any]], list[PendingUpdate]]:
        """Every purchase order as it stands now (derived, scheduled updates applied, API writes on top), and every
        ERP-sync update that exists (acknowledged or not), oldest first. Callers copy what they change."""
        now = self.now()
        with self.lock:
            key = (now, self._version)
            if self._cache is not None and self._cache[0] == key:
                return self._cache[1]
        built = self._build(now)
        with self.lock:
            self._cache = (key, built)
        return built

    def _build(self, now: datetime) -> tuple[list[dict[str, Any]], list[PendingUpdate]]:
        pos = [self._base_po(self.company.purchase_order(i)) for i in range(self.base_po_count)]
        updates = self._appeared_updates(now)
        for k, update in enumerate(updates):
            assert update.po_index is not None
            self._apply_update(pos[update.po_index], update, k)
        with self.lock:
            acked = set(self.state.ack_calls)
            overrides = {k: dict(v) for k, v in self.state.po_overrides.items()}
            created = list(self.state.created_order)
            api_updates = [u for u in self.state.api_updates if u.created_at <= now]
        by_id = {p["id"]: p for p in pos}
        for po_id in created:
            by_id[po_id] = overrides[po_id]
        for po_id, record in overrides.items():
            if po_id in by_id:
                by_id[po_id] = record
        everything = updates + api_updates
        unacked_pos = {u.po_id for u in everything if u.id not in acked}
        for po in by_id.values():
            if po["id"] in unacked_pos:
                po["erp_sync_status"] = "pending"
        ordered = sorted(by_id.values(), key=lambda p: (p["updated_at"], p["id"]))
        return ordered, sorted(everything, key=lambda u: (u.created_at, u.id))

    def purchase_orders(self) -> list[dict[str, Any]]:
        return self.snapshot()[0]

    def find_po(self, po_id: str) -> dict[str, Any]:
        for po in self.purchase_orders():
            if po["id"] == po_id:
                return dict(po)
        raise CommonApiError(404, "PURCHASE_ORDER_NOT_FOUND", f"purchase order {po_id} not found")

    def pending_updates(self) -> list[PendingUpdate]:
        _, updates = self.snapshot()
        with self.lock:
            acked = set(self.state.ack_calls)
        return [u for u in updates if u.id not in acked]

    def acknowledge(self, ids: list[str]) -> dict[str, list[str]]:
        """Idempotent: a second acknowledgement of the same id changes nothing and says so."""
        _, updates = self.snapshot()
        known = {u.id for u in updates}
        result: dict[str, list[str]] = {"acknowledged": [], "already_acknowledged": [], "unknown": []}
        now = self.now()
        with self.lock:
            for update_id in ids:
                if update_id not in known:
                    result["unknown"].append(update_id)
                    continue
                if update_id in self.state.ack_calls:
                    result["already_acknowledged"].append(update_id)
                else:
                    result["acknowledged"].append(update_id)
                    self.state.first_acked[update_id] = now
                self.state.ack_calls[update_id] += 1
            self._version += 1
        return result

    # --- writes -------------------------------------------------------------------------------------------
    def _record_update(self, po: dict[str, Any], update_type: str, changes: dict[str, Any]) -> None:
        now = self.now()
        with self.lock:
            n = len(self.state.api_updates)
            self.state.api_updates.append(
                PendingUpdate(
                    id=self.uid("api-update", f"{n}:{po['id']}:{update_type}"),
                    po_index=None,
                    po_id=po["id"],
                    po_number=po["po_number"],
                    update_type=update_type,
                    changes=changes,
                    created_at=now,
                )
            )
            self._version += 1

    def save_po(self, po: dict[str, Any], *, created: bool, update_type: str, changes: dict[str, Any]) -> None:
        po["updated_at"] = iso(self.now())
        with self.lock:
            self.state.po_overrides[po["id"]] = po
            if created:
                self.state.created_order.append(po["id"])
            self._version += 1
        self._record_update(po, update_type, changes)

    def new_po_id(self, po_number: str) -> str:
        return self.uid("po-created", po_number)

    # --- amendments ---------------------------------------------------------------------------------------
    def historic_amendment(self, i: int) -> dict[str, Any] | None:
        """The decided amendment purchase order ``i`` had before sandbox start (about one in ten), or None."""
        a = self._rng("amendment", i)
        if a.random() >= 0.1:
            return None
        po = self.company.purchase_order(i)
        proposed_at = datetime.combine(po.order_date, time(14), tzinfo=UTC) + timedelta(days=a.randrange(1, 20))
        proposed_at = min(proposed_at, EPOCH - timedelta(days=1))
        decided_at = proposed_at + timedelta(hours=20)
        return {
            "id": self.uid("amendment", str(i)),
            "purchase_order_id": self.po_id(i),
            "po_number": po.po_id,
            "status": a.choice(["approved", "rejected"]),
            "proposed_by": "seller",
            "proposed_quantity": None,
            "proposed_unit_price": None,
            "proposed_delivery_date": (po.order_date + timedelta(days=a.randrange(30, 120))).isoformat(),
            "amendment_reason": a.choice(["capacity constraint", "raw material delay", "carrier change"]),
            "decision_notes": "reviewed by buyer",
            "proposed_at": iso(proposed_at),
            "decided_at": iso(decided_at),
            "updated_at": iso(decided_at),
        }

    def amendments(self) -> list[dict[str, Any]]:
        out = [a for i in range(self.base_po_count) if (a := self.historic_amendment(i)) is not None]
        with self.lock:
            out.extend(dict(a) for a in self.state.amendments.values())
        return out

    def save_amendment(self, amendment: dict[str, Any]) -> None:
        amendment["updated_at"] = iso(self.now())
        with self.lock:
            self.state.amendments[amendment["id"]] = amendment
            self._version += 1

    def open_amendment(self, po_id: str) -> dict[str, Any] | None:
        with self.lock:
            for a in self.state.amendments.values():
                if a["purchase_order_id"] == po_id and a["status"] == "proposed":
                    return a
        return None

    def add_relationship(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.state.relationships[record["id"]] = record
            self._version += 1
