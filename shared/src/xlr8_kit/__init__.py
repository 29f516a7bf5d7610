"""Common kit for the xlr8 taps."""
