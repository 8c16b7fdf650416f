"""``SubscriptionTable``: the sid -> :class:`Subscription` table of one connection.

Rule: this module owns the sid counter and the table, and is the one :class:`SubscriptionOwner`
a subscription talks to; it writes only through the ``write`` callback it is given and knows no
connection state beyond ``is_closed``. ``Connection._dispatch`` reads ``by_sid`` directly (one
dict lookup per message, no call). On reconnect, :meth:`restore_ops` replays every live
subscription inside the new handshake (nats.go resendSubscriptions): ``SUB`` and, for an
auto-unsubscribing one, ``UNSUB sid <remaining>``.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Awaitable, Callable, Optional

from .encoder import encode_sub, encode_unsub
from .subscription import Subscription

__all__ = ["SubscriptionTable"]


class SubscriptionTable:
    """Live subscriptions by sid, and the narrow handle each of them holds."""

    __slots__ = ("by_sid", "loop", "_sids", "_write", "_flush", "_is_closed", "_report_error")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        write: Callable[[bytes], None],
        flush: Callable[[Optional[float]], Awaitable[None]],
        is_closed: Callable[[], bool],
        report_error: Callable[[BaseException], None],
    ) -> None:
        self.by_sid: dict[int, Subscription] = {}
        self.loop = loop
        self._sids = itertools.count(1)
        self._write = write
        self._flush = flush
        self._is_closed = is_closed
        self._report_error = report_error

    def next_sid(self) -> int:
        return next(self._sids)

    def add(self, sub: Subscription) -> None:
        self.by_sid[sub.sid] = sub

    # SubscriptionOwner ------------------------------------------------------------------------
    @property
    def is_closed(self) -> bool:
        return self._is_closed()

    def forget(self, sid: int) -> None:
        self.by_sid.pop(sid, None)

    def send_unsub(self, sid: int) -> None:
        self._write(encode_unsub(sid))

    async def unsubscribe(self, sub: Subscription, limit: int = 0) -> None:
        """``UNSUB sid`` now, or ``UNSUB sid limit`` if fewer than ``limit`` were delivered."""
        if sub.closed:
            return
        if limit and sub.delivered < limit:
            sub._max_msgs = limit
            if not self._is_closed():
                self._write(encode_unsub(sub.sid, limit))
            return
        self.by_sid.pop(sub.sid, None)
        sub._finish()
        if not self._is_closed():
            self._write(encode_unsub(sub.sid))

    async def flush(self, timeout: Optional[float] = None) -> None:
        await self._flush(timeout)

    def report_error(self, err: BaseException) -> None:
        self._report_error(err)

    # The connection's side ---------------------------------------------------------------------
    def restore_ops(self) -> list[bytes]:
        """SUB (and ``UNSUB sid remaining`` for auto-unsubscribing ones) for every live
        subscription; exhausted ones are ended instead."""
        restore: list[bytes] = []
        for sub in list(self.by_sid.values()):
            if sub.max_msgs:
                remaining = sub.max_msgs - sub.delivered
                if remaining <= 0:
                    self.by_sid.pop(sub.sid, None)
                    sub._finish()
                    continue
                restore.append(encode_sub(sub.subject, sub.sid, sub.queue))
                restore.append(encode_unsub(sub.sid, remaining))
            else:
                restore.append(encode_sub(sub.subject, sub.sid, sub.queue))
        return restore

    def finish_all(self, err: Optional[BaseException]) -> None:
        """End every subscription (close): iteration stops after what is queued, or raises err."""
        for sub in list(self.by_sid.values()):
            sub._finish(err)
        self.by_sid.clear()
