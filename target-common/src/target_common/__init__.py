"""target-common: purchase orders and amendments into Common."""
