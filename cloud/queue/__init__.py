"""Durable queue: at-least-once delivery, retries with backoff, dead letters (one table)."""

from cloud.queue.store import (
    QUEUES,
    Message,
    QueueStore,
)
from cloud.queue.worker import QueueWorker

__all__ = ["QUEUES", "Message", "QueueStore", "QueueWorker"]
