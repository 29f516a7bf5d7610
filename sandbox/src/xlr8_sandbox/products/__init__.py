"""Product emulators, by registry product id: ``module:Class`` so that importing one does not import all."""

EMULATORS: dict[str, str] = {
    "s4hana": "xlr8_sandbox.products.s4hana:S4HanaEmulator",
    "salesforce": "xlr8_sandbox.products.salesforce:SalesforceEmulator",
    "successfactors": "xlr8_sandbox.products.successfactors:SuccessFactorsEmulator",
    "ukg_pro": "xlr8_sandbox.products.ukg_pro:UkgProEmulator",
    "ukg_wfm": "xlr8_sandbox.products.ukg_wfm:UkgWfmEmulator",
    "ukg_ready": "xlr8_sandbox.products.ukg_ready:UkgReadyEmulator",
    "workday": "xlr8_sandbox.products.workday:WorkdayEmulator",
    "oracle_hcm": "xlr8_sandbox.products.oracle_fusion.hcm:OracleHcmEmulator",
    "oracle_erp": "xlr8_sandbox.products.oracle_fusion.erp:OracleErpEmulator",
    "common": "xlr8_sandbox.products.common:CommonEmulator",
}
