"""``Connection``: the asyncio side of the client, on top of the sans-I/O parser and encoder.

Owns the connection state, frame dispatch (``_on_data`` feeds the parser synchronously from
``data_received``, style.md 4.2 row 2b, and ``_dispatch`` routes frames by sid), the outbound part
list and its coalesced flush, ``publish`` and ``flush``, the sid table and ``subscribe``, PING
keepalive with stale detection, status events, drain and close; and :func:`connect`. Writes are
collected as parts and handed to ``transport.writelines`` once per loop turn; publishers await
only when the transport paused.

The rest of :class:`Connection` lives in sibling modules, one concern each, mixed in as base
classes (no extra call on any per-message path):

- ``transport``: ``_NatsProtocol``, the ``asyncio.Protocol`` adapter;
- ``handshake``: opening a transport, INFO / TLS / CONNECT / PING-PONG (``_HandshakeMixin``);
- ``reconnect``: losing the transport, reconnecting, replaying subscriptions (``_ReconnectMixin``);
- ``request``: request/reply over one multiplexed inbox (``_RequestMixin``, ``_RequestMux``);
- ``status``: ``ConnectionState``, ``StatusEvent`` and the ``events()`` stream.

Rule: uses the parser only through frames; imports nothing from ``jetstream`` or ``objstore``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from typing import Any, Callable, Optional, Union

from . import auth
from .encoder import encode_sub, encode_unsub
from .errors import (
    BadHeaderError,
    AuthorizationError,
    BadSubjectError,
    ConnectionClosedError,
    MaxPayloadError,
    NatsError,
    PermissionViolationError,
    ProtocolError,
    ReconnectBufferFullError,
    StaleConnectionError,
    error_from_server_text,
)
from .frames import Err, Info, Msg, Ping, Pong
from .handshake import _INBOUND_CONTROL_LINE, _INBOUND_MAX_PAYLOAD, _HandshakeMixin
from .headers import Headers, HeadersInput, encode_headers
from .options import ConnectOptions, ServerPool
from .parser import Parser
from .reconnect import _ReconnectMixin
from .request import _RequestMixin, _RequestMux, _encoded_reply, _expire
from .status import ConnectionState, StatusEvent, _describe, _EventStream
from .subjects import validate_publish_subject, validate_queue, validate_subscribe_subject
from .subscription import Subscription
from .transport import _NatsProtocol
from .wire import CRLF, DEFAULT_MAX_PAYLOAD, MAX_CONTROL_LINE, PING, PONG

__all__ = ["Connection", "ConnectionState", "StatusEvent", "connect"]

# Flush synchronously once this many bytes are queued in one loop turn (a publisher that never
# yields would otherwise grow the list without bound).
_FLUSH_THRESHOLD = 256 * 1024
_SUBJECT_CACHE_MAX = 4096
_MAX_LINE = MAX_CONTROL_LINE + 2  # a control line with its CRLF

Payload = Union[bytes, bytearray, memoryview]


def _immutable_view(payload: Any) -> bool:
    """A read-only byte memoryview over a ``bytes`` object: nobody can change it, so it is passed
    through to ``writelines`` like ``bytes`` (no copy)."""
    return (
        type(payload) is memoryview
        and payload.readonly
        and type(payload.obj) is bytes
        and payload.contiguous
        and payload.itemsize == 1
    )


class Connection(_HandshakeMixin, _ReconnectMixin, _RequestMixin):
    """A client connection. Create it with :func:`connect`."""

    def __init__(self, options: ConnectOptions) -> None:
        self.options = options
        self._loop = asyncio.get_running_loop()
        self._pool = ServerPool(list(options.servers), randomize=not options.dont_randomize)
        self._state = ConnectionState.CONNECTING
        self._proto: Optional[_NatsProtocol] = None
        self._transport: Optional[asyncio.Transport] = None
        self._parser = Parser(_INBOUND_CONTROL_LINE, _INBOUND_MAX_PAYLOAD)
        self._info: dict[str, Any] = {}
        self.max_payload = DEFAULT_MAX_PAYLOAD
        # Outbound parts, flushed once per loop turn.
        self._out: list = []
        self._out_bytes = 0
        self._flush_handle: Optional[asyncio.Handle] = None
        self._write_paused = False
        self._writable: Optional[asyncio.Future] = None
        # PONG waiters in PING order (None for keepalive pings).
        self._pongs: deque[Optional[asyncio.Future]] = deque()
        self._pings_out = 0
        self._ping_timer: Optional[asyncio.TimerHandle] = None
        # Subscriptions.
        self._sids = itertools.count(1)
        self._subs: dict[int, Subscription] = {}
        self._resp: Optional[_RequestMux] = None
        self._resp_tokens = itertools.count(1)
        self._subject_cache: dict[str, bytes] = {}
        self._req_subjects: dict[str, tuple[asyncio.Future, str]] = {}
        # Handshake frames are routed here until CONNECT is confirmed.
        self._handshake: Optional[asyncio.Queue] = None
        # Status.
        self._listeners: list[asyncio.Queue] = []
        self._reconnect_task: Optional[asyncio.Task] = None
        self._closed_fut: asyncio.Future = self._loop.create_future()
        self._pending_error: Optional[BaseException] = None
        self.last_error: Optional[BaseException] = None
        self.reconnects = 0

    # Properties --------------------------------------------------------------------------------
    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def is_connected(self) -> bool:
        return self._state is ConnectionState.CONNECTED

    @property
    def is_closed(self) -> bool:
        return self._state is ConnectionState.CLOSED

    @property
    def is_reconnecting(self) -> bool:
        return self._state is ConnectionState.RECONNECTING

    @property
    def server_info(self) -> dict[str, Any]:
        return dict(self._info)

    @property
    def connected_url(self) -> Optional[str]:
        cur = self._pool.current
        return cur.url if cur is not None and self.is_connected else None

    @property
    def servers(self) -> list[str]:
        return [s.url for s in self._pool.servers]

    @property
    def discovered_servers(self) -> list[str]:
        return [s.url for s in self._pool.servers if s.implicit]

    def __repr__(self) -> str:
        cur = self._pool.current.url if self._pool.current else None
        return f"<Connection {self._state.value} server={cur!r}>"

    # Inbound -----------------------------------------------------------------------------------
    def _on_data(self, proto: _NatsProtocol, data: bytes) -> None:
        if proto is not self._proto:
            return
        error: Optional[ProtocolError] = None
        try:
            frames = self._parser.feed(data)
        except ProtocolError as err:
            frames = getattr(err, "frames", [])
            error = err
        hs = self._handshake
        if hs is not None:
            for f in frames:
                hs.put_nowait(f)
            if error is not None:
                hs.put_nowait(error)
            return
        self._dispatch(frames)
        if error is not None:
            self._report_error(error)
            self._connection_broken(error)

    def _dispatch(self, frames: list) -> None:
        subs = self._subs
        for f in frames:
            if type(f) is Msg:
                sub = subs.get(f.sid)
                if sub is not None:
                    f._client = self
                    sub._deliver(f)
            elif type(f) is Ping:
                self._write_now(PONG)
            elif type(f) is Pong:
                self._pings_out = 0
                if self._pongs:
                    fut = self._pongs.popleft()
                    if fut is not None and not fut.done():
                        fut.set_result(None)
            elif type(f) is Info:
                self._apply_info(f.data)
            elif type(f) is Err:
                self._on_server_error(f.text)

    def _on_server_error(self, text: str) -> None:
        err = error_from_server_text(text)
        if isinstance(err, PermissionViolationError):
            self._route_permission_error(err)
            return
        low = text.lower()
        if low.startswith(("maximum subscriptions exceeded", "invalid subject", "invalid publish subject")):
            self._report_error(err)
            self._pending_error = err
            return
        # Everything else (auth expiry, stale connection, parse errors...) is followed by the
        # server closing the connection: treat it as lost now (reconnect if allowed).
        self._report_error(err)
        retry = True
        server = self._pool.current
        if isinstance(err, AuthorizationError) and server is not None:
            # The same auth error twice in a row from one server: give up (nats.go lastErr).
            retry = server.last_auth_error != err.text
            server.last_auth_error = err.text
        self._connection_broken(err, reconnect=retry)

    # Outbound ----------------------------------------------------------------------------------
    def _write_now(self, data: bytes) -> None:
        """Queue a small control frame and make sure it goes out this loop turn."""
        self._out.append(data)
        self._out_bytes += len(data)
        if self._flush_handle is None:
            self._flush_handle = self._loop.call_soon(self._flush_out)

    def _flush_out(self) -> None:
        self._flush_handle = None
        if not self._out or self._state is ConnectionState.RECONNECTING or self._handshake is not None:
            return
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        out = self._out
        self._out = []
        self._out_bytes = 0
        transport.writelines(out)

    def discard_unsent(self, reply_prefix: str) -> list[str]:
        """Withdraw queued publishes whose reply subject starts with ``reply_prefix`` and that
        were never handed to a transport: those queued this loop turn and those held in the
        reconnect buffer. Returns their reply subjects. Such a message provably never reached
        a server; one already written to a transport is out of reach (its fate is unknown
        until its reply arrives or the connection is lost).

        The outbox is a flat list of parts in which every frame starts with its control line:
        ``PUB`` frames are 3 parts (line, payload, CRLF), ``HPUB`` frames 4 (line, header block,
        payload, CRLF), everything else one part.
        """
        out = self._out
        if not out:
            return []
        needle = reply_prefix.encode("utf-8")
        kept: list = []
        dropped: list[str] = []
        i, n = 0, len(out)
        while i < n:
            part = out[i]
            width = 1
            if type(part) is bytes:
                if part.startswith(b"PUB "):
                    width = 3
                elif part.startswith(b"HPUB "):
                    width = 4
            if width > 1:
                fields = part.split()
                reply = fields[2] if len(fields) == width + 1 else None
                if reply is not None and reply.startswith(needle):
                    dropped.append(reply.decode("utf-8"))
                    i += width
                    continue
            kept.extend(out[i : i + width])
            i += width
        if dropped:
            self._out = kept
            self._out_bytes = sum(len(p) for p in kept)
        return dropped

    def _on_pause_writing(self, proto: _NatsProtocol) -> None:
        if proto is self._proto:
            self._write_paused = True

    def _on_resume_writing(self, proto: _NatsProtocol) -> None:
        if proto is not self._proto:
            return
        self._write_paused = False
        w = self._writable
        if w is not None:
            self._writable = None
            if not w.done():
                w.set_result(None)

    async def _wait_writable(self) -> None:
        if self._writable is None:
            self._writable = self._loop.create_future()
        await self._writable

    def _encoded_subject(self, subject: str) -> bytes:
        raw = self._subject_cache.get(subject)
        if raw is None:
            validate_publish_subject(subject)
            raw = subject.encode("utf-8")
            if len(self._subject_cache) >= _SUBJECT_CACHE_MAX:
                self._subject_cache.clear()
            self._subject_cache[subject] = raw
        return raw

    async def publish(
        self,
        subject: str,
        payload: Payload = b"",
        reply: Optional[str] = None,
        headers: Optional[HeadersInput] = None,
    ) -> None:
        """Publish ``payload`` to ``subject``. ``headers`` is a mapping, a :class:`Headers`, or a
        header block already encoded with ``encode_headers`` (``bytes``, sent as it is).

        Raises :class:`BadSubjectError`, :class:`MaxPayloadError`, :class:`ConnectionClosedError`
        and, while reconnecting, :class:`ReconnectBufferFullError` once the bounded buffer is full.
        """
        state = self._state
        if state is ConnectionState.CLOSED:
            raise ConnectionClosedError("connection is closed")
        subj = self._subject_cache.get(subject) or self._encoded_subject(subject)
        if type(payload) is not bytes and not _immutable_view(payload):
            payload = bytes(payload)  # the caller may reuse a mutable buffer once we return
        plen = len(payload)
        if headers or (type(headers) is Headers and headers.status):
            if type(headers) is bytes:  # a block encoded once by the caller (encode_headers)
                hdr = headers
                if not (hdr.startswith(b"NATS/1.0") and hdr.endswith(b"\r\n\r\n")):
                    raise BadHeaderError("a pre-encoded header block must be a NATS/1.0 block ending in a blank line")
            else:
                hdr = encode_headers(headers)
            total = len(hdr) + plen
            if total > self.max_payload:
                raise MaxPayloadError(f"message of {total} bytes (headers included) exceeds max_payload {self.max_payload}")
            if reply:
                line = b"HPUB %s %s %d %d\r\n" % (subj, _encoded_reply(reply), len(hdr), total)
            else:
                line = b"HPUB %s %d %d\r\n" % (subj, len(hdr), total)
            parts: tuple = (line, hdr, payload, CRLF)
            size = len(line) + total + 2
        else:
            if plen > self.max_payload:
                raise MaxPayloadError(f"payload of {plen} bytes exceeds max_payload {self.max_payload}")
            if reply:
                line = b"PUB %s %s %d\r\n" % (subj, _encoded_reply(reply), plen)
            else:
                line = b"PUB %s %d\r\n" % (subj, plen)
            parts = (line, payload, CRLF)
            size = len(line) + plen + 2
        if len(line) > _MAX_LINE:
            # The server would close the connection ("maximum control line exceeded").
            raise BadSubjectError(f"control line of {len(line) - 2} bytes exceeds {MAX_CONTROL_LINE}: subject or reply too long")
        if state is ConnectionState.RECONNECTING:
            if self._out_bytes + size > self.options.reconnect_buf_size:
                raise ReconnectBufferFullError(
                    f"reconnect buffer of {self.options.reconnect_buf_size} bytes is full; publish refused"
                )
        self._out.extend(parts)
        self._out_bytes += size
        if state is ConnectionState.RECONNECTING:
            return
        if self._out_bytes >= _FLUSH_THRESHOLD:
            if self._flush_handle is not None:
                self._flush_handle.cancel()
            self._flush_out()
        elif self._flush_handle is None:
            self._flush_handle = self._loop.call_soon(self._flush_out)
        if self._write_paused:
            await self._wait_writable()

    async def flush(self, timeout: Optional[float] = None) -> None:
        """Send a PING and wait for its PONG: everything sent before has been processed.

        Also raises an asynchronous server error (a publish permission violation) that no
        other operation took. Raises :class:`NatsTimeoutError`, :class:`ConnectionClosedError`.
        """
        if self._state is ConnectionState.CLOSED:
            raise ConnectionClosedError("connection is closed")
        if timeout is None:
            timeout = self.options.flush_timeout
        fut = self._loop.create_future()
        self._pongs.append(fut)
        self._write_now(PING)
        handle = self._loop.call_later(timeout, _expire, fut, f"flush timed out after {timeout}s")
        try:
            await fut
        finally:
            handle.cancel()
        err, self._pending_error = self._pending_error, None
        if err is not None:
            raise err

    # Subscriptions -----------------------------------------------------------------------------
    async def subscribe(
        self,
        subject: str,
        queue: Optional[str] = None,
        *,
        cb: Optional[Callable[[Msg], Any]] = None,
        max_msgs: int = 0,
        pending_msgs_limit: Optional[int] = None,
        pending_bytes_limit: Optional[int] = None,
    ) -> Subscription:
        """Subscribe to ``subject`` (wildcards allowed), optionally in a queue group.

        Returns a :class:`Subscription`: iterate it with ``async for``, or pass ``cb`` to have
        a task call ``cb(msg)`` (awaited if it returns an awaitable) for every message.
        """
        self._check_open()
        validate_subscribe_subject(subject)
        if queue == "":
            queue = None  # nats-py treats an empty queue as no queue group
        if queue is not None:
            validate_queue(queue)
        sid = next(self._sids)
        sub = Subscription(
            self,
            sid,
            subject,
            queue,
            pending_msgs_limit or self.options.pending_msgs_limit,
            pending_bytes_limit or self.options.pending_bytes_limit,
        )
        line = encode_sub(subject, sid, queue)  # raises for an over-long line: nothing registered
        self._subs[sid] = sub
        self._write_now(line)
        if max_msgs:
            sub._max_msgs = max_msgs
            self._write_now(encode_unsub(sid, max_msgs))
        if cb is not None:
            sub._start_callback(cb)
        return sub

    def _forget_sub(self, sid: int) -> None:
        self._subs.pop(sid, None)

    async def _unsubscribe(self, sub: Subscription, limit: int = 0) -> None:
        if sub.closed:
            return
        if limit and sub.delivered < limit:
            sub._max_msgs = limit
            if self._state is not ConnectionState.CLOSED:
                self._write_now(encode_unsub(sub.sid, limit))
            return
        self._subs.pop(sub.sid, None)
        sub._finish()
        if self._state is not ConnectionState.CLOSED:
            self._write_now(encode_unsub(sub.sid))

    def _check_open(self) -> None:
        if self._state is ConnectionState.CLOSED:
            raise ConnectionClosedError("connection is closed")
        if self._state is ConnectionState.DRAINING:
            raise ConnectionClosedError("connection is draining")

    # Keepalive ---------------------------------------------------------------------------------
    def _schedule_ping(self) -> None:
        if self._ping_timer is not None:
            self._ping_timer.cancel()
        interval = self.options.ping_interval
        if interval and interval > 0:
            self._ping_timer = self._loop.call_later(interval, self._ping_tick)

    def _ping_tick(self) -> None:
        self._ping_timer = None
        if self._state is not ConnectionState.CONNECTED and self._state is not ConnectionState.DRAINING:
            return
        if self._pings_out >= self.options.max_pings_outstanding:
            self._connection_broken(StaleConnectionError("Stale Connection (no PONG from server)"))
            return
        self._pings_out += 1
        self._pongs.append(None)
        self._write_now(PING)
        self._schedule_ping()

    # Status events -----------------------------------------------------------------------------
    def _set_state(self, state: ConnectionState) -> None:
        self._state = state

    def _emit(self, kind: str, error: Optional[BaseException] = None) -> None:
        cur = self._pool.current
        event = StatusEvent(kind, cur.url if cur else "", error)
        for q in list(self._listeners):
            if q.qsize() < 1024:
                q.put_nowait(event)
        cb = {
            "disconnected": self.options.disconnected_cb,
            "reconnected": self.options.reconnected_cb,
            "closed": self.options.closed_cb,
            "lame_duck": self.options.lame_duck_cb,
            "error": self.options.error_cb,
        }.get(kind)
        if cb is not None:
            try:
                result = cb(error) if kind == "error" else cb()
                if asyncio.iscoroutine(result):
                    self._loop.create_task(result)
            except Exception:  # a status callback must not break the connection
                pass

    def _report_error(self, err: BaseException) -> None:
        self.last_error = err
        self._emit("error", err)

    def events(self) -> "_EventStream":
        """Status changes from now on, as an async iterator that ends after ``closed``."""
        return _EventStream(self)

    # Drain and close ---------------------------------------------------------------------------
    async def drain(self, timeout: Optional[float] = None) -> None:
        """Unsubscribe everything, let queued messages be consumed, flush, then close."""
        if self._state is ConnectionState.CLOSED:
            return
        if timeout is None:
            timeout = self.options.drain_timeout
        if self._state is ConnectionState.CONNECTED:
            subs = [s for s in self._subs.values() if s is not self._resp]
            for sub in subs:
                self._write_now(encode_unsub(sub.sid))
            self._state = ConnectionState.DRAINING
            deadline = self._loop.time() + timeout
            try:
                await self._drain_flush(timeout)
                for sub in subs:
                    self._subs.pop(sub.sid, None)
                    sub._finish()
                while any(s.pending_msgs for s in subs) and self._loop.time() < deadline:
                    await asyncio.sleep(0.01)
                tasks = [s._cb_task for s in subs if s._cb_task is not None]
                if tasks:
                    await asyncio.wait(tasks, timeout=max(0.01, deadline - self._loop.time()))
                await self._drain_flush(max(0.1, deadline - self._loop.time()))
            except NatsError:
                pass
        await self.close()

    async def _drain_flush(self, timeout: float) -> None:
        fut = self._loop.create_future()
        self._pongs.append(fut)
        self._write_now(PING)
        handle = self._loop.call_later(timeout, _expire, fut, "drain timed out")
        try:
            await fut
        finally:
            handle.cancel()

    async def close(self) -> None:
        """Flush what is queued, close the transport, end every subscription. Idempotent."""
        if self._state is ConnectionState.CLOSED:
            await asyncio.shield(self._closed_fut)
            return
        await self._finish_close(None)

    async def _finish_close(self, err: Optional[BaseException]) -> None:
        if self._state is ConnectionState.CLOSED:
            return
        was_connected = self._state in (ConnectionState.CONNECTED, ConnectionState.DRAINING)
        self._state = ConnectionState.CLOSED
        if self._ping_timer is not None:
            self._ping_timer.cancel()
            self._ping_timer = None
        task = self._reconnect_task
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        proto, self._proto = self._proto, None
        transport, self._transport = self._transport, None
        if transport is not None and was_connected and self._out and not transport.is_closing():
            transport.writelines(self._out)
        self._out = []
        self._out_bytes = 0
        closed = ConnectionClosedError("connection closed" + (f": {_describe(err)}" if err else ""))
        self._fail_pongs(closed)
        self._fail_requests(closed)
        self._release_writers()
        for sub in list(self._subs.values()):
            sub._finish(err if err is not None and not isinstance(err, ConnectionClosedError) else None)
        self._subs.clear()
        if transport is not None:
            transport.close()
            if proto is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(proto.lost), 2.0)
                except (asyncio.TimeoutError, asyncio.CancelledError):
                    transport.abort()
        if task is not None and task is not asyncio.current_task() and not task.done():
            # Let the cancelled reconnect loop unwind (abort its half-open transport) so no
            # task outlives close().
            await asyncio.wait({task}, timeout=1.0)
        if err is not None:
            self.last_error = err
        self._emit("closed", err)
        if not self._closed_fut.done():
            self._closed_fut.set_result(None)

    async def __aenter__(self) -> "Connection":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
async def connect(servers: Union[str, list[str], None] = None, **kwargs: Any) -> Connection:
    """Connect to a NATS server (or the first reachable one of ``servers``).

    ``servers`` is a URL, a comma-separated list or a list of URLs (``nats://``, ``tls://``,
    credentials in the URL allowed). Keyword arguments are the fields of
    :class:`ConnectOptions` (``name``, ``user``, ``password``, ``token``, ``nkey_seed``,
    ``creds``, ``tls``, ``tls_ca``, ``tls_cert``, ``tls_key``, ...). ``options=`` passes a
    complete :class:`ConnectOptions` instead; ``connection_class=`` a :class:`Connection`
    subclass to instantiate (how ``objstore.connect`` adds ``.jetstream()``).

    Raises :class:`NoServersError`, :class:`AuthorizationError`, :class:`TLSError`.
    """
    options: Optional[ConnectOptions] = kwargs.pop("options", None)
    connection_class: type = kwargs.pop("connection_class", Connection)
    if servers is None:
        servers = kwargs.pop("servers", None)
    if isinstance(servers, str):
        servers = [s.strip() for s in servers.split(",") if s.strip()]
    if options is None:
        options = ConnectOptions(**kwargs)
    elif kwargs:
        options = options.replace(**kwargs)
    if servers:
        options = options.replace(servers=list(servers))
    # Fail before any network I/O when nkey/creds auth cannot work (missing extra, bad file).
    auth.check_auth_options(nkey_seed=options.nkey_seed, creds=options.creds)
    conn = connection_class(options)
    await conn._connect_initial()
    return conn
