-- The sales of a period (commerce.SalesByPeriod) read the order summaries of its days.
CREATE INDEX order_summaries_day ON order_summaries (day);
