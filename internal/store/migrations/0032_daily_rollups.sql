-- Daily rollups (internal/rollup): one row per calendar day of the business time zone ×
-- channel × campaign × location × currency, with the day's sessions (visits, counted
-- under the session's own channel and campaign; location and currency ''), purchases,
-- their revenue, what refunds took back from them by the refund rule, and first
-- purchases. Amounts are in the row's currency (converted when read). The event
-- processor keeps it current in the transaction that writes each batch; `omniroi
-- rebuild` rebuilds it. The setting daily_rollups.timezone names the time zone its days
-- are counted in. Spend is not copied here: readers join the spend table, which has the
-- same grain (day × channel × campaign).
CREATE TABLE daily_rollups (
    day BIGINT NOT NULL,              -- days since 1970-01-01, local to the business time zone
    channel TEXT NOT NULL,
    campaign TEXT NOT NULL,
    location TEXT NOT NULL,           -- where the order happened ('' for sessions)
    currency TEXT NOT NULL,           -- the orders' currency ('' for sessions)
    sessions BIGINT NOT NULL,
    orders BIGINT NOT NULL,           -- purchases (orders of revenue >= 0)
    revenue_minor BIGINT NOT NULL,    -- their revenue, before refunds
    refunds_minor BIGINT NOT NULL,    -- refunds of those purchases, whenever made, and orders of negative revenue
    new_customers BIGINT NOT NULL,    -- first purchases of a customer
    PRIMARY KEY (day, channel, campaign, location, currency)
);
