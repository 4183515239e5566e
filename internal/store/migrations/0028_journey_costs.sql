-- What one message of a journey costs, by channel, where it differs from the
-- journeys.cost.* settings (internal/journey/costs.go). cost is in the business currency,
-- major units, as the settings write it (e.g. 0.07).
CREATE TABLE journey_costs (
    journey TEXT NOT NULL,
    channel TEXT NOT NULL,
    cost TEXT NOT NULL,
    PRIMARY KEY (journey, channel)
);
