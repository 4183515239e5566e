-- Invitations to the dashboard (internal/auth/invite.go). The link carries a random token,
-- only its SHA-256 is stored, it expires, and it works once (used_at is set on accept).
CREATE TABLE user_invites (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL,             -- lower-cased
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    invited_by TEXT NOT NULL,        -- audit actor: "user:ana@shop.example", "cli"
    created_at BIGINT NOT NULL,      -- unix ms
    expires_at BIGINT NOT NULL,      -- unix ms, 0 once withdrawn or replaced by a newer invitation
    used_at BIGINT NOT NULL DEFAULT 0 -- unix ms, 0 while unused
);
CREATE INDEX user_invites_email ON user_invites (email);

-- API tokens act with a role, as dashboard users do. Read tokens read everything, personal
-- data included (analyst), write tokens also change journeys (marketer).
ALTER TABLE api_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'analyst';
UPDATE api_tokens SET role = 'marketer' WHERE scope = 'write';
