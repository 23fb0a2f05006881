-- Which CRM customer a visitor turned out to be; the latest link per visitor wins.
CREATE TABLE IF NOT EXISTS {db}.identity_links
(
    site_id      LowCardinality(String),
    visitor_id   String,
    customer_id  String,
    at           DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(at)
ORDER BY (site_id, visitor_id);
