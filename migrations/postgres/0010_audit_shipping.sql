-- Audit shipping: see migrations/sqlite/0011_audit_shipping.sql. One cursor per destination and per
-- chain of every replica: whichever replica holds the destination's shipping lock ships every chain.
CREATE TABLE IF NOT EXISTS audit_shipping_cursor (
  destination TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('request', 'admin')),
  replica TEXT NOT NULL,
  last_id BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (destination, kind, replica)
);
