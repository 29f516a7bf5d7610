"""Discovery on real and documented metadata: SAP's own API_BUSINESS_PARTNER EDMX (../shared/fixtures, read in
place) and a v4 CSDL written from SAP's published documentation (tests/fixtures). Plans are what the tap offers:
keys, replication keys and their literals, decimals without float constraints, navigation properties left out."""

from __future__ import annotations

from pathlib import Path

from xlr8_kit.odata import parse_edmx
from xlr8_tap_sap_s4hana.discovery import HEADER_CHANGE_COLUMN, ServiceRef, plan_streams

ROOT = Path(__file__).resolve().parents[3]
S4_BP = ROOT.parent / "shared" / "fixtures" / "vendor-metadata" / "s4hana" / "API_BUSINESS_PARTNER.edmx"
V4_PO = Path(__file__).parent / "fixtures" / "purchaseorder_v4.xml"


def test_business_partner_edmx_plans_every_set() -> None:
    metadata = parse_edmx(S4_BP)
    plans = {p.name: p for p in plan_streams(ServiceRef("API_BUSINESS_PARTNER"), metadata, set())}
    assert metadata.odata_version == 2
    assert len(plans) == 36
    bp = plans["A_BusinessPartner"]
    assert bp.primary_keys == ("BusinessPartner",)
    assert bp.change is not None
    assert (bp.change.name, bp.change.day_precision, bp.change.time_companion) == (
        "LastChangeDate", True, "LastChangeTime"
    )  # fmt: skip
    # a day-precision key re-reads the bookmark's whole day, with the v2 literal; partners never changed since
    # their creation (LastChangeDate null, nullable in the EDMX) are read by their creation day
    assert bp.change.created == "CreationDate"
    assert str(bp.change.since("2026-01-05T17:30:00Z")) == (
        "(LastChangeDate ge datetime'2026-01-05T00:00:00' or CreationDate ge datetime'2026-01-05T00:00:00')"
    )
    # only CreationDate (nullable, no change stamp): read in full, so changed suppliers and customers are read again
    assert plans["A_Supplier"].replication_key is None
    assert plans["A_Customer"].replication_key is None
    assert plans["A_BusinessPartnerAddress"].replication_key is None  # full table
    properties = bp.schema["properties"]
    assert not [n for n in bp.entity_set.entity_type.navigation if n in properties]
    assert properties["LastChangeTime"]["format"] == "time"
    rate = plans["A_CustomerTaxGrouping"].schema["properties"]["CustTaxGroupExemptionRate"]
    assert "multipleOf" not in rate
    assert (rate["x-edm-precision"], rate["x-edm-scale"]) == (5, 2)
    for plan in plans.values():  # no float constraint anywhere in the service
        assert not [p for p in plan.schema["properties"].values() if "multipleOf" in p]


def test_v4_csdl_plans_keys_timestamps_and_decimals() -> None:
    metadata = parse_edmx(V4_PO)
    assert metadata.odata_version == 4
    service = ServiceRef("/sap/opu/odata4/sap/api_purchaseorder_2/srvd_a2x/sap/purchaseorder/0001")
    assert service.name == "purchaseorder"
    plans = {p.name: p for p in plan_streams(service, metadata, set())}
    assert set(plans) == {"PurchaseOrder", "PurchaseOrderItem", "PurOrderSupplierAddress"}
    header = plans["PurchaseOrder"]
    assert header.version == 4
    assert header.change is not None
    assert header.change.name == "LastChangeDateTime"
    # v4 literals carry no type prefix; an order never changed since created (initial stamp) is read by its
    # creation day, from the bookmark's UTC day less one (s4aud28 F4)
    assert str(header.change.since("2026-01-05T09:00:00Z", version=4)) == (
        "(LastChangeDateTime ge 2026-01-05T09:00:00Z or CreationDate ge 2026-01-04)"
    )
    item = plans["PurchaseOrderItem"]
    assert item.primary_keys == ("PurchaseOrder", "PurchaseOrderItem")
    assert item.change is None
    assert item.replication_key == HEADER_CHANGE_COLUMN  # incremental through its header
    navigation = metadata.entity_sets["PurchaseOrder"].entity_type.navigation
    assert navigation["_PurchaseOrderItem"].multiplicity == "*"
    assert navigation["_PurchaseOrderItem"].target_type.endswith(".PurchaseOrderItemType")  # type: ignore[union-attr]
    assert navigation["_SupplierAddress"].multiplicity == "1"
    schema = header.schema["properties"]
    assert "_PurchaseOrderItem" not in schema
    assert schema["PurchaseOrderDate"]["format"] == "date"
    assert schema["LastChangeDateTime"]["format"] == "date-time"
    assert schema["SAP__Messages"]["type"] == ["array", "null"]
    assert (schema["ExchangeRate"]["x-edm-precision"], schema["ExchangeRate"]["x-edm-scale"]) == (9, 5)
    price = item.schema["properties"]["NetPriceAmount"]
    assert price["type"] == ["number", "null"]
    assert "x-edm-scale" not in price  # Scale="variable"
    assert item.schema["properties"]["ScheduleLineDeliveryTime"]["format"] == "time"
    assert plans["PurOrderSupplierAddress"].replication_key is None


def test_a_set_name_two_services_share_gets_the_service_prefix() -> None:
    metadata = parse_edmx(V4_PO)
    taken = {"PurchaseOrder"}
    names = [p.name for p in plan_streams(ServiceRef("/sap/opu/odata4/sap/x/srvd_a2x/sap/po/0001"), metadata, taken)]
    assert "po_PurchaseOrder" in names
    assert "PurchaseOrderItem" in names
