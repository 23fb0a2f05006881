"""Warnings about a dependency that is down (Redis, Kafka), at most one a minute with how many failures it stands for:
one per request or per batch would flood the log while the outage lasts."""

from __future__ import annotations

import logging
import time

WARN_EVERY_S = 60.0


class OutageLog:
    def __init__(self, logger: logging.Logger, every_s: float = WARN_EVERY_S) -> None:
        self._logger = logger
        self._every_s = every_s
        self._warned_at: float | None = None
        self._failures = 0

    def failed(self, message: str, *args: object) -> None:
        """Count one failure; log message % args, with the failures counted since the last warning as the field
        `failures`, unless the last warning is less than every_s old."""
        self._failures += 1
        now = time.monotonic()
        if self._warned_at is not None and now - self._warned_at < self._every_s:
            return
        self._logger.warning(message, *args, extra={"failures": self._failures})
        self._warned_at, self._failures = now, 0
