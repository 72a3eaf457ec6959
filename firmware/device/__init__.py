"""Hub platform: provisioning, discovery, OTA, application updates, watchdog, safe mode."""
