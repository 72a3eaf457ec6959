"""Bench application entry (factory copy)."""

from benchcore import main, safe_main  # noqa: F401
