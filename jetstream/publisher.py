"""``Publisher``: pipelined publishing with a window of in-flight acks, and its ``Settlement``.

Owns the window (bounded in messages and bytes) over one ack inbox subscription, the ack reader,
the resend of transient failures and the account of a window after an error. It reports the first
error, waits for every ack on exit and retries transient failures: a 503 "no responders" (no stream
leader right now: the message was not stored, so resending is safe) is retried with backoff for up
to the ack timeout, which covers a stream leader election; a timed-out ack is retried only when the
message carries a ``Nats-Msg-Id`` (``idempotent=True`` adds one), because only then does the server
drop a duplicate (wire.md 2.7, duplicate_window).

After an error, ``Publisher.settle`` accounts for every message of the window: acknowledged,
refused, withdrawn from the connection's outbox before it was sent (``discard_unsent``), or of
unknown fate (written to a connection that was then lost, or its ack timed out). A caller that
cleans up (the object store purging a failed put's chunks) needs that account: only messages of
unknown fate can still be stored after the cleanup.

``Publisher.publish`` is a hot path: one dict insert, one slotted entry and one connection write a
message. Must not import ``jetstream.client`` (it takes the narrow
:class:`~jetstream.context.JsContext`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass
from typing import Any, Optional

from protocol import STATUS_NO_RESPONDERS, Headers, next_nuid

from .context import JsContext
from .errors import (
    APIError,
    JetStreamError,
    JetStreamTimeoutError,
    NoStreamResponseError,
    api_error_from_json,
)
from .headers import has_msg_id, publish_headers
from .publish import MAX_RETRY_WAIT, explain_no_responders

__all__ = ["Publisher", "Settlement"]

# err_codes worth another try: the stream was briefly unavailable (leader election).
_RETRYABLE_ERR_CODES = frozenset({10008})


def _wake_future(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)

class _Pending:
    __slots__ = ("subject", "payload", "headers", "size", "sent", "first_sent", "epoch", "attempts")

    def __init__(self, subject: str, payload: bytes, headers: Optional[Headers], size: int, sent: float, epoch: int) -> None:
        self.subject = subject
        self.payload = payload
        self.headers = headers
        self.size = size
        self.sent = sent
        self.first_sent = sent
        self.epoch = epoch  # the connection it was written to (see Publisher._epoch)
        self.attempts = 0


@dataclass
class Settlement:
    """What became of a publisher's window after an error (``Publisher.settle``).

    ``withdrawn``: taken back from the connection's outbox or reconnect buffer, or a resend that
    had not happened yet: provably never sent. ``unknown``: written to a connection that was then
    lost, or whose ack timed out, or still unanswered when the bound ran out: the server may
    have stored it, even later (a paused server reading its socket after it resumes).
    Messages acknowledged or refused are settled and not counted here.
    """

    withdrawn: int = 0
    unknown: int = 0


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
        self._inflight: dict[str, _Pending] = {}
        self._inflight_bytes = 0
        self._tokens = itertools.count(1)
        self._prefix = ""
        self._sub: Any = None
        self._reader: Optional[asyncio.Task] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._window: Optional[asyncio.Future] = None
        self._error: Optional[BaseException] = None
        self._retrying = 0  # messages waiting to be resent: they keep their window slot
        self._retry_tasks: set[asyncio.Task] = set()
        self.acked = 0
        self.acked_bytes = 0
        self.last_seq = 0
        self.stream = ""
        self.duplicates = 0
        self._unknown = 0  # messages whose ack timed out: they may still be stored
        self._withdrawn_resends = 0  # 503'd messages not resent after the error: never stored
        # Subjects registered with the connection's publish-error routes: a permission violation
        # for one of them fails this publisher at once (not by ack timeout, not a later flush()).
        self._routed: set[str] = set()
        # Permission -ERRs per subject not yet matched to a window entry (one per refused message).
        self._refusals: dict[str, int] = {}
        self._subject_listened: dict[str, bool] = {}  # after 503s: does a stream listen here?

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
        for task in list(self._retry_tasks):
            task.cancel()
        if self._sub is not None and not self._nc.is_closed:
            await self._sub.unsubscribe()
        self._sub = None

    @property
    def pending(self) -> int:
        """Messages in the window: awaiting an ack or waiting to be resent."""
        return len(self._inflight) + self._retrying

    @property
    def pending_bytes(self) -> int:
        return self._inflight_bytes

    @property
    def error(self) -> Optional[BaseException]:
        return self._error

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
        inflight = self._inflight
        while (inflight or self._retrying) and (
            len(inflight) + self._retrying >= self.max_pending_msgs
            or self._inflight_bytes + size > self.max_pending_bytes
        ):
            await self._wait_window()
            if self._error is not None:
                raise self._error
        if msg_id is None and self.idempotent:
            msg_id = next_nuid()
        hdrs = publish_headers(headers, msg_id=msg_id) if (headers is not None or msg_id) else None
        token = str(next(self._tokens))
        inflight[token] = _Pending(subject, payload, hdrs, size, self._loop.time(), self._epoch())
        self._inflight_bytes += size
        if subject not in self._routed:
            self._routed.add(subject)
            self._nc.add_publish_error_route(subject, self._on_refused)
        await self._nc.publish(subject, payload, reply=self._prefix + token, headers=hdrs)

    async def wait(self, timeout: Optional[float] = None) -> None:
        """Wait until every message is acknowledged; raise the first error."""
        loop = self._loop
        deadline = loop.time() + (timeout if timeout is not None else self.timeout * (self.retries + 2))
        while (self._inflight or self._retrying) and self._error is None:
            if loop.time() > deadline:
                self._fail(JetStreamTimeoutError(f"{len(self._inflight)} publish ack(s) still missing"))
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
        """After an error: account for every message of the window (never raises the publish
        error), so that a caller's cleanup (purging partial chunks) runs after the last one was
        stored or refused. Resends still waiting out their backoff give up, messages the
        connection still holds unsent are withdrawn (``Connection.discard_unsent``), messages
        the server refused by permission (one ``-ERR`` each, never an ack) are settled as
        refused; then it waits, up to
        ``timeout`` (default twice the ack timeout), for the acks of messages written to the
        live connection. Messages written to a connection since lost will never be answered:
        they are counted ``unknown`` at once, as is whatever is unanswered when the bound runs out.
        """
        if self._error is None:
            self._fail(JetStreamError("publisher stopped"))
        report = Settlement()
        if self._retry_tasks:
            # Resends still waiting out their backoff see the error and give up (withdrawn):
            # waited for, not cancelled, so that each one's account is kept (at most ~1 s).
            await asyncio.wait(list(self._retry_tasks))
        inflight = self._inflight
        for reply in self._nc.discard_unsent(self._prefix):
            entry = inflight.pop(reply[len(self._prefix) :], None)
            if entry is not None:
                self._inflight_bytes -= entry.size
                report.withdrawn += 1
        report.withdrawn += self._withdrawn_resends
        self._withdrawn_resends = 0
        deadline = self._loop.time() + (timeout if timeout is not None else 2 * self.timeout)
        while inflight:
            self._take_refused()
            if not inflight:
                break
            nc = self._nc
            current = nc.reconnects if nc.is_connected else None
            # Written to a connection that is gone: no ack can come for it any more.
            for token in [t for t, e in inflight.items() if e.epoch != current]:
                entry = inflight.pop(token)
                self._inflight_bytes -= entry.size
                report.unknown += 1
            if not inflight:
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
        report.unknown += len(inflight) + self._unknown
        self._unknown = 0
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
        per refused message. Such a message gets no ack; ``_take_refused`` settles it."""
        self._refusals[err.subject] = self._refusals.get(err.subject, 0) + 1
        self._fail(err)

    def _take_refused(self) -> int:
        """Settle messages refused by permission: each message gets an ack or a -ERR, never both,
        so once a subject's entries still in the window are no more than its -ERRs, every one of
        them was refused."""
        taken = 0
        for subject, n in list(self._refusals.items()):
            tokens = [t for t, e in self._inflight.items() if e.subject == subject]
            if len(tokens) <= n:
                for t in tokens:
                    self._inflight_bytes -= self._inflight.pop(t).size
                taken += len(tokens)
                self._refusals[subject] = n - len(tokens)
        return taken

    def _fail(self, err: BaseException) -> None:
        if self._error is None:
            self._error = err
        self._wake()

    # Acks --------------------------------------------------------------------------------------
    async def _read_acks(self) -> None:
        plen = len(self._prefix)
        inflight = self._inflight
        try:
            async for msg in self._sub:
                entry = inflight.pop(msg.subject[plen:], None)
                if entry is None:
                    continue
                self._inflight_bytes -= entry.size
                data = msg.data
                if not data:
                    if msg.status == STATUS_NO_RESPONDERS:
                        self._retry(entry, None)
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
                        self._retry(entry, api_err)
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

    def _retry(self, entry: _Pending, cause: Optional[BaseException]) -> None:
        """Resend ``entry`` after a backoff. ``cause`` None means a 503 (no stream leader yet):
        retried for at least ``retries`` attempts and up to the ack timeout since it was first
        sent, then explained (``explain_no_responders``) and raised."""
        wait = min(self.retry_wait * (2 ** entry.attempts), MAX_RETRY_WAIT)
        if entry.attempts >= self.retries:
            if cause is not None:
                self._fail(cause)
                return
            if self._loop.time() + wait - entry.first_sent > self.timeout:
                self._spawn(self._fail_explained(entry.subject))
                return
            if self._subject_listened.get(entry.subject) is not True:
                # Retries used up: resend only if a stream listens (an election), else fail.
                self._retrying += 1
                self._inflight_bytes += entry.size
                self._spawn(self._explain_then_resend(entry, wait))
                return
        entry.attempts += 1
        self._retrying += 1
        self._inflight_bytes += entry.size  # the message keeps its window slot while it waits
        self._spawn(self._resend(entry, wait))

    def _spawn(self, coro: Any) -> None:
        task = self._loop.create_task(coro)
        self._retry_tasks.add(task)
        task.add_done_callback(self._retry_tasks.discard)

    async def _explain_then_resend(self, entry: _Pending, wait: float) -> None:
        """A message past its 503 retries: look up once per subject whether a stream listens on
        it (then its leader is being elected: keep resending until the ack timeout) or not."""
        err: Optional[NoStreamResponseError] = None
        try:
            if self._subject_listened.get(entry.subject) is None:
                err = await explain_no_responders(self._js, entry.subject)
                # Unknown (the meta leader did not answer either) counts as "may be an election".
                self._subject_listened[entry.subject] = err.listened is not False
        finally:
            self._retrying -= 1
            self._inflight_bytes -= entry.size
        if self._subject_listened.get(entry.subject):
            entry.attempts += 1
            self._retrying += 1
            self._inflight_bytes += entry.size
            await self._resend(entry, wait)
        else:
            self._fail(err or NoStreamResponseError(f"no stream matches subject {entry.subject!r}"))
            self._wake()

    async def _fail_explained(self, subject: str) -> None:
        self._retrying += 1  # keeps wait()/settle() from ending before the error is set
        try:
            self._fail(await explain_no_responders(self._js, subject))
        finally:
            self._retrying -= 1
            self._wake()

    async def _resend(self, entry: _Pending, wait: float) -> None:
        sent = False
        try:
            await asyncio.sleep(wait)
            if self._error is not None or self._sub is None:
                self._inflight_bytes -= entry.size
                self._withdrawn_resends += 1
                return
            token = str(next(self._tokens))
            entry.sent = self._loop.time()
            entry.epoch = self._epoch()
            self._inflight[token] = entry
            sent = True
            await self._nc.publish(entry.subject, entry.payload, reply=self._prefix + token, headers=entry.headers)
        except asyncio.CancelledError:
            if not sent:  # cancelled (close()) before it was resent: provably not stored
                self._inflight_bytes -= entry.size
                self._withdrawn_resends += 1
            raise
        except Exception as err:  # noqa: BLE001
            self._fail(err)
        finally:
            self._retrying -= 1
            self._wake()

    def _arm_timer(self) -> None:
        self._timer = self._loop.call_later(max(0.05, self.timeout / 4), self._check_timeouts)

    def _check_timeouts(self) -> None:
        """Expire acks older than ``timeout`` (dict order is send order)."""
        self._timer = None
        now = self._loop.time()
        limit = now - self.timeout
        inflight = self._inflight
        expired = []
        for token, entry in inflight.items():
            if entry.sent > limit:
                break
            expired.append(token)
        nc = self._nc
        current = nc.reconnects if nc.is_connected else None
        for token in expired:
            entry = inflight.pop(token)
            self._inflight_bytes -= entry.size
            why = "" if entry.epoch == current else " (the connection it was sent on was lost)"
            timeout_err = JetStreamTimeoutError(f"no publish ack for {entry.subject!r} within {self.timeout}s{why}")
            if has_msg_id(entry.headers):
                self._retry(entry, timeout_err)
            else:
                self._unknown += 1
                self._fail(timeout_err)
        if self._sub is not None:
            self._arm_timer()
