"""Losing the connection and getting it back: ``_ReconnectMixin``.

Rule: a broken transport is handled in one place, ``_connection_broken``: it aborts the transport,
fails what waited on it (PONG waiters, pending requests, paused publishers) and then either
starts ``_reconnect`` or closes. ``_reconnect`` walks the server pool with the configured wait,
jitter and per-server attempt limit, replays every live subscription inside the new handshake
(``_restore_ops``, so once the handshake PONG arrives the server has them all) and then flushes
what was published meanwhile. The bound on that buffer (``reconnect_buf_size``) is enforced in
``Connection.publish``, which must stay one function. Mixed into :class:`Connection`.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Optional

from .encoder import encode_sub, encode_unsub
from .errors import AuthorizationError, ConnectionClosedError, NatsError, NoServersError
from .status import ConnectionState, _describe
from .transport import _NatsProtocol
from .wire import PING

__all__ = ["_ReconnectMixin"]


class _ReconnectMixin:
    """The losing-and-regaining part of :class:`Connection`."""

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
