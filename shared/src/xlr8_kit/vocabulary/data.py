"""The vocabulary itself, as tables: products, canonical entities and fields, and each product's streams.

Stream and column names follow what each tap emits (Salesforce sObject API names, SuccessFactors entity sets,
Workday and UKG resource names). A tap engineer changing a stream name changes it here; a customer-specific
stream (a RaaS report) is added at run time with ``register_mapping``.
"""

from __future__ import annotations

from xlr8_kit.vocabulary.model import (
    CanonicalField,
    Entity,
    FieldMap,
    FieldType,
    Product,
    StreamMapping,
    TruthType,
)

PRODUCTS: tuple[Product, ...] = (
    Product("ukg_pro", "UKG Pro", "ukg_rest", ("tap-ukg-pro", "ukg", "ultipro", "ukg pro"), "hr"),
    Product(
        "ukg_wfm_dimensions",
        "UKG Pro Workforce Management (Dimensions)",
        "ukg_rest",
        ("ukg_wfm", "tap-ukg-wfm", "tap-ukg-wfm-dimensions", "dimensions", "kronos"),
        "workforce",
    ),
    Product("ukg_ready", "UKG Ready", "ukg_rest", ("tap-ukg-ready",), "hr"),
    Product("workday_hcm", "Workday HCM", "workday", ("workday", "tap-workday", "workday hcm"), "hr"),
    Product("workday_fins", "Workday Financials", "workday", ("tap-workday-fins", "workday financials"), "finance"),
    Product(
        "successfactors",
        "SAP SuccessFactors",
        "odata_v2",
        ("sap_sf", "sap_successfactors", "tap-sap-successfactors", "tap-successfactors", "sf"),
        "hr",
    ),
    Product(
        "s4hana", "SAP S/4HANA", "odata_v2", ("sap_s4", "s4", "tap-sap-s4hana", "tap-s4hana", "s/4hana"), "finance"
    ),
    Product("salesforce", "Salesforce", "soql", ("tap-salesforce", "sfdc"), "crm"),
    Product("oracle_hcm", "Oracle HCM Cloud", "oracle_rest", ("tap-oracle-hcm",), "hr"),
    Product("oracle_erp", "Oracle ERP Cloud", "oracle_rest", ("tap-oracle-erp", "oracle_fins"), "finance"),
    Product("universal", "Universal (product-neutral canonical form)", "none", ("canonical",), "universal"),
    Product("common", "Common purchase-order platform", "common_rest", ("common_po", "tap-common"), "procurement"),
)

_EMPLOYMENT_STATUS = ("active", "leave", "terminated")

FIELDS: tuple[CanonicalField, ...] = (
    # people
    CanonicalField("employee_id", references="employee"),
    CanonicalField("person_id"),
    CanonicalField("first_name"),
    CanonicalField("last_name"),
    CanonicalField("full_name"),
    CanonicalField("email"),
    CanonicalField("birth_date", "date"),
    CanonicalField("hire_date", "date"),
    CanonicalField("termination_date", "date"),
    CanonicalField("employment_status", values=_EMPLOYMENT_STATUS),
    CanonicalField("job_code", references="job"),
    CanonicalField("job_title"),
    CanonicalField("position_id", references="position"),
    CanonicalField("department_code", references="department"),
    CanonicalField("organization_code", references="organization"),
    CanonicalField("location_code", references="location"),
    CanonicalField("company_code", references="company"),
    CanonicalField("cost_center", references="cost_center"),
    CanonicalField("pay_group", references="pay_group"),
    CanonicalField("manager_id", references="employee"),
    CanonicalField("annual_salary", "number"),
    CanonicalField("full_time", "boolean"),
    CanonicalField("effective_date", "date"),
    # code tables
    CanonicalField("code_table", references="code_table"),
    CanonicalField("code_value"),
    CanonicalField("shift_code", references="shift_code"),
    CanonicalField("tax_group", references="tax_group"),
    CanonicalField("name"),
    CanonicalField("description"),
    CanonicalField("parent_code"),
    CanonicalField("status"),
    CanonicalField("country"),
    CanonicalField("city"),
    # money and finance
    CanonicalField("amount", "number"),
    CanonicalField("currency"),
    CanonicalField("gl_account", references="gl_account"),
    CanonicalField("journal_id"),
    CanonicalField("posting_date", "date"),
    CanonicalField("supplier_id", references="supplier"),
    CanonicalField("customer_id", references="customer"),
    CanonicalField("business_partner_id", references="business_partner"),
    CanonicalField("invoice_id"),
    CanonicalField("invoice_number"),
    CanonicalField("invoice_date", "date"),
    CanonicalField("due_date", "date"),
    CanonicalField("purchase_order_id"),
    CanonicalField("order_date", "date"),
    # payroll and time
    CanonicalField("pay_date", "date"),
    CanonicalField("gross_pay", "number"),
    CanonicalField("net_pay", "number"),
    CanonicalField("earning_code", references="earning"),
    CanonicalField("deduction_code", references="deduction"),
    CanonicalField("accrual_code", references="accrual"),
    CanonicalField("balance", "number"),
    CanonicalField("hours", "number"),
    CanonicalField("work_date", "date"),
    CanonicalField("start_time", "datetime"),
    CanonicalField("end_time", "datetime"),
    # CRM
    CanonicalField("account_id", references="crm_account"),
    CanonicalField("contact_id", references="contact"),
    CanonicalField("opportunity_id", references="opportunity"),
    CanonicalField("lead_id", references="lead"),
    CanonicalField("user_id", references="user"),
    CanonicalField("case_id"),
    CanonicalField("project_id", references="project"),
    CanonicalField("industry"),
    CanonicalField("annual_revenue", "number"),
    CanonicalField("stage"),
    CanonicalField("close_date", "date"),
    CanonicalField("title"),
    CanonicalField("company_name"),
    CanonicalField("subject"),
    CanonicalField("priority"),
    # bookkeeping
    CanonicalField("created", "datetime"),
    CanonicalField("last_modified", "datetime"),
)

ENTITIES: tuple[Entity, ...] = (
    Entity(
        "employee",
        "reality",
        (
            "employees",
            "worker",
            "workers",
            "person",
            "persons",
            "people",
            "staff",
            "associate",
            "associates",
            "headcount",
            "personnel",
            "team_member",
            "team_members",
            "emp",
            "hire",
            "hires",
        ),
        "employee_id",
        "A person employed by the company (people/person mean employee here, not CRM contact).",
    ),
    Entity(
        "organization", "configuration", ("org", "orgs", "org_unit", "supervisory_organization"), "organization_code"
    ),
    Entity("department", "configuration", ("dept", "depts", "org_level", "org_levels"), "department_code"),
    Entity("job", "configuration", ("job_code", "job_codes", "job_profile", "job_profiles"), "job_code"),
    Entity("position", "configuration", ("positions", "seat"), "position_id"),
    Entity("location", "configuration", ("site", "sites", "work_location", "office", "offices"), "location_code"),
    Entity("company", "configuration", ("companies", "legal_entity", "legal_entities", "employer"), "company_code"),
    Entity("cost_center", "configuration", ("cost_centre", "cost_centres", "costcenter"), "cost_center"),
    Entity("pay_group", "configuration", ("payroll_group", "pay_frequency"), "pay_group"),
    Entity("earning", "configuration", ("earning_code", "pay_code", "pay_codes", "earnings_code"), "earning_code"),
    Entity("deduction", "configuration", ("deduction_code", "deduction_codes"), "deduction_code"),
    Entity(
        "code_table",
        "configuration",
        # not a bare "lookup": in a question it is usually the verb ("lookup active employees")
        ("code_tables", "lookup_table", "lookup_tables", "code_list", "code_lists"),
        "code_table",
        "A tenant's list of allowed codes (gender, marital status, reason codes), named by the table itself.",
    ),
    Entity(
        "code_value",
        "configuration",
        ("code_values", "code_table_value", "code_table_values", "lookup_value", "lookup_values"),
        "code_value",
        "One allowed code in a code table; the table's name says which list it belongs to.",
    ),
    Entity(
        "shift_code",
        "configuration",
        ("shift_codes", "shift_definition", "shift_definitions", "shift_template", "shift_templates"),
        "shift_code",
        "A defined shift (its code and hours); a worked or scheduled shift is a schedule.",
    ),
    Entity("tax_group", "configuration", ("tax_groups", "tax_group_code", "tax_group_codes"), "tax_group"),
    Entity("compensation", "reality", ("salary", "salaries", "pay_rate", "pay_rates", "wage", "wages")),
    Entity(
        "pay_statement",
        "reality",
        ("paystub", "pay_stub", "payslip", "payslips", "paycheck", "paychecks", "payroll", "payroll_result"),
    ),
    Entity("timecard", "reality", ("timesheet", "timesheets", "time_entry", "time_entries", "punch", "punches")),
    Entity("schedule", "reality", ("shift", "shifts", "roster")),
    Entity("accrual", "reality", ("time_off_balance", "pto_balance", "leave_balance", "pto"), "accrual_code"),
    Entity(
        "gl_account", "configuration", ("ledger_account", "chart_of_accounts", "general_ledger_account"), "gl_account"
    ),
    Entity("journal_entry", "reality", ("journal", "journals", "journal_line", "journal_lines", "gl_entry")),
    Entity("supplier", "reality", ("vendor", "vendors"), "supplier_id"),
    Entity("customer", "reality", ("client", "clients"), "customer_id"),
    Entity("business_partner", "reality", ("bp", "partner", "partners"), "business_partner_id"),
    Entity("invoice", "reality", ("bill", "bills", "supplier_invoice"), "invoice_id"),
    Entity("purchase_order", "reality", ("po", "pos"), "purchase_order_id"),
    Entity("crm_account", "reality", ("account", "accounts", "sales_account"), "account_id"),
    Entity("contact", "reality", ("crm_contact",), "contact_id"),
    Entity("opportunity", "reality", ("opportunities", "deal", "deals", "pipeline"), "opportunity_id"),
    Entity("lead", "reality", ("prospect", "prospects"), "lead_id"),
    Entity("user", "reality", ("system_user", "login", "logins"), "user_id"),
    Entity("case", "reality", ("support_case", "ticket", "tickets"), "case_id"),
    Entity("project", "reality", ("projects",), "project_id"),
)

_DEFAULT_TRUTH: dict[str, TruthType] = {entity.name: entity.truth_type for entity in ENTITIES}


def _f(column: str, type: FieldType | None = None, **values: str) -> FieldMap:
    return FieldMap(column, type, tuple(values.items()))


def _m(
    product: str,
    stream: str,
    entity: str,
    fields: dict[str, str | FieldMap],
    *,
    truth: TruthType | None = None,
    primary: bool = True,
    params: dict[tuple[str, str], str] | None = None,
) -> StreamMapping:
    return StreamMapping(
        product=product,
        stream=stream,
        entity=entity,
        truth_type=truth or _DEFAULT_TRUTH[entity],
        fields={k: v if isinstance(v, FieldMap) else FieldMap(v) for k, v in fields.items()},
        primary=primary,
        params=dict(params or {}),
    )


_CODE_FIELD: dict[str, str | None] = {entity.name: entity.code_field for entity in ENTITIES}


def _code_table(
    product: str, stream: str, entity: str, code: str, name: str, *, primary: bool = True, **more: str | FieldMap
) -> StreamMapping:
    code_field = _CODE_FIELD[entity]
    if code_field is None:
        raise ValueError(f"entity {entity!r} has no code field; a code table needs one")
    fields: dict[str, str | FieldMap] = {code_field: code, "name": name, **more}
    return _m(product, stream, entity, fields, truth="configuration", primary=primary)


def build_mappings() -> list[StreamMapping]:
    """Every product's streams; called once when the vocabulary is first used."""
    sf_status = _f("emplStatus", active="A", leave="U", terminated="T")
    ukg_status = _f("employeeStatusCode", active="A", leave="L", terminated="T")
    wd_status = _f("workerStatus", active="Active", leave="On Leave", terminated="Terminated")
    return [
        # --- Salesforce: streams are sObject API names ---------------------------------------------------------
        _m(
            "salesforce",
            "Account",
            "crm_account",
            {
                "account_id": "Id",
                "name": "Name",
                "industry": "Industry",
                "annual_revenue": "AnnualRevenue",
                "city": "BillingCity",
                "country": "BillingCountry",
                "created": "CreatedDate",
                "last_modified": "SystemModstamp",
            },
        ),
        _m(
            "salesforce",
            "Contact",
            "contact",
            {
                "contact_id": "Id",
                "account_id": "AccountId",
                "first_name": "FirstName",
                "last_name": "LastName",
                "email": "Email",
                "title": "Title",
                "created": "CreatedDate",
                "last_modified": "SystemModstamp",
            },
        ),
        _m(
            "salesforce",
            "Opportunity",
            "opportunity",
            {
                "opportunity_id": "Id",
                "account_id": "AccountId",
                "name": "Name",
                "amount": "Amount",
                "stage": "StageName",
                "close_date": "CloseDate",
                "currency": "CurrencyIsoCode",
                "created": "CreatedDate",
                "last_modified": "SystemModstamp",
            },
        ),
        _m(
            "salesforce",
            "Lead",
            "lead",
            {
                "lead_id": "Id",
                "first_name": "FirstName",
                "last_name": "LastName",
                "email": "Email",
                "company_name": "Company",
                "status": "Status",
                "created": "CreatedDate",
                "last_modified": "SystemModstamp",
            },
        ),
        _m(
            "salesforce",
            "User",
            "user",
            {
                "user_id": "Id",
                "first_name": "FirstName",
                "last_name": "LastName",
                "email": "Email",
                "employee_id": "EmployeeNumber",
                "status": _f("IsActive", "boolean"),
                "last_modified": "SystemModstamp",
            },
        ),
        _m(
            "salesforce",
            "Case",
            "case",
            {
                "case_id": "Id",
                "account_id": "AccountId",
                "contact_id": "ContactId",
                "subject": "Subject",
                "status": "Status",
                "priority": "Priority",
                "created": "CreatedDate",
                "last_modified": "SystemModstamp",
            },
        ),
        _m(
            "salesforce",
            "Project__c",
            "project",
            {
                "project_id": "Id",
                "name": "Name",
                "account_id": "Account__c",
                "created": "CreatedDate",
                "last_modified": "SystemModstamp",
            },
        ),
        # --- SuccessFactors: streams are OData entity sets -----------------------------------------------------
        _m(
            "successfactors",
            "EmpJob",
            "employee",
            {
                "employee_id": "userId",
                "effective_date": _f("startDate", "date"),
                "job_code": "jobCode",
                "job_title": "jobTitle",
                "position_id": "position",
                "department_code": "department",
                "location_code": "location",
                "company_code": "company",
                "cost_center": "costCenter",
                "pay_group": "payGroup",
                "manager_id": "managerId",
                "employment_status": sf_status,
                "last_modified": "lastModifiedDateTime",
            },
            primary=False,
        ),
        _m(
            "successfactors",
            "User",
            "employee",
            {
                "employee_id": "userId",
                "first_name": "firstName",
                "last_name": "lastName",
                "email": "email",
                "hire_date": _f("hireDate", "date"),
                "department_code": "department",
                "location_code": "location",
                "manager_id": "managerId",
                "job_code": "jobCode",
                "job_title": "title",
                "employment_status": _f("status", active="active", terminated="inactive"),
                "last_modified": "lastModifiedDateTime",
            },
        ),
        _m(
            "successfactors",
            "PerPerson",
            "employee",
            {
                "person_id": "personIdExternal",
                "birth_date": _f("dateOfBirth", "date"),
                "last_modified": "lastModifiedDateTime",
            },
            primary=False,
        ),
        _m(
            "successfactors",
            "PerPersonal",
            "employee",
            {
                "person_id": "personIdExternal",
                "first_name": "firstName",
                "last_name": "lastName",
                "effective_date": _f("startDate", "date"),
                "last_modified": "lastModifiedDateTime",
            },
            primary=False,
        ),
        _m(
            "successfactors",
            "EmpEmployment",
            "employee",
            {
                "employee_id": "userId",
                "person_id": "personIdExternal",
                "hire_date": _f("startDate", "date"),
                "termination_date": _f("endDate", "date"),
                "last_modified": "lastModifiedDateTime",
            },
            primary=False,
        ),
        _m(
            "successfactors",
            "EmpCompensation",
            "compensation",
            {
                "employee_id": "userId",
                "effective_date": _f("startDate", "date"),
                "pay_group": "payGroup",
                "last_modified": "lastModifiedDateTime",
            },
        ),
        _code_table(
            "successfactors",
            "FODepartment",
            "department",
            "externalCode",
            "name",
            parent_code="parent",
            status="status",
            last_modified="lastModifiedDateTime",
        ),
        _code_table(
            "successfactors",
            "FOJobCode",
            "job",
            "externalCode",
            "name",
            status="status",
            last_modified="lastModifiedDateTime",
        ),
        _code_table(
            "successfactors",
            "FOLocation",
            "location",
            "externalCode",
            "name",
            status="status",
            last_modified="lastModifiedDateTime",
        ),
        _code_table(
            "successfactors",
            "FOCompany",
            "company",
            "externalCode",
            "name",
            country="country",
            currency="currency",
            last_modified="lastModifiedDateTime",
        ),
        _code_table(
            "successfactors",
            "FOCostCenter",
            "cost_center",
            "externalCode",
            "name",
            last_modified="lastModifiedDateTime",
        ),
        _code_table(
            "successfactors", "FOPayGroup", "pay_group", "externalCode", "name", last_modified="lastModifiedDateTime"
        ),
        _code_table(
            "successfactors",
            "Position",
            "position",
            "code",
            "externalName_defaultValue",
            job_code="jobCode",
            department_code="department",
            last_modified="lastModifiedDateTime",
        ),
        # --- Workday HCM: REST resources, SOAP Get_* operations (RaaS reports are registered at run time) ---
        _m(
            "workday_hcm",
            "workers",
            "employee",
            {
                "employee_id": "workerId",
                "email": "primaryWorkEmail",
                "job_title": "businessTitle",
                "employment_status": wd_status,
                "hire_date": _f("hireDate", "date"),
                "termination_date": _f("terminationDate", "date"),
                "last_modified": "lastUpdated",
            },
        ),
        _m(
            "workday_hcm",
            "soap_workers",
            "employee",
            {
                "employee_id": "Employee_ID",
                "user_id": "User_ID",
                "first_name": "First_Name",
                "last_name": "Last_Name",
                "email": "Email",
                "birth_date": _f("Birth_Date", "date"),
                "job_title": "Business_Title",
                "job_code": "Job_Profile_ID",
                "location_code": "Location_ID",
                "manager_id": "Manager_Employee_ID",
                "hire_date": _f("Hire_Date", "date"),
                "termination_date": _f("Termination_Date", "date"),
                "organization_code": "Supervisory_Organization",
                "annual_salary": "Annual_Salary",
                "currency": "Currency",
            },
            primary=False,
        ),
        _code_table("workday_hcm", "organizations", "organization", "code", "name"),
        _code_table(
            "workday_hcm",
            "soap_organizations",
            "organization",
            "Organization_Reference_ID",
            "Name",
            parent_code="Superior_Organization",
        ),
        _code_table("workday_hcm", "jobs", "job", "jobProfileId", "name"),
        # --- Workday Financials: SOAP Get_Journals, Get_Suppliers ----------------------------------------------
        _m(
            "workday_fins",
            "journals",
            "journal_entry",
            {
                "journal_id": "Journal_Number",
                "posting_date": _f("Accounting_Date", "date"),
                "amount": "Amount",
                "currency": "Currency",
                "company_code": "Company_Code",
                "status": "Journal_Status",
            },
        ),
        _m(
            "workday_fins",
            "suppliers",
            "supplier",
            {
                "supplier_id": "Supplier_ID",
                "name": "Supplier_Name",
                "status": "Supplier_Status",
                "currency": "Default_Currency",
                "country": "Country",
                "created": "Created_Moment",
            },
        ),
        # --- UKG Pro: personnel REST resources -----------------------------------------------------------------
        _m(
            "ukg_pro",
            "employment_details",
            "employee",
            {
                "employee_id": "employeeID",
                "company_code": "companyID",
                "hire_date": _f("originalHireDate", "date"),
                "termination_date": _f("dateOfTermination", "date"),
                "employment_status": ukg_status,
                "job_code": "primaryJobCode",
                "job_title": "jobTitle",
                "department_code": "orgLevel1Code",
                "location_code": "primaryWorkLocationCode",
                "cost_center": "orgLevel2Code",
                "pay_group": "payGroupCode",
                "manager_id": "supervisorID",
                "full_time": _f("fullTimeOrPartTimeCode"),
                "last_modified": "dateTimeChanged",
            },
            params={
                ("company_code", "="): "companyID",
                ("employment_status", "="): "employeeStatusCode",
                ("employment_status", "in"): "employeeStatusCode",
            },
        ),
        _m(
            "ukg_pro",
            "person_details",
            "employee",
            {
                "employee_id": "employeeID",
                "first_name": "firstName",
                "last_name": "lastName",
                "email": "emailAddress",
                "birth_date": _f("dateOfBirth", "date"),
                "last_modified": "dateTimeChanged",
            },
            primary=False,
        ),
        _m(
            "ukg_pro",
            "compensation_details",
            "compensation",
            {
                "employee_id": "employeeID",
                "annual_salary": "annualSalary",
                "currency": "currencyCode",
                "effective_date": _f("dateOfLastPayRateChange", "date"),
                "last_modified": "dateTimeChanged",
            },
        ),
        _m(
            "ukg_pro",
            "pay_statements",
            "pay_statement",
            {
                "employee_id": "employeeID",
                "pay_date": _f("payDate", "date"),
                "gross_pay": "grossPay",
                "net_pay": "netPay",
                "currency": "currencyCode",
            },
        ),
        _code_table("ukg_pro", "jobs", "job", "jobCode", "description"),
        _code_table("ukg_pro", "org_levels", "department", "code", "description", parent_code="level"),
        _code_table("ukg_pro", "locations", "location", "locationCode", "description", country="countryCode"),
        _code_table("ukg_pro", "companies", "company", "companyID", "companyName"),
        _code_table("ukg_pro", "earnings", "earning", "earningCode", "description"),
        _code_table("ukg_pro", "deductions", "deduction", "deductionCode", "description"),
        _code_table("ukg_pro", "code_tables", "code_table", "codeTable", "description"),
        _code_table(
            "ukg_pro",
            "code_table_values",
            "code_value",
            "code",
            "description",
            code_table="codeTable",
        ),
        _code_table(
            "ukg_pro",
            "shift_codes",
            "shift_code",
            "shiftCode",
            "description",
            start_time=_f("startTime", "string"),
            end_time=_f("endTime", "string"),
        ),
        _code_table("ukg_pro", "tax_groups", "tax_group", "taxGroupCode", "description", country="countryCode"),
        # --- UKG WFM (Dimensions) and UKG Ready ----------------------------------------------------------------
        _m(
            "ukg_wfm_dimensions",
            "persons",
            "employee",
            {
                "employee_id": "personNumber",
                "first_name": "firstName",
                "last_name": "lastName",
                "hire_date": _f("hireDate", "date"),
                "employment_status": _f("employmentStatus", active="Active", leave="Inactive", terminated="Terminated"),
            },
        ),
        _m(
            "ukg_wfm_dimensions",
            "timecards",
            "timecard",
            {
                "employee_id": "personNumber",
                "work_date": _f("applyDate", "date"),
                "hours": "hours",
                "earning_code": "payCode",
                "start_time": "startDateTime",
                "end_time": "endDateTime",
            },
        ),
        _m(
            "ukg_wfm_dimensions",
            "schedules",
            "schedule",
            {
                "employee_id": "personNumber",
                "work_date": _f("date", "date"),
                "start_time": "startDateTime",
                "end_time": "endDateTime",
                "location_code": "location",
            },
        ),
        _m(
            "ukg_wfm_dimensions",
            "accruals",
            "accrual",
            {
                "employee_id": "personNumber",
                "accrual_code": "accrualCode",
                "balance": "balance",
                "effective_date": _f("effectiveDate", "date"),
            },
        ),
        _m(
            "ukg_ready",
            "employees",
            "employee",
            {
                "employee_id": "employee_id",
                "first_name": "first_name",
                "last_name": "last_name",
                "email": "primary_email",
                "hire_date": _f("hired_date", "date"),
                "termination_date": _f("terminated_date", "date"),
                "employment_status": _f("status", active="Active", leave="On Leave", terminated="Terminated"),
                "job_code": "job",
                "location_code": "location",
                "manager_id": "manager_employee_id",
            },
        ),
        # --- Oracle HCM and ERP (Fusion REST resources) --------------------------------------------------------
        _m(
            "oracle_hcm",
            "workers",
            "employee",
            {
                "employee_id": "PersonNumber",
                "first_name": "FirstName",
                "last_name": "LastName",
                "email": "WorkEmail",
                "hire_date": _f("HireDate", "date"),
                "termination_date": _f("TerminationDate", "date"),
                "employment_status": _f(
                    "AssignmentStatusType", active="ACTIVE", leave="SUSPENDED", terminated="INACTIVE"
                ),
                "job_code": "JobCode",
                "department_code": "DepartmentName",
                "location_code": "LocationCode",
                "company_code": "LegalEntityId",
                "manager_id": "ManagerPersonNumber",
                "last_modified": "LastUpdateDate",
            },
        ),
        _code_table("oracle_hcm", "jobs", "job", "JobCode", "Name", last_modified="LastUpdateDate"),
        _code_table(
            "oracle_hcm", "departments", "department", "DepartmentCode", "Name", last_modified="LastUpdateDate"
        ),
        _code_table("oracle_hcm", "locations", "location", "LocationCode", "LocationName", country="Country"),
        _m(
            "oracle_erp",
            "invoices",
            "invoice",
            {
                "invoice_id": "InvoiceId",
                "invoice_number": "InvoiceNumber",
                "supplier_id": "SupplierNumber",
                "amount": "InvoiceAmount",
                "currency": "InvoiceCurrency",
                "invoice_date": _f("InvoiceDate", "date"),
                "due_date": _f("TermsDate", "date"),
                "status": "ValidationStatus",
                "last_modified": "LastUpdateDate",
            },
        ),
        _m(
            "oracle_erp",
            "suppliers",
            "supplier",
            {
                "supplier_id": "SupplierNumber",
                "name": "Supplier",
                "status": "Status",
                "last_modified": "LastUpdateDate",
            },
        ),
        _m(
            "oracle_erp",
            "purchaseOrders",
            "purchase_order",
            {
                "purchase_order_id": "OrderNumber",
                "supplier_id": "SupplierNumber",
                "amount": "Ordered",
                "currency": "CurrencyCode",
                "order_date": _f("CreationDate", "date"),
                "status": "Status",
                "last_modified": "LastUpdateDate",
            },
        ),
        _m(
            "oracle_erp",
            "journalLines",
            "journal_entry",
            {
                "journal_id": "JeHeaderId",
                "posting_date": _f("AccountingDate", "date"),
                "gl_account": "AccountCombination",
                "amount": "EnteredAmount",
                "currency": "CurrencyCode",
                "last_modified": "LastUpdateDate",
            },
        ),
        # --- S/4HANA: API_BUSINESS_PARTNER entity sets ---------------------------------------------------------
        _m(
            "s4hana",
            "A_BusinessPartner",
            "business_partner",
            {
                "business_partner_id": "BusinessPartner",
                "name": "BusinessPartnerFullName",
                "created": _f("CreationDate", "date"),
                "last_modified": _f("LastChangeDate", "date"),
            },
        ),
        _m(
            "s4hana",
            "A_Supplier",
            "supplier",
            {
                "supplier_id": "Supplier",
                "name": "SupplierName",
                "created": _f("CreationDate", "date"),
            },
        ),
        _m(
            "s4hana",
            "A_Customer",
            "customer",
            {
                "customer_id": "Customer",
                "name": "CustomerName",
                "created": _f("CreationDate", "date"),
            },
        ),
    ] + [
        # --- universal: the canonical form itself (one stream per entity, columns named as canonical fields) ---
        StreamMapping(
            "universal", entity.name, entity.name, entity.truth_type, {f.name: FieldMap(f.name) for f in FIELDS}
        )
        for entity in ENTITIES
    ]


__all__ = ["ENTITIES", "FIELDS", "PRODUCTS", "build_mappings"]
