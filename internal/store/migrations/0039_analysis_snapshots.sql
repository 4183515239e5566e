-- The dashboard's analyses (attribution, customer value, coverage) as they were last
-- computed, so that a restarted server shows them at once instead of recomputing for
-- half a minute: one row per analysis key, replaced on write. version is the data
-- version the result was computed at, format the encoding of body (web/snapshots.go).
-- They can hold per-person rows: an erasure and omniroi rebuild delete them all.
CREATE TABLE analysis_snapshots (
    key         TEXT PRIMARY KEY,
    version     TEXT NOT NULL,
    format      TEXT NOT NULL,
    computed_at BIGINT NOT NULL,
    body        BYTEA NOT NULL
);
