"""Bench application package (factory copy)."""
