-- 0006_jobs: effects ledger. A queue consumer records the key of each effect it applies in the
-- same transaction as the effect, so a redelivered message (at-least-once) never applies twice.

CREATE TABLE applied_effects (
    effect_key TEXT PRIMARY KEY,
    tenant_id TEXT,
    created_at INTEGER NOT NULL,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE
);
