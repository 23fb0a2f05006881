-- Every visitor erasure, kept so the loader drops their rows that arrive after it (records still in Kafka
-- when it was asked for) and can delete rows it inserted while it was being carried out.
CREATE TABLE IF NOT EXISTS {db}.erasures
(
    site_id       LowCardinality(String),
    visitor_id    String,
    requested_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(requested_at)
ORDER BY (site_id, visitor_id);
