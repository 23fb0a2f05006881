-- Raw enriched events. ReplacingMergeTree folds redelivered copies of one event together;
-- queries count uniqExact(event_id), so a retry that landed on another day still counts once.
CREATE TABLE IF NOT EXISTS {db}.events
(
    site_id      LowCardinality(String),
    event_id     String,
    visitor_id   String,
    customer_id  String,
    type         LowCardinality(String),
    name         String,
    ts           DateTime64(3, 'UTC'),
    received_at  DateTime64(3, 'UTC'),
    url          String,
    host         LowCardinality(String),
    path         String,
    title        String,
    referrer     String,
    source       LowCardinality(String),
    medium       LowCardinality(String),
    campaign     String,
    channel      LowCardinality(String),
    browser      LowCardinality(String),
    os           LowCardinality(String),
    device       LowCardinality(String),
    country      LowCardinality(String),
    region       String,
    city         String,
    is_bot       UInt8,
    bot_reason   LowCardinality(String),
    engaged_ms   UInt32,
    scroll_pct   UInt8,
    revenue      Float64,
    currency     LowCardinality(String),
    order_id     String,
    product_ids  Array(String),
    props        String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (site_id, toDate(ts), type, visitor_id, event_id);
