"""Warnings about a dependency that is down (Redis, Kafka), at most one a minute with how many failures it stands for:
one per request or per batch would flood the log while the outage lasts."""

from __future__ import annotations

import logging
import time

WARN_EVERY_S = 60.0

# What the Kafka clients log for each failed attempt while a broker is away: librdkafka's facilities (the first
# argument of its lines) and aiokafka's message templates. During a 30 s outage the API's loader logged 1,900 of
# them and ingest's producer 17 a second.
LIBRDKAFKA_UNREACHABLE = frozenset({"FAIL", "ERROR"})
AIOKAFKA_UNREACHABLE = frozenset(
    {
        'Unable connect to "%s:%s": %s',
        "Unable connect to node with id %s: %s",
        "Unable to update metadata from %s",
        "Failed fetch messages from %s: %s",
        "Failed fetch offsets from %s: %s",
        "Group Coordinator Request failed: %s",
        "FindCoordinator Request failed: %s",
        "Heartbeat send request failed: %s. Will retry.",
    }
)


class FailureCount:
    """Failures since the last report, and whether one is due."""

    def __init__(self, every_s: float = WARN_EVERY_S) -> None:
        self._every_s = every_s
        self._reported_at: float | None = None
        self._failures = 0

    def due(self) -> int | None:
        """Count one failure; return the failures to report now, this one included, or None while the last
        report is less than every_s old."""
        self._failures += 1
        now = time.monotonic()
        if self._reported_at is not None and now - self._reported_at < self._every_s:
            return None
        failures, self._reported_at, self._failures = self._failures, now, 0
        return failures


class OutageLog:
    def __init__(self, logger: logging.Logger, every_s: float = WARN_EVERY_S) -> None:
        self._logger = logger
        self._count = FailureCount(every_s)

    def failed(self, message: str, *args: object) -> None:
        """Count one failure; log message % args, with the failures counted since the last warning as the field
        `failures`, unless the last warning is less than every_s old."""
        failures = self._count.due()
        if failures is not None:
            self._logger.warning(message, *args, extra={"failures": failures})


def is_kafka_unreachable(record: logging.LogRecord) -> bool:
    if record.levelno < logging.ERROR:
        return False
    if record.name == "librdkafka":
        return bool(record.args) and isinstance(record.args, tuple) and record.args[0] in LIBRDKAFKA_UNREACHABLE
    return record.name.startswith("aiokafka") and record.msg in AIOKAFKA_UNREACHABLE


class KafkaUnreachableDigest(logging.Filter):
    """On the log handler: the Kafka clients' lines about a broker they cannot reach pass once a minute, as a
    warning with the count of those they stand for (`failures`); every other line passes as it is."""

    def __init__(self, every_s: float = WARN_EVERY_S) -> None:
        super().__init__()
        self._count = FailureCount(every_s)

    def filter(self, record: logging.LogRecord) -> bool:
        if not is_kafka_unreachable(record):
            return True
        failures = self._count.due()
        if failures is None:
            return False
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.failures = failures
        return True
