-- 0005_queue: the durable queue behind the spec's Queues (print-events, file-processing,
-- notifications, shopify-sync). At-least-once: a message is leased to one consumer and comes
-- back when the lease runs out; failures retry with backoff until max_attempts, then 'dead'.

CREATE TABLE queue_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    tenant_id TEXT,
    payload TEXT NOT NULL,             -- JSON
    dedupe_key TEXT,                   -- enqueue is idempotent per (queue, dedupe_key)
    status TEXT NOT NULL DEFAULT 'ready',  -- ready, leased, done, dead
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 8,
    available_at INTEGER NOT NULL,
    leased_until INTEGER,
    lease_owner TEXT,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    completed_at INTEGER,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    UNIQUE (queue, dedupe_key)
);

CREATE INDEX idx_queue_ready ON queue_messages(queue, status, available_at);
CREATE INDEX idx_queue_tenant ON queue_messages(tenant_id);
