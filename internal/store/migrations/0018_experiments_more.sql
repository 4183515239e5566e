-- Experiments on ad channels and inside journeys (internal/experiment, internal/journey).
-- channel: the ad channel a region or switchback test moves (its spend is in `spend`).
-- design: JSON, the design's details: {"regions": {"variant": ["postcode area", ...]},
-- "postcode_prefix": 2, "period_days": 7, "washout": 1} for ad channels,
-- {"journey": "welcome", "step": "subject", "mode": "test"} for a journey step's test.
ALTER TABLE experiments ADD COLUMN channel TEXT NOT NULL DEFAULT '';
ALTER TABLE experiments ADD COLUMN design TEXT NOT NULL DEFAULT '{}';
-- The journey step's test (or bandit) this send belongs to, and the variant it carries;
-- '' for none (holdout runs at a test step carry none: they are the journey's control).
ALTER TABLE journey_sends ADD COLUMN experiment TEXT NOT NULL DEFAULT '';
ALTER TABLE journey_sends ADD COLUMN variant TEXT NOT NULL DEFAULT '';
CREATE INDEX journey_sends_experiment ON journey_sends (experiment, variant) WHERE experiment <> '';
