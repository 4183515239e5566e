-- Product catalogue, stock, merchandising rules, and the product interactions the
-- recommendations learn from (internal/catalog, internal/recommend).

-- The catalogue as the shop states it: imported from a Shopify export or a Google Merchant
-- feed (`omniroi import products`). A source of truth of its own, like spend: re-importing
-- a product replaces it. A variant has parent_id set to its product's id; recommendations
-- are made per product (parent_id = '').
CREATE TABLE catalogue_products (
    product_id TEXT PRIMARY KEY,
    parent_id TEXT NOT NULL DEFAULT '',
    sku TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT '',
    brand TEXT NOT NULL DEFAULT '',
    price_minor BIGINT NOT NULL DEFAULT 0,
    cost_minor BIGINT NOT NULL DEFAULT 0,      -- 0: unknown (margin rules then keep the product)
    currency TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '',
    image_url TEXT NOT NULL DEFAULT '',
    availability TEXT NOT NULL DEFAULT 'in_stock', -- in_stock, out_of_stock, preorder, backorder
    replenishable INTEGER NOT NULL DEFAULT 0,  -- 1: bought again and again (bread, coffee); set per category too
    origin TEXT NOT NULL DEFAULT '',           -- shopify, google-merchant, demo, ...
    updated_at BIGINT NOT NULL                 -- unix ms
);
CREATE INDEX catalogue_products_sku ON catalogue_products (sku);

-- Stock per product (or variant) and location: the shop's own word, replaced on import.
CREATE TABLE catalogue_stock (
    product_id TEXT NOT NULL,
    location TEXT NOT NULL,          -- web, store, or a named store/warehouse
    quantity BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (product_id, location)
);

-- Products as events describe them (Product Viewed, Product Added, order lines): derived
-- from the log by the catalogue follower, rebuilt with it. Used where the shop imported
-- no catalogue; never overrides an imported product.
CREATE TABLE catalogue_seen (
    product_id TEXT PRIMARY KEY,
    sku TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL DEFAULT '',
    price_minor BIGINT NOT NULL DEFAULT 0,
    currency TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '',
    image_url TEXT NOT NULL DEFAULT '',
    trusted INTEGER NOT NULL DEFAULT 0,   -- 1: last described by a server source
    ts BIGINT NOT NULL,                   -- event time of the description kept (latest wins)
    seq BIGINT NOT NULL
);

-- Product interactions from the log: one row per product of a Product Viewed, Product
-- Added, Product Clicked event or email click on a recommendation. The customer is the
-- activity row of the same seq (the processor keeps it current through merges).
CREATE TABLE product_events (
    seq BIGINT NOT NULL,
    pos INTEGER NOT NULL,            -- position of the product in the event
    product_id TEXT NOT NULL,
    kind TEXT NOT NULL,              -- view, cart, click
    ts BIGINT NOT NULL,
    rec_id TEXT NOT NULL DEFAULT '', -- the recommendation clicked, when the event names one
    PRIMARY KEY (seq, pos)
);
CREATE INDEX product_events_product ON product_events (product_id, ts);

-- Merchandising rules: pin a product first or block it, everywhere or in one placement.
CREATE TABLE product_rules (
    product_id TEXT NOT NULL,
    placement TEXT NOT NULL DEFAULT '',  -- '' every placement
    rule TEXT NOT NULL,                  -- pin, block
    created_at BIGINT NOT NULL,
    PRIMARY KEY (product_id, placement)
);
