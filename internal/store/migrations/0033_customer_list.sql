-- Per-customer order totals for the customer list (/customers), which pages and sorts in
-- SQL (internal/commerce/totals.go): one row per customer and currency with the number of
-- orders (every order, whatever its revenue), the newest order's time and the revenue
-- summed. The event processor keeps it current in the transaction that keeps
-- order_summaries (commerce.RefreshSummaries); `omniroi rebuild` rebuilds it.
CREATE TABLE customer_orders (
    customer_id BIGINT NOT NULL,
    currency TEXT NOT NULL,
    orders BIGINT NOT NULL,
    last_ts BIGINT NOT NULL,          -- unix ms of the newest order
    revenue_minor BIGINT NOT NULL,
    PRIMARY KEY (customer_id, currency)
);
INSERT INTO customer_orders (customer_id, currency, orders, last_ts, revenue_minor)
    SELECT customer_id, currency, COUNT(*), MAX(ts), SUM(revenue_minor) FROM orders GROUP BY customer_id, currency;
-- The list's default order (last seen, newest first) and its period filter.
CREATE INDEX customers_last_seen ON customers (last_seen, id);
