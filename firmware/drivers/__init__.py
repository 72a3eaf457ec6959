"""Printer drivers: one module per printer family behind drivers.base.PrinterDriver."""
