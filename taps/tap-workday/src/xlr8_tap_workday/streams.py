"""Stream declarations: REST and SOAP streams of Workday HCM and Financials, and RaaS report streams made from
the tap's ``reports`` setting. Only names, keys, schemas, annotations and the row extractor of each SOAP record."""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from lxml import etree
from singer_sdk import typing as th

from xlr8_tap_workday.client import (
    SoapPage,
    WorkdayRaasStream,
    WorkdayRestStream,
    WorkdaySoapStream,
    WorkdayStream,
    bsvc,
)

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from xlr8_tap_workday.tap import ReportSpec

_REF = th.ObjectType(th.Property("id", th.StringType), th.Property("descriptor", th.StringType))


_B = "{urn:com.workday/bsvc}"
_TYPE = _B + "type"
_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


def _path(path: tuple[str, ...]) -> str:
    return "/".join(_B + name for name in path)


def first(node: etree._Element | None, *path: str) -> etree._Element | None:
    """A descendant by its bsvc names (Workday answers in one namespace, so Clark paths are exact and fast)."""
    return None if node is None else node.find(_path(path))


def children(node: etree._Element | None, name: str) -> list[etree._Element]:
    return [] if node is None else node.findall(_B + name)


def child_text(node: etree._Element | None, *path: str) -> str | None:
    found = first(node, *path)
    if found is None or found.get(_NIL) == "true":
        return None
    return found.text or ""


def ref_id(node: etree._Element | None, id_type: str) -> str | None:
    """The ID of a given type inside a ``*_Reference`` element."""
    for ident in children(node, "ID"):
        if ident.get(_TYPE) == id_type:
            return (ident.text or "").strip() or None
    return None


def flag(node: etree._Element | None, *path: str) -> bool | None:
    text = child_text(node, *path)
    return None if text is None else text.strip() in ("1", "true")


def decimal(node: etree._Element | None, *path: str) -> Decimal | None:
    text = child_text(node, *path)
    return None if text in (None, "") else Decimal(text)


# --- REST --------------------------------------------------------------------------------------------------------


class WorkersStream(WorkdayRestStream):
    """Workers through REST (current view)."""

    name = "workers"
    resource = "workers"
    primary_keys: t.ClassVar[list[str]] = ["id"]
    xlr8_entity = "employee"
    xlr8_references: t.ClassVar[dict[str, str]] = {}
    schema = th.PropertiesList(
        th.Property("id", th.StringType, required=True),
        th.Property("descriptor", th.StringType),
        th.Property("href", th.StringType),
        th.Property("workerId", th.StringType),
        th.Property("primaryWorkEmail", th.StringType),
        th.Property("businessTitle", th.StringType),
        th.Property("isManager", th.BooleanType),
        th.Property("workerType", _REF),
        th.Property("workerStatus", th.StringType),
        th.Property("hireDate", th.DateType),
        th.Property("terminationDate", th.DateType),
        th.Property("primarySupervisoryOrganization", _REF),
        th.Property("location", _REF),
        th.Property("jobProfile", _REF),
        th.Property("manager", _REF),
        th.Property("lastUpdated", th.DateTimeType),
    ).to_dict()


class OrganizationsStream(WorkdayRestStream):
    """Supervisory organizations through REST."""

    name = "organizations"
    resource = "supervisoryOrganizations"
    primary_keys: t.ClassVar[list[str]] = ["id"]
    xlr8_entity = "organization"
    xlr8_truth_type = "configuration"
    schema = th.PropertiesList(
        th.Property("id", th.StringType, required=True),
        th.Property("descriptor", th.StringType),
        th.Property("href", th.StringType),
        th.Property("name", th.StringType),
        th.Property("code", th.StringType),
        th.Property("superiorOrganization", _REF),
    ).to_dict()


class JobsStream(WorkdayRestStream):
    """Job profiles through REST."""

    name = "jobs"
    resource = "jobs"
    primary_keys: t.ClassVar[list[str]] = ["id"]
    xlr8_entity = "job"
    xlr8_truth_type = "configuration"
    schema = th.PropertiesList(
        th.Property("id", th.StringType, required=True),
        th.Property("descriptor", th.StringType),
        th.Property("href", th.StringType),
        th.Property("jobProfileId", th.StringType),
        th.Property("name", th.StringType),
        th.Property("inactive", th.BooleanType),
    ).to_dict()


# --- SOAP --------------------------------------------------------------------------------------------------------


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def effective_from(bookmark: str) -> str:
    """The start of the day before the bookmark's (in its own offset): the effective range overlaps the last run by a
    day, so a change that took effect on the last run's day after it read is not missed (upserts dedupe)."""
    moment = _instant(bookmark)
    start = datetime.combine(moment.date() - timedelta(days=1), time(), moment.tzinfo)
    return start.isoformat(timespec="milliseconds")


class SoapWorkersStream(WorkdaySoapStream):
    """Get_Workers. First run: every worker as of the sync's moment. Later runs: only workers with a transaction
    entered since the bookmark (Transaction_Log_Criteria_Data), up to the same moment held on every page."""

    name = "soap_workers"
    service = "Human_Resources"
    operation = "Get_Workers"
    primary_keys: t.ClassVar[list[str]] = ["Worker_WID"]
    replication_key = "As_Of_Entry_DateTime"
    is_sorted = False
    xlr8_entity = "employee"
    xlr8_references: t.ClassVar[dict[str, str]] = {"Job_Profile_ID": "job", "Supervisory_Organization": "organization"}
    schema = th.PropertiesList(
        th.Property("Worker_WID", th.StringType, required=True),
        th.Property("Employee_ID", th.StringType),
        th.Property("Worker_Descriptor", th.StringType),
        th.Property("User_ID", th.StringType),
        th.Property("First_Name", th.StringType),
        th.Property("Last_Name", th.StringType),
        th.Property("Email", th.StringType),
        th.Property("Birth_Date", th.DateType),
        th.Property("Business_Title", th.StringType),
        th.Property("Job_Profile_ID", th.StringType),
        th.Property("Location_ID", th.StringType),
        th.Property("Manager_Employee_ID", th.StringType),
        th.Property("Active", th.BooleanType),
        th.Property("Hire_Date", th.DateType),
        th.Property("Terminated", th.BooleanType),
        th.Property("Termination_Date", th.DateType),
        th.Property("On_Leave", th.BooleanType),
        th.Property("Supervisory_Organization", th.StringType),
        th.Property(
            "Organizations",
            th.ArrayType(
                th.ObjectType(
                    th.Property("Organization_Reference_ID", th.StringType),
                    th.Property("Organization_Name", th.StringType),
                    th.Property("Organization_Type", th.StringType),
                )
            ),
        ),
        th.Property("Annual_Salary", th.NumberType),
        th.Property("Currency", th.StringType),
        th.Property("As_Of_Entry_DateTime", th.DateTimeType, description="The moment the sync read this worker at."),
    ).to_dict()

    def criteria(self, context: Context | None, as_of: str | None) -> list[etree._Element]:
        since = self.get_starting_replication_key_value(context)
        if not since:
            return []
        if not as_of:
            raise RuntimeError("soap_workers: an incremental page without its As_Of moment")
        since = str(since)
        if _instant(since) >= _instant(as_of):
            # A bookmark at or past the tenant's now is not one this tenant wrote (a state from another tenant, a
            # clock set back): Workday refuses a range ending before it starts, and any range from it could miss
            # changes, so every worker is read as of now, as on a first run (review24b #4).
            if not self._warned_ahead:
                self._warned_ahead = True
                self.logger.warning(
                    "soap_workers: the bookmark %s is not before the tenant's now %s; reading every worker",
                    since,
                    as_of,
                )
            return []
        entered = [bsvc("Updated_From", since), bsvc("Updated_Through", as_of)]
        # A change keyed in advance was read before it took effect (as of that day) and no new transaction is
        # entered when it does: a second criteria block (OR-ed) asks for changes that took effect since the last
        # run, from the day before the bookmark (audit24b H4).
        effective = [bsvc("Effective_From", effective_from(since)), bsvc("Effective_Through", as_of)]
        return [
            bsvc("Transaction_Log_Criteria_Data", bsvc("Transaction_Date_Range_Data", *entered)),
            bsvc("Transaction_Log_Criteria_Data", bsvc("Transaction_Date_Range_Data", *effective)),
        ]

    _warned_ahead = False

    def first_page_moment(self, context: Context | None) -> str | None:
        """Incremental: the tenant's "now" first, so page 1 sends a whole updated range (Workday refuses
        Updated_From without Updated_Through, audit24b M1) and every page is read at that one moment."""
        return self.tenant_moment(context) if self.get_starting_replication_key_value(context) else None

    def extract_with_moment(self, node: etree._Element, page: SoapPage) -> dict[str, t.Any]:
        row = self.extract(node)
        row["As_Of_Entry_DateTime"] = page.as_of
        return row

    def extract(self, node: etree._Element) -> dict[str, t.Any]:
        data = first(node, "Worker_Data")
        personal = first(data, "Personal_Data")
        name = first(personal, "Name_Data", "Legal_Name_Data", "Name_Detail_Data")
        position = first(data, "Employment_Data", "Worker_Job_Data", "Position_Data")
        status = first(data, "Employment_Data", "Worker_Status_Data")
        organizations = [
            {
                "Organization_Reference_ID": child_text(org, "Organization_Data", "Organization_Reference_ID"),
                "Organization_Name": child_text(org, "Organization_Data", "Organization_Name"),
                "Organization_Type": ref_id(
                    first(org, "Organization_Data", "Organization_Type_Reference"), "Organization_Type_ID"
                ),
            }
            for org in children(first(data, "Organization_Data"), "Worker_Organization_Data")
        ]
        pay = first(data, "Compensation_Data", "Employee_Base_Pay_Plan_Assignment_Data")
        reference = first(node, "Worker_Reference")
        return {
            "Worker_WID": ref_id(reference, "WID"),
            "Employee_ID": ref_id(reference, "Employee_ID") or child_text(data, "Worker_ID"),
            "Worker_Descriptor": child_text(node, "Worker_Descriptor"),
            "User_ID": child_text(data, "User_ID"),
            "First_Name": child_text(name, "First_Name"),
            "Last_Name": child_text(name, "Last_Name"),
            "Email": child_text(personal, "Contact_Data", "Email_Address_Data", "Email_Address"),
            "Birth_Date": child_text(personal, "Birth_Date"),
            "Business_Title": child_text(position, "Business_Title"),
            "Job_Profile_ID": ref_id(
                first(position, "Job_Profile_Summary_Data", "Job_Profile_Reference"), "Job_Profile_ID"
            ),
            "Location_ID": ref_id(first(position, "Business_Site_Summary_Data", "Location_Reference"), "Location_ID"),
            "Manager_Employee_ID": ref_id(
                first(position, "Manager_as_of_last_detected_manager_change_Reference", "Worker_Reference"),
                "Employee_ID",
            ),
            "Active": flag(status, "Active"),
            "Hire_Date": child_text(status, "Hire_Date"),
            "Terminated": flag(status, "Terminated"),
            "Termination_Date": child_text(status, "Termination_Date"),
            "On_Leave": flag(status, "On_Leave"),
            "Supervisory_Organization": next(
                (o["Organization_Reference_ID"] for o in organizations if o["Organization_Type"] == "Supervisory"),
                None,
            ),
            "Organizations": organizations,
            "Annual_Salary": decimal(pay, "Amount"),
            "Currency": ref_id(first(pay, "Currency_Reference"), "Currency_ID"),
        }


class SoapOrganizationsStream(WorkdaySoapStream):
    """Get_Organizations: supervisory organizations, cost centers and companies with their hierarchy."""

    name = "soap_organizations"
    service = "Human_Resources"
    operation = "Get_Organizations"
    primary_keys: t.ClassVar[list[str]] = ["Organization_Reference_ID"]
    xlr8_entity = "organization"
    xlr8_truth_type = "configuration"
    schema = th.PropertiesList(
        th.Property("Organization_Reference_ID", th.StringType, required=True),
        th.Property("Organization_WID", th.StringType),
        th.Property("Name", th.StringType),
        th.Property("Organization_Type", th.StringType),
        th.Property("Superior_Organization", th.StringType),
        th.Property("Inactive", th.BooleanType),
    ).to_dict()

    def extract(self, node: etree._Element) -> dict[str, t.Any]:
        data = first(node, "Organization_Data")
        return {
            "Organization_Reference_ID": child_text(data, "Reference_ID"),
            "Organization_WID": ref_id(first(node, "Organization_Reference"), "WID"),
            "Name": child_text(data, "Name"),
            "Organization_Type": ref_id(first(data, "Organization_Type_Reference"), "Organization_Type_ID"),
            "Superior_Organization": ref_id(
                first(data, "Hierarchy_Data", "Superior_Organization_Reference"), "Organization_Reference_ID"
            ),
            "Inactive": flag(data, "Inactive"),
        }


class JournalsStream(WorkdaySoapStream):
    """Financial_Management Get_Journals: journal entries with their lines."""

    name = "journals"
    service = "Financial_Management"
    operation = "Get_Journals"
    primary_keys: t.ClassVar[list[str]] = ["Journal_Number"]
    xlr8_product = "workday_fins"
    xlr8_entity = "journal_entry"
    schema = th.PropertiesList(
        th.Property("Journal_Number", th.StringType, required=True),
        th.Property("Journal_WID", th.StringType),
        th.Property("Company_Code", th.StringType),
        th.Property("Currency", th.StringType),
        th.Property("Ledger", th.StringType),
        th.Property("Accounting_Date", th.DateType),
        th.Property("Journal_Status", th.StringType),
        th.Property("Memo", th.StringType),
        th.Property("Amount", th.NumberType, description="Total debits of the entry."),
        th.Property(
            "Lines",
            th.ArrayType(
                th.ObjectType(
                    th.Property("Line_Order", th.IntegerType),
                    th.Property("Ledger_Account", th.StringType),
                    th.Property("Debit_Amount", th.NumberType),
                    th.Property("Credit_Amount", th.NumberType),
                    th.Property("Cost_Center", th.StringType),
                    th.Property("Memo", th.StringType),
                )
            ),
        ),
    ).to_dict()

    def criteria(self, context: Context | None, as_of: str | None) -> list[etree._Element]:
        start = self.settings.journals_start_date
        return [bsvc("Accounting_From_Date", start.isoformat())] if start else []

    def extract(self, node: etree._Element) -> dict[str, t.Any]:
        data = first(node, "Journal_Entry_Data")
        lines = [
            {
                "Line_Order": int(child_text(line, "Line_Order") or 0),
                "Ledger_Account": ref_id(first(line, "Ledger_Account_Reference"), "Ledger_Account_ID"),
                "Debit_Amount": decimal(line, "Debit_Amount"),
                "Credit_Amount": decimal(line, "Credit_Amount"),
                "Cost_Center": ref_id(first(line, "Worktags_Reference"), "Cost_Center_Reference_ID"),
                "Memo": child_text(line, "Memo"),
            }
            for line in children(data, "Journal_Entry_Line_Data")
        ]
        return {
            "Journal_Number": child_text(data, "Journal_Number"),
            "Journal_WID": ref_id(first(node, "Journal_Entry_Reference"), "WID"),
            "Company_Code": ref_id(first(data, "Company_Reference"), "Company_Reference_ID"),
            "Currency": ref_id(first(data, "Currency_Reference"), "Currency_ID"),
            "Ledger": child_text(data, "Ledger_Name"),
            "Accounting_Date": child_text(data, "Accounting_Date"),
            "Journal_Status": child_text(data, "Journal_Entry_Status"),
            "Memo": child_text(data, "Journal_Entry_Memo"),
            "Amount": sum((line["Debit_Amount"] or Decimal(0) for line in lines), Decimal(0)),
            "Lines": lines,
        }


class SuppliersStream(WorkdaySoapStream):
    """Resource_Management Get_Suppliers."""

    name = "suppliers"
    service = "Resource_Management"
    operation = "Get_Suppliers"
    primary_keys: t.ClassVar[list[str]] = ["Supplier_ID"]
    xlr8_product = "workday_fins"
    xlr8_entity = "supplier"
    schema = th.PropertiesList(
        th.Property("Supplier_ID", th.StringType, required=True),
        th.Property("Supplier_WID", th.StringType),
        th.Property("Supplier_Name", th.StringType),
        th.Property("Supplier_Status", th.StringType),
        th.Property("Default_Currency", th.StringType),
        th.Property("Payment_Terms", th.StringType),
        th.Property("Country", th.StringType),
        th.Property("Created_Moment", th.DateTimeType),
    ).to_dict()

    def extract(self, node: etree._Element) -> dict[str, t.Any]:
        data = first(node, "Supplier_Data")
        inactive = flag(data, "Inactive")
        return {
            "Supplier_ID": child_text(data, "Supplier_ID"),
            "Supplier_WID": ref_id(first(node, "Supplier_Reference"), "WID"),
            "Supplier_Name": child_text(data, "Supplier_Name"),
            "Supplier_Status": None if inactive is None else ("Inactive" if inactive else "Active"),
            "Default_Currency": ref_id(first(data, "Currency_Reference"), "Currency_ID"),
            "Payment_Terms": ref_id(first(data, "Payment_Terms_Reference"), "Payment_Terms_ID"),
            "Country": child_text(data, "Country"),
            "Created_Moment": child_text(data, "Created_Moment"),
        }


REST_STREAMS: dict[str, type[WorkdayStream]] = {s.name: s for s in (WorkersStream, OrganizationsStream, JobsStream)}
SOAP_STREAMS: dict[str, type[WorkdayStream]] = {
    s.name: s for s in (SoapWorkersStream, SoapOrganizationsStream, JournalsStream, SuppliersStream)
}
#: Streams of Workday Financials (the others are HCM).
FINANCIALS_STREAMS = ("journals", "suppliers")


def raas_stream_class(spec: ReportSpec, report_schema: t.Any) -> type[WorkdayRaasStream]:
    """A declared stream class for one configured report (the SDK keys some behaviour on the class)."""
    attrs = {
        "spec": spec,
        "report_schema": report_schema.schema,
        "xlr8_entity": spec.entity,
        "xlr8_truth_type": spec.truth_type,
        "xlr8_product": spec.product,
        "__doc__": f"Workday custom report {spec.report} (owner {spec.owner}).",
    }
    return type(f"{spec.name}ReportStream", (WorkdayRaasStream,), attrs)
