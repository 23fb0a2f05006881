-- Session upserts from the sessionizer. The highest version of a session_id wins;
-- deleted = 1 retracts a session that an out-of-order event merged into another one.
CREATE TABLE IF NOT EXISTS {db}.sessions
(
    site_id      LowCardinality(String),
    session_id   String,
    visitor_id   String,
    customer_id  String,
    start        DateTime64(3, 'UTC'),
    end          DateTime64(3, 'UTC'),
    engaged_ms   UInt64,
    pageviews    UInt32,
    events       UInt32,
    entry_page   String,
    exit_page    String,
    bounce       UInt8,
    source       LowCardinality(String),
    medium       LowCardinality(String),
    campaign     String,
    channel      LowCardinality(String),
    device       LowCardinality(String),
    browser      LowCardinality(String),
    os           LowCardinality(String),
    country      LowCardinality(String),
    converted    UInt8,
    revenue      Float64,
    is_bot       UInt8,
    closed       UInt8,
    version      UInt64,
    deleted      UInt8
)
ENGINE = ReplacingMergeTree(version, deleted)
PARTITION BY toYYYYMM(start)
ORDER BY (site_id, session_id);
