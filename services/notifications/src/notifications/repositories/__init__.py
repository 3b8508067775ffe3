"""Queries, one module per table."""
