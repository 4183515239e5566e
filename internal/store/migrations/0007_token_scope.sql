-- API tokens were read-only; a token with scope 'write' may also change things through the
-- API (apply, enable and disable journeys). Existing tokens stay read-only.
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'read';
