"""PrintFarm cloud service: REST API, WebSockets, workers and web UI over peewee models."""
