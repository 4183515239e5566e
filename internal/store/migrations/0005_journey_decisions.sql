-- Why the journey engine chose a send time or a channel for a run: one readable line per
-- decision (internal/journey/smart.go). IF NOT EXISTS: databases made before this migration
-- got the table from the engine itself.
CREATE TABLE IF NOT EXISTS journey_decisions (
    run_id BIGINT NOT NULL,
    step INTEGER NOT NULL,
    kind TEXT NOT NULL,
    journey TEXT NOT NULL,
    customer_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (run_id, step, kind)
);
CREATE INDEX IF NOT EXISTS journey_decisions_journey ON journey_decisions (journey, at);
