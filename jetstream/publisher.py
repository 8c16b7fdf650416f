"""``Publisher``: pipelined publishing with a window of in-flight acks, and its ``Settlement``.

Owns the window's bounds (messages and bytes) over one ack inbox subscription, the ack reader,
the ack timer and the settling of a window after an error. It reports the first error and waits
for every ack on exit. Transient failures (a 503 "no responders" during a leader election, a
timed-out ack carrying a ``Nats-Msg-Id``) are resent by :class:`~jetstream.resend.Resender`.

After an error, ``Publisher.settle`` accounts for every message of the window (a
:class:`~jetstream.window.Settlement`): a caller that cleans up, such as the object store purging a
failed put's chunks, needs to know which messages may still be stored after the cleanup. The
window's entries and their account live in :mod:`jetstream.window`; this module drives them.
``Publisher.publish`` is a hot path: one dict insert, one slotted entry and one connection write a
message. Must not import ``jetstream.client`` (it takes the narrow
:class:`~jetstream.context.JsContext`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any, Optional

from protocol import STATUS_NO_RESPONDERS, next_nuid

from .carry import Carrier
from .context import JsContext
from .errors import (
    APIError,
    JetStreamError,
    JetStreamTimeoutError,
    api_error_from_json,
)
from .headers import has_msg_id, publish_headers
from .resend import Resender
from .window import Pending, Settlement, Window

__all__ = ["Publisher", "Settlement"]

# err_codes worth another try: the stream was briefly unavailable (leader election).
_RETRYABLE_ERR_CODES = frozenset({10008})


def _wake_future(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)

class Publisher:
    """Pipelined publishing with a window of in-flight acks bounded in messages and bytes.

    Use as ``async with js.publisher() as pub: await pub.publish(subject, data)``. ``publish``
    returns as soon as the message is written (it waits only while the window is full) and
    raises the first error any earlier message got. Leaving the block waits for every ack and
    raises the first error; ``acked``, ``last_seq`` and ``stream`` report what was stored.
    """

    def __init__(
        self,
        js: JsContext,
        *,
        max_pending_msgs: int = 4096,
        max_pending_bytes: int = 16 * 1024 * 1024,
        timeout: Optional[float] = None,
        retries: int = 2,
        retry_wait: float = 0.25,
        idempotent: bool = False,
        reconnect_wait: float = 0.0,
    ) -> None:
        if max_pending_msgs < 1 or max_pending_bytes < 1:
            raise ValueError("publisher window must allow at least one message and one byte")
        self._js = js
        self._nc = js.connection
        self._loop = asyncio.get_running_loop()
        self.max_pending_msgs = max_pending_msgs
        self.max_pending_bytes = max_pending_bytes
        self.timeout = timeout or js.timeout
        self.retries = retries
        self.retry_wait = retry_wait
        self.idempotent = idempotent
        self._win = Window()
        self._tokens = itertools.count(1)
        self._prefix = ""
        self._sub: Any = None
        self._reader: Optional[asyncio.Task] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._window: Optional[asyncio.Future] = None
        self._error: Optional[BaseException] = None
        self.acked = 0
        self.acked_bytes = 0
        self.last_seq = 0
        self.stream = ""
        self.duplicates = 0
        # Subjects registered with the connection's publish-error routes: a permission violation
        # for one of them fails this publisher at once (not by ack timeout, not a later flush()).
        self._routed: set[str] = set()
        self._resender = Resender(
            js,
            self._win,
            retries=retries,
            retry_wait=retry_wait,
            timeout=self.timeout,
            send=self._send_again,
            stopped=lambda: self._error is not None or self._sub is None,
            fail=self._fail,
            wake=self._wake,
        )
        # reconnect_wait > 0: messages with a msg id lost with their connection are resent on
        # the next one, in order (jetstream.carry); 0: a lost connection fails the publisher.
        self.reconnect_wait = reconnect_wait
        self._carrier: Optional[Carrier] = None
        if reconnect_wait > 0:
            self._carrier = Carrier(
                self._nc, self._win, reconnect_wait=reconnect_wait, timeout=self.timeout, send=self._send_again,
                fail=self._fail, error=lambda: self._error, wait_window=self._wait_window, prefix=lambda: self._prefix,
            )

    # Lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> "Publisher":
        if self._sub is None:
            self._prefix = self._nc.new_inbox() + "."
            self._sub = await self._nc.subscribe(
                self._prefix + "*", pending_msgs_limit=1 << 30, pending_bytes_limit=1 << 40
            )
            self._reader = self._loop.create_task(self._read_acks())
            self._arm_timer()
        return self

    async def __aenter__(self) -> "Publisher":
        return await self.start()

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                await self.wait()
            else:
                await self.settle(min(self.timeout, 2.0))
        finally:
            await self.close()

    async def close(self) -> None:
        for subject in self._routed:
            self._nc.remove_publish_error_route(subject, self._on_refused)
        self._routed.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None
        if self._carrier is not None:
            self._carrier.cancel()
        self._resender.cancel_all()
        if self._sub is not None and not self._nc.is_closed:
            await self._sub.unsubscribe()
        self._sub = None

    @property
    def pending(self) -> int:
        """Messages in the window: awaiting an ack or waiting to be resent."""
        return self._win.pending

    @property
    def pending_bytes(self) -> int:
        return self._win.nbytes

    @property
    def error(self) -> Optional[BaseException]:
        return self._error

    @property
    def resent(self) -> int:
        """Messages resent after their connection was lost (``reconnect_wait``)."""
        return self._carrier.resent if self._carrier is not None else 0

    @property
    def resent_bytes(self) -> int:
        return self._carrier.resent_bytes if self._carrier is not None else 0

    # Publishing --------------------------------------------------------------------------------
    async def publish(self, subject: str, payload: bytes = b"", *, headers: Any = None, msg_id: Optional[str] = None) -> None:
        """Write one message inside the window. Raises the first error seen so far."""
        if self._error is not None:
            raise self._error
        if self._sub is None:
            await self.start()
        if type(payload) is not bytes and not (
            type(payload) is memoryview and payload.readonly and type(payload.obj) is bytes and payload.itemsize == 1
        ):
            payload = bytes(payload)  # kept for retries: must not change under us
        size = len(payload)
        win = self._win
        inflight = win.entries
        carrier = self._carrier
        while True:
            while (inflight or win.retrying) and (
                len(inflight) + win.retrying >= self.max_pending_msgs
                or win.nbytes + size > self.max_pending_bytes
            ):
                await self._wait_window()
                if self._error is not None:
                    raise self._error
            # After a lost connection, nothing new is written before the lost messages were
            # resent in order (jetstream.carry); checked last, right before the write.
            if carrier is None or not carrier.needed():
                break
            await carrier.recover()
        if msg_id is None and self.idempotent:
            msg_id = next_nuid()
        hdrs = publish_headers(headers, msg_id=msg_id) if (headers is not None or msg_id) else None
        token = str(next(self._tokens))
        inflight[token] = Pending(subject, payload, hdrs, size, self._loop.time(), self._epoch())
        win.nbytes += size
        if subject not in self._routed:
            self._routed.add(subject)
            self._nc.add_publish_error_route(subject, self._on_refused)
        await self._nc.publish(subject, payload, reply=self._prefix + token, headers=hdrs)

    async def wait(self, timeout: Optional[float] = None) -> None:
        """Wait until every message is acknowledged; raise the first error."""
        loop = self._loop
        deadline = loop.time() + (timeout if timeout is not None else self.timeout * (self.retries + 2) + self.reconnect_wait)
        win = self._win
        while win.pending and self._error is None:
            if loop.time() > deadline:
                self._fail(JetStreamTimeoutError(f"{len(win.entries)} publish ack(s) still missing"))
                break
            await self._wait_window()
        if self._error is not None:
            raise self._error

    def _epoch(self) -> int:
        """Which connection a message written now travels on: the count of reconnects so far,
        plus one while reconnecting (it is buffered for the next connection)."""
        nc = self._nc
        return nc.reconnects + 1 if nc.is_reconnecting else nc.reconnects

    async def settle(self, timeout: Optional[float] = None) -> Settlement:
        """After an error: account for every message of the window; never raises the publish error.

        Resends waiting out their backoff give up and messages the connection still holds unsent
        are withdrawn (``Connection.discard_unsent``); messages refused by permission (one
        ``-ERR`` each, never an ack) are settled; then it waits up to ``timeout`` (default twice
        the ack timeout) for the acks of messages on the live connection. Those written to a
        connection since lost, and whatever is unanswered at the bound, count as ``unknown``.
        """
        if self._error is None:
            self._fail(JetStreamError("publisher stopped"))
        report = Settlement()
        # Resends still waiting out their backoff see the error and give up (withdrawn):
        # waited for, not cancelled, so that each one's account is kept (at most ~1 s).
        await self._resender.wait_all()
        win = self._win
        report.withdrawn = win.withdraw(self._nc.discard_unsent(self._prefix), len(self._prefix)) + win.withdrawn
        win.withdrawn = 0
        deadline = self._loop.time() + (timeout if timeout is not None else 2 * self.timeout)
        while win.entries:
            win.take_refused()
            nc = self._nc
            report.unknown += win.drop_lost(nc.reconnects if nc.is_connected else None)
            if not win.entries:
                break
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                break
            w = self._wait_window()
            # Woken by an ack, or to look again at the connection (reconnected or lost meanwhile).
            handle = self._loop.call_later(min(remaining, 0.25), _wake_future, w)
            try:
                await w
            finally:
                handle.cancel()
        report.unknown += len(win.entries) + win.timed_out
        win.timed_out = 0
        return report

    def _wait_window(self) -> asyncio.Future:
        w = self._window
        if w is None or w.done():
            w = self._window = self._loop.create_future()
        return w

    def _wake(self) -> None:
        w = self._window
        if w is not None:
            self._window = None
            if not w.done():
                w.set_result(None)

    def _on_refused(self, err: Any) -> None:
        """A permission violation for a subject this publisher wrote to (connection route): one
        per refused message, which gets no ack (``Window.take_refused`` settles it)."""
        self._win.refused(err.subject)
        self._fail(err)

    def _fail(self, err: BaseException) -> None:
        if self._error is None:
            self._error = err
        self._wake()

    # Acks --------------------------------------------------------------------------------------
    async def _read_acks(self) -> None:
        plen = len(self._prefix)
        win = self._win
        inflight = win.entries
        try:
            async for msg in self._sub:
                entry = inflight.pop(msg.subject[plen:], None)
                if entry is None:
                    continue
                win.nbytes -= entry.size
                data = msg.data
                if not data:
                    if msg.status == STATUS_NO_RESPONDERS:
                        self._resender.retry(entry, None)
                    else:
                        self._fail(APIError(0, 0, f"empty publish ack for {entry.subject!r} (status {msg.status})"))
                    continue
                try:
                    resp = json.loads(data)
                except ValueError:
                    self._fail(APIError(0, 0, f"invalid publish ack for {entry.subject!r}: {data[:80]!r}"))
                    continue
                err = resp.get("error")
                if err:
                    api_err = api_error_from_json(err, stream=resp.get("stream"))
                    if api_err.err_code in _RETRYABLE_ERR_CODES:
                        self._resender.retry(entry, api_err)
                    else:
                        self._fail(api_err)
                    continue
                self.acked += 1
                self.acked_bytes += entry.size
                seq = resp.get("seq", 0)
                if seq > self.last_seq:
                    self.last_seq = seq
                self.stream = resp.get("stream", self.stream)
                if resp.get("duplicate"):
                    self.duplicates += 1
                self._wake()
        except asyncio.CancelledError:
            raise
        except JetStreamError as err:
            self._fail(err)
        except Exception as err:  # noqa: BLE001 - reported, never swallowed
            self._fail(err)

    async def _send_again(self, entry: Pending) -> None:
        """Write a resent entry under a new token, on the current connection (``Resender``)."""
        token = str(next(self._tokens))
        entry.sent = self._loop.time()
        entry.epoch = self._epoch()
        self._win.entries[token] = entry
        await self._nc.publish(entry.subject, entry.payload, reply=self._prefix + token, headers=entry.headers)

    def _arm_timer(self) -> None:
        self._timer = self._loop.call_later(max(0.05, self.timeout / 4), self._check_timeouts)

    def _check_timeouts(self) -> None:
        """Expire acks older than ``timeout`` (dict order is send order)."""
        self._timer = None
        nc = self._nc
        current = nc.reconnects if nc.is_connected else None
        if self._carrier is not None:
            self._carrier.tick(current)
        for entry in self._win.expire(self._loop.time() - self.timeout):
            why = "" if entry.epoch == current else " (the connection it was sent on was lost)"
            timeout_err = JetStreamTimeoutError(f"no publish ack for {entry.subject!r} within {self.timeout}s{why}")
            if has_msg_id(entry.headers):
                self._resender.retry(entry, timeout_err)
            else:
                self._win.timed_out += 1
                self._fail(timeout_err)
        if self._sub is not None:
            self._arm_timer()
