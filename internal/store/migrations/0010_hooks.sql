-- A send's idempotency key (idem_key) is what providers see and report back to /j/status,
-- so it is random. Once-only delivery rests on dedupe_key instead: run x step x channel,
-- unique, so reaching the same step again never queues a second send. Rows written
-- before this migration keep their (sequential) idem_key, which is also their dedupe_key.
ALTER TABLE journey_sends ADD COLUMN dedupe_key TEXT;
UPDATE journey_sends SET dedupe_key = idem_key;
CREATE UNIQUE INDEX journey_sends_dedupe ON journey_sends (dedupe_key);
