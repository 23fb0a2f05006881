-- Every customer erasure, kept so the loader also forgets a visitor whom a record still in Kafka (an identify,
-- an event, a session, a signal) links to the customer after the API looked up the customer's visitors.
CREATE TABLE IF NOT EXISTS {db}.customer_erasures
(
    site_id       LowCardinality(String),
    customer_id   String,
    requested_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(requested_at)
ORDER BY (site_id, customer_id);
