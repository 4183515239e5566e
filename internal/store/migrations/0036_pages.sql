-- The Automations page counts a period's runs and sends per journey
-- (journey.PeriodActivity): these covering indexes read only the period's rows instead of
-- every run and send.
CREATE INDEX journey_runs_started ON journey_runs (started_at, journey);
CREATE INDEX journey_sends_created ON journey_sends (created_at, journey, status, reason, channel);
