"""Durable queue: at-least-once delivery, retries with backoff, dead letters (one table)."""

from cloud.queue.store import (
    QUEUES,
    Message,
    QueueStore,
)
from cloud.queue.worker import PermanentFailure, QueueWorker, RetryLater

__all__ = ["QUEUES", "Message", "PermanentFailure", "QueueStore", "QueueWorker", "RetryLater"]
