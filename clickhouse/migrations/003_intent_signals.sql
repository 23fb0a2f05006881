-- Purchase-intent signals. (kafka_partition, kafka_offset) is the feed's cursor order: a page
-- never repeats or skips a signal, because each partition is loaded as a contiguous prefix.
CREATE TABLE IF NOT EXISTS {db}.intent_signals
(
    site_id          LowCardinality(String),
    id               String,
    kind             LowCardinality(String),
    visitor_id       String,
    customer_id      String,
    score            Float64,
    reasons          Array(String),
    products         Array(String),
    at               DateTime64(3, 'UTC'),
    kafka_partition  UInt16,
    kafka_offset     UInt64
)
ENGINE = ReplacingMergeTree
ORDER BY (site_id, kafka_partition, kafka_offset);
