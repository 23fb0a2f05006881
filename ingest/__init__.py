"""Ingest room: the HTTP collector. Decodes, validates and enriches events, then hands them to a sink."""
