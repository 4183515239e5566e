-- /healthz proves the store can write by updating this one row (internal/store/health.go).
CREATE TABLE health_probe (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL               -- unix ms of the last probe
);
INSERT INTO health_probe (id, at) VALUES (1, 0);
