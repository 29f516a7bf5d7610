"""Settings naming the tenant itself on a vendor host many tenants share (Workday's tenant, SuccessFactors' and UKG
Ready's company, S/4HANA's client); none of them secret. Its own module so a tap's start-up (``xlr8_kit.rest``)
does not import the credential store and its cryptography."""

from __future__ import annotations

TENANT_NAMES = ("tenant", "company_id", "company_short_name", "customer_id", "sap_client")
