"""Business logic: synchronous functions over the models, run on the database thread pool by the API."""
