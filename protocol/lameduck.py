"""Leaving a server in lame duck mode (an INFO with ``ldm``) before it evicts the client.

:func:`leave_lame_duck` is started by the session once per connection when the server announces
lame duck mode and another server is known. After a random pause (spreading a server's clients
over :data:`LAME_DUCK_LEAVE_JITTER`), it waits (bounded by :data:`LAME_DUCK_QUIET_WAIT`) until no
request awaits a reply and everything written has been processed (a flush), then breaks the
transport on purpose: the reconnect tries the lame-duck server last. It takes the session as a
duck-typed object and imports nothing of it.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from .errors import ConnectionClosedError, NatsError
from .state import ConnectionState

__all__ = ["LAME_DUCK_LEAVE_JITTER", "LAME_DUCK_QUIET_WAIT", "leave_lame_duck"]

# The server's grace period before it starts evicting is 10 s by default.
LAME_DUCK_LEAVE_JITTER = 1.0
LAME_DUCK_QUIET_WAIT = 2.0


async def leave_lame_duck(session: Any, proto: Any) -> None:
    """Move ``session`` off the transport ``proto`` of a lame-duck server (see the module)."""
    loop = session.loop
    await asyncio.sleep(random.uniform(0, LAME_DUCK_LEAVE_JITTER))
    deadline = loop.time() + LAME_DUCK_QUIET_WAIT
    mux = session.requests.mux
    while mux is not None and mux.futures and loop.time() < deadline and session.proto is proto:
        await asyncio.sleep(0.01)
    if session.proto is not proto or session.state is not ConnectionState.CONNECTED:
        return
    try:
        await session.client.flush(timeout=LAME_DUCK_QUIET_WAIT)
    except NatsError:
        return  # the connection broke meanwhile: the reconnect is under way already
    if session.proto is proto and session.state is ConnectionState.CONNECTED:
        session.broken(ConnectionClosedError("server is in lame duck mode: moving to another server"))
