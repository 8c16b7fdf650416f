"""``Keepalive``: PONG waiters in PING order, and the PING timer with stale detection.

Rule: this module owns the waiter deque, the count of unanswered keepalive PINGs and the timer;
it writes only through the ``send_ping`` callback and reports a stale peer only through
``on_stale``. The server answers PINGs in order, so each PONG completes the oldest waiter
(``None`` marks a keepalive PING nobody awaits). After ``max_pings_outstanding`` unanswered
keepalive PINGs the connection is stale (ADR-40; nats.go DefaultMaxPingOut).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Callable, Optional

from .errors import StaleConnectionError

__all__ = ["Keepalive"]


class Keepalive:
    """The PING/PONG bookkeeping of one connection."""

    __slots__ = ("waiters", "pings_out", "_timer", "_loop", "_interval", "_max_out", "_send_ping", "_on_stale", "_active")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        interval: Optional[float],
        max_out: int,
        send_ping: Callable[[], None],
        on_stale: Callable[[BaseException], None],
        active: Callable[[], bool],
    ) -> None:
        self.waiters: deque[Optional[asyncio.Future]] = deque()
        self.pings_out = 0
        self._timer: Optional[asyncio.TimerHandle] = None
        self._loop = loop
        self._interval = interval
        self._max_out = max_out
        self._send_ping = send_ping
        self._on_stale = on_stale
        self._active = active

    def ping(self, waiter: Optional[asyncio.Future]) -> None:
        """Send a PING whose PONG completes ``waiter`` (``flush``, ``drain``, a route fence)."""
        self.waiters.append(waiter)
        self._send_ping()

    def on_pong(self) -> None:
        self.pings_out = 0
        if self.waiters:
            fut = self.waiters.popleft()
            if fut is not None and not fut.done():
                fut.set_result(None)

    def fail_all(self, err: BaseException) -> None:
        """The transport is gone: no PONG will come for any PING sent on it."""
        while self.waiters:
            fut = self.waiters.popleft()
            if fut is not None and not fut.done():
                fut.set_exception(err)
        self.pings_out = 0

    def start(self) -> None:
        """A handshake completed: count from zero and arm the timer. Waiters queued while
        reconnecting stay: their PINGs are in the outbox and are answered after it is flushed."""
        self.pings_out = 0
        self._schedule()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        interval = self._interval
        if interval and interval > 0:
            self._timer = self._loop.call_later(interval, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if not self._active():
            return
        if self.pings_out >= self._max_out:
            self._on_stale(StaleConnectionError("Stale Connection (no PONG from server)"))
            return
        self.pings_out += 1
        self.ping(None)
        self._schedule()
