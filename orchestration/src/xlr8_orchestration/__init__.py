"""Dagster jobs over the credential store."""
