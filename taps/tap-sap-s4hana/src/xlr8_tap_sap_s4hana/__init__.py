"""tap-sap-s4hana: SAP S/4HANA OData v2/v4 entity sets and read-only BAPIs."""
