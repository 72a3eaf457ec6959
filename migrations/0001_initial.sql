-- 0001_initial: the spec's schema (shared/spec/printfarm-cloud-architecture.md,
-- "Complete Database Schema"), table for table and column for column.
-- Written in SQLite's dialect; migrations/runner translates it for PostgreSQL.
-- Timestamps (*_at, time_*, *_date) are integer epoch milliseconds everywhere.

-- ============================================================================
-- MULTI-TENANCY
-- ============================================================================

-- Tenants (organizations)
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    slug TEXT UNIQUE NOT NULL,
    subscription_tier TEXT DEFAULT 'free',
    subscription_status TEXT DEFAULT 'active',
    settings TEXT,  -- JSON configuration
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Users (authentication handled by external provider or custom)
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT UNIQUE NOT NULL,
    name TEXT,
    avatar_url TEXT,
    email_verified INTEGER DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Tenant membership (users can belong to multiple tenants)
CREATE TABLE tenant_members (
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'viewer',  -- owner, admin, operator, viewer
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
);

CREATE INDEX idx_tenant_members_user ON tenant_members(user_id);

-- ============================================================================
-- HUBS
-- ============================================================================

-- ESP32 Hubs
CREATE TABLE hubs (
    id TEXT PRIMARY KEY,  -- Factory-provisioned UUID
    tenant_id TEXT,       -- NULL until claimed
    name TEXT,
    firmware_version TEXT,
    hardware_revision TEXT,
    last_seen_at INTEGER,
    is_online INTEGER DEFAULT 0,
    local_ip_address TEXT,
    wifi_signal_strength INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE SET NULL
);

CREATE INDEX idx_hubs_tenant ON hubs(tenant_id);
CREATE INDEX idx_hubs_online ON hubs(is_online);

-- ============================================================================
-- PRINTERS
-- ============================================================================

-- Printers
CREATE TABLE printers (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    hub_id TEXT,  -- NULL for legacy Pi-connected printers during migration

    -- Basic information
    name TEXT NOT NULL,
    model TEXT NOT NULL,
    manufacturer TEXT,
    firmware_version TEXT,
    printer_id INTEGER,  -- Simple numeric ID for display

    -- Connection details
    connection_type TEXT DEFAULT 'bambu',  -- bambu, prusa, octoprint, klipper, other
    ip_address TEXT,
    serial_number TEXT,
    access_code TEXT,  -- Encrypted

    -- Status
    status TEXT DEFAULT 'offline',  -- idle, printing, paused, maintenance, offline, error
    is_connected INTEGER DEFAULT 0,
    last_connection_attempt INTEGER,
    connection_error TEXT,

    -- Current state
    current_color TEXT,
    current_color_hex TEXT,
    current_filament_type TEXT,
    current_build_plate TEXT,
    filament_level INTEGER DEFAULT 0,
    nozzle_size REAL,
    location TEXT,

    -- Maintenance
    total_print_time INTEGER DEFAULT 0,
    last_maintenance_date INTEGER,
    in_maintenance INTEGER DEFAULT 0,
    maintenance_type TEXT,

    -- Management
    is_active INTEGER DEFAULT 1,
    cleared INTEGER DEFAULT 1,  -- Bed cleared after print
    sort_order INTEGER DEFAULT 0,

    -- Timestamps
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,

    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    FOREIGN KEY (hub_id) REFERENCES hubs(id) ON DELETE SET NULL,
    UNIQUE (tenant_id, name),
    UNIQUE (tenant_id, printer_id)
);

CREATE INDEX idx_printers_tenant ON printers(tenant_id);
CREATE INDEX idx_printers_hub ON printers(hub_id);
CREATE INDEX idx_printers_status ON printers(status);
CREATE INDEX idx_printers_connected ON printers(is_connected);
CREATE INDEX idx_printers_sort ON printers(tenant_id, sort_order);

-- ============================================================================
-- PRODUCTS & INVENTORY
-- ============================================================================

-- Products
CREATE TABLE products (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,

    -- Product information
    name TEXT NOT NULL,
    description TEXT,
    category TEXT,
    image_url TEXT,

    -- Print settings
    print_file_id TEXT,
    file_name TEXT,
    printer_priority TEXT,  -- JSON array of preferred printer IDs

    -- Post-processing
    requires_assembly INTEGER DEFAULT 0,
    requires_post_processing INTEGER DEFAULT 0,

    -- Documentation
    wiki_id TEXT,  -- Link to wiki article

    -- Status
    is_active INTEGER DEFAULT 1,

    -- Timestamps
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,

    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    UNIQUE (tenant_id, name)
);

CREATE INDEX idx_products_tenant ON products(tenant_id);
CREATE INDEX idx_products_category ON products(category);
CREATE INDEX idx_products_active ON products(is_active);

-- Product SKUs (variants by color/material)
CREATE TABLE product_skus (
    id TEXT PRIMARY KEY,
    product_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,

    -- SKU information
    sku TEXT NOT NULL,
    color TEXT NOT NULL,
    filament_type TEXT,
    hex_code TEXT,

    -- Inventory
    quantity INTEGER DEFAULT 1,  -- Units per print
    stock_level INTEGER DEFAULT 0,
    low_stock_threshold INTEGER DEFAULT 0,

    -- Pricing (stored as cents)
    price INTEGER,

    -- Status
    is_active INTEGER DEFAULT 1,

    -- Timestamps
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,

    FOREIGN KEY (product_id) REFERENCES products(id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE
);

CREATE INDEX idx_skus_product ON product_skus(product_id);
CREATE INDEX idx_skus_tenant ON product_skus(tenant_id);
CREATE INDEX idx_skus_sku ON product_skus(sku);

-- Color Presets
CREATE TABLE color_presets (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,

    color_name TEXT NOT NULL,
    hex_code TEXT NOT NULL,
    filament_type TEXT NOT NULL,
    is_active INTEGER DEFAULT 1,

    created_at INTEGER NOT NULL,

    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    UNIQUE (tenant_id, color_name, filament_type)
);

CREATE INDEX idx_color_presets_tenant ON color_presets(tenant_id);

-- Build Plate Types
CREATE TABLE build_plate_types (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,

    name TEXT NOT NULL,
    description TEXT,
    is_active INTEGER DEFAULT 1,

    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,

    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    UNIQUE (tenant_id, name)
);

CREATE INDEX idx_build_plates_tenant ON build_plate_types(tenant_id);

-- ============================================================================
-- PRINT FILES
-- ============================================================================

-- Print Files (3MF metadata)
CREATE TABLE print_files (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    product_id TEXT,

    -- File information
    name TEXT NOT NULL,
    file_key TEXT NOT NULL,  -- R2 object key
    file_size_bytes INTEGER,
    number_of_units INTEGER DEFAULT 1,

    -- 3MF Metadata (extracted from file)
    print_time_seconds INTEGER,
    filament_weight_grams REAL,
    filament_length_meters REAL,
    filament_type TEXT,
    printer_model_id TEXT,  -- Bambu model code: N1, N2S, P1P, X1, etc.
    nozzle_diameter REAL,
    layer_count INTEGER,
    object_count INTEGER DEFAULT 1,
    curr_bed_type TEXT,  -- Required bed type
    default_print_profile TEXT,

    -- Thumbnails
    thumbnail_url TEXT,

    -- Timestamps
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,

    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    FOREIGN KEY (product_id) REFERENCES products(id) ON DELETE SET NULL,
    UNIQUE (tenant_id, name)
);

CREATE INDEX idx_files_tenant ON print_files(tenant_id);
CREATE INDEX idx_files_product ON print_files(product_id);

-- ============================================================================
-- PRINT JOBS
-- ============================================================================

-- Print Jobs
CREATE TABLE print_jobs (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    printer_id TEXT,
    print_file_id TEXT NOT NULL,
    product_sku_id TEXT,
    submitted_by TEXT,  -- User ID

    -- Job information
    file_name TEXT NOT NULL,
    status TEXT DEFAULT 'queued',  -- queued, processing, uploaded, printing, paused, completed, failed, cancelled
    color TEXT NOT NULL,
    filament_type TEXT NOT NULL,
    material_type TEXT NOT NULL,
    number_of_units INTEGER DEFAULT 1,

    -- Print metrics
    filament_needed_grams INTEGER,  -- Stored as centigrams for precision
    estimated_print_time_minutes INTEGER,
    actual_print_time_minutes INTEGER,
    progress_percentage INTEGER DEFAULT 0,

    -- Printer tracking
    bambu_job_id TEXT,  -- Printer's internal job ID
    printer_numeric_id INTEGER,
    last_sync_time INTEGER,

    -- Queue management
    priority INTEGER DEFAULT 0,
    failure_reason TEXT,

    -- SKU tracking
    requires_assembly INTEGER DEFAULT 0,
    quantity_per_print INTEGER DEFAULT 1,

    -- Denormalized fields for reporting
    product_id TEXT,
    product_name TEXT,
    sku_name TEXT,
    printer_model TEXT,
    printer_name TEXT,

    -- Timestamps
    time_submitted INTEGER,
    time_started INTEGER,
    time_completed INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,

    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    FOREIGN KEY (printer_id) REFERENCES printers(id) ON DELETE SET NULL,
    FOREIGN KEY (print_file_id) REFERENCES print_files(id) ON DELETE RESTRICT,
    FOREIGN KEY (product_sku_id) REFERENCES product_skus(id) ON DELETE SET NULL
);

CREATE INDEX idx_jobs_tenant ON print_jobs(tenant_id);
CREATE INDEX idx_jobs_printer ON print_jobs(printer_id);
CREATE INDEX idx_jobs_status ON print_jobs(status);
CREATE INDEX idx_jobs_priority ON print_jobs(priority);
CREATE INDEX idx_jobs_submitted ON print_jobs(time_submitted);

-- ============================================================================
-- FINISHED GOODS & INVENTORY
-- ============================================================================

-- Finished Goods (completed inventory)
CREATE TABLE finished_goods (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    product_sku_id TEXT NOT NULL,
    print_job_id TEXT,

    -- Product info (denormalized)
    sku TEXT NOT NULL,
    color TEXT NOT NULL,
    material TEXT NOT NULL,

    -- Stock tracking
    current_stock INTEGER DEFAULT 0,
    low_stock_threshold INTEGER DEFAULT 5,
    quantity_per_sku INTEGER DEFAULT 1,

    -- Pricing (stored as cents)
    unit_price INTEGER DEFAULT 0,
    extra_cost INTEGER DEFAULT 0,
    profit_margin INTEGER DEFAULT 0,  -- Percentage * 100

    -- Assembly tracking
    requires_assembly INTEGER DEFAULT 0,
    quantity_assembled INTEGER DEFAULT 0,
    quantity_needs_assembly INTEGER DEFAULT 0,

    -- Status
    status TEXT DEFAULT 'active',
    image_url TEXT,
    is_active INTEGER DEFAULT 1,

    -- Timestamps
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,

    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    FOREIGN KEY (product_sku_id) REFERENCES product_skus(id) ON DELETE CASCADE,
    FOREIGN KEY (print_job_id) REFERENCES print_jobs(id) ON DELETE SET NULL
);

CREATE INDEX idx_finished_goods_tenant ON finished_goods(tenant_id);
CREATE INDEX idx_finished_goods_sku ON finished_goods(product_sku_id);

-- ============================================================================
-- TASKS & WORKFLOW
-- ============================================================================

-- Assembly Tasks
CREATE TABLE assembly_tasks (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    finished_good_id TEXT NOT NULL,
    assigned_to TEXT,  -- User ID

    -- Task info
    product_name TEXT NOT NULL,
    sku TEXT NOT NULL,
    quantity INTEGER DEFAULT 1,
    status TEXT DEFAULT 'pending',  -- pending, in_progress, completed
    notes TEXT,

    -- Timestamps
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    completed_at INTEGER,

    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    FOREIGN KEY (finished_good_id) REFERENCES finished_goods(id) ON DELETE CASCADE
);

CREATE INDEX idx_assembly_tenant ON assembly_tasks(tenant_id);
CREATE INDEX idx_assembly_status ON assembly_tasks(status);
CREATE INDEX idx_assembly_assigned ON assembly_tasks(assigned_to);

-- Worklist Tasks
CREATE TABLE worklist_tasks (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    assembly_task_id TEXT,
    printer_id TEXT,
    assigned_to TEXT,  -- User ID

    -- Task info
    title TEXT NOT NULL,
    subtitle TEXT,
    description TEXT,
    task_type TEXT NOT NULL,  -- assembly, filament_change, collection, maintenance, quality_check
    priority TEXT DEFAULT 'medium',  -- low, medium, high
    status TEXT DEFAULT 'pending',  -- pending, in_progress, completed, cancelled
    order_number TEXT,

    -- Time tracking
    estimated_time_minutes INTEGER,
    actual_time_minutes INTEGER,
    started_at INTEGER,
    completed_at INTEGER,
    due_date INTEGER,

    -- Metadata (JSON)
    metadata TEXT,

    -- Timestamps
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,

    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    FOREIGN KEY (assembly_task_id) REFERENCES assembly_tasks(id) ON DELETE SET NULL,
    FOREIGN KEY (printer_id) REFERENCES printers(id) ON DELETE SET NULL
);

CREATE INDEX idx_worklist_tenant ON worklist_tasks(tenant_id);
CREATE INDEX idx_worklist_status ON worklist_tasks(status);
CREATE INDEX idx_worklist_type ON worklist_tasks(task_type);
CREATE INDEX idx_worklist_assigned ON worklist_tasks(assigned_to);

-- ============================================================================
-- ORDERS & INTEGRATIONS
-- ============================================================================

-- Orders (from Shopify or manual)
CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,

    -- External reference
    external_id TEXT,  -- Shopify/WooCommerce order ID
    source TEXT DEFAULT 'manual',  -- shopify, woocommerce, manual, api

    -- Customer info
    customer_name TEXT,
    customer_email TEXT,
    shipping_address TEXT,  -- JSON

    -- Order details
    status TEXT DEFAULT 'pending',  -- pending, processing, fulfilled, cancelled
    priority INTEGER DEFAULT 0,
    notes TEXT,

    -- Shopify sync
    shopify_order_number TEXT,
    shopify_fulfillment_id TEXT,
    last_synced_at INTEGER,

    -- Timestamps
    order_date INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,

    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE
);

CREATE INDEX idx_orders_tenant ON orders(tenant_id);
CREATE INDEX idx_orders_status ON orders(status);
CREATE INDEX idx_orders_external ON orders(external_id);

-- Order Items
CREATE TABLE order_items (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    product_sku_id TEXT,

    -- Item details
    sku TEXT NOT NULL,
    product_name TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    quantity_fulfilled INTEGER DEFAULT 0,
    unit_price INTEGER,  -- Cents

    -- Timestamps
    created_at INTEGER NOT NULL,

    FOREIGN KEY (order_id) REFERENCES orders(id) ON DELETE CASCADE,
    FOREIGN KEY (product_sku_id) REFERENCES product_skus(id) ON DELETE SET NULL
);

CREATE INDEX idx_order_items_order ON order_items(order_id);

-- ============================================================================
-- WIKI / DOCUMENTATION
-- ============================================================================

-- Wiki Articles
CREATE TABLE wiki_articles (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,

    -- Article info
    slug TEXT NOT NULL,
    title TEXT NOT NULL,
    content TEXT,  -- Markdown content

    -- Organization
    category TEXT,
    tags TEXT,  -- JSON array
    sort_order INTEGER DEFAULT 0,

    -- Status
    is_published INTEGER DEFAULT 0,

    -- Authorship
    created_by TEXT,
    updated_by TEXT,

    -- Timestamps
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,

    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    UNIQUE (tenant_id, slug)
);

CREATE INDEX idx_wiki_tenant ON wiki_articles(tenant_id);
CREATE INDEX idx_wiki_category ON wiki_articles(category);
CREATE INDEX idx_wiki_published ON wiki_articles(is_published);

-- ============================================================================
-- CAMERA
-- ============================================================================

-- Camera Configurations
CREATE TABLE cameras (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    printer_id TEXT,
    hub_id TEXT,

    -- Camera info
    name TEXT NOT NULL,
    stream_url TEXT,
    snapshot_url TEXT,
    camera_type TEXT DEFAULT 'bambu',  -- bambu, ip, usb

    -- Status
    is_active INTEGER DEFAULT 1,
    last_snapshot_at INTEGER,

    -- Timestamps
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,

    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    FOREIGN KEY (printer_id) REFERENCES printers(id) ON DELETE CASCADE,
    FOREIGN KEY (hub_id) REFERENCES hubs(id) ON DELETE SET NULL
);

CREATE INDEX idx_cameras_tenant ON cameras(tenant_id);
CREATE INDEX idx_cameras_printer ON cameras(printer_id);

-- ============================================================================
-- AUTOMATION
-- ============================================================================

-- Automation Rules
CREATE TABLE automation_rules (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,

    -- Rule info
    name TEXT NOT NULL,
    description TEXT,

    -- Trigger
    trigger_type TEXT NOT NULL,  -- print_complete, print_failed, printer_idle, order_received, inventory_low, schedule
    trigger_config TEXT,  -- JSON configuration

    -- Conditions and Actions
    conditions TEXT,  -- JSON array of conditions
    actions TEXT NOT NULL,  -- JSON array of actions

    -- Status
    is_active INTEGER DEFAULT 1,
    last_triggered_at INTEGER,
    trigger_count INTEGER DEFAULT 0,

    -- Timestamps
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,

    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE
);

CREATE INDEX idx_automation_tenant ON automation_rules(tenant_id);
CREATE INDEX idx_automation_trigger ON automation_rules(trigger_type);
CREATE INDEX idx_automation_active ON automation_rules(is_active);

-- ============================================================================
-- LOGGING & AUDIT
-- ============================================================================

-- Sync Logs (for debugging)
CREATE TABLE sync_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT,
    operation_type TEXT,  -- INSERT, UPDATE, DELETE, ERROR
    table_name TEXT,
    record_id TEXT,
    status TEXT,  -- SUCCESS, FAILED, PENDING
    error_message TEXT,
    created_at INTEGER NOT NULL
);

CREATE INDEX idx_sync_logs_tenant ON sync_logs(tenant_id);
CREATE INDEX idx_sync_logs_status ON sync_logs(status);
CREATE INDEX idx_sync_logs_created ON sync_logs(created_at);

-- Audit Log
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_id TEXT,

    -- Action details
    action TEXT NOT NULL,
    entity_type TEXT,
    entity_id TEXT,
    details TEXT,  -- JSON

    -- Request info
    ip_address TEXT,
    user_agent TEXT,

    -- Timestamp
    created_at INTEGER NOT NULL,

    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE
);

CREATE INDEX idx_audit_tenant ON audit_log(tenant_id);
CREATE INDEX idx_audit_user ON audit_log(user_id);
CREATE INDEX idx_audit_action ON audit_log(action);
CREATE INDEX idx_audit_created ON audit_log(created_at);

-- Printer Failure Tracking
CREATE TABLE printer_failures (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    printer_id TEXT NOT NULL,
    print_job_id TEXT,

    -- Failure info
    error_code TEXT,
    error_message TEXT,
    failure_type TEXT,  -- mechanical, filament, bed_adhesion, network, unknown

    -- Context
    layer_number INTEGER,
    progress_percentage INTEGER,
    temperatures TEXT,  -- JSON

    -- Resolution
    resolved INTEGER DEFAULT 0,
    resolution_notes TEXT,
    resolved_at INTEGER,

    -- Timestamp
    created_at INTEGER NOT NULL,

    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    FOREIGN KEY (printer_id) REFERENCES printers(id) ON DELETE CASCADE,
    FOREIGN KEY (print_job_id) REFERENCES print_jobs(id) ON DELETE SET NULL
);

CREATE INDEX idx_failures_tenant ON printer_failures(tenant_id);
CREATE INDEX idx_failures_printer ON printer_failures(printer_id);
CREATE INDEX idx_failures_resolved ON printer_failures(resolved);
