"""Clickpulse: shared contracts (records, settings), the CLI and the local stack runner."""
