"""``DeletionWatch``: an ordered consumer's subscription to its stream's consumer-deleted advisories.

The server sends nothing on a push consumer's deliver subject when the consumer is deleted (by the
API or for inactivity); it does publish ``$JS.EVENT.ADVISORY.CONSUMER.DELETED.<stream>.<consumer>``.
When that names the consumer currently in use, the watch calls ``on_deleted`` (the ordered consumer
ends that consumer's subscription, so its iterator re-creates it at once instead of after two
missed heartbeats). Where advisories are not visible (another account's JetStream, no permission
to subscribe), nothing happens and the heartbeat rule still applies. Not on the per-message path.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Optional

from protocol import NatsError

from . import subjects as subj

__all__ = ["DeletionWatch"]


class DeletionWatch:
    """``await watch.start(nc, stream)`` subscribes; ``current()`` names the consumer in use;
    ``seen`` counts the advisories that named it; ``await watch.stop()`` unsubscribes."""

    __slots__ = ("seen", "_current", "_on_deleted", "_sub", "_task")

    def __init__(self, current: Callable[[], str], on_deleted: Callable[[], Awaitable[None]]) -> None:
        self.seen = 0
        self._current = current
        self._on_deleted = on_deleted
        self._sub: Any = None
        self._task: Optional[asyncio.Task] = None

    async def start(self, nc: Any, stream: str) -> None:
        try:
            self._sub = await nc.subscribe(subj.consumer_deleted_advisory(stream))
        except NatsError:
            return
        self._task = asyncio.get_running_loop().create_task(self._run(self._sub))

    async def _run(self, sub: Any) -> None:
        try:
            async for msg in sub:
                if msg.subject.rpartition(".")[2] == self._current():
                    self.seen += 1
                    await self._on_deleted()
        except (NatsError, asyncio.CancelledError):
            pass

    async def stop(self, nc: Any) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
        sub, self._sub = self._sub, None
        if sub is not None and not nc.is_closed:
            try:
                await sub.unsubscribe()
            except NatsError:
                pass
