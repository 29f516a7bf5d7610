"""tap-oracle-erp: Oracle ERP Cloud on the xlr8 connector kit."""
