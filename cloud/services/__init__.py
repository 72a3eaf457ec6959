"""Business logic: one module per concern; API handlers call these on the DB thread pool."""
