-- Paths (internal/attribution/pathstore): the touches and orders of the customers of one
-- block (ids cid >> 16) on one UTC day, encoded in one value, with the day's rollup of that
-- block per channel, campaign and currency. Derived from activity, orders and refunds by the
-- event processor in the transaction that writes them; `omniroi rebuild` replays it. A
-- period reads only its days; all time reads a few hundred rows per block.
CREATE TABLE paths (
    block BIGINT NOT NULL,
    day BIGINT NOT NULL,             -- UTC day number: floor(ts / 86,400,000)
    touches BIGINT NOT NULL,         -- entries in data
    orders BIGINT NOT NULL,
    summary BYTEA NOT NULL,          -- visits, orders, revenue, refunds, new customers per channel × campaign × currency
    data BYTEA NOT NULL,             -- touches and orders (pathstore's row format)
    PRIMARY KEY (block, day)
);
CREATE INDEX paths_day ON paths (day);
