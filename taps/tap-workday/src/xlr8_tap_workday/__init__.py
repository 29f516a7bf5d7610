"""Singer tap for workday."""
