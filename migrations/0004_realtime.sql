-- Real-time link state: hub credentials, event sequence ledger, commands awaiting the hub's ack.

-- One row per factory-provisioned hub (the hubs row itself is the spec's table).
CREATE TABLE hub_links (
    hub_id TEXT PRIMARY KEY,
    secret_sealed TEXT NOT NULL,            -- factory secret, AES-256-GCM sealed (never logged)
    acked_seq INTEGER NOT NULL DEFAULT 0,   -- highest printer_event seq applied for this hub
    connection_id TEXT,                     -- the live socket holding the hub; NULL when offline
    connected_at INTEGER,
    provisioned_at INTEGER NOT NULL,
    FOREIGN KEY (hub_id) REFERENCES hubs(id) ON DELETE CASCADE
);

-- Every applied printer_event, keyed by the hub's sequence number (idempotent replay).
CREATE TABLE hub_events (
    hub_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    tenant_id TEXT,
    printer_id TEXT,
    event TEXT NOT NULL,
    ts INTEGER NOT NULL,
    job_id TEXT,
    command_id TEXT,
    data TEXT,                              -- JSON of the event's data map
    outcome TEXT NOT NULL DEFAULT 'applied',  -- applied, ignored (unknown printer), failed (sink raised)
    error TEXT,
    applied_at INTEGER NOT NULL,
    PRIMARY KEY (hub_id, seq),
    FOREIGN KEY (hub_id) REFERENCES hubs(id) ON DELETE CASCADE
);

CREATE INDEX idx_hub_events_printer ON hub_events(printer_id, ts);

-- Cloud -> hub commands: persisted before sending, redelivered after reconnects until acked.
CREATE TABLE hub_commands (
    id TEXT PRIMARY KEY,
    hub_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    type TEXT NOT NULL,
    payload BLOB NOT NULL,                  -- msgpack of the message; secret fields sealed
    status TEXT NOT NULL DEFAULT 'pending', -- pending, acked, failed, cancelled
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    sent_at INTEGER,
    acked_at INTEGER,
    error_code TEXT,
    error_message TEXT,
    result TEXT,                            -- JSON of the ack's result map
    FOREIGN KEY (hub_id) REFERENCES hubs(id) ON DELETE CASCADE
);

CREATE INDEX idx_hub_commands_pending ON hub_commands(hub_id, status, created_at);
CREATE INDEX idx_hub_commands_tenant ON hub_commands(tenant_id, created_at);
