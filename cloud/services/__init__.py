"""Business logic: synchronous functions over the models, run on the database pool by the API."""
