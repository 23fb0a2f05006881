"""Waiting at start-up for a dependency (Kafka, Redis) that may still be starting, as when a whole stack starts at
once: retry until a deadline, warn once, then fail with where it was looked for and the setting that says so."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)
RETRY_EVERY_S = 1.0


async def wait_for_dependency(
    name: str,
    where: str,
    setting: str,
    attempt: Callable[[], Awaitable[object]],
    failures: tuple[type[Exception], ...],
    timeout_s: float,
) -> None:
    """Await attempt() until it succeeds; raises RuntimeError once timeout_s has passed. `where` is logged, so it
    must hold no password (a host and port, not a URL)."""
    deadline = time.monotonic() + timeout_s
    for tries in itertools.count():
        try:
            await asyncio.wait_for(attempt(), max(deadline - time.monotonic(), 0.1))
            return
        except (*failures, TimeoutError) as exc:
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"{name} at {where} ({setting}) not reachable within {timeout_s:.0f} s: {exc!r}"
                ) from None
            if tries == 0:
                log.warning("waiting up to %.0f s for %s at %s: %r", timeout_s, name, where, exc)
            await asyncio.sleep(RETRY_EVERY_S)
