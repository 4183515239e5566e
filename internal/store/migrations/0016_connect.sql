-- Shop connectors (docs/connectors.md) and exchange rates (docs/import.md, "Exchange rates").

-- The webhook signing secret of each connector source (kind shopify or woocommerce). It
-- must be recoverable to compute HMACs, so it is sealed (AES-256-GCM) under a key kept
-- outside the database: docs/decisions.md, "Shop connectors".
CREATE TABLE connectors (
    source_id BIGINT PRIMARY KEY,
    platform TEXT NOT NULL,          -- shopify, woocommerce
    secret_sealed TEXT NOT NULL,     -- base64 of nonce || ciphertext
    key_id TEXT NOT NULL,            -- which sealing key: the first 16 hex digits of its SHA-256
    updated_at BIGINT NOT NULL       -- unix ms the secret was set
);

-- A platform's own order id (Shopify's numeric id, WooCommerce's post id) and the order id
-- omniroi stored the order under: refunds name only the former. Written in the transaction
-- that stores the order's events; the events stay the source of truth, and who bought is
-- read from them (nothing here names a person, so an erasure has nothing to find here).
CREATE TABLE connector_orders (
    source_id BIGINT NOT NULL,
    external_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    currency TEXT NOT NULL DEFAULT '',
    total TEXT NOT NULL DEFAULT '',  -- the order's total as the platform wrote it (a refund of all of it is a full refund)
    PRIMARY KEY (source_id, external_id)
);

-- Deliveries that passed the signature check, newest kept per source, for the Sources page.
-- The outcome names orders and refunds by their ids, never a person.
CREATE TABLE connector_deliveries (
    id BIGSERIAL PRIMARY KEY,
    source_id BIGINT NOT NULL,
    delivery_id TEXT NOT NULL DEFAULT '',
    topic TEXT NOT NULL,
    received_at BIGINT NOT NULL,     -- unix ms
    events INTEGER NOT NULL,         -- events newly stored (0: a repeat, or nothing to store)
    outcome TEXT NOT NULL            -- what was done, in words
);
CREATE INDEX connector_deliveries_source ON connector_deliveries (source_id, id);

-- Daily exchange rates: 1 base = rate quote, on day (YYYY-MM-DD). The rate is kept as the
-- decimal text of the file, so conversions are exact (commerce.FX).
CREATE TABLE fx_rates (
    base TEXT NOT NULL,
    quote TEXT NOT NULL,
    day TEXT NOT NULL,
    rate TEXT NOT NULL,
    origin TEXT NOT NULL DEFAULT '', -- the file it came from
    PRIMARY KEY (base, quote, day)
);
