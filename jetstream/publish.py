"""Publishing into streams: ``publish`` (one message, wait for its ack) and ``Publisher``
(a pipelined window of in-flight acks, bounded in messages and bytes).

``Publisher`` keeps many acks in flight over one ack inbox subscription, reports the first
error, waits for every ack on exit and retries transient failures: a 503 "no responders" (no
stream leader right now: the message was not stored, so resending is safe) is retried after
``retry_wait``; a timed-out ack is retried only when the message carries a ``Nats-Msg-Id``
(``idempotent=True`` adds one), because only then does the server drop a duplicate.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import TYPE_CHECKING, Any, Optional

from protocol import Headers, Msg, NatsTimeoutError, NoRespondersError, next_nuid, parse_headers

from .errors import (
    APIError,
    JetStreamError,
    JetStreamTimeoutError,
    NoStreamResponseError,
    api_error_from_json,
    raise_for_api_response,
)
from .models import PubAck

if TYPE_CHECKING:
    from .client import JetStream

__all__ = ["publish", "Publisher", "publish_headers"]

HDR_MSG_ID = "Nats-Msg-Id"
HDR_EXPECTED_STREAM = "Nats-Expected-Stream"
HDR_EXPECTED_LAST_SEQ = "Nats-Expected-Last-Sequence"
HDR_EXPECTED_LAST_SUBJ_SEQ = "Nats-Expected-Last-Subject-Sequence"
HDR_EXPECTED_LAST_MSG_ID = "Nats-Expected-Last-Msg-Id"
HDR_ROLLUP = "Nats-Rollup"
ROLLUP_SUBJECT = "sub"
ROLLUP_ALL = "all"

# err_codes worth another try: the stream was briefly unavailable (leader election).
_RETRYABLE_ERR_CODES = frozenset({10008})


def publish_headers(
    headers: Any = None,
    *,
    msg_id: Optional[str] = None,
    expected_stream: Optional[str] = None,
    expected_last_seq: Optional[int] = None,
    expected_last_subject_seq: Optional[int] = None,
    expected_last_msg_id: Optional[str] = None,
    rollup: Optional[str] = None,
) -> Optional[Headers]:
    """A new header set with the JetStream publish options added (the caller's is not mutated).
    With no option set, ``headers`` is returned as it is (a mapping, Headers or an encoded block)."""
    if (
        msg_id is None
        and expected_stream is None
        and expected_last_seq is None
        and expected_last_subject_seq is None
        and expected_last_msg_id is None
        and rollup is None
    ):
        return headers
    if type(headers) is bytes:
        headers = parse_headers(headers)
    extra = {
        HDR_MSG_ID: msg_id,
        HDR_EXPECTED_STREAM: expected_stream,
        HDR_EXPECTED_LAST_SEQ: None if expected_last_seq is None else str(expected_last_seq),
        HDR_EXPECTED_LAST_SUBJ_SEQ: None if expected_last_subject_seq is None else str(expected_last_subject_seq),
        HDR_EXPECTED_LAST_MSG_ID: expected_last_msg_id,
        HDR_ROLLUP: rollup,
    }
    out = Headers(headers) if headers is not None else Headers()
    for k, v in extra.items():
        if v is not None:
            out[k] = v
    return out


def _parse_ack(msg: Msg, subject: str) -> PubAck:
    if msg.raw_headers is not None and not msg.data and msg.status == "503":
        raise NoStreamResponseError(f"no stream matches subject {subject!r}")
    try:
        resp = json.loads(msg.data)
    except ValueError as err:
        raise APIError(0, 0, f"invalid publish ack for {subject!r}: {msg.data[:80]!r}") from err
    raise_for_api_response(resp)
    return PubAck(stream=resp.get("stream", ""), seq=int(resp.get("seq", 0)), domain=resp.get("domain"), duplicate=resp.get("duplicate"))


async def publish(
    js: "JetStream",
    subject: str,
    payload: bytes = b"",
    *,
    headers: Any = None,
    msg_id: Optional[str] = None,
    expected_stream: Optional[str] = None,
    expected_last_seq: Optional[int] = None,
    expected_last_subject_seq: Optional[int] = None,
    expected_last_msg_id: Optional[str] = None,
    rollup: Optional[str] = None,
    timeout: Optional[float] = None,
    retries: int = 2,
    retry_wait: float = 0.25,
) -> PubAck:
    """Publish one message and wait for its ack.

    Raises :class:`NoStreamResponseError` when no stream listens on ``subject`` (after
    ``retries`` tries ``retry_wait`` apart, as leader elections also answer 503), the mapped
    APIError (``WrongLastSequenceError``, ``StreamSealedError``, ...), :class:`JetStreamTimeoutError`.
    """
    hdrs = publish_headers(
        headers,
        msg_id=msg_id,
        expected_stream=expected_stream,
        expected_last_seq=expected_last_seq,
        expected_last_subject_seq=expected_last_subject_seq,
        expected_last_msg_id=expected_last_msg_id,
        rollup=rollup,
    )
    nc = js.connection
    timeout = timeout or js.timeout
    for attempt in range(retries + 1):
        try:
            msg = await nc.request(subject, payload, timeout=timeout, headers=hdrs)
        except NoRespondersError as err:
            if attempt < retries:
                await asyncio.sleep(retry_wait)
                continue
            raise NoStreamResponseError(f"no stream matches subject {subject!r}") from err
        except NatsTimeoutError as err:
            raise JetStreamTimeoutError(f"no publish ack for {subject!r} within {timeout}s") from err
        return _parse_ack(msg, subject)
    raise AssertionError("unreachable")


def _has_msg_id(headers: Any) -> bool:
    if headers is None:
        return False
    if type(headers) is bytes:  # a pre-encoded block
        return b"\r\n" + HDR_MSG_ID.encode() + b":" in headers
    return HDR_MSG_ID in headers


def _wake_future(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


class _Pending:
    __slots__ = ("subject", "payload", "headers", "size", "sent", "attempts")

    def __init__(self, subject: str, payload: bytes, headers: Optional[Headers], size: int, sent: float) -> None:
        self.subject = subject
        self.payload = payload
        self.headers = headers
        self.size = size
        self.sent = sent
        self.attempts = 0


class Publisher:
    """Pipelined publishing with a window of in-flight acks bounded in messages and bytes.

    Use as ``async with js.publisher() as pub: await pub.publish(subject, data)``. ``publish``
    returns as soon as the message is written (it waits only while the window is full) and
    raises the first error any earlier message got. Leaving the block waits for every ack and
    raises the first error; ``acked``, ``last_seq`` and ``stream`` report what was stored.
    """

    def __init__(
        self,
        js: "JetStream",
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
        inflight[token] = _Pending(subject, payload, hdrs, size, self._loop.time())
        self._inflight_bytes += size
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

    async def settle(self, timeout: Optional[float] = None) -> None:
        """After an error: wait (bounded) until no message is in flight any more, so a caller's
        cleanup (e.g. purging partial chunks) runs after the last one was stored or refused.
        ``timeout`` defaults to twice the ack timeout. Never raises the publish error."""
        deadline = self._loop.time() + (timeout if timeout is not None else 2 * self.timeout)
        while self._inflight or self._retrying:
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                return
            w = self._wait_window()
            handle = self._loop.call_later(remaining, _wake_future, w)
            try:
                await w
            finally:
                handle.cancel()

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
                    if msg.status == "503":
                        self._retry(entry, NoStreamResponseError(f"no stream matches subject {entry.subject!r}"))
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

    def _retry(self, entry: _Pending, cause: BaseException) -> None:
        if entry.attempts >= self.retries:
            self._fail(cause)
            return
        entry.attempts += 1
        self._retrying += 1
        self._inflight_bytes += entry.size  # the message keeps its window slot while it waits
        task = self._loop.create_task(self._resend(entry))
        self._retry_tasks.add(task)
        task.add_done_callback(self._retry_tasks.discard)

    async def _resend(self, entry: _Pending) -> None:
        try:
            await asyncio.sleep(self.retry_wait)
            if self._error is not None or self._sub is None:
                self._inflight_bytes -= entry.size
                return
            token = str(next(self._tokens))
            entry.sent = self._loop.time()
            self._inflight[token] = entry
            await self._nc.publish(entry.subject, entry.payload, reply=self._prefix + token, headers=entry.headers)
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
        for token in expired:
            entry = inflight.pop(token)
            self._inflight_bytes -= entry.size
            timeout_err = JetStreamTimeoutError(f"no publish ack for {entry.subject!r} within {self.timeout}s")
            if _has_msg_id(entry.headers):
                self._retry(entry, timeout_err)
            else:
                self._fail(timeout_err)
        if self._sub is not None:
            self._arm_timer()
