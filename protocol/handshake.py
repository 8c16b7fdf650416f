"""Connecting: opening a transport and the INFO / TLS / CONNECT / PING-PONG handshake.

Rule: everything up to the handshake PONG happens here; nothing here runs once a connection is
established, except ``_apply_info`` for INFO updates. ``_HandshakeMixin`` is mixed into
:class:`Connection` and works on its state (``_pool``, ``_parser``, ``_proto``, ``_transport``,
``_handshake``); while ``_handshake`` is a queue, ``Connection._on_data`` routes frames to it
instead of dispatching them. TLS is either TLS-first (``tls_handshake_first``) or an upgrade with
``loop.start_tls`` after INFO; TLS failures become :class:`TLSError` naming the server and the
reason. Used by the first connect (``_connect_initial``) and by ``reconnect``.

Limits from INFO (issue 10 point 5: a buggy or hostile server cannot exhaust the client). Every
INFO, the first and any later one, goes through :func:`outbound_limit` and :func:`inbound_cap`:

- ``max_payload`` (what we may *publish*, headers included): missing -> the protocol default
  1 MiB (``wire.DEFAULT_MAX_PAYLOAD``, nats-server const.go ``MAX_PAYLOAD_SIZE``); zero,
  negative or not an integer (bool, float, string, null, ...) -> :class:`ProtocolError`;
  above 64 MiB (nats-server's own hard limit, const.go ``MAX_PAYLOAD_MAX_SIZE``) -> clamped to
  64 MiB. During the handshake the error fails the connect (like any protocol error); in a
  later asynchronous INFO the whole INFO is refused (nothing of it is applied), the error is
  reported (``error`` event) and the connection is treated as broken (reconnect per options).
- The inbound frame cap (the largest MSG/HMSG size the parser accepts): the
  ``max_inbound_frame`` option (default 64 MiB), lowered by INFO to
  ``max(max_payload + 64 KiB, max_inbound_frame // 2)`` and never raised above the option.
  ``max_payload`` bounds what *clients* publish, so a message delivered to us is at most that
  plus the headers JetStream adds (``Nats-Stream``, ``Nats-Subject``...: the 64 KiB slack). But
  replies the server builds itself (a STREAM.INFO page of 100,000 subjects, a STREAM.LIST page)
  are not bounded by ``max_payload`` at all: hence the floor of half the option, which a small
  ``max_payload`` cannot push the cap below. An announced size above the cap is a
  :class:`ProtocolError` before any of the body is buffered (the parser checks the control line).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any, Optional, Sequence

from . import auth
from .encoder import encode_connect
from .errors import (
    AuthorizationError,
    ConnectError,
    ConnectProtocolError,
    NatsError,
    NatsTimeoutError,
    NoServersError,
    PermissionViolationError,
    ProtocolError,
    TLSError,
    error_from_server_text,
)
from .frames import Err, Info, Ok, Ping, Pong
from .options import ServerAddr
from .parser import Parser
from .status import ConnectionState, _describe
from .transport import _NatsProtocol
from .wire import CLIENT_LANG, CLIENT_VERSION, DEFAULT_MAX_PAYLOAD, PING, PONG

__all__ = ["_HandshakeMixin", "MAX_PAYLOAD_BOUND", "inbound_cap", "outbound_limit"]

# What we *receive* may be longer than the 4096 we may send: a MSG line repeats a 4090-byte
# subject plus sid (and JetStream adds a long ack reply), and a big cluster's INFO lists many
# connect_urls. nats.go does not limit these at all; we bound them generously.
_INBOUND_CONTROL_LINE = 64 * 1024
# The server's max_payload limits what clients publish; replies the server builds itself (a
# STREAM.INFO with many subjects, a STREAM.LIST page) can be larger. Incoming frames are bounded
# by the max_inbound_frame option instead (this is its default), so memory stays bounded without
# killing the connection on a big API reply.
_INBOUND_MAX_PAYLOAD = 64 * 1024 * 1024
# nats-server refuses a configured max_payload above this (const.go MAX_PAYLOAD_MAX_SIZE); a
# larger announced value is clamped to it.
MAX_PAYLOAD_BOUND = 64 * 1024 * 1024
# Headers JetStream adds to a stored message on delivery (Nats-Stream, Nats-Subject with a
# subject of up to the 4 KiB control line, Nats-Sequence, Nats-Time-Stamp, ...).
_INBOUND_HEADER_SLACK = 64 * 1024


def outbound_limit(info: dict[str, Any]) -> int:
    """The ``max_payload`` to enforce on publishes, from an INFO (see the module docstring).

    Missing -> 1 MiB; above 64 MiB -> 64 MiB; zero, negative or not an ``int`` (``bool`` is
    not one here, nor is ``1048576.0``) -> :class:`ProtocolError`.
    """
    if "max_payload" not in info:
        return DEFAULT_MAX_PAYLOAD
    mp = info["max_payload"]
    if type(mp) is not int:
        raise ProtocolError(f"server INFO has a max_payload that is not an integer: {mp!r:.40}")
    if mp <= 0:
        raise ProtocolError(f"server INFO has a max_payload of {mp}: it must be positive")
    return min(mp, MAX_PAYLOAD_BOUND)


def inbound_cap(max_inbound_frame: int, max_payload: int) -> int:
    """The largest MSG/HMSG the parser accepts: the option, lowered by the server's
    ``max_payload`` (plus header slack) but never below half the option (server-built replies
    are not bounded by ``max_payload``), and never above the option."""
    return min(max_inbound_frame, max(max_payload + _INBOUND_HEADER_SLACK, max_inbound_frame // 2))


class _HandshakeMixin:
    """The connecting part of :class:`Connection`."""

    async def _connect_initial(self) -> None:
        errors: list[str] = []
        protocol_errors: list[ProtocolError] = []
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
                if isinstance(err, ProtocolError):
                    protocol_errors.append(err)
        self._state = ConnectionState.CLOSED
        if protocol_errors and len(protocol_errors) == len(errors):
            # Every server answered, but not in the protocol (a bad INFO, an oversized frame):
            # a ProtocolError, and still the NoServersError callers already catch.
            raise ConnectProtocolError("could not connect: " + "; ".join(errors)) from protocol_errors[-1]
        raise NoServersError("could not connect to any server: " + "; ".join(errors))

    async def _connect_to(self, server: ServerAddr, restore: Sequence[bytes] = ()) -> None:
        """Open a transport to ``server`` and complete the handshake. Raises on failure.

        ``restore`` (SUB/UNSUB ops of a reconnect) is written between CONNECT and the handshake
        PING, so once the PONG arrives the server has applied every subscription.
        """
        opts = self.options
        server.last_attempt = time.monotonic()
        self._pool.current = server
        self._parser = Parser(_INBOUND_CONTROL_LINE, opts.max_inbound_frame)
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
        """Apply an INFO: limits (module docstring), discovered servers, lame duck mode.

        An INFO with an invalid ``max_payload`` is refused whole: during the handshake by raising
        :class:`ProtocolError`; afterwards (``_dispatch``) by reporting it and treating the
        connection as broken, since the server's real limit is then unknown.
        """
        try:
            mp = outbound_limit(info)
        except ProtocolError as err:
            if initial or self._handshake is not None:
                raise
            self._report_error(err)
            self._connection_broken(err)
            return
        was_ldm = bool(self._info.get("ldm")) and not initial
        self._info = info
        self.max_payload = mp
        self._parser.max_payload = inbound_cap(self.options.max_inbound_frame, mp)
        urls = info.get("connect_urls")
        if urls:
            self._pool.add_discovered(urls)
        if info.get("ldm") and not initial and not was_ldm:  # once per connection
            self._emit("lame_duck")


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
