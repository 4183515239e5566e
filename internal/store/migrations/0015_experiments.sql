-- Experiments (internal/experiment): a named test with weighted variants, one primary
-- metric and guardrails. Variants and metrics are JSON documents; name is the
-- experiment_id websites send in "Experiment Viewed" and the seed of the assignment hash.
CREATE TABLE experiments (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    hypothesis TEXT NOT NULL DEFAULT '',
    unit TEXT NOT NULL,                  -- customer, anonymous, region, day
    variants TEXT NOT NULL,              -- [{"key":"control","name":"...","weight":50}, ...]
    metric TEXT NOT NULL,                -- {"kind":"revenue"} | {"kind":"conversion","event":"..."} | ...
    guardrails TEXT NOT NULL DEFAULT '[]',
    mde DOUBLE PRECISION NOT NULL DEFAULT 0.1, -- smallest relative lift worth finding
    status TEXT NOT NULL DEFAULT 'draft',      -- draft, running, stopped
    start_at BIGINT NOT NULL DEFAULT 0,  -- unix ms; 0: not started
    end_at BIGINT NOT NULL DEFAULT 0,    -- unix ms; planned or actual end, 0: open
    planned_units BIGINT NOT NULL DEFAULT 0, -- total units the sequential analysis is tuned to
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX experiments_status ON experiments (status);
