"""Product emulators, by registry product id: ``module:Class`` so that importing one does not import all."""

EMULATORS: dict[str, str] = {
    "salesforce": "xlr8_sandbox.products.salesforce:SalesforceEmulator",
    "successfactors": "xlr8_sandbox.products.successfactors:SuccessFactorsEmulator",
    "ukg_pro": "xlr8_sandbox.products.ukg_pro:UkgProEmulator",
    "workday": "xlr8_sandbox.products.workday:WorkdayEmulator",
    "common": "xlr8_sandbox.products.common:CommonEmulator",
}
