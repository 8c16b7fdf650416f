"""Status events: ``StatusEvent``, the ``Events`` part that fans them out, ``EventStream``.

Rule: this module reports; it never changes a connection. ``Events.emit`` builds a
:class:`StatusEvent`, puts it on every listener queue and calls the matching ``*_cb`` option;
``Connection.events()`` returns an :class:`EventStream`, an async iterator over one such queue
that ends after ``closed``. Also home of :func:`describe`, the one-line rendering of an error
used in event and exception texts. ``ConnectionState`` lives in ``state`` (re-exported here).
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional

from .state import ConnectionState

__all__ = ["ConnectionState", "StatusEvent", "Events", "EventStream", "describe"]

# A listener that stops reading gets no more than this many queued events (memory stays bounded).
_LISTENER_QUEUE_MAX = 1024


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


class Events:
    """The listener queues and status callbacks of one connection. ``current_url()`` names the
    server an event is about."""

    __slots__ = ("listeners", "hooks", "_loop", "_options", "_current_url")

    def __init__(self, loop: asyncio.AbstractEventLoop, options: Any, current_url: Callable[[], str]) -> None:
        self.listeners: list[asyncio.Queue] = []
        self.hooks: list[Callable[[StatusEvent], Any]] = []  # called at once (EventStream.sync)
        self._loop = loop
        self._options = options
        self._current_url = current_url

    def emit(self, kind: str, error: Optional[BaseException] = None) -> None:
        event = StatusEvent(kind, self._current_url(), error)
        for q in list(self.listeners):
            if q.qsize() < _LISTENER_QUEUE_MAX:
                q.put_nowait(event)
        for hook in list(self.hooks):
            try:
                hook(event)
            except Exception:  # a hook must not break the connection
                pass
        opts = self._options
        cb = {
            "disconnected": opts.disconnected_cb,
            "reconnected": opts.reconnected_cb,
            "closed": opts.closed_cb,
            "lame_duck": opts.lame_duck_cb,
            "error": opts.error_cb,
        }.get(kind)
        if cb is not None:
            try:
                result = cb(error) if kind == "error" else cb()
                if asyncio.iscoroutine(result):
                    self._loop.create_task(result)
            except Exception:  # a status callback must not break the connection
                pass


class EventStream:
    """Registered at creation, so no event between ``events()`` and the first ``anext`` is lost."""

    def __init__(self, events: Events, is_closed: bool) -> None:
        self._events = events
        self._queue: asyncio.Queue = asyncio.Queue()
        self._hooks: list[Callable[[StatusEvent], Any]] = []
        self._done = False
        if is_closed:
            self._queue.put_nowait(StatusEvent("closed"))
        else:
            events.listeners.append(self._queue)

    def __aiter__(self) -> "EventStream":
        return self

    async def __anext__(self) -> StatusEvent:
        if self._done:
            raise StopAsyncIteration
        event = await self._queue.get()
        if event.kind == "closed":
            self._done = True
            self.close()
        return event

    def sync(self, hook: Callable[[StatusEvent], Any]) -> None:
        """Also call ``hook(event)`` at the moment each event happens, before anything else runs
        (for ``disconnected``: before a reconnect replays the buffered messages). It must not
        block; ``close()`` removes it."""
        self._events.hooks.append(hook)
        self._hooks.append(hook)

    def close(self) -> None:
        if self._queue in self._events.listeners:
            self._events.listeners.remove(self._queue)
        for hook in self._hooks:
            if hook in self._events.hooks:
                self._events.hooks.remove(hook)


def describe(err: Optional[BaseException]) -> str:
    """``"TypeName: text"`` (or just the type name) for event and exception texts."""
    if err is None:
        return "unknown"
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
