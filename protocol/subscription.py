"""``Subscription``: an async iterator over a deque with one waiter future.

The connection calls ``_deliver(msg)`` (or ``_deliver_many(msgs)`` for a run of them) synchronously
from ``data_received``; the subscriber
pops from the deque in ``__anext__`` and only creates a future when the deque is empty (style.md
4.2 row 3: 53x the nats-py iterator). No Task per message.

Pending limits (messages and bytes) bound memory. A message over either limit is dropped and the
subscriber's next ``__anext__`` raises :class:`SlowConsumerError` once (with the drop count)
before delivery continues: never a silent drop. Async context manager: unsubscribes on exit.

Rule: a subscription talks to its connection only through :class:`SubscriptionOwner` (the
connection's ``SubscriptionTable`` implements it), never to ``Connection`` itself; this module
imports neither.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from typing import Any, Callable, Optional, Protocol

from .errors import NatsError, NatsTimeoutError, SlowConsumerError
from .frames import Msg

__all__ = ["Subscription", "SubscriptionOwner"]


class SubscriptionOwner(Protocol):
    """What a :class:`Subscription` may ask of the connection that routes to it."""

    loop: asyncio.AbstractEventLoop

    @property
    def is_closed(self) -> bool: ...

    def forget(self, sid: int) -> None:
        """Stop routing messages to ``sid`` (nothing is sent)."""

    def send_unsub(self, sid: int) -> None:
        """Queue ``UNSUB sid`` now."""

    async def unsubscribe(self, sub: "Subscription", limit: int = 0) -> None: ...

    async def flush(self, timeout: Optional[float] = None) -> None: ...

    def report_error(self, err: BaseException) -> None:
        """Report an asynchronous error (the ``error`` event and ``error_cb``)."""


def _wake(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Subscription:
    __slots__ = (
        "_owner",
        "_loop",
        "sid",
        "subject",
        "queue",
        "_pending",
        "_pending_bytes",
        "_msgs_limit",
        "_bytes_limit",
        "_waiter",
        "_closed",
        "_error",
        "_dropped",
        "_slow",
        "_delivered",
        "_max_msgs",
        "_cb_task",
        "__weakref__",
    )

    def __init__(
        self,
        owner: SubscriptionOwner,
        sid: int,
        subject: str,
        queue: Optional[str],
        pending_msgs_limit: int,
        pending_bytes_limit: int,
    ) -> None:
        self._owner = owner
        self._loop = owner.loop
        self.sid = sid
        self.subject = subject
        self.queue = queue
        self._pending: deque[Msg] = deque()
        self._pending_bytes = 0
        self._msgs_limit = pending_msgs_limit
        self._bytes_limit = pending_bytes_limit
        self._waiter: Optional[asyncio.Future] = None
        self._closed = False
        self._error: Optional[BaseException] = None
        self._dropped = 0
        self._slow = False
        self._delivered = 0
        self._max_msgs = 0
        self._cb_task: Optional[asyncio.Task] = None

    # Called by the connection, synchronously, from data_received -------------------------------
    def _deliver(self, msg: Msg) -> None:
        if self._closed:
            return
        size = len(msg.data)
        pending = self._pending
        if len(pending) >= self._msgs_limit or self._pending_bytes + size > self._bytes_limit:
            self._dropped += 1
            self._slow = True
        else:
            pending.append(msg)
            self._pending_bytes += size
        self._delivered += 1
        if self._max_msgs and self._delivered >= self._max_msgs:
            self._owner.forget(self.sid)
            self._closed = True
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _deliver_many(self, msgs: list) -> None:
        """``_deliver`` for a run of consecutive messages (one read's worth): one limit check,
        one ``extend`` and one wake-up when all of them fit, else message by message."""
        if self._closed:
            return
        size = 0
        for m in msgs:
            size += len(m.data)
        pending = self._pending
        if (
            self._max_msgs
            or len(pending) + len(msgs) > self._msgs_limit
            or self._pending_bytes + size > self._bytes_limit
        ):
            for m in msgs:
                self._deliver(m)
            return
        pending.extend(msgs)
        self._pending_bytes += size
        self._delivered += len(msgs)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _finish(self, error: Optional[BaseException] = None) -> None:
        """End the subscription: iteration stops after the queued messages (or raises error)."""
        if error is not None and self._error is None:
            self._error = error
        self._closed = True
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # Public API -------------------------------------------------------------------------------
    @property
    def pending_msgs(self) -> int:
        return len(self._pending)

    @property
    def pending_bytes(self) -> int:
        return self._pending_bytes

    @property
    def delivered(self) -> int:
        """Messages the server delivered to this subscription (including dropped ones)."""
        return self._delivered

    @property
    def dropped(self) -> int:
        return self._dropped

    @property
    def max_msgs(self) -> int:
        return self._max_msgs

    @property
    def closed(self) -> bool:
        return self._closed

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> Msg:
        while True:
            if self._slow:
                self._slow = False
                raise self._slow_consumer_error()
            pending = self._pending
            if pending:
                msg = pending.popleft()
                self._pending_bytes -= len(msg.data)
                return msg
            if self._error is not None:
                err, self._error = self._error, None
                raise err
            if self._closed:
                raise StopAsyncIteration
            waiter = self._waiter = self._loop.create_future()
            await waiter

    def _slow_consumer_error(self) -> SlowConsumerError:
        return SlowConsumerError(
            f"subscription {self.sid} on {self.subject!r} exceeded its pending limits; "
            f"{self._dropped} message(s) dropped so far",
            sid=self.sid,
            dropped=self._dropped,
        )

    def next_nowait(self) -> Optional[Msg]:
        """The next queued message without waiting, or ``None`` when none is queued (the
        subscription may still be open). Raises :class:`SlowConsumerError` once after drops."""
        if self._slow:
            self._slow = False
            raise self._slow_consumer_error()
        pending = self._pending
        if pending:
            msg = pending.popleft()
            self._pending_bytes -= len(msg.data)
            return msg
        return None

    async def next_msg(self, timeout: Optional[float] = 1.0) -> Msg:
        """The next message; :class:`NatsTimeoutError` after ``timeout`` seconds.

        The timeout is a timer on the waiter future, not ``asyncio.wait_for``: no extra task,
        and a cancellation of the caller is never swallowed (wait_for can lose one on 3.10/3.11
        when a message arrives at the same moment).
        """
        loop = self._loop
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            if self._pending or self._slow or self._error is not None or self._closed:
                try:
                    return await self.__anext__()  # returns or raises without waiting
                except StopAsyncIteration:
                    raise NatsError(f"subscription {self.sid} is closed") from None
            waiter = self._waiter = loop.create_future()
            if deadline is None:
                await waiter
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                self._waiter = None
                raise NatsTimeoutError(f"no message on {self.subject!r} within {timeout}s")
            handle = loop.call_later(remaining, _wake, waiter)
            try:
                await waiter
            finally:
                handle.cancel()

    async def unsubscribe(self, limit: int = 0) -> None:
        """Stop now, or after ``limit`` messages in total have been delivered."""
        await self._owner.unsubscribe(self, limit)

    async def drain(self, timeout: Optional[float] = None) -> None:
        """Unsubscribe, then let the queued messages be consumed.

        UNSUB goes out first and the subscription stays routed until the PONG of a flush: the
        messages the server sent before it processed the UNSUB are still delivered (queued
        here), then iteration ends after them.
        """
        if self._closed:
            return
        owner = self._owner
        if owner.is_closed:
            self._finish()
            return
        owner.send_unsub(self.sid)
        try:
            await owner.flush(timeout)
        finally:
            owner.forget(self.sid)
            self._finish()

    async def __aenter__(self) -> "Subscription":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if not self._closed and not self._owner.is_closed:
            await self.unsubscribe()
        else:
            self._finish()
        if self._cb_task is not None and self._cb_task is not asyncio.current_task():
            self._cb_task.cancel()

    def __repr__(self) -> str:
        q = f", queue={self.queue!r}" if self.queue else ""
        return f"<Subscription sid={self.sid} subject={self.subject!r}{q} pending={len(self._pending)}>"

    # The one callback adapter ------------------------------------------------------------------
    def _start_callback(self, cb: Callable[[Msg], Any]) -> None:
        self._cb_task = self._loop.create_task(self._run_callback(cb))

    async def _run_callback(self, cb: Callable[[Msg], Any]) -> None:
        while True:
            try:
                msg = await self.__anext__()
            except StopAsyncIteration:
                return
            except NatsError as err:
                self._owner.report_error(err)
                continue
            try:
                result = cb(msg)
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception as err:  # a user callback failed: report, keep consuming
                self._owner.report_error(err)
