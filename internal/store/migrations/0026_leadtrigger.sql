-- Lead-score feed (recommend.LeadFeed): a row for each person whose lead score crossed a
-- threshold an enabled journey enters on (entry lead_score_above), with the score before
-- (-1: not scored before). The journey engine tails it (journey.lead_cursor). The rows
-- of the feed's first scoring are a baseline, which starts no journey.
CREATE TABLE lead_score_changes (
    id BIGSERIAL PRIMARY KEY,
    customer_id BIGINT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    previous DOUBLE PRECISION NOT NULL DEFAULT -1,
    changed_at BIGINT NOT NULL,
    baseline SMALLINT NOT NULL DEFAULT 0
);
CREATE INDEX lead_score_changes_customer ON lead_score_changes (customer_id, id);

-- Product webhooks of the shop connectors (internal/connect): the platform's numeric
-- product id and the catalogue product it was stored as (the Shopify export's handle), so
-- a products/delete delivery, which carries the id only, finds the product.
CREATE TABLE connector_products (
    source_id BIGINT NOT NULL,
    external_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    PRIMARY KEY (source_id, external_id)
);
