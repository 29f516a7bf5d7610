"""Singer tap for sap-successfactors."""
