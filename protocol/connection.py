"""``Connection``: the public asyncio client API, on a :class:`~protocol.session.Session`.

Rule: this module owns the public surface (README "protocol layer": ``publish``, ``subscribe``,
``request``, ``flush``, ``drain``, ``close``, ``events``, the publish-error routes,
``discard_unsent``, the properties) and :func:`connect`; it holds no connection state of its
own. The state, the transport and frames in belong to ``Session``; the outbound bytes to
``Outbox``; each public method delegates to the part that owns what it asks about.

Hot path: ``publish`` validates and encodes a PUB/HPUB itself and appends the parts to the
outbox's list (no call into a part per message); one flush per loop turn writes them.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Callable, Optional, Union

from . import auth
from .encoder import encode_sub, encode_unsub
from .errors import (
    BadHeaderError,
    BadSubjectError,
    ConnectionClosedError,
    MaxPayloadError,
    NatsError,
    ReconnectBufferFullError,
)
from .frames import Msg
from .headers import Headers, HeadersInput, encode_headers
from .options import ConnectOptions
from .outbox import FLUSH_THRESHOLD, immutable_view
from .permissions import PublishErrorCallback
from .request import encoded_reply, expire
from .session import Session
from .state import ConnectionState
from .status import EventStream, StatusEvent
from .subjects import validate_publish_subject, validate_queue, validate_subscribe_subject
from .subscription import Subscription
from .wire import CRLF, MAX_CONTROL_LINE

__all__ = ["Connection", "ConnectionState", "StatusEvent", "connect"]

_SUBJECT_CACHE_MAX = 4096
_MAX_LINE = MAX_CONTROL_LINE + 2  # a control line with its CRLF
_CLOSED = ConnectionState.CLOSED
_RECONNECTING = ConnectionState.RECONNECTING

Payload = Union[bytes, bytearray, memoryview]


class Connection:
    """A client connection. Create it with :func:`connect`."""

    def __init__(self, options: ConnectOptions) -> None:
        self.options = options
        self.max_payload = 0  # set by the session from every accepted INFO
        session = self._session = Session(options, self, functools.partial(setattr, self, "max_payload"))
        self._loop = session.loop
        self._subject_cache: dict[str, bytes] = {}
        # The parts this API delegates to (the session owns them).
        self._outbox = session.outbox
        self._table = session.table
        self._subs = session.table.by_sid
        self._requests = session.requests
        self._permissions = session.permissions
        self._pool = session.pool

    # Properties --------------------------------------------------------------------------------
    @property
    def state(self) -> ConnectionState:
        return self._session.state

    @property
    def is_connected(self) -> bool:
        return self._session.state is ConnectionState.CONNECTED

    @property
    def is_closed(self) -> bool:
        return self._session.state is _CLOSED

    @property
    def is_reconnecting(self) -> bool:
        return self._session.state is _RECONNECTING

    @property
    def reconnects(self) -> int:
        """Reconnects completed so far."""
        return self._session.reconnects

    @property
    def last_error(self) -> Optional[BaseException]:
        return self._session.last_error

    @property
    def server_info(self) -> dict[str, Any]:
        return dict(self._session.info)

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

    @property
    def _transport(self) -> Optional[asyncio.Transport]:
        """The transport the outbox writes to (``None`` unless connected or draining)."""
        return self._outbox.transport

    def __repr__(self) -> str:
        cur = self._pool.current.url if self._pool.current else None
        return f"<Connection {self._session.state.value} server={cur!r}>"

    # Publishing --------------------------------------------------------------------------------
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
        state = self._session.state
        if state is _CLOSED:
            raise ConnectionClosedError("connection is closed")
        subj = self._subject_cache.get(subject) or self._encoded_subject(subject)
        if type(payload) is not bytes and not immutable_view(payload):
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
                line = b"HPUB %s %s %d %d\r\n" % (subj, encoded_reply(reply), len(hdr), total)
            else:
                line = b"HPUB %s %d %d\r\n" % (subj, len(hdr), total)
            parts: tuple = (line, hdr, payload, CRLF)
            size = len(line) + total + 2
        else:
            if plen > self.max_payload:
                raise MaxPayloadError(f"payload of {plen} bytes exceeds max_payload {self.max_payload}")
            if reply:
                line = b"PUB %s %s %d\r\n" % (subj, encoded_reply(reply), plen)
            else:
                line = b"PUB %s %d\r\n" % (subj, plen)
            parts = (line, payload, CRLF)
            size = len(line) + plen + 2
        if len(line) > _MAX_LINE:
            # The server would close the connection ("maximum control line exceeded").
            raise BadSubjectError(f"control line of {len(line) - 2} bytes exceeds {MAX_CONTROL_LINE}: subject or reply too long")
        ob = self._outbox
        if state is _RECONNECTING:
            # The reconnect buffer is what the outbox holds while no transport is attached.
            if ob.nbytes + size > self.options.reconnect_buf_size:
                raise ReconnectBufferFullError(
                    f"reconnect buffer of {self.options.reconnect_buf_size} bytes is full; publish refused"
                )
        # The outbox's fields are written here directly: no call per message (module docstring).
        ob.parts.extend(parts)
        ob.nbytes += size
        if state is _RECONNECTING:
            return
        if ob.nbytes >= FLUSH_THRESHOLD:
            ob.flush_early()
        elif ob.flush_handle is None:
            ob.flush_handle = self._loop.call_soon(ob.flush)
        if ob.paused:
            await ob.wait_writable()

    def discard_unsent(self, reply_prefix: str) -> list[str]:
        """Withdraw queued publishes whose reply subject starts with ``reply_prefix`` and that
        were never handed to a transport: those queued this loop turn and those held in the
        reconnect buffer. Returns their reply subjects. Such a message provably never reached
        a server; one already written to a transport is out of reach (its fate is unknown
        until its reply arrives or the connection is lost).
        """
        return self._outbox.discard_unsent(reply_prefix)

    async def flush(self, timeout: Optional[float] = None) -> None:
        """Send a PING and wait for its PONG: everything sent before has been processed.

        Also raises an asynchronous server error (a publish permission violation) that no
        other operation took. Raises :class:`NatsTimeoutError`, :class:`ConnectionClosedError`.
        """
        if self._session.state is _CLOSED:
            raise ConnectionClosedError("connection is closed")
        if timeout is None:
            timeout = self.options.flush_timeout
        await self._ping_pong(timeout, f"flush timed out after {timeout}s")
        session = self._session
        err, session.pending_error = session.pending_error, None
        if err is not None:
            raise err

    async def _ping_pong(self, timeout: float, what: str) -> None:
        fut = self._loop.create_future()
        self._session.keepalive.ping(fut)
        handle = self._loop.call_later(timeout, expire, fut, what)
        try:
            await fut
        finally:
            handle.cancel()

    # Subscriptions and requests ----------------------------------------------------------------
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
        table = self._table
        sid = table.next_sid()
        sub = Subscription(
            table,
            sid,
            subject,
            queue,
            pending_msgs_limit or self.options.pending_msgs_limit,
            pending_bytes_limit or self.options.pending_bytes_limit,
        )
        line = encode_sub(subject, sid, queue)  # raises for an over-long line: nothing registered
        table.add(sub)
        self._outbox.write_now(line)
        if max_msgs:
            sub._max_msgs = max_msgs
            self._outbox.write_now(encode_unsub(sid, max_msgs))
        if cb is not None:
            sub._start_callback(cb)
        return sub

    def _check_open(self) -> None:
        state = self._session.state
        if state is _CLOSED:
            raise ConnectionClosedError("connection is closed")
        if state is ConnectionState.DRAINING:
            raise ConnectionClosedError("connection is draining")

    def new_inbox(self) -> str:
        return self._requests.new_inbox()

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
        return await self._requests.request(self.publish, subject, payload, timeout, headers)

    def add_publish_error_route(self, subject: str, callback: PublishErrorCallback) -> None:
        """Send a permission violation for publishing to ``subject`` to ``callback(err)``.

        Called once per ``-ERR`` the server sends for that subject, from the connection's read
        path: it must not block (set a future, record the error). Several callbacks may share a
        subject; each one is called. The error is still reported through the ``error`` event
        and ``error_cb``, but never kept for the next ``flush()``. Remove the route with
        :meth:`remove_publish_error_route` once no answer is expected any more.
        """
        self._permissions.add_route(subject, callback)

    def remove_publish_error_route(self, subject: str, callback: PublishErrorCallback) -> None:
        """Remove one route added with :meth:`add_publish_error_route` (no error if absent).

        Violations for ``subject`` that are still on their way (caused by publishes made before
        this call) are absorbed up to the PONG of a PING sent now: reported, never kept for a
        later ``flush()``. Over a reconnect the fence is sent again on the new connection (after
        whatever the reconnect buffer replays); on close it ends.
        """
        self._permissions.remove_route(subject, callback)

    # Status, drain and close -------------------------------------------------------------------
    def events(self) -> EventStream:
        """Status changes from now on, as an async iterator that ends after ``closed``."""
        return EventStream(self._session.events, self.is_closed)

    async def drain(self, timeout: Optional[float] = None) -> None:
        """Unsubscribe everything, let queued messages be consumed, flush, then close."""
        session = self._session
        if session.state is _CLOSED:
            return
        if timeout is None:
            timeout = self.options.drain_timeout
        if session.state is ConnectionState.CONNECTED:
            mux = self._requests.mux
            subs = [s for s in self._subs.values() if s is not mux]
            for sub in subs:
                self._table.send_unsub(sub.sid)
            session.set_state(ConnectionState.DRAINING)
            deadline = self._loop.time() + timeout
            try:
                await self._ping_pong(timeout, "drain timed out")
                for sub in subs:
                    self._table.forget(sub.sid)
                    sub._finish()
                while any(s.pending_msgs for s in subs) and self._loop.time() < deadline:
                    await asyncio.sleep(0.01)
                tasks = [s._cb_task for s in subs if s._cb_task is not None]
                if tasks:
                    await asyncio.wait(tasks, timeout=max(0.01, deadline - self._loop.time()))
                await self._ping_pong(max(0.1, deadline - self._loop.time()), "drain timed out")
            except NatsError:
                pass
        await self.close()

    async def close(self) -> None:
        """Flush what is queued, close the transport, end every subscription. Idempotent."""
        session = self._session
        if session.state is _CLOSED:
            await asyncio.shield(session.closed)
            return
        await session.finish_close(None)

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
    await conn._session.connect_initial()
    return conn
