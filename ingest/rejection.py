"""Why input was refused: one exception for whole requests, one record for single events."""

from __future__ import annotations

from dataclasses import dataclass


class RequestRejected(Exception):
    """The whole request is refused with a machine-readable reason: 4xx for bad input, 503 to retry later."""

    def __init__(self, status: int, reason: str, detail: str = "", retry_after: int | None = None) -> None:
        super().__init__(f"{status} {reason}: {detail}")
        self.status = status
        self.reason = reason
        self.detail = detail
        self.retry_after = retry_after


@dataclass(slots=True)
class EventRejected:
    """One event of a batch was refused; the rest of the batch goes on."""

    reason: str
    raw: object
