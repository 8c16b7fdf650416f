"""``FastBatch``: one ADR-50 fast-ingest batch publish (server 2.14+, API level 4, stream
``allow_batched``): the reply-subject control channel, server-driven flow control, the commit.

Wire (ADR-50 "Fast-ingest Batch Publishing"; nats-server ``getFastBatch`` and
``processJetStreamFastBatchMsg``): every message carries the reply subject
``<inbox>.<id>.<flow>.<gap>.<seq>.<op>.$FI`` (op 0 start, 1 append, 2 commit with this message,
3 commit end-of-batch without storing this message, 4 ping); replies arrive on ``<inbox>.<id>.>``:
``{"type":"ack","seq":N,"msgs":M}`` (every message up to N persisted; the next flow ack comes M
messages later), ``{"type":"gap",...}``, ``{"type":"err",...}``, and one final pub ack carrying
``batch`` and ``count``. The first message waits for its flow ack (or an error: 10205 when the
stream does not allow batches). Afterwards at most ``outstanding`` flow windows are in flight:
``add`` waits while ``acked + flow * outstanding <= sent``. A stall pings (op 4, the highest
sequence sent, never a new one) every ``ping_after`` seconds and fails after ``timeout``.

Guaranteed: in ``gap: fail`` mode (the only mode this class offers: it is for object chunks),
``commit`` returns only when the server stored every message of the batch, in order; otherwise
it raises (:class:`FastBatchGapError` when the final ack counts fewer messages than were sent).
NOT guaranteed: atomicity. Messages persist as they arrive; after a failure some prefix of the
batch may be stored and the caller must clean up. Must not retry or resend (the messages are not
kept: the payload leaves with the connection's write).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Optional

from protocol import STATUS_NO_RESPONDERS, next_nuid

from .context import JsContext
from .errors import (
    APIError,
    FastBatchGapError,
    JetStreamError,
    JetStreamTimeoutError,
    NoStreamResponseError,
    api_error_from_json,
)
from .models import PubAck

__all__ = ["FastBatch"]

_OP_START, _OP_APPEND, _OP_COMMIT, _OP_EOB, _OP_PING = "0", "1", "2", "3", "4"


class FastBatch:
    """One fast-ingest batch: ``await b.add(subject, data)`` for each message, then
    ``ack = await b.commit(subject)`` (end-of-batch: nothing more is stored) and ``await
    b.close()``. ``flow`` is the most messages per flow ack the client allows (the server
    may lower it, never raise it); ``outstanding`` how many flow windows may be unacknowledged
    (ADR-50 recommends 2). ``sent``: messages written; ``acked``: the highest sequence the
    server confirmed persisted."""

    def __init__(
        self,
        js: JsContext,
        *,
        flow: int = 64,
        outstanding: int = 2,
        timeout: Optional[float] = None,
        ping_after: float = 1.0,
    ) -> None:
        if not 1 <= flow <= 65535 or outstanding < 1:
            raise ValueError("fast batch flow must be 1..65535 and outstanding at least 1")
        self._js = js
        self._nc = js.connection
        self._loop = asyncio.get_running_loop()
        self.max_flow = flow
        self.flow = flow
        self.outstanding = outstanding
        self.timeout = timeout or js.timeout
        self.ping_after = ping_after
        self.sent = 0
        self.acked = -1  # no flow ack yet (the first one says seq 0)
        self.error: Optional[BaseException] = None
        self.pub_ack: Optional[PubAck] = None
        self._base = ""
        self._last_subject = ""
        self._sub: Any = None
        self._reader: Optional[asyncio.Task] = None
        self._waiter: Optional[asyncio.Future] = None

    async def start(self) -> "FastBatch":
        if self._sub is None:
            # An old-style inbox of its own (ADR-50): dropping interest on error stops the acks.
            prefix = f"{self._nc.new_inbox()}.{next_nuid()}"
            self._base = f"{prefix}.{self.max_flow}.fail."
            self._sub = await self._nc.subscribe(prefix + ".>", pending_msgs_limit=1 << 20, pending_bytes_limit=1 << 30)
            self._reader = self._loop.create_task(self._read())
        return self

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None
        if self._sub is not None and not self._nc.is_closed:
            await self._sub.unsubscribe()
        self._sub = None

    async def __aenter__(self) -> "FastBatch":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # Publishing --------------------------------------------------------------------------------
    async def add(self, subject: str, payload: Any = b"", *, headers: Any = None) -> None:
        """Write one message of the batch; waits while the flow windows are full. Raises the
        batch's first error (an API error, a gap, a timeout)."""
        if self.error is not None:
            raise self.error
        if self._sub is None:
            await self.start()
        seq = self.sent + 1
        op = _OP_START if seq == 1 else _OP_APPEND
        self._last_subject = subject
        await self._nc.publish(subject, payload, reply=f"{self._base}{seq}.{op}.$FI", headers=headers)
        self.sent = seq
        if seq == 1:
            await self._until(lambda: self.acked >= 0, "the first fast-ingest flow ack")
        elif self.acked + self.flow * self.outstanding <= seq:
            await self._until(lambda: self.acked + self.flow * self.outstanding > self.sent, "a fast-ingest flow ack")

    async def commit(self, subject: Optional[str] = None) -> PubAck:
        """End the batch without storing another message (op 3, end-of-batch) and wait for the
        final pub ack. Raises FastBatchGapError when the server stored fewer messages than
        were sent, and the batch's first error otherwise."""
        if self.error is not None:
            raise self.error
        if self.sent == 0:
            raise JetStreamError("a fast batch needs at least one message before its commit")
        seq = self.sent + 1
        await self._nc.publish(subject or self._last_subject, b"", reply=f"{self._base}{seq}.{_OP_EOB}.$FI")
        await self._until(lambda: self.pub_ack is not None, "the fast-ingest commit ack", ping=False)
        ack = self.pub_ack
        assert ack is not None
        count = ack.count
        if count != self.sent:
            raise FastBatchGapError(f"fast batch ended with {count} of {self.sent} messages stored", stored=count)
        return ack

    # Waiting -------------------------------------------------------------------------------------
    async def _until(self, done: Any, what: str, ping: bool = True) -> None:
        loop = self._loop
        deadline = loop.time() + self.timeout
        mark = self.acked
        while not done():
            if self.error is not None:
                raise self.error
            now = loop.time()
            if now >= deadline:
                self._fail(JetStreamTimeoutError(f"no {what} within {self.timeout}s (batch sequence {self.sent})"))
                raise self.error  # type: ignore[misc]
            w = self._waiter = loop.create_future()
            handle = loop.call_later(min(self.ping_after, deadline - now), _wake, w)
            try:
                await w
            finally:
                handle.cancel()
            if self.acked != mark:
                mark, deadline = self.acked, loop.time() + self.timeout  # progress: a fresh bound
            elif ping and not done() and self.error is None and self.sent:
                # A lost flow ack: ask the server to send the latest again (and report gaps).
                await self._nc.publish(self._last_subject, b"", reply=f"{self._base}{self.sent}.{_OP_PING}.$FI")
        if self.error is not None and self.pub_ack is None:
            raise self.error

    def _fail(self, err: BaseException) -> None:
        if self.error is None:
            self.error = err
        self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None:
            self._waiter = None
            _wake(w)

    # Replies -------------------------------------------------------------------------------------
    async def _read(self) -> None:
        try:
            async for msg in self._sub:
                data = msg.data
                if not data:
                    if msg.status == STATUS_NO_RESPONDERS:
                        self._fail(NoStreamResponseError(subject=self._last_subject))
                    continue
                try:
                    resp = json.loads(data)
                except ValueError:
                    self._fail(APIError(0, 0, f"invalid fast-ingest reply: {data[:80]!r}"))
                    continue
                kind = resp.get("type")
                if kind == "ack":
                    seq, msgs = resp.get("seq", 0), resp.get("msgs", 0)
                    if seq > self.acked:
                        self.acked = seq
                    if msgs and msgs != self.flow:
                        self.flow = min(msgs, self.max_flow)
                elif kind == "gap":
                    self._fail(FastBatchGapError(
                        f"fast batch gap: messages {resp.get('last_seq')} to {resp.get('seq')} never reached the stream"
                    ))
                elif kind == "err":
                    self._fail(api_error_from_json(resp.get("error") or {}))
                elif resp.get("error"):
                    self._fail(api_error_from_json(resp["error"], stream=resp.get("stream")))
                else:
                    self.pub_ack = PubAck.from_json(resp)
                self._wake()
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - reported, never swallowed
            self._fail(err)


def _wake(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)
