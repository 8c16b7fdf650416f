"""``ObjectWatcher``: the bucket's object infos as an async iterator, built on ``jetstream``'s
ordered consumer over the meta subjects (``$O.<bucket>.M.>``).

It yields the latest info per object (or every stored entry, or only updates), marks the end of
the initial entries (``initial()`` stops there, ``updates()`` returns ``None`` once), and keeps
going with updates. Stopping it (``stop()`` or leaving ``async with``) ends iteration.
``ObjectStore.watch()`` and ``ObjectStore.list()`` are built on it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, AsyncIterator, Optional

from jetstream import MessageNotFoundError, OrderedConsumer
from protocol import NatsTimeoutError

from .errors import BadObjectMetaError
from .models import ObjectInfo, parse_meta
from .subjects import all_meta

if TYPE_CHECKING:
    from .store import ObjectStore

__all__ = ["ObjectWatcher"]


class ObjectWatcher:
    """Async iterator of :class:`ObjectInfo` over the bucket's meta subjects.

    ``initial()`` yields the current entries and stops at the end of the backlog; iterating the
    watcher itself goes on with updates. ``updates(timeout)`` is the nats-py style call: it
    returns ``None`` once when the initial entries are done (never in ``updates_only`` mode),
    also when the last initial entry was skipped (``ignore_deletes``).

    The end of the backlog: on a single-replica bucket the consumer's pending count is exact.
    On a replicated one the (R1, ephemeral) consumer may run on a follower that lags behind the
    leader, so its pending count can reach 0 early; the backlog ends there only once the entry
    with the leader's last meta sequence (read at start, re-read when pending says 0) was seen.
    """

    def __init__(self, store: "ObjectStore", *, include_history: bool = False, ignore_deletes: bool = False, updates_only: bool = False) -> None:
        self._store = store
        self.ignore_deletes = ignore_deletes
        self.updates_only = updates_only
        policy = "new" if updates_only else ("all" if include_history else "last_per_subject")
        self._oc = OrderedConsumer(store._js, store.stream_name, filter_subject=all_meta(store.bucket), deliver_policy=policy)
        self.init_done = updates_only
        self._marker_sent = updates_only
        self._started = False
        self._last_seq = 0  # leader's last meta sequence when the watch started (replicated buckets)
        self._next_task: Optional[asyncio.Task] = None

    async def _start(self) -> None:
        if self._started:
            return
        self._started = True
        replicated = self._store.replicas > 1
        if replicated and not self.updates_only:
            self._last_seq = await self._leader_last_seq()
        await self._oc.start()
        if not self.updates_only and self._oc.num_pending == 0:
            if not replicated or self._last_seq == 0:
                self.init_done = True

    async def _leader_last_seq(self) -> int:
        store = self._store
        try:
            stored = await store._js.get_msg(store.stream_name, last_by_subj=all_meta(store.bucket))
        except MessageNotFoundError:
            return 0
        return stored.seq

    async def _track(self, stream_seq: int, num_pending: int) -> None:
        """Update ``init_done`` for one delivered message."""
        if self.init_done:
            return
        if self._store.replicas == 1:
            if num_pending == 0:
                self.init_done = True
            return
        if stream_seq >= self._last_seq:
            self.init_done = True
        elif num_pending == 0:
            # The follower says "caught up" below the leader's last sequence: re-read it (the
            # last entry may have been purged meanwhile, e.g. by a rename).
            self._last_seq = await self._leader_last_seq()
            if stream_seq >= self._last_seq:
                self.init_done = True

    async def __aenter__(self) -> "ObjectWatcher":
        await self._start()
        return self

    def __await__(self) -> Any:
        """``w = await store.watch()`` (nats-py's form) gives the started watcher."""
        return self.__aenter__().__await__()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    async def stop(self) -> None:
        task, self._next_task = self._next_task, None
        # Closing the consumer first ends a read in progress (its subscription closes), also
        # when a cancellation alone would be lost to a message arriving at the same moment.
        await self._oc.close()
        if task is not None:
            if not task.done():
                task.cancel()
                await asyncio.wait((task,), timeout=2.0)
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: a stopped watch has nothing to report

    def __aiter__(self) -> "ObjectWatcher":
        return self

    async def _next(self) -> Optional[ObjectInfo]:
        """The next entry, or ``None`` once when the initial entries end."""
        await self._start()
        while True:
            if self.init_done and not self._marker_sent:
                self._marker_sent = True
                return None
            msg = await self._oc.__anext__()
            md = msg.metadata
            await self._track(md.stream_seq, md.num_pending)
            try:
                info = parse_meta(msg.data)
            except BadObjectMetaError:
                continue
            info.mtime = md.timestamp
            if self.ignore_deletes and info.deleted:
                continue
            return info

    async def _take(self, timeout: Optional[float]) -> Optional[ObjectInfo]:
        # The read runs in a task that survives a timeout (it is picked up by the next call), so
        # a timeout never cancels a read half-way and never loses an entry.
        task = self._next_task
        if task is None:
            task = self._next_task = asyncio.get_running_loop().create_task(self._next())
        if timeout is None:
            await asyncio.wait((task,))
        else:
            done, _ = await asyncio.wait((task,), timeout=timeout)
            if not done:
                raise NatsTimeoutError(f"no object update within {timeout}s")
        self._next_task = None
        return task.result()

    async def __anext__(self) -> ObjectInfo:
        while True:
            info = await self._take(None)
            if info is not None:
                return info

    async def initial(self) -> AsyncIterator[ObjectInfo]:
        """The entries present when the watch started, then stop."""
        await self._start()
        while not self.init_done or not self._marker_sent:
            info = await self._take(None)
            if info is None:
                return
            yield info

    async def updates(self, timeout: Optional[float] = 5.0) -> Optional[ObjectInfo]:
        """The next entry; ``None`` once at the end of the initial entries. Raises NatsTimeoutError."""
        return await self._take(timeout)
