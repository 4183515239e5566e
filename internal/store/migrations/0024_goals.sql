-- Goals (internal/goals): a metric to reach by a day. target is in minor units of
-- currency for revenue, a count for orders and new customers (currency '').
-- from_day and by_day are local calendar days (YYYY-MM-DD), both included.
CREATE TABLE goals (
    name TEXT PRIMARY KEY,
    metric TEXT NOT NULL,
    target BIGINT NOT NULL,
    currency TEXT NOT NULL DEFAULT '',
    from_day TEXT NOT NULL,
    by_day TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
