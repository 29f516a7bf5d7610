"""soap."""
