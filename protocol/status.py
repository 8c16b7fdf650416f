"""Connection state and status events: ``ConnectionState``, ``StatusEvent``, ``_EventStream``.

Rule: this module only describes; it never changes a connection. ``Connection._emit`` builds a
``StatusEvent`` and puts it on every listener queue; ``Connection.events()`` returns an
``_EventStream``, an async iterator over one such queue that ends after ``closed``. Also home of
``_describe``, the one-line rendering of an error used in event and exception texts.
"""

from __future__ import annotations

import asyncio
import enum
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["ConnectionState", "StatusEvent"]


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


class _EventStream:
    """Registered at creation, so no event between ``events()`` and the first ``anext`` is lost."""

    def __init__(self, conn: "Connection") -> None:
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


def _describe(err: Optional[BaseException]) -> str:
    if err is None:
        return "unknown"
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
