"""Connecting: opening a transport and the INFO / TLS / CONNECT / PING-PONG handshake.

Rule: everything up to the handshake PONG happens here; nothing here runs once a connection is
established, except ``_apply_info`` for INFO updates. ``_HandshakeMixin`` is mixed into
:class:`Connection` and works on its state (``_pool``, ``_parser``, ``_proto``, ``_transport``,
``_handshake``); while ``_handshake`` is a queue, ``Connection._on_data`` routes frames to it
instead of dispatching them. TLS is either TLS-first (``tls_handshake_first``) or an upgrade with
``loop.start_tls`` after INFO; TLS failures become :class:`TLSError` naming the server and the
reason. Used by the first connect (``_connect_initial``) and by ``reconnect``.
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
from .wire import CLIENT_LANG, CLIENT_VERSION, PING, PONG

__all__ = ["_HandshakeMixin"]

# What we *receive* may be longer than the 4096 we may send: a MSG line repeats a 4090-byte
# subject plus sid (and JetStream adds a long ack reply), and a big cluster's INFO lists many
# connect_urls. nats.go does not limit these at all; we bound them generously.
_INBOUND_CONTROL_LINE = 64 * 1024
# The server's max_payload limits what clients publish; replies the server builds itself (a
# STREAM.INFO with many subjects, a STREAM.LIST page) can be larger. Incoming frames are bounded
# by this instead, so memory stays bounded without killing the connection on a big API reply.
_INBOUND_MAX_PAYLOAD = 64 * 1024 * 1024


class _HandshakeMixin:
    """The connecting part of :class:`Connection`."""

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
