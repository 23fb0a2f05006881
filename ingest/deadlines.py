"""Deadlines for slow clients, checked by one timer once a second: watching a request costs a dict entry,
not a timer of its own (asyncio.timeout's timer cost 5-10 us of a single event's request)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class Deadlines(Generic[K]):
    """What must be done within timeout_s of being watched; on_overdue gets what is not, once."""

    def __init__(self, timeout_s: float, on_overdue: Callable[[K], None]) -> None:
        self.timeout_s = timeout_s
        self.on_overdue = on_overdue
        self.watched: dict[K, float] = {}
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, key: K) -> None:
        """Start the clock for key, unless it is already running."""
        loop = asyncio.get_running_loop()
        self.watched.setdefault(key, loop.time())
        if self._timer is None:
            self._timer = loop.call_later(1.0, self._check, loop)

    def unwatch(self, key: K) -> None:
        self.watched.pop(key, None)

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        overdue = [key for key, since in self.watched.items() if now - since >= self.timeout_s]
        for key in overdue:
            del self.watched[key]
            self.on_overdue(key)
        self._timer = loop.call_later(1.0, self._check, loop) if self.watched else None
