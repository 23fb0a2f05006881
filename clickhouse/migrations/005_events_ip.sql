-- The client's network as ingest anonymised it (IPv4 /24, IPv6 /48); the full address is never stored.
ALTER TABLE {db}.events ADD COLUMN IF NOT EXISTS ip String AFTER city;
