-- The value engine's segment feed (internal/value/feed.go) writes a baseline the first
-- time it scores a store: the state customers were already in, which segment-entry
-- journeys must not treat as "became At Risk".
ALTER TABLE segment_changes ADD COLUMN baseline SMALLINT NOT NULL DEFAULT 0;
