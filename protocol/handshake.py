"""``Dialer``: opening a transport and the INFO / TLS / CONNECT / PING-PONG handshake; INFO limits.

Rule: everything up to the handshake PONG happens here; nothing here runs once a connection is
established, and nothing here changes the connection's state (``Connection`` does, once the
handshake returned). While ``Dialer.queue`` is set, ``Connection._on_data`` routes frames to it
instead of dispatching them. TLS is either TLS-first (``tls_handshake_first``) or an upgrade with
``loop.start_tls`` after INFO; TLS failures become :class:`TLSError` naming the server and the
reason. Used by the first connect and by every reconnect attempt.

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
from typing import Any, Callable, Optional, Sequence

from . import auth
from .encoder import encode_connect
from .errors import ConnectError, ErrAction, NatsTimeoutError, ProtocolError, TLSError, classify_server_error
from .frames import Err, Info, Ok, Ping, Pong
from .options import ServerAddr
from .status import describe
from .transport import NatsProtocol
from .wire import CLIENT_LANG, CLIENT_VERSION, DEFAULT_MAX_PAYLOAD, PING, PONG

__all__ = ["Dialer", "MAX_PAYLOAD_BOUND", "INBOUND_CONTROL_LINE", "INBOUND_MAX_PAYLOAD", "inbound_cap", "outbound_limit"]

# What we *receive* may be longer than the 4096 we may send: a MSG line repeats a 4090-byte
# subject plus sid (and JetStream adds a long ack reply), and a big cluster's INFO lists many
# connect_urls. nats.go does not limit these at all; we bound them generously.
INBOUND_CONTROL_LINE = 64 * 1024
# The server's max_payload limits what clients publish; replies the server builds itself (a
# STREAM.INFO with many subjects, a STREAM.LIST page) can be larger. Incoming frames are bounded
# by the max_inbound_frame option instead (this is its default), so memory stays bounded without
# killing the connection on a big API reply.
INBOUND_MAX_PAYLOAD = 64 * 1024 * 1024
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


class Dialer:
    """Opens a transport to one server and runs the handshake on it. While ``queue`` is set (a
    handshake is running) ``Connection._on_data`` puts the parsed frames there instead of
    dispatching them. ``apply_info(data, initial)`` is the connection's INFO handler."""

    __slots__ = ("queue", "tracer", "_loop", "_options", "_apply_info")

    def __init__(self, loop: asyncio.AbstractEventLoop, options: Any, apply_info: Callable[[dict, bool], None]) -> None:
        self.queue: Optional[asyncio.Queue] = None
        self.tracer: Any = None  # a protocol.trace.Tracer while tracing (set by the session)
        self._loop = loop
        self._options = options
        self._apply_info = apply_info

    async def handshake(self, server: ServerAddr, proto: NatsProtocol, restore: Sequence[bytes] = ()) -> list:
        """Connect ``proto`` to ``server`` and complete the handshake; return the frames that
        arrived during it but are not part of it, in order. Raises on failure (the transport is
        aborted).

        ``restore`` (SUB/UNSUB ops of a reconnect) is written between CONNECT and the handshake
        PING, so once the PONG arrives the server has applied every subscription.
        """
        opts = self._options
        loop = self._loop
        server.last_attempt = time.monotonic()
        queue = self.queue = asyncio.Queue()
        tls_wanted = server.tls or opts.wants_tls()
        hostname = opts.tls_hostname or server.host
        ssl_ctx: Optional[ssl.SSLContext] = None
        if tls_wanted:
            ssl_ctx = self._ssl_context()
        timeout = opts.connect_timeout
        try:
            try:
                if ssl_ctx is not None and opts.tls_handshake_first:
                    await asyncio.wait_for(
                        loop.create_connection(lambda: proto, server.host, server.port, ssl=ssl_ctx, server_hostname=hostname),
                        timeout,
                    )
                else:
                    await asyncio.wait_for(loop.create_connection(lambda: proto, server.host, server.port), timeout)
            except ssl.SSLError as err:
                raise _tls_error(server, err) from err
            info = await self._next_frame(proto, server, timeout)
            if not isinstance(info, Info):
                raise ProtocolError(f"expected INFO first, got {info!r}")
            self._apply_info(info.data, True)
            if info.data.get("tls_required") or tls_wanted:
                if ssl_ctx is None:
                    ssl_ctx = self._ssl_context()
                if not opts.tls_handshake_first:
                    if not (info.data.get("tls_required") or info.data.get("tls_available")):
                        raise TLSError(f"TLS was asked for but {server.url} does not offer it")
                    try:
                        new_transport = await asyncio.wait_for(
                            loop.start_tls(proto.transport, proto, ssl_ctx, server_hostname=hostname),
                            timeout,
                        )
                    except ssl.SSLError as err:
                        raise _tls_error(server, err) from err
                    proto.transport = new_transport  # type: ignore[assignment]
            connect = self._connect_json(server, info.data)
            transport = proto.transport
            assert transport is not None
            first = [encode_connect(connect), *restore, PING]
            transport.writelines(first)
            if self.tracer is not None:
                self.tracer.outbound(first)
            # Frames that are not part of the handshake (messages for restored subscriptions,
            # a permission error for one of them) are kept, in order, and dispatched after it.
            leftover: list = []
            while True:
                frame = await self._next_frame(proto, server, timeout)
                if isinstance(frame, Pong):
                    break
                if isinstance(frame, Err):
                    err, action = classify_server_error(frame.text)
                    if action is not ErrAction.ROUTE:
                        raise err
                    leftover.append(frame)
                elif isinstance(frame, Info):
                    self._apply_info(frame.data, False)
                elif isinstance(frame, Ping):
                    transport.write(PONG)
                    if self.tracer is not None:
                        self.tracer.outbound([PONG])
                elif not isinstance(frame, Ok):
                    leftover.append(frame)
            while not queue.empty():
                frame = queue.get_nowait()
                if isinstance(frame, BaseException):
                    raise frame
                leftover.append(frame)
        except BaseException:
            self.queue = None
            if proto.transport is not None:
                proto.transport.abort()
            raise
        self.queue = None
        server.reconnects = 0
        server.connected_at = time.monotonic()
        return leftover

    def _ssl_context(self) -> ssl.SSLContext:
        try:
            return self._options.ssl_context()
        except (OSError, ssl.SSLError) as err:
            raise TLSError(f"cannot load TLS files: {err}") from err

    async def _next_frame(self, proto: NatsProtocol, server: ServerAddr, timeout: float) -> Any:
        q = self.queue
        assert q is not None
        getter = asyncio.ensure_future(q.get())
        lost = proto.lost
        done, _ = await asyncio.wait({getter, lost}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            frame = getter.result()
            if isinstance(frame, BaseException):
                raise frame
            return frame
        getter.cancel()
        if lost in done:
            exc = lost.result()
            if isinstance(exc, ssl.SSLError):
                # TLS 1.3: a rejected client certificate shows up after our side finished.
                raise _tls_error(server, exc) from exc
            raise ConnectError(f"connection closed during handshake{': ' + describe(exc) if exc else ''}")
        raise NatsTimeoutError(f"handshake timed out after {timeout}s")

    def _connect_json(self, server: ServerAddr, info: dict[str, Any]) -> dict[str, Any]:
        opts = self._options
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
            # no_responders requires headers, else the server refuses CONNECT (wire.md, ADR-40).
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
