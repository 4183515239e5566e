-- Dashboard roles (internal/auth/roles.go): users made before roles existed keep full
-- powers, as they had them.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'owner';

-- Who did what, when (internal/audit): journey changes, erasures, exports, key rotations,
-- user changes, settings. No personal data in target or detail: erasures name the
-- customer id and a hash, never the address.
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,              -- unix ms
    actor TEXT NOT NULL,             -- "user:ana@shop.example", "cli", "token:reports", "system"
    action TEXT NOT NULL,            -- "source.rotate", "privacy.erase", "user.role", ...
    target TEXT NOT NULL DEFAULT '', -- what it was done to: "source:3", "customer:118", "user:7"
    detail TEXT NOT NULL DEFAULT '{}' -- JSON object
);
CREATE INDEX audit_log_at ON audit_log (at);
