-- 0010_shopify_import_blocked: Shopify refused a pull (revoked token, missing scope); the
-- schedule skips the shop until its integration is saved again, instead of adding a dead
-- letter every interval.

ALTER TABLE shopify_sync_state ADD COLUMN import_blocked_at INTEGER;
