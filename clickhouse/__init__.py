"""ClickHouse room: schema migrations, the client factory and the loader that writes Kafka records in."""
