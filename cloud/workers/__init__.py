"""Queue consumers: the spec's print-events, file-processing, notifications and shopify-sync."""
