-- Privacy rights (internal/privacy, docs/privacy.md): erasures, the suppression list that
-- keeps an erased person's later events out, and the per-person consent state the event
-- processor derives from the consent signals events carry.

-- One row per erasure: what was erased is in the audit log (counts and a digest, never
-- the person's identifiers).
CREATE TABLE privacy_erasures (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,                  -- unix ms
    customer_id BIGINT NOT NULL DEFAULT 0, -- 0: no customer matched, only mentions were erased
    digest TEXT NOT NULL,                -- keyed hash over the erased identifiers (privacy.Digest)
    dropped_events BIGINT NOT NULL DEFAULT 0, -- later events for the person, dropped at the door
    lifted_at BIGINT NOT NULL DEFAULT 0  -- unix ms the person came back with consent (0: still suppressed)
);

-- Keyed hashes (HMAC-SHA256 under the privacy.key setting) of an erased person's
-- identifiers: the list says whether an identifier was erased without listing addresses.
CREATE TABLE privacy_suppressions (
    hash TEXT PRIMARY KEY,               -- hex HMAC-SHA256(key, kind NUL normalised value)
    kind TEXT NOT NULL,                  -- user_id, anonymous_id, email, phone
    erasure_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX privacy_suppressions_erasure ON privacy_suppressions (erasure_id);

-- Derived (internal/identity, rebuilt by omniroi rebuild): the newest consent signal by
-- event time of each customer, interpreted as Consent Mode v2 purposes. '' is unknown.
CREATE TABLE customer_consent (
    customer_id BIGINT PRIMARY KEY,
    analytics TEXT NOT NULL DEFAULT '',          -- granted, denied or ''
    ad_storage TEXT NOT NULL DEFAULT '',
    ad_user_data TEXT NOT NULL DEFAULT '',
    ad_personalization TEXT NOT NULL DEFAULT '',
    personalization TEXT NOT NULL DEFAULT '',
    signals TEXT NOT NULL DEFAULT '',            -- which signals the event carried: consent_mode, categories, tcf
    ts BIGINT NOT NULL,                          -- event time of the signal, unix ms
    seq BIGINT NOT NULL,                         -- the event
    source_id BIGINT NOT NULL
);

-- The processor reloads its in-memory identity graph when an erasure changed the tables
-- under it; the row exists from the start so that its write transaction can lock it.
INSERT INTO settings (key, value) VALUES ('processor.epoch', '0') ON CONFLICT (key) DO NOTHING;
