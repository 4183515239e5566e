-- Source kinds, key rotation and revocation, the client IP of each event, groups, and
-- the confirmations that verify contact points (docs/identity.md, "What a public key can do").

-- kind: 'client' (browser and mobile SDKs: the key is public) or a trusted kind
-- ('server', and connectors added later). Sources made before kinds existed become
-- 'client' (docs/decisions.md, "Source kinds"), except the ones omniroi makes for itself.
ALTER TABLE sources ADD COLUMN kind TEXT NOT NULL DEFAULT 'client';
UPDATE sources SET kind = 'server' WHERE name IN ('journeys', 'import');
-- unix ms the key was revoked; 0: live. A revoked source keeps its events.
ALTER TABLE sources ADD COLUMN revoked_at BIGINT NOT NULL DEFAULT 0;
-- unix ms of the last rotation; 0: never rotated.
ALTER TABLE sources ADD COLUMN rotated_at BIGINT NOT NULL DEFAULT 0;

-- The address the collection API saw the request come from ('' for imports and the
-- engine's own events). It is the source of the per-IP new-recipient limit.
ALTER TABLE events ADD COLUMN client_ip TEXT NOT NULL DEFAULT '';

-- Groups (accounts, companies) from `group` calls: derived, rebuilt with the customers.
CREATE TABLE groups (
    group_id TEXT PRIMARY KEY,       -- the groupId as sent
    name TEXT NOT NULL DEFAULT '',   -- latest name trait by event time
    traits TEXT NOT NULL DEFAULT '{}', -- {"trait":{"v":value,"t":unix ms,"s":seq}}
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL,
    customer_id BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,      -- unix ms, event time of the first group call
    seq BIGINT NOT NULL,             -- that call's seq
    PRIMARY KEY (group_id, customer_id)
);
CREATE INDEX group_members_customer ON group_members (customer_id);

-- Confirmation messages (double opt-in) sent to contact points that came from a client
-- source, and whether they were confirmed. Written by the journey engine; not derived.
CREATE TABLE journey_confirmations (
    id BIGSERIAL PRIMARY KEY,
    channel TEXT NOT NULL,           -- email, sms
    address TEXT NOT NULL,           -- normalised
    customer_id BIGINT NOT NULL,
    consent INTEGER NOT NULL DEFAULT 0, -- 1: confirming also grants marketing consent on the channel
    journey TEXT NOT NULL DEFAULT '',   -- the journey whose message asked for it
    source_id BIGINT NOT NULL DEFAULT 0, -- the source that brought the address
    client_ip TEXT NOT NULL DEFAULT '',  -- the address the bringing request came from
    status TEXT NOT NULL,            -- pending, sending, sent, failed, held (over a new-recipient limit)
    reason TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_until BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    sent_at BIGINT NOT NULL DEFAULT 0,
    confirmed_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX journey_confirmations_address ON journey_confirmations (channel, address, created_at);
CREATE INDEX journey_confirmations_source ON journey_confirmations (source_id, created_at);
CREATE INDEX journey_confirmations_ip ON journey_confirmations (client_ip, created_at);
CREATE INDEX journey_confirmations_due ON journey_confirmations (status, lease_until);
