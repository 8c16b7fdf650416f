"""The ordered consumer (ADR-17) as an async iterator.

An ephemeral push consumer with ``ack_policy: none``, flow control and idle heartbeats,
delivered to a fresh inbox that is subscribed *before* the consumer is created. Each data
message's consumer sequence must be the expected one; a gap (a lost message, or the consumer
deleted server-side) transparently re-creates the consumer from the next expected stream
sequence on a new inbox. Flow-control requests are answered when the iterator reaches them,
that is once every earlier message has been handed to the application. No traffic for two
heartbeat intervals (stall) also resets. ``caught_up`` becomes true when a delivered message
reports zero pending (the end of the backlog). The consumer is deleted on exit.

The per-message path (``__anext__``) is hot: the deliveries already queued are taken as one run and
checked at once (:mod:`jetstream.delivery_run`: only the run's first and last ACK subjects are
parsed), then handed out one per call without an await; the stream sequence is parsed only when
asked for. Must not import ``jetstream.client`` (it takes the narrow :class:`~jetstream.context.JsContext`).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Optional, Sequence, Union

from protocol import STATUS_CONFLICT, STATUS_CONTROL, Msg, NatsError, NatsTimeoutError, next_nuid

from .ack import AckMetadata
from .context import JsContext
from .deletions import DeletionWatch
from .delivery_run import DeliveryRun
from .errors import JetStreamError, OrderedConsumerError
from .headers import HDR_CONSUMER_STALLED, HDR_LAST_CONSUMER
from .models import AckPolicy, ConsumerConfig, DeliverPolicy, ReplayPolicy
from .msg import JsMsg, delivered
from . import subjects as subj
from .subjects import FC_PREFIX

__all__ = ["OrderedConsumer"]

_RESET_RETRY_WAIT = 0.25
_MAX_RESET_ATTEMPTS = 40


class OrderedConsumer:
    """``async for msg in js.ordered_consumer("S", filter_subject="x.>")`` yields :class:`JsMsg`.

    ``deliver_policy`` is one of all, last, last_per_subject, new, by_start_sequence
    (``opt_start_seq``) or by_start_time (``opt_start_time``). Iteration never ends by itself;
    leave the ``async with``/``async for`` or call :meth:`close`. Raises
    :class:`OrderedConsumerError` when the consumer cannot be re-created.
    """

    def __init__(
        self,
        js: JsContext,
        stream: str,
        *,
        filter_subject: Union[str, Sequence[str], None] = None,
        deliver_policy: str = "all",
        opt_start_seq: Optional[int] = None,
        opt_start_time: Optional[datetime] = None,
        headers_only: bool = False,
        idle_heartbeat: float = 5.0,
        idle_timeout: Optional[float] = None,
        pending_msgs_limit: int = 512 * 1024,
        pending_bytes_limit: int = 64 * 1024 * 1024,
        watch_deletion: bool = True,
    ) -> None:
        self._js = js
        self._nc = js.connection
        self.stream = subj.validate_stream_name(stream)
        if isinstance(filter_subject, str) or filter_subject is None:
            self.filter_subjects = [filter_subject] if filter_subject else []
        else:
            self.filter_subjects = list(filter_subject)
        self.deliver_policy = deliver_policy
        self.opt_start_seq = opt_start_seq
        self.opt_start_time = opt_start_time
        self.headers_only = headers_only
        self.idle_heartbeat = idle_heartbeat
        self.idle_timeout = idle_timeout
        self._last_data = 0.0
        self._msgs_limit = pending_msgs_limit
        self._bytes_limit = pending_bytes_limit
        self._sub: Any = None
        self.name = ""
        self._ack_prefix = "\x00"  # matches no reply subject until a consumer exists
        self._expected_cseq = 1
        self._last_sseq = 0  # the stream sequence handed out last (or in _last_reply: _resume_seq)
        self._last_reply = ""
        self._started = False
        self._closed = False
        self.caught_up = False
        self._pending: Union[int, str, None] = None  # see num_pending
        self.resets = 0
        self.info: Any = None
        self._deletions = DeletionWatch(lambda: self.name, self._deleted) if watch_deletion else None
        self._run = DeliveryRun()  # deliveries taken from the queue, not yet handed out

    @property
    def num_pending(self) -> Optional[int]:
        """Messages left after the last one handed out (None before the consumer exists)."""
        pending = self._pending
        if type(pending) is str:  # the hot path keeps the ACK subject's digits as they came
            pending = self._pending = int(pending)
        # The count came with the run's last message: those of the run not handed out yet follow.
        return pending + len(self._run.ready) if pending is not None else None

    @num_pending.setter
    def num_pending(self, value: Optional[int]) -> None:
        self._pending = value

    # Lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> "OrderedConsumer":
        if not self._started:
            self._started = True
            if self._deletions is not None:
                await self._deletions.start(self._nc, self.stream)
            await self._create(self._config_json(initial=True))
        return self

    async def __aenter__(self) -> "OrderedConsumer":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        """Unsubscribe and delete the consumer (best effort). Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._deletions is not None:
            await self._deletions.stop(self._nc)
        await self._drop_current(wait_delete=True)

    @property
    def deletions_seen(self) -> int:
        """Consumer-deleted advisories that named the consumer in use (each re-created it)."""
        return self._deletions.seen if self._deletions is not None else 0

    async def _deleted(self) -> None:
        sub = self._sub
        if sub is not None and not self._closed:
            await sub.unsubscribe()  # the waiting iterator sees the end and resets

    def __aiter__(self) -> "OrderedConsumer":
        return self

    # Consumer (re)creation ---------------------------------------------------------------------
    def _config_json(self, initial: bool) -> ConsumerConfig:
        """The consumer config (ADR-17): no acks, one delivery, flow control and heartbeats, an R1
        memory consumer the server drops after ``inactive_threshold`` if we vanish. A re-create
        starts at the stream sequence after the last one handed out."""
        cfg = ConsumerConfig(
            name=self.name,
            ack_policy=AckPolicy.NONE,
            max_deliver=1,
            ack_wait=22 * 3600.0,
            flow_control=True,
            idle_heartbeat=self.idle_heartbeat,
            replay_policy=ReplayPolicy.INSTANT,
            num_replicas=1,
            mem_storage=True,
            inactive_threshold=max(self.idle_heartbeat * 6, 30.0),
        )
        if initial:
            cfg.deliver_policy = self.deliver_policy  # type: ignore[assignment]  (a str is encoded as is)
            if self.deliver_policy == "by_start_sequence":
                cfg.opt_start_seq = self.opt_start_seq or 1
            elif self.deliver_policy == "by_start_time":
                if self.opt_start_time is None:
                    raise OrderedConsumerError("deliver_policy by_start_time needs opt_start_time")
                cfg.opt_start_time = self.opt_start_time
        else:
            cfg.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
            cfg.opt_start_seq = self._resume_seq() + 1
        if len(self.filter_subjects) == 1:
            cfg.filter_subject = self.filter_subjects[0]
        elif self.filter_subjects:
            cfg.filter_subjects = list(self.filter_subjects)
        if self.headers_only:
            cfg.headers_only = True
        return cfg

    def _resume_seq(self) -> int:
        """The stream sequence of the last message handed out (0: none)."""
        if self._last_reply:
            self._last_sseq, self._last_reply = AckMetadata.from_reply(self._last_reply).stream_seq, ""
        return self._last_sseq

    async def _create(self, cfg: ConsumerConfig) -> None:
        self.name = next_nuid()  # all 22 chars: NUIDs made in a row share their first 16
        cfg.name = self.name
        self._ack_prefix = subj.consumer_ack_prefix(self.stream, self.name)  # v1 ACK subjects of this consumer
        inbox = self._nc.new_inbox()
        cfg.deliver_subject = inbox
        # Subscribe before creating the consumer so no early message can be missed.
        self._sub = await self._nc.subscribe(
            inbox, pending_msgs_limit=self._msgs_limit, pending_bytes_limit=self._bytes_limit
        )
        filt = self.filter_subjects[0] if len(self.filter_subjects) == 1 else None
        if filt is not None and subj.has_wildcard(filt):
            filt = None  # the name-only create subject takes any filter in the config
        subject = subj.consumer_create(self._js.prefix, self.stream, self.name, filt)
        self._expected_cseq = 1
        try:
            body = {"stream_name": self.stream, "config": cfg.to_json(), "action": "create"}
            resp = await self._js.request_json(subject, body)
        except BaseException:
            await self._sub.unsubscribe()
            self._sub = None
            raise
        self.info = resp
        if self.num_pending is None:
            self.num_pending = int(resp.get("num_pending", 0))
            if self.num_pending == 0 and not self.caught_up:
                self.caught_up = True

    async def _drop_current(self, wait_delete: bool) -> None:
        # (Only ever with the run handed out: a reset comes from _next, a close drops it all.)
        self._run.clear()
        sub, self._sub = self._sub, None
        if sub is None:
            return
        name = self.name
        if not self._nc.is_closed:
            try:
                await sub.unsubscribe()
            except NatsError:
                pass
            delete = self._delete_quietly(name)
            if wait_delete:
                await delete
            else:
                asyncio.get_running_loop().create_task(delete)

    async def _delete_quietly(self, name: str) -> None:
        try:
            await self._js.request_json(subj.consumer_delete(self._js.prefix, self.stream, name), timeout=2.0)
        except (NatsError, asyncio.TimeoutError):
            pass

    async def _reset(self) -> None:
        """Re-create the consumer from the next expected stream sequence on a new inbox."""
        self.resets += 1
        await self._drop_current(wait_delete=False)
        last_err: Optional[BaseException] = None
        for _ in range(_MAX_RESET_ATTEMPTS):
            if self._closed:
                return
            try:
                await self._create(self._config_json(initial=False))
                return
            except (JetStreamError, NatsTimeoutError) as err:
                last_err = err
                await asyncio.sleep(_RESET_RETRY_WAIT)
        raise OrderedConsumerError(f"could not re-create ordered consumer on {self.stream}: {last_err}") from last_err

    # Iteration ---------------------------------------------------------------------------------
    async def __anext__(self) -> JsMsg:
        # Fast path: the deliveries already queued are taken and checked as one run
        # (jetstream.delivery_run) and handed out from it without an await or a timer.
        run = self._run
        ready = run.ready
        if not ready:
            if run.slow:  # a slow-consumer report came after the last run: re-create
                run.clear()
                return await self._next(None, reset=True)
            sub = self._sub
            if sub is None or self.idle_timeout is not None or self._closed or run.held:
                return await self._next(None)
            try:
                n = run.take(sub.next_nowait, self._ack_prefix, self._expected_cseq)
            except NatsError:  # a slow-consumer report: let _next handle it as always
                return await self._next(None, reset=True)
            if not n:
                return await self._next(None)
            self._expected_cseq += n
            self._last_reply = run.last_reply
            self._pending = run.pending  # made an int when num_pending is read
        msg = ready.popleft()
        if len(ready) <= run.zero_left:  # the first message of the run that reported 0 pending
            self.caught_up = True
            run.zero_left = -1
        return msg

    async def _next(self, deadline: Optional[float], reset: bool = False) -> JsMsg:
        if not self._started:
            await self.start()
        if reset:
            await self._reset()
        idle = self.idle_timeout
        loop: Any = None
        if idle is not None or deadline is not None:
            loop = asyncio.get_running_loop()
            if idle is not None and not self._last_data:
                self._last_data = loop.time()
        while True:
            if self._closed:
                raise StopAsyncIteration
            sub = self._sub
            if sub is None:
                await self._reset()
                continue
            try:
                held = self._run.held  # messages after a run that failed its check come first
                queued = held.popleft() if held else sub.next_nowait()  # queued: no await, no timer
                if queued is not None:
                    msg: Msg = queued
                else:
                    wait = 2 * self.idle_heartbeat
                    if idle is not None:
                        remaining = self._last_data + idle - loop.time()
                        if remaining <= 0:
                            raise NatsTimeoutError(f"no data from {self.stream} for {idle}s")
                        wait = min(wait, remaining)
                    if deadline is not None:
                        wait = min(wait, deadline - loop.time())
                        if wait <= 0:
                            raise NatsTimeoutError(f"no message from ordered consumer on {self.stream} in time")
                    msg = await sub.next_msg(timeout=wait)
            except StopAsyncIteration:  # the subscription ended (unsubscribed / connection closed)
                if self._closed:
                    raise
                await self._reset()
                continue
            except NatsTimeoutError:
                if deadline is not None and loop.time() >= deadline:
                    raise NatsTimeoutError(f"no message from ordered consumer on {self.stream} in time") from None
                if idle is not None and loop.time() - self._last_data >= idle:
                    raise NatsTimeoutError(f"no data from {self.stream} for {idle}s") from None
                await self._reset()  # no data and no heartbeat for two intervals
                continue
            except NatsError:
                if self._closed:
                    raise StopAsyncIteration from None
                await self._reset()
                continue
            reply = msg.reply
            prefix = self._ack_prefix
            if reply.startswith(prefix):
                # Fast path for the usual 9-token ACK subject of the current consumer: read only the
                # three numbers the consumer needs; JsMsg.metadata parses the rest if asked.
                try:
                    _, sseq_s, cseq_s, _, pending_s = reply[len(prefix) :].split(".")
                    cseq, sseq, pending_n = int(cseq_s), int(sseq_s), int(pending_s)
                except ValueError:
                    meta = AckMetadata.from_reply(reply)  # raises InvalidAckSubjectError
                    cseq, sseq, pending_n = meta.consumer_seq, meta.stream_seq, meta.num_pending
            elif msg.raw_headers is not None and not msg.data and (not reply or reply.startswith(FC_PREFIX)):
                await self._control(msg)
                continue
            else:
                meta = AckMetadata.from_reply(reply)  # e.g. the >= 11-token layout
                cseq, sseq, pending_n = meta.consumer_seq, meta.stream_seq, meta.num_pending
            if cseq != self._expected_cseq:
                await self._reset()
                continue
            self._expected_cseq = cseq + 1
            if idle is not None:
                self._last_data = loop.time()
            self._last_sseq, self._last_reply = sseq, ""
            self.num_pending = pending_n
            if pending_n == 0:
                self.caught_up = True
            return delivered(msg, sseq)

    async def _control(self, msg: Msg) -> bool:
        """Handle a status message (heartbeat, flow control, 409 consumer deleted)."""
        status = msg.status
        if status == STATUS_CONTROL:
            if msg.reply:  # flow control request: everything before it was handed out
                await self._nc.publish(msg.reply, b"")
                return True
            hdrs = msg.headers
            if hdrs is not None:
                stalled = hdrs.get(HDR_CONSUMER_STALLED)
                if stalled:
                    await self._nc.publish(stalled, b"")
                last = hdrs.get(HDR_LAST_CONSUMER)
                if last is not None and last.isdigit() and int(last) != self._expected_cseq - 1:
                    await self._reset()  # the heartbeat says we missed messages
            return True
        if status == STATUS_CONFLICT:  # consumer deleted / leadership change
            await self._reset()
        return True

    async def next(self, timeout: Optional[float] = None) -> JsMsg:
        """The next message, or :class:`NatsTimeoutError` after ``timeout`` seconds."""
        if self._run.ready:
            return await self.__anext__()
        if timeout is None:
            return await self._next(None)
        # A deadline checked inside the loop, not asyncio.wait_for: wait_for can swallow a
        # cancellation on 3.10/3.11 when a heartbeat arrives at the same moment.
        return await self._next(asyncio.get_running_loop().time() + timeout)
