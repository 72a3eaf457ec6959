-- Authentication and shared key-value state (cloud-only tables; the spec's tables are untouched).

-- Argon2id password hash per user (kept apart from `users`, which stays the spec's table).
CREATE TABLE user_credentials (
    user_id TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    password_changed_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
);

-- Opaque refresh tokens, stored as SHA-256. Each use rotates the token inside its family; a
-- spent token presented again revokes the whole family (reuse detection).
CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    token_hash TEXT UNIQUE NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    revoked_at INTEGER,
    ip_address TEXT,
    user_agent TEXT,
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE
);

CREATE INDEX idx_refresh_tokens_family ON refresh_tokens(family_id);
CREATE INDEX idx_refresh_tokens_user ON refresh_tokens(user_id);

-- Invitations of an email address (no account yet) into a tenant with a role.
CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT UNIQUE NOT NULL,
    invited_by TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    accepted_at INTEGER,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    UNIQUE (tenant_id, email)
);

-- The kv interface's default backend: values with an optional expiry and atomic counters
-- (rate limits, claim codes, sessions). Redis replaces it when PRINTFARM_REDIS_URL is set.
CREATE TABLE kv_entries (
    key TEXT PRIMARY KEY,
    value TEXT,
    counter INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER
);

CREATE INDEX idx_kv_entries_expires ON kv_entries(expires_at);
