-- Core tables: sources, the append-only event log, rejected events, spend.
-- Written for PostgreSQL; store.migrate rewrites BIGSERIAL PRIMARY KEY etc. for SQLite.

CREATE TABLE sources (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    key_hash TEXT NOT NULL UNIQUE,   -- sha256 hex of the write key; the key itself is never stored
    key_hint TEXT NOT NULL,          -- first characters, to recognise a key in the UI
    created_at BIGINT NOT NULL       -- unix ms
);

-- The event log. Events are the source of truth: never updated, never deleted
-- (except by a privacy erasure). seq gives the order derived tables are built in.
CREATE TABLE events (
    seq BIGSERIAL PRIMARY KEY,
    source_id BIGINT NOT NULL,
    message_id TEXT NOT NULL,
    type TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    user_id TEXT NOT NULL DEFAULT '',
    anonymous_id TEXT NOT NULL DEFAULT '',
    ts BIGINT NOT NULL,              -- derived (clock-skew corrected) timestamp, unix ms
    received_at BIGINT NOT NULL,     -- unix ms
    body TEXT NOT NULL               -- normalised Segment JSON
);
-- Exactly-once storage of at-least-once delivery: a retried messageId is a no-op.
CREATE UNIQUE INDEX events_source_message ON events (source_id, message_id);

CREATE TABLE rejected_events (
    id BIGSERIAL PRIMARY KEY,
    source_id BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    origin TEXT NOT NULL,            -- "api /v1/batch", "import events.csv", ...
    position INTEGER NOT NULL,       -- index in the batch or line in the file; -1 for the whole request
    reason TEXT NOT NULL,
    body TEXT NOT NULL               -- the rejected payload, truncated
);
CREATE INDEX rejected_events_source ON rejected_events (source_id, received_at);

-- Ad and channel spend by day x channel x campaign. Source of truth of its own
-- (it comes from imports, not events); re-importing a row replaces it.
CREATE TABLE spend (
    day TEXT NOT NULL,               -- YYYY-MM-DD
    channel TEXT NOT NULL,
    campaign TEXT NOT NULL DEFAULT '',
    platform TEXT NOT NULL DEFAULT '',   -- google_ads, meta_ads, manual, ...
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    impressions BIGINT NOT NULL DEFAULT 0,
    clicks BIGINT NOT NULL DEFAULT 0,
    imported_from TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (day, channel, campaign, platform)
);

-- Small key/value settings (business currency, time zone, processor cursor, ...).
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Leases make sure one process at a time does a given job (the event processor, ...).
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at BIGINT NOT NULL       -- unix ms
);
