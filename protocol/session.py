"""``Session``: the state machine of one client connection over its successive transports.

Rule: this module owns the connection state (one method changes it, :meth:`Session.set_state`,
checked against ``state.TRANSITIONS``), the transport adapter and parser of the current
transport, frames in (``on_data`` -> ``dispatch``), the INFO it applies, and the lifetime: first
connect, a lost transport (``broken``: the one place), reconnect, close. It builds the parts and
wires them with callbacks; no part imports it, and it never imports ``connection`` (the public
API, ``Connection``, composes a ``Session``). It publishes nothing itself.

The parts: ``outbox.Outbox`` (queued bytes, one flush per loop turn), ``keepalive.Keepalive``
(PONG waiters, PING timer), ``subtable.SubscriptionTable`` (sids, the handle a ``Subscription``
talks to), ``request.Requests`` (the request mux), ``permissions.PermissionRouter``,
``handshake.Dialer``, ``reconnect.Reconnector``, ``status.Events``.

Hot path (style.md 4.2 row 2b): ``data_received`` -> :meth:`on_data` feeds the parser
synchronously, :meth:`dispatch` routes each run of consecutive MSGs to one sid straight to
``Subscription._deliver_many``: one dict lookup and one call per run (a read's worth for a busy
consumer), no part in between. ``-ERR`` lines are classified once
(``errors.classify_server_error``).
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any, Callable, Optional

from .errors import (
    AuthorizationError,
    ConnectionClosedError,
    ConnectProtocolError,
    ErrAction,
    NatsError,
    NoServersError,
    ProtocolError,
    TLSError,
    classify_server_error,
)
from .frames import Err, Info, Msg, Ping, Pong
from .handshake import INBOUND_CONTROL_LINE, INBOUND_MAX_PAYLOAD, Dialer, inbound_cap, outbound_limit
from .keepalive import Keepalive
from .lameduck import leave_lame_duck
from .options import ConnectOptions, ServerAddr, ServerPool
from .outbox import Outbox
from .parser import Parser
from .permissions import PermissionRouter
from .reconnect import Reconnector
from .request import Requests
from .state import ConnectionState, check_transition
from .status import Events, describe
from .subtable import SubscriptionTable
from .trace import make_tracer
from .transport import NatsProtocol
from .wire import DEFAULT_MAX_PAYLOAD, PING, PONG

# A remembered auth error is forgotten once a connection to that server has stayed up this long.
AUTH_ERROR_RESET_AFTER = 10.0

__all__ = ["Session"]

_CONNECTED = ConnectionState.CONNECTED
_DRAINING = ConnectionState.DRAINING
_RECONNECTING = ConnectionState.RECONNECTING
_CLOSED = ConnectionState.CLOSED


class Session:
    """State, transport and frames of one connection. ``client`` is the object messages answer
    through (``Msg.respond`` publishes on it) and whose ``flush`` a subscription's ``drain``
    awaits; ``set_max_payload`` receives every accepted INFO limit."""

    def __init__(self, options: ConnectOptions, client: Any, set_max_payload: Callable[[int], None]) -> None:
        self.options = options
        loop = self.loop = asyncio.get_running_loop()
        self.pool = ServerPool(list(options.servers), randomize=not options.dont_randomize)
        self.state = ConnectionState.CONNECTING
        self.proto: Optional[NatsProtocol] = None
        self.parser = Parser(INBOUND_CONTROL_LINE, INBOUND_MAX_PAYLOAD)
        self.info: dict[str, Any] = {}
        # An asynchronous server error nobody took, raised by the next flush().
        self.pending_error: Optional[BaseException] = None
        self.last_error: Optional[BaseException] = None
        self.reconnects = 0
        self.closed = loop.create_future()
        self._client = self.client = client
        self._set_max_payload = set_max_payload
        set_max_payload(DEFAULT_MAX_PAYLOAD)
        ob = self.outbox = Outbox(loop)
        # Wire trace (protocol.trace): None when off, so each hook costs one `if` per batch.
        self.tracer = ob.tracer = make_tracer(options.trace, options.trace_preview)
        self.events = Events(loop, options, self._current_url)
        ka = self.keepalive = Keepalive(
            loop,
            options.ping_interval,
            options.max_pings_outstanding,
            send_ping=functools.partial(ob.write_now, PING),
            on_stale=self.broken,
            active=lambda: self.state is _CONNECTED or self.state is _DRAINING,
        )
        is_closed = lambda: self.state is _CLOSED  # noqa: E731
        self.table = SubscriptionTable(loop, ob.write_now, client.flush, is_closed, self.report_error)
        self.requests = Requests(loop, options, self.table, ob.write_now)
        self.permissions = PermissionRouter(loop, self.requests, self.table, ka, is_closed, self._keep_error, self.report_error)
        self._dialer = Dialer(loop, options, self._apply_info)
        self._dialer.tracer = self.tracer
        self.reconnector = Reconnector(
            loop,
            options,
            self.pool,
            active=lambda: self.state is _RECONNECTING,
            attempt=self._attempt,
            done=self._after_reconnect,
            give_up=self.finish_close,
            report=self.report_error,
            note=self._note_error,
        )

    def set_state(self, state: ConnectionState) -> None:
        """The one place the state changes."""
        check_transition(self.state, state)
        self.state = state

    # Frames in ---------------------------------------------------------------------------------
    def on_data(self, proto: NatsProtocol, data: bytes) -> None:
        if proto is not self.proto:
            return  # a transport already replaced
        error: Optional[ProtocolError] = None
        try:
            frames = self.parser.feed(data)
        except ProtocolError as err:
            frames = getattr(err, "frames", [])
            error = err
        if self.tracer is not None:
            self.tracer.inbound(frames)
            if error is not None:
                self.tracer.note("in", "PROTOCOL-ERROR", str(error))
        hs = self._dialer.queue
        if hs is not None:
            for f in frames:
                hs.put_nowait(f)
            if error is not None:
                hs.put_nowait(error)
            return
        self.dispatch(frames)
        if error is not None:
            self.report_error(error)
            self.broken(error)

    def dispatch(self, frames: list) -> None:
        subs = self.table.by_sid
        client = self._client
        proto = self.proto
        run: list = []  # consecutive MSGs to one sid: one lookup and one call for all of them
        run_sid = -1
        for f in frames:
            if type(f) is Msg:
                f._client = client
                if f.sid != run_sid:
                    if run:
                        sub = subs.get(run_sid)
                        if sub is not None:
                            sub._deliver_many(run)
                        run = []
                    run_sid = f.sid
                run.append(f)
                continue
            if run:
                sub = subs.get(run_sid)
                if sub is not None:
                    sub._deliver_many(run)
                run = []
                run_sid = -1
            if type(f) is Ping:
                self.outbox.write_now(PONG)
            elif type(f) is Pong:
                self.keepalive.on_pong()
            elif type(f) is Info:
                self._apply_info(f.data)
            elif type(f) is Err:
                self._on_server_error(f.text)
                if self.proto is not proto:
                    # That -ERR ended the transport these frames came from (the server closes
                    # it after a fatal one): what followed it there is moot. A second auth error
                    # in the same read (an expiring JWT) must not count as a failed reconnect.
                    return
        if run:
            sub = subs.get(run_sid)
            if sub is not None:
                sub._deliver_many(run)

    def _on_server_error(self, text: str) -> None:
        err, action = classify_server_error(text)
        if action is ErrAction.ROUTE:
            self.permissions.route(err)  # type: ignore[arg-type]
            return
        self.report_error(err)
        if action is ErrAction.KEEP:
            self.pending_error = err
            return
        # ErrAction.CLOSE: the server closes the connection after it; treat it as lost now.
        retry = True
        server = self.pool.current
        if isinstance(err, AuthorizationError) and server is not None:
            # The same auth error twice in a row from one server: give up (nats.go lastErr). A
            # connection that stayed up AUTH_ERROR_RESET_AFTER seconds first makes it a new
            # incident (credentials revoked and renewed much later). One that fails at once
            # again (an expired JWT accepted in its last second) does not: no reconnect storm.
            lived = time.monotonic() - server.connected_at
            retry = server.last_auth_error != err.text or lived >= AUTH_ERROR_RESET_AFTER
            server.last_auth_error = err.text
        self.broken(err, reconnect=retry)

    def _apply_info(self, info: dict[str, Any], initial: bool = False) -> None:
        """Apply an INFO: limits (``handshake`` docstring), discovered servers, lame duck mode.

        An INFO with an invalid ``max_payload`` is refused whole: during the handshake by raising
        :class:`ProtocolError`; afterwards by reporting it and treating the connection as broken,
        since the server's real limit is then unknown.
        """
        try:
            mp = outbound_limit(info)
        except ProtocolError as err:
            if initial or self._dialer.queue is not None:
                raise
            self.report_error(err)
            self.broken(err)
            return
        was_ldm = bool(self.info.get("ldm")) and not initial
        # The handshake's INFO replaces; a later (asynchronous) INFO only updates: it omits what
        # did not change, such as the ``nonce`` (ADR-5 of the client protocol).
        self.info = info if initial else {**self.info, **info}
        self._set_max_payload(mp)
        self.parser.max_payload = inbound_cap(self.options.max_inbound_frame, mp)
        urls = info.get("connect_urls")
        if urls:
            self.pool.add_discovered(urls)
        if info.get("ldm") and not initial and not was_ldm:  # once per connection (ADR-5)
            self.events.emit("lame_duck")
            if self.options.lame_duck_leave and len(self.pool.servers) > 1:
                self.loop.create_task(leave_lame_duck(self, self.proto))

    # Errors and events -------------------------------------------------------------------------
    def _current_url(self) -> str:
        cur = self.pool.current
        return cur.url if cur else ""

    def report_error(self, err: BaseException) -> None:
        self.last_error = err
        self.events.emit("error", err)

    def _note_error(self, err: BaseException) -> None:
        self.last_error = err

    def _keep_error(self, err: BaseException) -> None:
        self.pending_error = err

    # Connecting, losing and regaining the transport -------------------------------------------
    async def connect_initial(self) -> None:
        """Walk the pool once; the first server whose handshake completes is the connection."""
        errors: list[str] = []
        protocol_errors: list[ProtocolError] = []
        for server in self.pool.next_candidates():
            try:
                await self._connect_to(server)
                self._open()
                self.events.emit("connected")
                return
            except (AuthorizationError, TLSError):
                self.set_state(_CLOSED)
                raise
            except (OSError, asyncio.TimeoutError, NatsError) as err:
                errors.append(f"{server.url}: {describe(err)}")
                if isinstance(err, ProtocolError):
                    protocol_errors.append(err)
        self.set_state(_CLOSED)
        if protocol_errors and len(protocol_errors) == len(errors):
            # Every server answered, but not in the protocol (a bad INFO, an oversized frame):
            # a ProtocolError, and still the NoServersError callers already catch.
            raise ConnectProtocolError("could not connect: " + "; ".join(errors)) from protocol_errors[-1]
        raise NoServersError("could not connect to any server: " + "; ".join(errors))

    async def _connect_to(self, server: ServerAddr, restore: list[bytes] | tuple = ()) -> None:
        """A new parser and transport adapter, then the handshake (``Dialer``). Raises on failure."""
        self.pool.current = server
        self.parser = Parser(INBOUND_CONTROL_LINE, self.options.max_inbound_frame)
        proto = NatsProtocol(self.loop, self.on_data, self._on_connection_lost, self._on_pause, self._on_resume)
        self.proto = proto
        try:
            leftover = await self._dialer.handshake(server, proto, restore)
        except BaseException:
            self.proto = None
            raise
        # Keepalive waiters queued while reconnecting (flush() calls) stay: their PINGs are in
        # the outbox and are answered after it is flushed.
        self.keepalive.start()
        if leftover:
            self.loop.call_soon(self.dispatch, leftover)
        if proto.lost.done():
            # The server closed right after the PONG (connection_lost was ignored during the
            # handshake): handle it once the caller has marked the connection as connected.
            self.loop.call_soon(self._on_connection_lost, proto, proto.lost.result())

    def _open(self) -> None:
        """The handshake completed: the outbox may write to the transport."""
        assert self.proto is not None
        self.outbox.transport = self.proto.transport
        self.set_state(_CONNECTED)

    async def _attempt(self, server: ServerAddr) -> None:
        """One reconnect attempt: live subscriptions are replayed inside the handshake."""
        await self._connect_to(server, self.table.restore_ops())

    def _after_reconnect(self) -> None:
        """Subscriptions were restored in the handshake: flush what was buffered meanwhile."""
        self._open()
        self.reconnects += 1
        self.outbox.flush()
        self.events.emit("reconnected")

    def _on_connection_lost(self, proto: NatsProtocol, exc: Optional[BaseException]) -> None:
        if proto is not self.proto or self._dialer.queue is not None:
            return
        self.broken(exc or ConnectionClosedError("server closed the connection"))

    def _on_pause(self, proto: NatsProtocol) -> None:
        if proto is self.proto:
            self.outbox.pause()

    def _on_resume(self, proto: NatsProtocol) -> None:
        if proto is self.proto:
            self.outbox.resume()

    def broken(self, err: BaseException, reconnect: bool = True) -> None:
        """The one place a broken transport is handled: abort it, fail what waited on it (PONG
        waiters, pending requests, paused publishers), then reconnect if allowed, else close."""
        if self.state is _CLOSED or self.state is _RECONNECTING:
            return
        proto, self.proto = self.proto, None
        if proto is not None and proto.transport is not None:
            proto.transport.abort()
        self.keepalive.stop()
        lost = ConnectionClosedError(f"connection lost: {describe(err)}")
        self.keepalive.fail_all(lost)
        self.outbox.detach()
        self.requests.fail_all(lost)
        self.events.emit("disconnected", err)
        if reconnect and self.options.allow_reconnect and self.state is _CONNECTED:
            self.set_state(_RECONNECTING)
            self.reconnector.start()
        else:
            self.loop.create_task(self.finish_close(err))

    async def finish_close(self, err: Optional[BaseException]) -> None:
        """Close for good: write what is queued if connected, fail every waiter, end every
        subscription, close the transport, emit ``closed``."""
        if self.state is _CLOSED:
            return
        was_connected = self.state is _CONNECTED or self.state is _DRAINING
        self.set_state(_CLOSED)
        self.keepalive.stop()
        task = self.reconnector.task
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
        transport = self.outbox.close(write_through=was_connected)
        proto, self.proto = self.proto, None
        if transport is None and proto is not None:
            transport = proto.transport  # a reconnect handshake in progress
        closed = ConnectionClosedError("connection closed" + (f": {describe(err)}" if err else ""))
        self.keepalive.fail_all(closed)
        self.requests.fail_all(closed)
        self.table.finish_all(err if err is not None and not isinstance(err, ConnectionClosedError) else None)
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
        self.events.emit("closed", err)
        if not self.closed.done():
            self.closed.set_result(None)
