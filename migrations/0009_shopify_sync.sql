-- shopify-sync: where a tenant's order pull left off, and what went wrong last.

CREATE TABLE shopify_sync_state (
    tenant_id TEXT PRIMARY KEY,
    shop_domain TEXT NOT NULL,      -- the cursor belongs to this shop; a new shop starts over
    since_id TEXT,                  -- highest Shopify order id a pull has imported (decimal)
    last_import_at INTEGER,         -- end of the last successful pull
    imported_count INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,                -- why the last pull or fulfillment failed, for operators
    last_error_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE
);
