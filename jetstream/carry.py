"""Carrying a :class:`~jetstream.publisher.Publisher` over a lost connection (``reconnect_wait``).

When the connection is lost, the messages of the window written to it will never get an ack.
Those with a ``Nats-Msg-Id`` are kept (not timed out) while the client reconnects, for up to
``reconnect_wait`` seconds; once the connection is back they are resent **one at a time, in send
order, each waiting for its ack**, before any new message is written. The server drops a resent
message it had already stored (its duplicate window, rebuilt after a restart), so nothing is
stored twice, and since the next one goes only after the ack, the stream keeps the publisher's
order (which an object's chunks need). Messages without a msg id are left to the ack timer
(they fail the publisher, as before).

The messages still in the connection's outbox when it is lost (never written to a socket) are
taken back at that moment (a synchronous ``disconnected`` hook): a reconnect would otherwise
replay them ahead of the lost ones. They stay in the window and are resent with them, in order.

Owns the recovery's lock, its task and its counts (``resent``, ``resent_bytes``). Must not write
to the connection itself (the publisher's ``send`` does) nor decide on retries after a refusal
(the :class:`~jetstream.resend.Resender` does).
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Optional

from .errors import JetStreamTimeoutError
from .headers import has_msg_id
from .window import Pending, Window

__all__ = ["Carrier"]

_POLL = 0.05


class Carrier:
    """The lost-connection recovery of one publisher (see the module docstring)."""

    def __init__(
        self,
        nc: Any,
        window: Window,
        *,
        reconnect_wait: float,
        timeout: float,
        send: Callable[[Pending], Awaitable[None]],
        fail: Callable[[BaseException], None],
        error: Callable[[], Optional[BaseException]],
        wait_window: Callable[[], "asyncio.Future[Any]"],
        prefix: Callable[[], str],
    ) -> None:
        self._nc = nc
        self._win = window
        self.reconnect_wait = reconnect_wait
        self.timeout = timeout
        self._send = send
        self._fail = fail
        self._error = error
        self._wait_window = wait_window
        self._loop = asyncio.get_running_loop()
        self._lock = asyncio.Lock()
        self._task: Optional[asyncio.Task] = None
        self.seen = nc.reconnects  # the connection whose losses are dealt with
        self.resent = 0
        self.resent_bytes = 0
        self.withdrawn = 0
        # At the moment the connection is lost, the messages still in its outbox are taken back:
        # otherwise the reconnect would replay them ahead of the lost ones resent here.
        self._prefix = prefix
        self._status = nc.events()
        self._status.sync(self._on_status)

    def _on_status(self, event: Any) -> None:
        if event.kind == "disconnected" and self._prefix():
            self.withdrawn += len(self._nc.discard_unsent(self._prefix()))

    def needed(self) -> bool:
        """Whether a publish must first wait for the recovery (cheap: the publish hot path)."""
        nc = self._nc
        return nc.reconnects != self.seen or nc.is_reconnecting or self._lock.locked()

    def tick(self, current: Optional[int]) -> None:
        """From the publisher's ack timer: keep lost messages from timing out while reconnecting;
        start the recovery once connected again."""
        win = self._win
        now = self._loop.time()
        lost = [e for e in win.entries.values() if e.epoch != current and has_msg_id(e.headers)]
        if not lost:
            return
        if current is None:
            for entry in lost:
                if now - entry.first_sent <= self.reconnect_wait + self.timeout:
                    entry.sent = now
            return
        if self._task is None or self._task.done():
            self._task = self._loop.create_task(self._recover_quietly())

    def cancel(self) -> None:
        self._status.close()
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _recover_quietly(self) -> None:
        try:
            await self.recover()
        except asyncio.CancelledError:
            raise
        except BaseException:  # noqa: BLE001 - reported through the publisher's error
            pass

    async def recover(self) -> None:
        """Wait for the connection (up to ``reconnect_wait``), then resend the lost messages in
        order, one ack at a time. Raises the publisher's error if it fails meanwhile."""
        async with self._lock:
            deadline = self._loop.time() + self.reconnect_wait
            while True:
                await self._connected(deadline)
                current = self._nc.reconnects
                self.seen = current
                entry = self._first_lost(current)
                if entry is None:
                    break
                await self._resend_one(entry, current, deadline + self.timeout)
        err = self._error()
        if err is not None:
            raise err

    async def _connected(self, deadline: float) -> None:
        nc = self._nc
        while not nc.is_connected and self._error() is None:
            if self._loop.time() >= deadline or nc.is_closed:
                self._fail(JetStreamTimeoutError(f"the connection did not come back within {self.reconnect_wait}s"))
                break
            await asyncio.sleep(_POLL)
        err = self._error()
        if err is not None:
            raise err

    def _first_lost(self, current: int) -> Optional[Pending]:
        win = self._win
        for token, entry in win.entries.items():
            if entry.epoch != current and has_msg_id(entry.headers):
                del win.entries[token]  # its bytes stay counted: _send puts it back at once
                return entry
        return None

    async def _resend_one(self, entry: Pending, current: int, deadline: float) -> None:
        entry.first_sent, entry.attempts = self._loop.time(), 0  # a fresh start on this connection
        self.resent += 1
        self.resent_bytes += entry.size
        await self._send(entry)
        win = self._win
        # Wait for its ack (a 503 while the stream recovers is retried by the Resender meanwhile);
        # a connection lost again sends the recovery round once more.
        while self._error() is None and self._nc.reconnects == current and self._nc.is_connected:
            if not (win.retrying or any(e is entry for e in win.entries.values())):
                return
            if self._loop.time() > deadline:
                self._fail(JetStreamTimeoutError("no ack for a message resent after a reconnect"))
                break
            w = self._wait_window()
            handle = self._loop.call_later(0.1, _wake, w)
            try:
                await w
            finally:
                handle.cancel()
        err = self._error()
        if err is not None:
            raise err


def _wake(fut: "asyncio.Future[Any]") -> None:
    if not fut.done():
        fut.set_result(None)
