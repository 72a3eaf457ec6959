"""The bench: simulated printers, the hub runner and the farm launcher."""
