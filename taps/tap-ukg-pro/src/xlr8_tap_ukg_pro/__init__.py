"""Singer tap for ukg-pro."""
