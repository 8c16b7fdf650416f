"""``Connection``: the asyncio side of the client, on top of the sans-I/O parser and encoder.

Owns the handshake (INFO, optional TLS, CONNECT, PING/PONG), the sid table and frame dispatch,
the outbound part list and its coalesced flush, PING keepalive with stale detection,
request/reply over one multiplexed inbox subscription, reconnect across the server pool,
drain and close. Transport: an ``asyncio.Protocol`` whose ``data_received`` feeds the parser
synchronously (style.md 4.2 row 2b). Writes are collected as parts and handed to
``transport.writelines`` once per loop turn; publishers await only when the transport paused.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import random
import re
import ssl
import time
from collections import deque
from typing import Any, AsyncIterator, Awaitable, Callable, Optional, Sequence, Union

from . import auth
from .encoder import encode_connect, encode_sub, encode_unsub
from .errors import (
    AuthorizationError,
    BadSubjectError,
    ConnectError,
    ConnectionClosedError,
    MaxPayloadError,
    NatsError,
    NatsTimeoutError,
    NoRespondersError,
    NoServersError,
    PermissionViolationError,
    ProtocolError,
    ReconnectBufferFullError,
    ServerError,
    StaleConnectionError,
    TLSError,
    error_from_server_text,
)
from .frames import Err, Info, Msg, Ok, Ping, Pong
from .headers import Headers, HeadersInput, encode_headers
from .nuid import next_nuid
from .options import ConnectOptions, ServerAddr, ServerPool
from .parser import Parser
from .subjects import validate_publish_subject, validate_queue, validate_subscribe_subject
from .subscription import Subscription
from .wire import CLIENT_LANG, CLIENT_VERSION, CRLF, DEFAULT_MAX_PAYLOAD, MAX_CONTROL_LINE, PING, PONG

__all__ = ["Connection", "ConnectionState", "StatusEvent", "connect"]

# Flush synchronously once this many bytes are queued in one loop turn (a publisher that never
# yields would otherwise grow the list without bound).
_FLUSH_THRESHOLD = 256 * 1024
_SUBJECT_CACHE_MAX = 4096
_MAX_LINE = MAX_CONTROL_LINE + 2  # a control line with its CRLF
# What we *receive* may be longer than the 4096 we may send: a MSG line repeats a 4090-byte
# subject plus sid (and JetStream adds a long ack reply), and a big cluster's INFO lists many
# connect_urls. nats.go does not limit these at all; we bound them generously.
_INBOUND_CONTROL_LINE = 64 * 1024
# The server's max_payload limits what clients publish; replies the server builds itself (a
# STREAM.INFO with many subjects, a STREAM.LIST page) can be larger. Incoming frames are bounded
# by this instead, so memory stays bounded without killing the connection on a big API reply.
_INBOUND_MAX_PAYLOAD = 64 * 1024 * 1024

Payload = Union[bytes, bytearray, memoryview]
_BAD_REPLY = re.compile(r"[\x00-\x20\x7f]")


class ConnectionState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DRAINING = "draining"
    CLOSED = "closed"


class StatusEvent:
    """A status change: ``kind`` is one of connected, disconnected, reconnected, lame_duck,
    error, closed. ``server`` is the URL without credentials; ``error`` the cause if any."""

    __slots__ = ("kind", "server", "error")

    def __init__(self, kind: str, server: str = "", error: Optional[BaseException] = None) -> None:
        self.kind = kind
        self.server = server
        self.error = error

    def __repr__(self) -> str:
        err = f", error={self.error!r}" if self.error else ""
        return f"StatusEvent({self.kind!r}, server={self.server!r}{err})"


class _NatsProtocol(asyncio.Protocol):
    """Thin transport adapter: forwards bytes and transport events to the connection."""

    def __init__(self, conn: "Connection") -> None:
        self.conn = conn
        self.transport: Optional[asyncio.Transport] = None
        self.lost: asyncio.Future = conn._loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.conn._on_data(self, data)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)
        self.conn._on_connection_lost(self, exc)

    def pause_writing(self) -> None:
        self.conn._on_pause_writing(self)

    def resume_writing(self) -> None:
        self.conn._on_resume_writing(self)


class _RequestMux(Subscription):
    """The one ``_INBOX.<nuid>.*`` subscription behind every ``request``."""

    __slots__ = ("futures", "prefix")

    def _deliver(self, msg: Msg) -> None:
        futures = self.futures
        if msg.subject.startswith(self.prefix):
            # Our token: its request, or none if that one timed out (never another request's).
            fut = futures.pop(msg.subject[len(self.prefix) :], None)
        elif len(futures) == 1:
            # A reply may arrive with a rewritten subject (wire.md 1.7): one pending -> it is ours.
            _, fut = futures.popitem()
        else:
            fut = None
        if fut is not None and not fut.done():
            fut.set_result(msg)


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


def _encoded_reply(reply: str) -> bytes:
    """Reply subjects are mostly unique (one per request): validated, never cached."""
    if _BAD_REPLY.search(reply) or not reply:
        raise BadSubjectError(f"reply subject {reply!r} is empty or contains whitespace or a control character")
    return reply.encode("utf-8")


def _expire(fut: asyncio.Future, what: str) -> None:
    if not fut.done():
        fut.set_exception(NatsTimeoutError(what))


class Connection:
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

    # Connecting --------------------------------------------------------------------------------
    async def _connect_initial(self) -> None:
        errors: list[str] = []
        for server in self._pool.next_candidates():
            try:
                await self._connect_to(server)
                self._set_state(ConnectionState.CONNECTED)
                self._emit("connected")
                return
            except AuthorizationError:
                self._state = ConnectionState.CLOSED
                raise
            except TLSError:
                self._state = ConnectionState.CLOSED
                raise
            except (OSError, asyncio.TimeoutError, NatsError) as err:
                errors.append(f"{server.url}: {_describe(err)}")
        self._state = ConnectionState.CLOSED
        raise NoServersError("could not connect to any server: " + "; ".join(errors))

    async def _connect_to(self, server: ServerAddr, restore: Sequence[bytes] = ()) -> None:
        """Open a transport to ``server`` and complete the handshake. Raises on failure.

        ``restore`` (SUB/UNSUB ops of a reconnect) is written between CONNECT and the handshake
        PING, so once the PONG arrives the server has applied every subscription.
        """
        opts = self.options
        server.last_attempt = time.monotonic()
        self._pool.current = server
        self._parser = Parser(_INBOUND_CONTROL_LINE, _INBOUND_MAX_PAYLOAD)
        self._handshake = asyncio.Queue()
        tls_wanted = server.tls or opts.wants_tls()
        hostname = opts.tls_hostname or server.host
        ssl_ctx: Optional[ssl.SSLContext] = None
        if tls_wanted:
            ssl_ctx = self._ssl_context()
        proto = _NatsProtocol(self)
        self._proto = proto
        timeout = opts.connect_timeout
        try:
            try:
                if ssl_ctx is not None and opts.tls_handshake_first:
                    await asyncio.wait_for(
                        self._loop.create_connection(lambda: proto, server.host, server.port, ssl=ssl_ctx, server_hostname=hostname),
                        timeout,
                    )
                else:
                    await asyncio.wait_for(self._loop.create_connection(lambda: proto, server.host, server.port), timeout)
            except ssl.SSLError as err:
                raise _tls_error(server, err) from err
            self._transport = proto.transport
            info = await self._next_handshake_frame(timeout)
            if not isinstance(info, Info):
                raise ProtocolError(f"expected INFO first, got {info!r}")
            self._apply_info(info.data, initial=True)
            if info.data.get("tls_required") or tls_wanted:
                if ssl_ctx is None:
                    ssl_ctx = self._ssl_context()
                if not opts.tls_handshake_first:
                    if not (info.data.get("tls_required") or info.data.get("tls_available")):
                        raise TLSError(f"TLS was asked for but {server.url} does not offer it")
                    try:
                        new_transport = await asyncio.wait_for(
                            self._loop.start_tls(proto.transport, proto, ssl_ctx, server_hostname=hostname),
                            timeout,
                        )
                    except ssl.SSLError as err:
                        raise _tls_error(server, err) from err
                    proto.transport = new_transport  # type: ignore[assignment]
                    self._transport = new_transport  # type: ignore[assignment]
            connect = self._connect_json(server, info.data)
            assert self._transport is not None
            self._transport.writelines([encode_connect(connect), *restore, PING])
            # Frames that are not part of the handshake (messages for restored subscriptions,
            # a permission error for one of them) are kept, in order, and dispatched after it.
            leftover: list = []
            while True:
                frame = await self._next_handshake_frame(timeout)
                if isinstance(frame, Pong):
                    break
                if isinstance(frame, Err):
                    err = error_from_server_text(frame.text)
                    if not isinstance(err, PermissionViolationError):
                        raise err
                    leftover.append(frame)
                elif isinstance(frame, Info):
                    self._apply_info(frame.data)
                elif isinstance(frame, Ping):
                    self._transport.write(PONG)
                elif not isinstance(frame, Ok):
                    leftover.append(frame)
            while not self._handshake.empty():
                frame = self._handshake.get_nowait()
                if isinstance(frame, BaseException):
                    raise frame
                leftover.append(frame)
        except BaseException:
            self._handshake = None
            self._proto = None
            if proto.transport is not None:
                proto.transport.abort()
            raise
        self._handshake = None
        server.did_connect = True
        server.reconnects = 0
        self._pings_out = 0
        # self._pongs may hold flush() waiters queued while reconnecting: their PINGs are in
        # self._out and will be answered after it is flushed.
        self._schedule_ping()
        if leftover:
            self._loop.call_soon(self._dispatch, leftover)
        if proto.lost.done():
            # The server closed right after the PONG (connection_lost was ignored during the
            # handshake): handle it once the caller has marked the connection as connected.
            self._loop.call_soon(self._on_connection_lost, proto, proto.lost.result())

    def _ssl_context(self) -> ssl.SSLContext:
        try:
            return self.options.ssl_context()
        except (OSError, ssl.SSLError) as err:
            raise TLSError(f"cannot load TLS files: {err}") from err

    async def _next_handshake_frame(self, timeout: float) -> Any:
        q = self._handshake
        assert q is not None
        proto = self._proto
        getter = asyncio.ensure_future(q.get())
        lost = proto.lost if proto is not None else self._loop.create_future()
        done, _ = await asyncio.wait({getter, lost}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            frame = getter.result()
            if isinstance(frame, BaseException):
                raise frame
            return frame
        getter.cancel()
        if lost in done:
            exc = lost.result()
            if isinstance(exc, ssl.SSLError) and self._pool.current is not None:
                # TLS 1.3: a rejected client certificate shows up after our side finished.
                raise _tls_error(self._pool.current, exc) from exc
            raise ConnectError(f"connection closed during handshake{': ' + _describe(exc) if exc else ''}")
        raise NatsTimeoutError(f"handshake timed out after {timeout}s")

    def _connect_json(self, server: ServerAddr, info: dict[str, Any]) -> dict[str, Any]:
        opts = self.options
        headers = bool(info.get("headers", True))
        out: dict[str, Any] = {
            "verbose": opts.verbose,
            "pedantic": opts.pedantic,
            "tls_required": bool(server.tls or opts.wants_tls()),
            "lang": CLIENT_LANG,
            "version": CLIENT_VERSION,
            "protocol": 1,
            "echo": opts.echo,
            "headers": headers,
            "no_responders": headers and opts.no_responders,
        }
        if opts.name:
            out["name"] = opts.name
        out.update(
            auth.auth_fields(
                user=server.user or opts.user,
                password=server.password or opts.password,
                token=server.token or opts.token,
                nkey_seed=opts.nkey_seed,
                creds=opts.creds,
                nonce=info.get("nonce"),
            )
        )
        return out

    def _apply_info(self, info: dict[str, Any], initial: bool = False) -> None:
        was_ldm = bool(self._info.get("ldm")) and not initial
        self._info = info
        mp = info.get("max_payload")
        if isinstance(mp, int) and mp > 0:
            self.max_payload = mp
            self._parser.max_payload = max(mp, _INBOUND_MAX_PAYLOAD)
        urls = info.get("connect_urls")
        if urls:
            self._pool.add_discovered(urls)
        if info.get("ldm") and not initial and not was_ldm:  # once per connection
            self._emit("lame_duck")

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

    def _route_permission_error(self, err: PermissionViolationError) -> None:
        """Fail the operation that caused a permission violation; the connection stays open.

        The server sends one -ERR per refused op, in order: each error ends one subscription
        (the oldest matching subject and queue) or fails one request (the oldest to that
        subject). A refused request inbox fails every pending request. Anything else is kept
        for the next ``flush()``.
        """
        text = err.text
        quoted = text.split('"')[1::2]
        subject = quoted[0] if quoted else ""
        low = text.lower()
        routed = False
        resp = self._resp
        if "for subscription" in low:
            queue = quoted[1] if "using queue" in low and len(quoted) > 1 else None
            if resp is not None and subject == resp.subject:
                self._subs.pop(resp.sid, None)
                self._resp = None
                self._fail_requests(err, resp)
                routed = True
            else:
                for sub in list(self._subs.values()):
                    if sub.subject == subject and sub.queue == queue and not isinstance(sub, _RequestMux):
                        self._subs.pop(sub.sid, None)
                        sub._finish(err)
                        routed = True
                        break
        elif resp is not None:
            if "with reply of" in low and subject.startswith(resp.prefix):
                entry = self._req_subjects.get(subject[len(resp.prefix) :])
                if entry is not None and not entry[0].done():
                    entry[0].set_exception(err)
                    routed = True
            else:
                for fut, subj in list(self._req_subjects.values()):
                    if subj == subject and not fut.done():
                        fut.set_exception(err)
                        routed = True
                        break
        if not routed:
            self._pending_error = err
        self._report_error(err)

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
        """Publish ``payload`` to ``subject``.

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

    # Request / reply ---------------------------------------------------------------------------
    def _ensure_resp(self) -> _RequestMux:
        resp = self._resp
        if resp is None:
            prefix = self.options.inbox_prefix
            if not prefix.endswith("."):
                prefix += "."
            prefix = f"{prefix}{next_nuid()}."
            sid = next(self._sids)
            resp = _RequestMux(self, sid, prefix + "*", None, 1 << 62, 1 << 62)
            resp.futures = {}
            resp.prefix = prefix
            self._subs[sid] = resp
            self._resp = resp
            self._write_now(encode_sub(prefix + "*", sid))
        return resp

    def new_inbox(self) -> str:
        prefix = self.options.inbox_prefix
        if not prefix.endswith("."):
            prefix += "."
        return prefix + next_nuid()

    async def request(
        self,
        subject: str,
        payload: Payload = b"",
        timeout: Optional[float] = 2.0,
        headers: Optional[HeadersInput] = None,
    ) -> Msg:
        """Publish a request and return the first reply.

        Raises :class:`NoRespondersError` (nobody subscribed), :class:`NatsTimeoutError`,
        :class:`ConnectionClosedError` (also when the connection is lost while waiting).
        """
        self._check_open()
        resp = self._ensure_resp()
        token = str(next(self._resp_tokens))
        fut = self._loop.create_future()
        resp.futures[token] = fut
        self._req_subjects[token] = (fut, subject)
        handle = None
        try:
            await self.publish(subject, payload, reply=resp.prefix + token, headers=headers)
            if timeout is not None:
                handle = self._loop.call_later(timeout, _expire, fut, f"request to {subject!r} timed out after {timeout}s")
            msg: Msg = await fut
        finally:
            if handle is not None:
                handle.cancel()
            resp.futures.pop(token, None)
            self._req_subjects.pop(token, None)
        if msg._hdr is not None and not msg.data and msg.status == "503":
            raise NoRespondersError(f"no responders for request to {subject!r}")
        return msg

    def _fail_requests(self, err: BaseException, resp: Optional[_RequestMux] = None) -> None:
        resp = resp or self._resp
        if resp is None:
            return
        for fut in resp.futures.values():
            if not fut.done():
                fut.set_exception(err)
        resp.futures.clear()
        self._req_subjects.clear()

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

    # Losing the connection, reconnecting -------------------------------------------------------
    def _on_connection_lost(self, proto: _NatsProtocol, exc: Optional[BaseException]) -> None:
        if proto is not self._proto or self._handshake is not None:
            return
        self._connection_broken(exc or ConnectionClosedError("server closed the connection"))

    def _connection_broken(self, err: BaseException, reconnect: bool = True) -> None:
        """The current transport is unusable: reconnect if allowed, else close."""
        if self._state in (ConnectionState.CLOSED, ConnectionState.RECONNECTING):
            return
        proto, self._proto = self._proto, None
        if proto is not None and proto.transport is not None:
            proto.transport.abort()
        self._transport = None
        if self._ping_timer is not None:
            self._ping_timer.cancel()
            self._ping_timer = None
        lost = ConnectionClosedError(f"connection lost: {_describe(err)}")
        self._fail_pongs(lost)
        if self._out:
            # PINGs still queued belong to the waiters just failed: never send them later, or
            # their PONGs would complete flush() calls made while reconnecting too early.
            self._out = [p for p in self._out if p is not PING]
            self._out_bytes = sum(len(p) for p in self._out)
        self._fail_requests(lost)
        self._release_writers()
        self._emit("disconnected", err)
        if reconnect and self.options.allow_reconnect and self._state is ConnectionState.CONNECTED:
            self._state = ConnectionState.RECONNECTING
            self._reconnect_task = self._loop.create_task(self._reconnect())
        else:
            self._loop.create_task(self._finish_close(err))

    def _fail_pongs(self, err: BaseException) -> None:
        while self._pongs:
            fut = self._pongs.popleft()
            if fut is not None and not fut.done():
                fut.set_exception(err)
        self._pings_out = 0

    def _release_writers(self) -> None:
        self._write_paused = False
        w, self._writable = self._writable, None
        if w is not None and not w.done():
            w.set_result(None)

    async def _reconnect(self) -> None:
        opts = self.options
        while self._state is ConnectionState.RECONNECTING:
            candidates = [
                s
                for s in self._pool.next_candidates()
                if opts.max_reconnect_attempts < 0 or s.reconnects < opts.max_reconnect_attempts
            ]
            if not candidates:
                await self._finish_close(NoServersError("reconnect attempts exhausted"))
                return
            for server in candidates:
                if self._state is not ConnectionState.RECONNECTING:
                    return
                elapsed = time.monotonic() - server.last_attempt
                jitter = opts.reconnect_jitter_tls if server.tls or opts.wants_tls() else opts.reconnect_jitter
                wait = opts.reconnect_time_wait - elapsed
                if wait > 0:
                    await asyncio.sleep(wait + random.uniform(0, jitter))
                if self._state is not ConnectionState.RECONNECTING:
                    return
                server.reconnects += 1
                try:
                    await self._connect_to(server, self._restore_ops())
                except AuthorizationError as err:
                    self._report_error(err)
                    if server.last_auth_error == err.text:
                        await self._finish_close(err)
                        return
                    server.last_auth_error = err.text
                    continue
                except (OSError, asyncio.TimeoutError, NatsError) as err:
                    self.last_error = err
                    continue
                self._after_reconnect()
                return

    def _restore_ops(self) -> list[bytes]:
        """SUB (and ``UNSUB sid remaining`` for auto-unsubscribing ones) for every live
        subscription; exhausted ones are ended instead."""
        restore: list[bytes] = []
        for sub in list(self._subs.values()):
            if sub.max_msgs:
                remaining = sub.max_msgs - sub.delivered
                if remaining <= 0:
                    self._subs.pop(sub.sid, None)
                    sub._finish()
                    continue
                restore.append(encode_sub(sub.subject, sub.sid, sub.queue))
                restore.append(encode_unsub(sub.sid, remaining))
            else:
                restore.append(encode_sub(sub.subject, sub.sid, sub.queue))
        return restore

    def _after_reconnect(self) -> None:
        """Subscriptions were restored in the handshake: flush what was buffered meanwhile."""
        assert self._transport is not None
        self._state = ConnectionState.CONNECTED
        self.reconnects += 1
        self._flush_out()
        self._emit("reconnected")

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


class _EventStream:
    """Registered at creation, so no event between ``events()`` and the first ``anext`` is lost."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._queue: asyncio.Queue = asyncio.Queue()
        self._done = False
        if conn.is_closed:
            self._queue.put_nowait(StatusEvent("closed"))
        else:
            conn._listeners.append(self._queue)

    def __aiter__(self) -> "_EventStream":
        return self

    async def __anext__(self) -> StatusEvent:
        if self._done:
            raise StopAsyncIteration
        event = await self._queue.get()
        if event.kind == "closed":
            self._done = True
            self.close()
        return event

    def close(self) -> None:
        if self._queue in self._conn._listeners:
            self._conn._listeners.remove(self._queue)


def _tls_error(server: ServerAddr, err: ssl.SSLError) -> TLSError:
    """A TLSError naming the server and why: the verification message (unknown CA, hostname
    mismatch) or the alert the server sent (certificate required, unknown CA)."""
    if isinstance(err, ssl.SSLCertVerificationError):
        why = f"certificate verification failed: {err.verify_message or err.reason}"
    elif err.reason:
        why = err.reason.replace("_", " ").lower()
        if "alert" in why:
            why = f"the server refused the handshake ({why})"
        elif err.reason == "WRONG_VERSION_NUMBER":
            why = f"the server did not answer with TLS ({why}; a TLS-first client needs handshake_first on the server)"
    else:
        why = str(err)
    return TLSError(f"TLS handshake with {server.url} failed: {why}")


def _describe(err: Optional[BaseException]) -> str:
    if err is None:
        return "unknown"
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


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
