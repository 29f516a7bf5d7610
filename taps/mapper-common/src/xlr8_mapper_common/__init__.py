"""mapper-common: Common purchase orders <-> ERP purchase orders, from declarative templates."""
