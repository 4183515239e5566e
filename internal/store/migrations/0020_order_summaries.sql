-- Per-customer order summaries for the value models (internal/commerce/summaries.go):
-- one row per customer, currency and calendar day of the business time zone, with the
-- day's orders and what refunds took back that day by the refund rule. The event
-- processor keeps it current in the transaction that writes orders and refunds (the
-- customers a batch touches are recomputed); `omniroi rebuild` rebuilds it. The setting
-- order_summaries.timezone names the time zone its days are counted in.
CREATE TABLE order_summaries (
    customer_id BIGINT NOT NULL,
    currency TEXT NOT NULL,
    day BIGINT NOT NULL,              -- days since 1970-01-01, local to the business time zone
    orders BIGINT NOT NULL,           -- orders of revenue >= 0 (purchases)
    sales_minor BIGINT NOT NULL,      -- their revenue
    refunds BIGINT NOT NULL,          -- refunds counted that day, and orders of negative revenue
    refunds_minor BIGINT NOT NULL,    -- what they took back (positive)
    PRIMARY KEY (customer_id, currency, day)
);
