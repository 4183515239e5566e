-- Dashboard logins (internal/auth) and the index the Sources page reads.

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,      -- lower-cased
    password_hash TEXT NOT NULL,     -- PHC string: $argon2id$v=19$m=...,t=...,p=...$salt$hash
    created_at BIGINT NOT NULL       -- unix ms
);

-- A session is a random token in an HttpOnly cookie; only its SHA-256 is stored, so a
-- leaked database does not hand out logged-in sessions.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,      -- unix ms
    expires_at BIGINT NOT NULL       -- unix ms
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Events received per source in the last hour/day, read by an index-only range scan.
CREATE INDEX events_source_received ON events (source_id, received_at);
