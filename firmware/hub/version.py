"""Version string of the hub application (reported in hub_hello)."""

VERSION = "0.1.0"
