"""tap-oracle-hcm: Oracle HCM Cloud on the xlr8 connector kit."""
