"""The sObjects the emulator serves: describe metadata shaped like the real API's and records drawn lazily from
the fictional company.

Row ``i`` of an object is a pure function of (seed, i). Timestamps grow with ``i`` (three rows share each
SystemModstamp, as bulk loads do in real orgs), so a query ordered by SystemModstamp or Id is the index order and
a lower bound on SystemModstamp is a seek, not a scan: a million rows page with flat memory.
"""

from __future__ import annotations

import base64
import bisect
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from xlr8_sandbox.company import Company
from xlr8_sandbox.seeded import below

BASE_TIME = datetime(2019, 1, 1, tzinfo=UTC)
ROWS_PER_TIMESTAMP = 3
SECONDS_PER_STEP = 60

_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "address": "urn:address",
    "location": "urn:location",
}


def sf_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


@functools.lru_cache(maxsize=4096)
def _stamp(step: int, hours: int) -> str:
    """The wire form of a row's CreatedDate (hours=0) or SystemModstamp (hours=1); rows share steps, so cached.
    ``sf_datetime``'s text, from ``isoformat`` (a third of ``strftime``'s cost): the moment is UTC, in whole seconds,
    after 2019, so its first 19 characters are ``strftime``'s."""
    return (BASE_TIME + timedelta(seconds=step * SECONDS_PER_STEP, hours=hours)).isoformat()[:19] + ".000+0000"


def describe_field(name: str, sf_type: str, **overrides: Any) -> dict[str, Any]:
    """One field entry with every key the real describe carries (values as a plain field would have them)."""
    length = {"id": 18, "reference": 18, "string": 255, "textarea": 32000, "picklist": 255, "phone": 40}.get(sf_type, 0)
    entry: dict[str, Any] = {
        "aggregatable": sf_type not in ("textarea", "address", "location"),
        "aiPredictionField": False,
        "autoNumber": False,
        "byteLength": length * 3 if sf_type not in ("id", "reference") else length,
        "calculated": False,
        "calculatedFormula": None,
        "cascadeDelete": False,
        "caseSensitive": False,
        "compoundFieldName": None,
        "controllerName": None,
        "createable": name not in ("Id", "IsDeleted", "CreatedDate", "SystemModstamp", "LastModifiedDate"),
        "custom": name.endswith(("__c", "__s")),
        "defaultValue": None,
        "defaultValueFormula": None,
        "defaultedOnCreate": name in ("Id", "IsDeleted", "CreatedDate", "SystemModstamp", "OwnerId"),
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": 0,
        "displayLocationInDecimal": False,
        "encrypted": False,
        "externalId": False,
        "extraTypeInfo": None,
        "filterable": sf_type not in ("textarea", "address", "location"),
        "filteredLookupInfo": None,
        "formulaTreatNullNumberAsZero": False,
        "groupable": sf_type not in ("double", "currency", "percent", "datetime", "textarea", "address", "location"),
        "highScaleNumber": False,
        "htmlFormatted": False,
        "idLookup": name == "Id",
        "inlineHelpText": None,
        "label": name.replace("__c", "").replace("_", " "),
        "length": length,
        "mask": None,
        "maskType": None,
        "name": name,
        "nameField": name == "Name",
        "namePointing": False,
        "nillable": name not in ("Id", "IsDeleted", "CreatedDate", "SystemModstamp", "LastModifiedDate", "Name"),
        "permissionable": name not in ("Id", "Name", "IsDeleted", "CreatedDate", "SystemModstamp", "OwnerId"),
        "picklistValues": [],
        "polymorphicForeignKey": False,
        "precision": 0,
        "queryByDistance": False,
        "referenceTargetField": None,
        "referenceTo": [],
        "relationshipName": None,
        "relationshipOrder": None,
        "restrictedDelete": False,
        "restrictedPicklist": False,
        "scale": 0,
        "searchPrefilterable": False,
        "soapType": _SOAP_TYPES.get(sf_type, "xsd:string"),
        "sortable": sf_type not in ("textarea", "address", "location"),
        "type": sf_type,
        "unique": False,
        "updateable": name not in ("Id", "IsDeleted", "CreatedDate", "SystemModstamp", "LastModifiedDate"),
        "writeRequiresMasterRead": False,
    }
    if sf_type == "reference" and "referenceTo" in overrides:
        entry["relationshipName"] = name[:-2] if name.endswith("Id") else name.replace("__c", "__r")
    if sf_type in ("picklist", "multipicklist") and "values" in overrides:
        entry["picklistValues"] = [
            {"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v}
            for v in overrides.pop("values")
        ]
    entry.update(overrides)
    return entry


def _money(precision: int, scale: int, sf_type: str = "currency", **kw: Any) -> dict[str, Any]:
    return {"sf_type": sf_type, "precision": precision, "scale": scale, **kw}


def _address_fields(prefix: str) -> list[dict[str, Any]]:
    compound = f"{prefix}Address"
    parts = [
        describe_field(f"{prefix}Street", "textarea", compoundFieldName=compound, length=255),
        describe_field(f"{prefix}City", "string", compoundFieldName=compound, length=40),
        describe_field(f"{prefix}State", "string", compoundFieldName=compound, length=80),
        describe_field(f"{prefix}PostalCode", "string", compoundFieldName=compound, length=20),
        describe_field(f"{prefix}Country", "string", compoundFieldName=compound, length=80),
        describe_field(f"{prefix}Latitude", "double", compoundFieldName=compound, precision=18, scale=15),
        describe_field(f"{prefix}Longitude", "double", compoundFieldName=compound, precision=18, scale=15),
        describe_field(
            f"{prefix}GeocodeAccuracy",
            "picklist",
            compoundFieldName=compound,
            values=["Address", "Street", "City", "Zip", "Unknown"],
        ),
        describe_field(compound, "address", createable=False, updateable=False),
    ]
    return parts


def _location_fields(name: str) -> list[dict[str, Any]]:
    stem = name[: -len("__c")]
    return [
        describe_field(f"{stem}__Latitude__s", "double", compoundFieldName=name, precision=18, scale=15),
        describe_field(f"{stem}__Longitude__s", "double", compoundFieldName=name, precision=18, scale=15),
        describe_field(name, "location", createable=False, updateable=False, precision=0, scale=0),
    ]


def _system_fields(with_deleted: bool = True) -> list[dict[str, Any]]:
    fields = [describe_field("Id", "id")]
    if with_deleted:
        fields.append(describe_field("IsDeleted", "boolean"))
    fields += [
        describe_field("CreatedDate", "datetime"),
        describe_field("CreatedById", "reference", referenceTo=["User"]),
        describe_field("LastModifiedDate", "datetime"),
        describe_field("LastModifiedById", "reference", referenceTo=["User"]),
        describe_field("SystemModstamp", "datetime"),
    ]
    return fields


def _formula(name: str, sf_type: str, formula: str, **kw: Any) -> dict[str, Any]:
    return describe_field(
        name, sf_type, calculated=True, calculatedFormula=formula, createable=False, updateable=False, **kw
    )


_CITY_COORDS = {
    "Atlanta": ("33.748995000000000", "-84.387982000000000"),
    "Boston": ("42.360082500000000", "-71.058880100000000"),
    "Toronto": ("43.653226000000000", "-79.383184300000000"),
    "London": ("51.507350900000000", "-0.127758300000000"),
    "Berlin": ("52.520006600000000", "13.404954000000000"),
    "Sydney": ("-33.868820000000000", "151.209296000000000"),
}


@dataclass
class SObject:
    """One object: its describe and a pure row function."""

    name: str
    key_prefix: str
    label: str
    fields: list[dict[str, Any]]
    row: Callable[[int], dict[str, Any]]
    count: int
    custom: bool = False
    formulas: dict[str, Callable[[dict[str, Any], date], Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.field_names = [f["name"] for f in self.fields]
        self.field_types = {f["name"]: f["type"] for f in self.fields}
        self.has_is_deleted = "IsDeleted" in self.field_names
        #: (name, type) of the compound fields (address, location), which the API computes at read time.
        self.compound_fields = [(f["name"], f["type"]) for f in self.fields if f["type"] in ("address", "location")]

    def record_id(self, i: int) -> str:
        return f"{self.key_prefix}{i:012d}AAA"

    def index_of(self, record_id: str) -> int:
        return int(record_id[3:15])

    @staticmethod
    def created_at(i: int) -> datetime:
        return BASE_TIME + timedelta(seconds=(i // ROWS_PER_TIMESTAMP) * SECONDS_PER_STEP)

    @staticmethod
    def modstamp_at(i: int) -> datetime:
        return SObject.created_at(i) + timedelta(hours=1)

    def first_index_at_or_after(self, moment: datetime) -> int:
        """Seek: the smallest i whose base SystemModstamp is >= moment."""
        return bisect.bisect_left(range(self.count), moment, key=self.modstamp_at)

    def system_record(self, i: int) -> dict[str, Any]:
        """Row ``i``'s system fields alone (no seeded generator): enough to decide a filter on them cheaply."""
        record: dict[str, Any] = {
            "Id": self.record_id(i),
            "CreatedDate": _stamp(i // ROWS_PER_TIMESTAMP, 0),
            "CreatedById": "005000000000000AAA",
            "LastModifiedDate": _stamp(i // ROWS_PER_TIMESTAMP, 1),
            "LastModifiedById": "005000000000000AAA",
            "SystemModstamp": _stamp(i // ROWS_PER_TIMESTAMP, 1),
        }
        if self.has_is_deleted:
            record["IsDeleted"] = False
        return record

    def sort_key(self, i: int) -> tuple[str, str]:
        """(SystemModstamp, Id) of base row ``i``: the order queries walk."""
        return _stamp(i // ROWS_PER_TIMESTAMP, 1), self.record_id(i)

    def base_record(self, i: int) -> dict[str, Any]:
        record = self.system_record(i)
        record.update(self.row(i))
        return record

    def describe(self, version: str = "60.0") -> dict[str, Any]:
        return {
            "actionOverrides": [],
            "activateable": False,
            "childRelationships": [],
            "compactLayoutable": True,
            "createable": True,
            "custom": self.custom,
            "customSetting": False,
            "deletable": True,
            "deprecatedAndHidden": False,
            "feedEnabled": not self.custom,
            "fields": self.fields,
            "hasSubtypes": False,
            "isSubtype": False,
            "keyPrefix": self.key_prefix,
            "label": self.label,
            "labelPlural": self.label + "s",
            "layoutable": True,
            "mergeable": self.name in ("Account", "Contact", "Lead"),
            "mruEnabled": True,
            "name": self.name,
            "queryable": True,
            "recordTypeInfos": [],
            "replicateable": True,
            "retrieveable": True,
            "searchable": True,
            "triggerable": True,
            "undeletable": True,
            "updateable": True,
            "urls": self.urls(version),
        }

    def urls(self, version: str) -> dict[str, str]:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def _address(prefix: str, street: str, city: str, country: str) -> dict[str, Any]:
    """The address fields of a row: a copy of the city's fixed part with the street filled in (same key order)."""
    key, fixed = _address_values(prefix, city, country)
    fields = dict(fixed)
    fields[key] = street
    return fields


@functools.lru_cache(maxsize=1024)
def _address_values(prefix: str, city: str, country: str) -> tuple[str, dict[str, Any]]:
    """(street key, every address field of a city with the street left None): built once per city (issue 14)."""
    lat, lon = _CITY_COORDS.get(city, ("0", "0"))
    return f"{prefix}Street", {
        f"{prefix}Street": None,
        f"{prefix}City": city,
        f"{prefix}State": None,
        f"{prefix}PostalCode": None,
        f"{prefix}Country": country,
        f"{prefix}Latitude": Decimal(lat),
        f"{prefix}Longitude": Decimal(lon),
        f"{prefix}GeocodeAccuracy": "City",
    }


_TIERS = ["Gold", "Silver", "Bronze"]
_ACCOUNT_TYPES = ["Customer - Direct", "Customer - Channel", "Prospect", "Partner"]
#: ``Last_Review_Date__c`` by its drawn day offset (a table, not a date built and formatted per row).
_REVIEW_DATES = [(date(2024, 1, 1) + timedelta(days=d)).isoformat() for d in range(700)]


@functools.lru_cache(maxsize=1024)
def _city_location(city: str) -> tuple[Decimal, Decimal]:
    """A city's (latitude, longitude) as Decimals, made once per city."""
    lat, lon = _CITY_COORDS[city]
    return Decimal(lat), Decimal(lon)


_CHANNELS = ("Email", "Phone", "Portal")
_OPPORTUNITY_STAGES = (("Prospecting", 10), ("Qualification", 20), ("Proposal", 60), ("Closed Won", 100),
                       ("Closed Lost", 0))  # fmt: skip
_OPEN_LEAD_STATUSES = ("Open - Not Contacted", "Working - Contacted")
_LEAD_SOURCES = ("Web", "Partner Referral", "Trade Show", "Phone Inquiry")


def build_objects(company: Company, counts: dict[str, int] | None = None) -> dict[str, SObject]:
    """Every object of the emulated org, with row counts scaled from the company (overridable per object)."""
    counts = counts or {}
    accounts = counts.get("Account", company.crm_account_count)
    users = counts.get("User", company.scale)

    def account_row(i: int) -> dict[str, Any]:
        a = company.crm_account(i % company.crm_account_count) if i >= company.crm_account_count else None
        acct = a or company.crm_account(i)
        r = company._rng("sf_account", i)
        draw = r.getrandbits  # ``below`` draws what randrange/choice drew, in the same order
        tier = _TIERS[below(draw, 3)]
        employees = 5 + below(draw, 49_995)
        kind = _ACCOUNT_TYPES[below(draw, 4)]
        owner = below(draw, max(users, 1))
        parent = None if i < 10 or r.random() > 0.1 else f"001{below(draw, 10):012d}AAA"
        credit = Decimal(below(draw, 100_000_000)) / 100
        reviewed = _REVIEW_DATES[below(draw, 700)]
        latitude, longitude = _city_location(acct.billing_city)
        row = {
            "Name": acct.name if a is None else f"{acct.name} #{i + 1}",
            "Type": kind,
            "Industry": acct.industry,
            "AnnualRevenue": acct.annual_revenue,
            "NumberOfEmployees": employees,
            "Phone": f"+1 555 {i % 10_000:04d}",
            "Website": f"https://www.account{i + 1}.example",
            "OwnerId": f"005{owner:012d}AAA",
            "ParentId": parent,
            "Description": None,
            "Customer_Tier__c": tier,
            "Credit_Limit__c": credit,
            "Last_Review_Date__c": reviewed,
            "HQ_Location__Latitude__s": latitude,
            "HQ_Location__Longitude__s": longitude,
        }
        city, country = acct.billing_city, acct.billing_country
        row.update(_address("Billing", f"{1 + below(draw, 998)} Main Street", city, country))
        row.update(_address("Shipping", f"{1 + below(draw, 998)} Dock Road", city, country))
        return row

    def contact_row(i: int) -> dict[str, Any]:
        c = company.contact(i % company.contact_count)
        draw = company._rng("sf_contact", i).getrandbits  # ``below``: randrange/choice's words, in the same order
        row = {
            "AccountId": f"001{(i // 2) % max(accounts, 1):012d}AAA",
            "FirstName": c.first_name,
            "LastName": c.last_name,
            "Name": f"{c.first_name} {c.last_name}",
            "Email": c.email,
            "Title": c.title,
            "Phone": f"+1 555 {(i * 7) % 10_000:04d}",
            "Birthdate": (date(1965, 1, 1) + timedelta(days=below(draw, 12_000))).isoformat(),
            "OwnerId": f"005{below(draw, max(users, 1)):012d}AAA",
            "Preferred_Channel__c": _CHANNELS[below(draw, 3)],
        }
        row.update(_address("Mailing", f"{1 + below(draw, 998)} Elm Street", "Boston", "US"))
        return row

    def opportunity_row(i: int) -> dict[str, Any]:
        r = company._rng("sf_opportunity", i)
        draw = r.getrandbits  # ``below``: randrange/choice's words, in the same order
        stage, probability = _OPPORTUNITY_STAGES[below(draw, 5)]
        return {
            "AccountId": f"001{(i // 2) % max(accounts, 1):012d}AAA",
            "Name": f"Opportunity {i + 1}",
            "StageName": stage,
            "Amount": Decimal(100_000 + below(draw, 49_900_000)) / 100,
            "Probability": Decimal(probability),
            "CloseDate": (date(2024, 1, 1) + timedelta(days=below(draw, 900))).isoformat(),
            "IsClosed": stage.startswith("Closed"),
            "IsWon": stage == "Closed Won",
            "OwnerId": f"005{below(draw, max(users, 1)):012d}AAA",
            "Project__c": None if r.random() < 0.5 else f"a01{below(draw, max(company.scale // 10, 5)):012d}AAA",
        }

    def lead_row(i: int) -> dict[str, Any]:
        first, last = company.employee_name(i % company.scale)  # the person's name alone, not their record
        r = company._rng("sf_lead", i)
        draw = r.getrandbits  # ``below``: randrange/choice's words, in the same order
        converted = r.random() < 0.2
        row = {
            "FirstName": first,
            "LastName": last,
            "Company": f"{last} Prospects {i + 1}",
            "Email": f"lead{i + 1}@prospect.example",
            "Status": "Closed - Converted" if converted else _OPEN_LEAD_STATUSES[below(draw, 2)],
            "LeadSource": _LEAD_SOURCES[below(draw, 4)],
            "IsConverted": converted,
            "ConvertedAccountId": f"001{i % max(accounts, 1):012d}AAA" if converted else None,
            "NumberOfEmployees": 1 + below(draw, 4999),
            "AnnualRevenue": Decimal(below(draw, 1_000_000_000)) / 100,
        }
        row.update(_address("", f"{1 + below(draw, 998)} Market Street", "Toronto", "CA"))
        return row

    def user_row(i: int) -> dict[str, Any]:
        e = company.employee(i % company.scale)
        return {
            "Username": e.email.replace("@acme.example", "@acme.example.sf"),
            "FirstName": e.first_name,
            "LastName": e.last_name,
            "Name": f"{e.first_name} {e.last_name}",
            "Email": e.email,
            "IsActive": e.status != "terminated",
            "Title": company.job_by_code[e.job_code].name,
            "Department": company.department_by_code[e.department_code].name,
            "EmployeeNumber": e.employee_id,
            "ManagerId": None if e.manager_id is None else f"005{int(e.manager_id[1:]) - 1:012d}AAA",
            "TimeZoneSidKey": "America/New_York",
            "Hire_Date__c": e.hire_date.isoformat(),
        }

    def case_row(i: int) -> dict[str, Any]:
        r = company._rng("sf_case", i)
        closed = r.random() < 0.6
        return {
            "CaseNumber": f"{i + 1:08d}",
            "AccountId": f"001{i % max(accounts, 1):012d}AAA",
            "ContactId": f"003{(2 * i) % max(accounts * 2, 1):012d}AAA",
            "Subject": r.choice(["Payroll export fails", "Login issue", "Invoice question", "Feature request"]),
            "Status": "Closed" if closed else r.choice(["New", "Working", "Escalated"]),
            "Priority": r.choice(["Low", "Medium", "High"]),
            "Origin": r.choice(["Email", "Phone", "Web"]),
            "IsClosed": closed,
            "ClosedDate": sf_datetime(SObject.modstamp_at(i)) if closed else None,
            "OwnerId": f"005{r.randrange(0, max(users, 1)):012d}AAA",
            "Description": 'Customer reports: "export" stops at line 42,\nsee attachment.',
        }

    def project_row(i: int) -> dict[str, Any]:
        r = company._rng("sf_project", i)
        start = date(2024, 1, 1) + timedelta(days=r.randrange(0, 400))
        return {
            "Name": f"PRJ-{i + 1:05d}",
            "Account__c": f"001{i % max(accounts, 1):012d}AAA",
            "Budget__c": Decimal(r.randrange(1_000_000, 900_000_000)) / 100,
            "Start_Date__c": start.isoformat(),
            "End_Date__c": (start + timedelta(days=r.randrange(30, 400))).isoformat(),
            "Status__c": r.choice(["Planned", "Active", "On Hold", "Done"]),
            "Hours_Logged__c": Decimal(r.randrange(0, 500_000)) / 100,
            "Completion__c": Decimal(r.randrange(0, 10_000)) / 100,
            "Is_Billable__c": r.random() < 0.8,
            "Lead_Consultant__c": f"005{r.randrange(0, max(users, 1)):012d}AAA",
            "OwnerId": f"005{r.randrange(0, max(users, 1)):012d}AAA",
        }

    def attachment_row(i: int) -> dict[str, Any]:
        r = company._rng("sf_attachment", i)
        body = f"Signed statement of work {i + 1} for account {i % max(accounts, 1) + 1}.\n".encode()
        return {
            "ParentId": f"001{i % max(accounts, 1):012d}AAA",
            "Name": f"SOW-{i + 1:05d}.txt",
            "IsPrivate": r.random() < 0.1,
            "ContentType": "text/plain",
            "BodyLength": len(body),
            "Body": base64.b64encode(body).decode(),
            "OwnerId": f"005{r.randrange(0, max(users, 1)):012d}AAA",
            "Description": None,
        }

    def days_since_review(record: dict[str, Any], today: date) -> Any:
        value = record.get("Last_Review_Date__c")
        return None if value is None else (today - date.fromisoformat(value)).days

    def expected_revenue(record: dict[str, Any], today: date) -> Any:
        del today
        return (record["Amount"] * record["Probability"] / 100).quantize(Decimal("0.01"))

    def duration_days(record: dict[str, Any], today: date) -> Any:
        del today
        return Decimal((date.fromisoformat(record["End_Date__c"]) - date.fromisoformat(record["Start_Date__c"])).days)

    picklist = describe_field
    objects = [
        SObject(
            "Account",
            "001",
            "Account",
            [
                *_system_fields(),
                describe_field("Name", "string"),
                picklist("Type", "picklist", values=["Customer - Direct", "Customer - Channel", "Prospect", "Partner"]),
                picklist("Industry", "picklist", values=["Healthcare", "Manufacturing", "Retail", "Technology"]),
                describe_field("AnnualRevenue", "currency", precision=18, scale=2),
                describe_field("NumberOfEmployees", "int", digits=8),
                describe_field("Phone", "phone"),
                describe_field("Website", "url"),
                describe_field("OwnerId", "reference", referenceTo=["User"], nillable=False),
                describe_field("ParentId", "reference", referenceTo=["Account"]),
                describe_field("Description", "textarea"),
                *_address_fields("Billing"),
                *_address_fields("Shipping"),
                picklist("Customer_Tier__c", "picklist", values=["Gold", "Silver", "Bronze"]),
                describe_field("Credit_Limit__c", "currency", precision=16, scale=2),
                describe_field("Last_Review_Date__c", "date"),
                _formula("Days_Since_Review__c", "double", "TODAY() - Last_Review_Date__c", precision=18, scale=0),
                *_location_fields("HQ_Location__c"),
            ],
            account_row,
            accounts,
            formulas={"Days_Since_Review__c": days_since_review},
        ),
        SObject(
            "Contact",
            "003",
            "Contact",
            [
                *_system_fields(),
                describe_field("AccountId", "reference", referenceTo=["Account"]),
                describe_field("FirstName", "string", length=40),
                describe_field("LastName", "string", length=80, nillable=False),
                describe_field("Name", "string", length=121),
                describe_field("Email", "email", length=80),
                describe_field("Title", "string", length=128),
                describe_field("Phone", "phone"),
                describe_field("Birthdate", "date"),
                describe_field("OwnerId", "reference", referenceTo=["User"], nillable=False),
                *_address_fields("Mailing"),
                picklist("Preferred_Channel__c", "picklist", values=["Email", "Phone", "Portal"]),
            ],
            contact_row,
            counts.get("Contact", company.contact_count),
        ),
        SObject(
            "Opportunity",
            "006",
            "Opportunity",
            [
                *_system_fields(),
                describe_field("AccountId", "reference", referenceTo=["Account"]),
                describe_field("Name", "string", length=120),
                picklist("StageName", "picklist", values=["Prospecting", "Qualification", "Proposal", "Closed Won"]),
                describe_field("Amount", "currency", precision=18, scale=2),
                describe_field("Probability", "percent", precision=3, scale=0),
                describe_field("CloseDate", "date", nillable=False),
                describe_field("IsClosed", "boolean"),
                describe_field("IsWon", "boolean"),
                describe_field("OwnerId", "reference", referenceTo=["User"], nillable=False),
                describe_field("Project__c", "reference", referenceTo=["Project__c"]),
                _formula("Expected_Revenue__c", "currency", "Amount * Probability / 100", precision=18, scale=2),
            ],
            opportunity_row,
            counts.get("Opportunity", accounts * 2),
            formulas={"Expected_Revenue__c": expected_revenue},
        ),
        SObject(
            "Lead",
            "00Q",
            "Lead",
            [
                *_system_fields(),
                describe_field("FirstName", "string", length=40),
                describe_field("LastName", "string", length=80, nillable=False),
                describe_field("Company", "string", nillable=False),
                describe_field("Email", "email", length=80),
                picklist("Status", "picklist", values=["Open - Not Contacted", "Working - Contacted"]),
                picklist("LeadSource", "picklist", values=["Web", "Partner Referral", "Trade Show"]),
                describe_field("IsConverted", "boolean"),
                describe_field("ConvertedAccountId", "reference", referenceTo=["Account"]),
                describe_field("NumberOfEmployees", "int", digits=8),
                describe_field("AnnualRevenue", "currency", precision=18, scale=2),
                *_address_fields(""),
            ],
            lead_row,
            counts.get("Lead", company.scale),
        ),
        SObject(
            "User",
            "005",
            "User",
            [
                *_system_fields(with_deleted=False),
                describe_field("Username", "string", length=80, nillable=False),
                describe_field("FirstName", "string", length=40),
                describe_field("LastName", "string", length=80, nillable=False),
                describe_field("Name", "string", length=121),
                describe_field("Email", "email", length=128, nillable=False),
                describe_field("IsActive", "boolean"),
                describe_field("Title", "string", length=80),
                describe_field("Department", "string", length=80),
                describe_field("EmployeeNumber", "string", length=20),
                describe_field("ManagerId", "reference", referenceTo=["User"]),
                picklist("TimeZoneSidKey", "picklist", values=["America/New_York", "Europe/London"]),
                describe_field("Hire_Date__c", "date"),
            ],
            user_row,
            users,
        ),
        SObject(
            "Case",
            "500",
            "Case",
            [
                *_system_fields(),
                describe_field("CaseNumber", "string", length=30, autoNumber=True, nillable=False),
                describe_field("AccountId", "reference", referenceTo=["Account"]),
                describe_field("ContactId", "reference", referenceTo=["Contact"]),
                describe_field("Subject", "string"),
                picklist("Status", "picklist", values=["New", "Working", "Escalated", "Closed"]),
                picklist("Priority", "picklist", values=["Low", "Medium", "High"]),
                picklist("Origin", "picklist", values=["Email", "Phone", "Web"]),
                describe_field("IsClosed", "boolean"),
                describe_field("ClosedDate", "datetime"),
                describe_field("OwnerId", "reference", referenceTo=["User", "Group"], polymorphicForeignKey=True),
                describe_field("Description", "textarea"),
            ],
            case_row,
            counts.get("Case", accounts),
        ),
        SObject(
            "Project__c",
            "a01",
            "Project",
            [
                *_system_fields(),
                describe_field("Name", "string", length=80),
                describe_field("Account__c", "reference", referenceTo=["Account"]),
                describe_field("Budget__c", "currency", precision=16, scale=2),
                describe_field("Start_Date__c", "date"),
                describe_field("End_Date__c", "date"),
                picklist("Status__c", "picklist", values=["Planned", "Active", "On Hold", "Done"]),
                describe_field("Hours_Logged__c", "double", precision=10, scale=2),
                describe_field("Completion__c", "percent", precision=5, scale=2),
                describe_field("Is_Billable__c", "boolean"),
                describe_field("Lead_Consultant__c", "reference", referenceTo=["User"]),
                describe_field("OwnerId", "reference", referenceTo=["User"], nillable=False),
                _formula("Duration_Days__c", "double", "End_Date__c - Start_Date__c", precision=18, scale=0),
            ],
            project_row,
            counts.get("Project__c", max(company.scale // 10, 5)),
            custom=True,
            formulas={"Duration_Days__c": duration_days},
        ),
        SObject(
            "Attachment",
            "00P",
            "Attachment",
            [
                *_system_fields(),
                describe_field("ParentId", "reference", referenceTo=["Account", "Case"], nillable=False),
                describe_field("Name", "string", nillable=False),
                describe_field("IsPrivate", "boolean"),
                describe_field("ContentType", "string", length=120),
                describe_field("BodyLength", "int", digits=9, createable=False, updateable=False),
                describe_field("Body", "base64", nillable=False, filterable=False, sortable=False, groupable=False),
                describe_field("OwnerId", "reference", referenceTo=["User"], nillable=False),
                describe_field("Description", "textarea", length=500),
            ],
            attachment_row,
            counts.get("Attachment", max(company.scale // 10, 5)),
        ),
    ]
    return {o.name: o for o in objects}
