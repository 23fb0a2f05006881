-- A session's revenue per currency (ISO code, XXX for none): amounts in different currencies never add up.
ALTER TABLE {db}.sessions ADD COLUMN IF NOT EXISTS revenue_by_currency Map(LowCardinality(String), Float64) AFTER revenue;
