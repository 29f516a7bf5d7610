"""tap-common: Common purchase-order platform (POs, amendments, ERP sync acknowledged after commit)."""
