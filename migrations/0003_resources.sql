-- 0003_resources: tables the REST resources need beyond the spec's schema (spec tables unchanged).
-- SQLite dialect; the runner translates it for PostgreSQL. Timestamps: epoch milliseconds.

-- What an upload's 3MF contained beyond the print_files columns: content hash, plates, thumbnail.
CREATE TABLE print_file_details (
    print_file_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,            -- of the stored .3mf, lower-case hex
    plate_count INTEGER NOT NULL DEFAULT 1,
    thumbnail_key TEXT,              -- storage key {tenant_id}/thumbnails/{file_id}.png
    printer_model TEXT,              -- project_settings printer_model, e.g. "Bambu Lab P1S"
    slicer_version TEXT,
    uploaded_by TEXT,                -- user id
    created_at INTEGER NOT NULL,
    FOREIGN KEY (print_file_id) REFERENCES print_files(id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE
);

CREATE INDEX idx_file_details_tenant ON print_file_details(tenant_id);
CREATE INDEX idx_file_details_sha256 ON print_file_details(tenant_id, sha256);

-- One row per sliced plate: what a printer runs (Metadata/plate_N.gcode) and its checksum.
CREATE TABLE print_file_plates (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    print_file_id TEXT NOT NULL,
    plate_index INTEGER NOT NULL,    -- 1-based, as in plate_N.gcode
    gcode_path TEXT NOT NULL,
    gcode_md5 TEXT NOT NULL,         -- upper-case hex, as Bambu Studio writes plate_N.gcode.md5
    gcode_size_bytes INTEGER,
    print_time_seconds INTEGER,
    filament_weight_grams REAL,
    filament_length_meters REAL,
    filament_type TEXT,
    layer_count INTEGER,
    object_count INTEGER,
    bed_type TEXT,
    created_at INTEGER NOT NULL,
    FOREIGN KEY (print_file_id) REFERENCES print_files(id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    UNIQUE (print_file_id, plate_index)
);

CREATE INDEX idx_file_plates_tenant ON print_file_plates(tenant_id);

-- Ledger of finished-goods stock changes; finished_goods.current_stock is its running total.
CREATE TABLE stock_adjustments (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    finished_good_id TEXT NOT NULL,
    delta INTEGER NOT NULL,
    stock_after INTEGER NOT NULL,
    reason TEXT NOT NULL,  -- print_completed, assembly_completed, order_fulfilled, sale, return, damaged, count_correction, other
    notes TEXT,
    print_job_id TEXT,
    order_id TEXT,
    created_by TEXT,       -- user id
    created_at INTEGER NOT NULL,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    FOREIGN KEY (finished_good_id) REFERENCES finished_goods(id) ON DELETE CASCADE
);

CREATE INDEX idx_stock_adjustments_good ON stock_adjustments(finished_good_id, created_at);
CREATE INDEX idx_stock_adjustments_tenant ON stock_adjustments(tenant_id, created_at);

-- External shop connections (Shopify first); secrets are AES-256-GCM sealed JSON.
CREATE TABLE integrations (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    provider TEXT NOT NULL,            -- shopify
    shop_domain TEXT NOT NULL,         -- e.g. my-farm.myshopify.com
    secrets_encrypted TEXT NOT NULL,   -- secretbox of {"webhook_secret", "access_token"}
    is_active INTEGER DEFAULT 1,
    last_webhook_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    UNIQUE (tenant_id, provider),
    UNIQUE (provider, shop_domain)
);

CREATE INDEX idx_integrations_tenant ON integrations(tenant_id);

-- An order imported from outside exists once per (source, external id): webhook retries and
-- concurrent deliveries meet on this primary key.
CREATE TABLE order_external_refs (
    tenant_id TEXT NOT NULL,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, source, external_id),
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    FOREIGN KEY (order_id) REFERENCES orders(id) ON DELETE CASCADE
);

CREATE INDEX idx_order_refs_order ON order_external_refs(order_id);
