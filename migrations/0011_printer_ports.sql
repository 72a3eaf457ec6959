-- 0011_printer_ports: a printer's LAN ports when they are not Bambu's defaults (MQTT 8883,
-- FTPS 990): a simulated printer on ephemeral ports, or one behind a port forward.
-- configure_printer carries them to the hub (protocol printer_config mqtt_port / ftps_port).

CREATE TABLE printer_ports (
    printer_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    mqtt_port INTEGER,
    ftps_port INTEGER,
    FOREIGN KEY (printer_id) REFERENCES printers(id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE
);

CREATE INDEX idx_printer_ports_tenant ON printer_ports(tenant_id);
