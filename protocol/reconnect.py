"""``Reconnector``: getting a lost connection back.

Rule: this module owns the reconnect task and the walk over the server pool (configured wait,
jitter and per-server attempt limit, as nats.go doReconnect); it never touches a transport,
the outbox or a subscription itself. Each attempt is ``attempt(server)`` (``Connection`` runs the
handshake with every live subscription replayed inside it, so once its PONG arrives the server
has them all); on success ``done()`` (``Connection`` flushes what was published meanwhile); when
attempts are exhausted, or one server gives the same auth error twice in a row (nats.go
lastErr), ``give_up(err)`` closes. Losing the transport is ``Connection._connection_broken``'s
job; the bound on the reconnect buffer is enforced in ``Connection.publish``.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any, Awaitable, Callable, Optional

from .errors import AuthorizationError, NatsError, NoServersError
from .options import ServerAddr, ServerPool

__all__ = ["Reconnector"]


class Reconnector:
    """Runs one reconnect loop at a time; ``task`` is the running (or last) loop."""

    __slots__ = ("task", "_loop", "_options", "_pool", "_active", "_attempt", "_done", "_give_up", "_report", "_note")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        options: Any,
        pool: ServerPool,
        *,
        active: Callable[[], bool],
        attempt: Callable[[ServerAddr], Awaitable[None]],
        done: Callable[[], None],
        give_up: Callable[[BaseException], Awaitable[None]],
        report: Callable[[BaseException], None],
        note: Callable[[BaseException], None],
    ) -> None:
        self.task: Optional[asyncio.Task] = None
        self._loop = loop
        self._options = options
        self._pool = pool
        self._active = active  # still reconnecting (close() may have been called meanwhile)
        self._attempt = attempt
        self._done = done
        self._give_up = give_up
        self._report = report  # an error worth an ``error`` event (auth)
        self._note = note  # an error only remembered as ``last_error``

    def start(self) -> None:
        self.task = self._loop.create_task(self._run())

    async def _run(self) -> None:
        opts = self._options
        while self._active():
            candidates = [
                s
                for s in self._pool.next_candidates()
                if opts.max_reconnect_attempts < 0 or s.reconnects < opts.max_reconnect_attempts
            ]
            if not candidates:
                await self._give_up(NoServersError("reconnect attempts exhausted"))
                return
            for server in candidates:
                if not self._active():
                    return
                elapsed = time.monotonic() - server.last_attempt
                jitter = opts.reconnect_jitter_tls if server.tls or opts.wants_tls() else opts.reconnect_jitter
                wait = opts.reconnect_time_wait - elapsed
                if wait > 0:
                    await asyncio.sleep(wait + random.uniform(0, jitter))
                if not self._active():
                    return
                server.reconnects += 1
                try:
                    await self._attempt(server)
                except AuthorizationError as err:
                    self._report(err)
                    if server.last_auth_error == err.text:
                        await self._give_up(err)
                        return
                    server.last_auth_error = err.text
                    continue
                except (OSError, asyncio.TimeoutError, NatsError) as err:
                    self._note(err)
                    continue
                self._done()
                return
