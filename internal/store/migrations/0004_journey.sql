-- Journey automation (internal/journey): documents, runs, timers, the send outbox,
-- consent, suppressions and the segment feed the value engine writes.

-- Every applied document is a version; runs keep the version they entered with.
CREATE TABLE journeys (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL,               -- the document as applied (YAML or JSON)
    plan TEXT NOT NULL,              -- compiled plan, JSON
    digest TEXT NOT NULL,            -- sha256 of the canonical plan: unchanged documents are not re-versioned
    created_at BIGINT NOT NULL,      -- unix ms
    enabled INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (name, version)
);

-- One run is one customer going through one journey version for one entry key.
CREATE TABLE journey_runs (
    id BIGSERIAL PRIMARY KEY,
    journey TEXT NOT NULL,
    version INTEGER NOT NULL,
    customer_id BIGINT NOT NULL,
    entry_key TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,            -- active, done, exited
    step INTEGER NOT NULL DEFAULT 0, -- index into the plan's nodes
    holdout INTEGER NOT NULL DEFAULT 0,
    entry_seq BIGINT NOT NULL DEFAULT 0,
    entry_props TEXT NOT NULL DEFAULT '{}',
    started_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    ended_at BIGINT NOT NULL DEFAULT 0,
    exit_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX journey_runs_customer ON journey_runs (customer_id, status);
CREATE INDEX journey_runs_journey ON journey_runs (journey, customer_id, entry_key);

-- A run waits on at most one timer (a wait, or a wait-until's timeout).
CREATE TABLE journey_timers (
    run_id BIGINT PRIMARY KEY,
    due_at BIGINT NOT NULL,
    step INTEGER NOT NULL
);
CREATE INDEX journey_timers_due ON journey_timers (due_at);

-- The outbox: a send is written in the transaction that reaches its step and delivered
-- after commit. idem_key (run x step x channel) makes it happen once.
CREATE TABLE journey_sends (
    id BIGSERIAL PRIMARY KEY,
    idem_key TEXT NOT NULL UNIQUE,
    run_id BIGINT NOT NULL,
    journey TEXT NOT NULL,
    customer_id BIGINT NOT NULL,
    step INTEGER NOT NULL,
    channel TEXT NOT NULL,           -- email, sms, push, webhook, profile
    purpose TEXT NOT NULL,           -- marketing, transactional
    status TEXT NOT NULL,            -- pending, sending, sent, suppressed, failed
    reason TEXT NOT NULL DEFAULT '',
    not_before BIGINT NOT NULL,      -- unix ms; quiet hours and cap delays move it
    lease_until BIGINT NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    sent_at BIGINT NOT NULL DEFAULT 0,
    opened_at BIGINT NOT NULL DEFAULT 0,
    clicked_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX journey_sends_due ON journey_sends (status, not_before);
CREATE INDEX journey_sends_customer ON journey_sends (customer_id, channel, sent_at);
CREATE INDEX journey_sends_run ON journey_sends (run_id);

-- Consent per customer, channel and purpose. No row: the trait consent.<channel>.<purpose>
-- decides; no trait either: no marketing.
CREATE TABLE journey_consent (
    customer_id BIGINT NOT NULL,
    channel TEXT NOT NULL,
    purpose TEXT NOT NULL,
    granted INTEGER NOT NULL,
    updated_at BIGINT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (customer_id, channel, purpose)
);

-- Addresses never to contact on a channel (bounces, complaints, imported lists).
CREATE TABLE journey_suppressions (
    channel TEXT NOT NULL,
    address TEXT NOT NULL,           -- normalised email or phone
    reason TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (channel, address)
);

-- Segment feed written by the value engine (internal/value): one row each time a
-- customer's RFM segment or probability alive changes. Segment entries tail it by id.
CREATE TABLE segment_changes (
    id BIGSERIAL PRIMARY KEY,
    customer_id BIGINT NOT NULL,
    segment TEXT NOT NULL,
    p_alive DOUBLE PRECISION NOT NULL DEFAULT -1,  -- -1: unknown
    changed_at BIGINT NOT NULL
);
CREATE INDEX segment_changes_customer ON segment_changes (customer_id, id);
