-- Derived tables: customers, identities, activity, orders, refunds. Everything here is
-- built by the event processor (internal/identity) from the event log, in seq order, and
-- `omniroi rebuild` truncates and replays it. Customer ids are the seq of the event that
-- first saw the person, so a rebuild gives the same ids.
--
-- Keys written as BIGSERIAL PRIMARY KEY (customers.id, activity.seq, refunds.seq) are always
-- given explicit values; the spelling is for SQLite, where the migration rewriter turns it into
-- INTEGER PRIMARY KEY, the rowid itself: one b-tree fewer per row than BIGINT PRIMARY KEY.

CREATE TABLE customers (
    id BIGSERIAL PRIMARY KEY,        -- seq of the first event of this person
    first_seen BIGINT NOT NULL,      -- unix ms, event time
    last_seen BIGINT NOT NULL,       -- unix ms, event time
    user_id TEXT NOT NULL DEFAULT '',-- at most one userId per customer (two are never merged)
    email TEXT NOT NULL DEFAULT '',  -- latest email by event time, normalised
    phone TEXT NOT NULL DEFAULT '',  -- latest phone by event time, normalised (+digits)
    name TEXT NOT NULL DEFAULT '',   -- latest display name by event time
    traits TEXT NOT NULL DEFAULT '{}', -- {"trait":{"v":value,"t":unix ms,"s":seq}}: latest by event time wins
    events BIGINT NOT NULL DEFAULT 0 -- events attributed to this customer
);
-- No secondary indexes: lookups by email, phone or userId go through identities' primary
-- key, and each index here would be rewritten by every batch's customer upserts.

-- The identity graph: each identifier belongs to one customer.
CREATE TABLE identities (
    kind TEXT NOT NULL,              -- user_id, anonymous_id, email, phone
    value TEXT NOT NULL,             -- normalised
    customer_id BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,      -- unix ms, event time
    seq BIGINT NOT NULL,             -- event that introduced it
    user_ids TEXT NOT NULL DEFAULT '', -- distinct userIds seen with it (newline separated, capped)
    shared INTEGER NOT NULL DEFAULT 0, -- 1: seen with too many userIds, no longer used to merge
    PRIMARY KEY (kind, value)
);
CREATE INDEX identities_customer ON identities (customer_id);

-- Merges refused (two userIds) and identifiers declared shared: visible in CLI and API.
CREATE TABLE identity_conflicts (
    id BIGSERIAL PRIMARY KEY,
    seq BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    customer_id BIGINT NOT NULL,     -- the customer holding the identifier
    other_id BIGINT NOT NULL,        -- the customer it was not merged with (0 if none)
    user_id TEXT NOT NULL DEFAULT '',      -- the userIds that clashed; a clash is recorded once
    other_user_id TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL
);
CREATE INDEX identity_conflicts_customer ON identity_conflicts (customer_id);
CREATE INDEX identity_conflicts_other ON identity_conflicts (other_id);

-- Merge log: which customer was folded into which, when, and by which identifier.
CREATE TABLE customer_merges (
    seq BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    survivor_id BIGINT NOT NULL,
    merged_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX customer_merges_survivor ON customer_merges (survivor_id);

-- Touchpoints: one row per track, page and screen event, with its channel.
CREATE TABLE activity (
    seq BIGSERIAL PRIMARY KEY,       -- the event's seq
    customer_id BIGINT NOT NULL,
    ts BIGINT NOT NULL,              -- unix ms, event time
    type TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    channel TEXT NOT NULL,
    campaign TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    medium TEXT NOT NULL DEFAULT '',
    source_id BIGINT NOT NULL
);
CREATE INDEX activity_customer_ts ON activity (customer_id, ts);
CREATE INDEX activity_ts ON activity (ts);

-- Orders from "Order Completed"; the same order_id again replaces it when its event time is later.
CREATE TABLE orders (
    order_id TEXT PRIMARY KEY,
    customer_id BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    revenue_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    location TEXT NOT NULL,          -- web, store, phone, app, other
    channel TEXT NOT NULL,
    items TEXT NOT NULL DEFAULT '[]',-- products array as sent
    source_id BIGINT NOT NULL,
    seq BIGINT NOT NULL
);
CREATE INDEX orders_customer ON orders (customer_id, ts);
CREATE INDEX orders_ts ON orders (ts);

-- Refunds from "Order Refunded"; full = 1 refunds the whole order whatever its amount turns out to be.
CREATE TABLE refunds (
    seq BIGSERIAL PRIMARY KEY,       -- the event's seq
    order_id TEXT NOT NULL,
    customer_id BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    full_refund INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX refunds_order ON refunds (order_id);
CREATE INDEX refunds_ts ON refunds (ts);
CREATE INDEX refunds_customer ON refunds (customer_id);

-- Read API tokens, stored as SHA-256 like write keys.
CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL UNIQUE,
    token_hint TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
