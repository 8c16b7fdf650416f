"""``ObjectWatcher``: the bucket's object infos as an async iterator, built on ``jetstream``'s
ordered consumer over the meta subjects (``$O.<bucket>.M.>``).

It yields the latest info per object (or every stored entry, or only updates), marks the end of
the initial entries (``initial()`` stops there, ``updates()`` returns ``None`` once), and keeps
going with updates. Stopping it (``stop()`` or leaving ``async with``) ends iteration.
``ObjectStore.watch()`` and ``ObjectStore.list()`` are built on it. It takes the bucket handle
(``bucket.Bucket``), not the store. Must not read object data or write anything.

A meta another client wrote that does not parse never stops a watch (issue 10, point 4): it is
skipped, logged as a warning on the ``objstore`` logger (subject, stream sequence, reason) and
kept in ``bad_entries`` (:class:`~objstore.findings.MalformedMeta`). :func:`scan_latest` is the
one-pass "latest entry per subject" read behind ``list()`` and ``status()``.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
from collections import deque
from typing import Any, AsyncIterator, Callable, Optional

from jetstream import MessageNotFoundError, OrderedConsumer
from protocol import NatsTimeoutError

from .bucket import Bucket
from .errors import BadObjectMetaError
from .findings import MalformedMeta
from .models import ObjectInfo, parse_meta
from .ttl import is_marker
from .subjects import decode_name

__all__ = ["ObjectWatcher", "scan_latest", "BAD_ENTRIES_KEPT"]

log = logging.getLogger("objstore")

BAD_ENTRIES_KEPT = 1000  # the most recent malformed entries a watcher keeps (bad_count counts all)


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
    Such a follower may also deliver an object's older meta and then its newer one: the initial
    entries of a replicated bucket are therefore held until the backlog ends and released as the
    newest entry per object, in stream order. Throughout, an entry older (by stream sequence)
    than one already delivered for the same object is dropped on a replicated bucket (not with
    ``include_history``; a single replica delivers in stream order anyway).
    So ``watch()``, ``list()`` and ``status()`` give one answer: the newest meta per name.

    Malformed metas are skipped: ``bad_entries`` holds the last :data:`BAD_ENTRIES_KEPT` of them
    (:class:`~objstore.findings.MalformedMeta`: subject, seq, error, name decoded from the
    subject), ``bad_count`` counts every one seen, and each is logged as a warning.
    """

    def __init__(self, bucket: Bucket, *, include_history: bool = False, ignore_deletes: bool = False, updates_only: bool = False) -> None:
        self._bucket = bucket
        self.ignore_deletes = ignore_deletes
        self.updates_only = updates_only
        policy = "new" if updates_only else ("all" if include_history else "last_per_subject")
        self._oc = OrderedConsumer(bucket.js, bucket.stream, filter_subject=bucket.all_meta, deliver_policy=policy)
        self.init_done = updates_only
        self._marker_sent = updates_only
        self._history = include_history
        # Newest stream sequence delivered per meta subject: an older version is never yielded
        # after a newer one. Initial entries of a replicated bucket are held until the backlog
        # ends, newest per subject, then released in stream order (``_hold``/``_ready``).
        # Only a replicated bucket's consumer can run on a lagging replica: an R1 stream delivers in
        # stream order, so the check (a dict per entry, a cost on large lists) is skipped there.
        self._newest: Optional[dict[str, int]] = {} if bucket.replicas > 1 and not include_history else None
        self._hold: Optional[dict[str, Any]] = None
        self._ready: deque[ObjectInfo] = deque()
        self._started = False
        self._last_seq = 0  # leader's last meta sequence when the watch started (replicated buckets)
        self._next_task: Optional[asyncio.Task] = None
        self.bad_entries: deque[MalformedMeta] = deque(maxlen=BAD_ENTRIES_KEPT)
        self.bad_count = 0
        self._on_bad: Optional[Callable[[MalformedMeta], None]] = None  # scan_latest's hook
        self._on_gone: Optional[Callable[[str], None]] = None  # scan_latest's hook (markers)

    async def _start(self) -> None:
        if self._started:
            return
        self._started = True
        replicated = self._bucket.replicas > 1
        if replicated and not self.updates_only:
            self._last_seq = await self._leader_last_seq()
        await self._oc.start()
        if not self.updates_only and self._oc.num_pending == 0:
            if not replicated or self._last_seq == 0:
                self.init_done = True
        if replicated and not self.init_done and not self._history:
            self._hold = {}

    async def _leader_last_seq(self) -> int:
        bucket = self._bucket
        try:
            stored = await bucket.js.get_msg(bucket.stream, last_by_subj=bucket.all_meta)
        except MessageNotFoundError:
            return 0
        return stored.seq

    async def _track(self, stream_seq: int, num_pending: int) -> None:
        """Update ``init_done`` for one delivered message."""
        if self.init_done:
            return
        if self._bucket.replicas == 1:
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
        ready = self._ready
        while True:
            if ready:
                return ready.popleft()
            if self.init_done and not self._marker_sent:
                self._marker_sent = True
                return None
            msg = await self._oc.__anext__()
            md = msg.metadata
            seq, subject = md.stream_seq, msg.subject
            await self._track(seq, md.num_pending)
            newest = self._newest
            if newest is not None:
                if newest.get(subject, 0) >= seq:
                    continue  # a lagging replica's older version, after a newer one
                newest[subject] = seq
            if not msg.data and is_marker(msg.headers):  # ADR-43 marker (no payload): the meta was removed
                if self._on_gone is not None:
                    self._on_gone(subject)
                if self._hold is not None:
                    self._hold.pop(subject, None)
                    if self.init_done:
                        self._release_hold()
                continue
            try:
                info = parse_meta(msg.data, md.timestamp)  # mtime: the stored message's time (ADR-20)
            except BadObjectMetaError as err:
                self._skip_bad(subject, seq, err)
                info = None
            hold = self._hold
            if hold is not None:
                hold.pop(subject, None)  # the newest entry per subject, good or bad, wins
                if info is not None:
                    hold[subject] = info
                if self.init_done:
                    self._release_hold()
                continue
            if info is None or (self.ignore_deletes and info.deleted):
                continue
            return info

    def _release_hold(self) -> None:
        hold, self._hold = self._hold or {}, None
        self._ready.extend(i for i in hold.values() if not (self.ignore_deletes and i.deleted))

    def _skip_bad(self, subject: str, seq: int, err: BadObjectMetaError) -> None:
        bad = MalformedMeta(subject=subject, seq=seq, error=str(err), name=_name_of(subject, self._bucket))
        self.bad_count += 1
        self.bad_entries.append(bad)
        log.warning("bucket %r: skipping malformed object meta on %s (stream seq %d): %s", self._bucket.name, subject, seq, err)
        if self._on_bad is not None:
            self._on_bad(bad)

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

    async def _drain_initial(self) -> AsyncIterator[ObjectInfo]:
        """``initial()`` without a task per entry, for :func:`scan_latest` only: a cancelled
        caller may lose the entry being read, which is harmless when the whole scan is dropped.
        (A task and a wait per entry were half the time of ``list()`` on 100,000 objects.)"""
        await self._start()
        if self._next_task is not None:  # a read left by an earlier timeout: take it first
            info = await self._take(None)
            if info is None:
                return
            yield info
        read = self._next
        while not self.init_done or not self._marker_sent:
            info = await read()
            if info is None:
                return
            yield info

    async def updates(self, timeout: Optional[float] = 5.0) -> Optional[ObjectInfo]:
        """The next entry; ``None`` once at the end of the initial entries. Raises NatsTimeoutError."""
        return await self._take(timeout)


def _name_of(subject: str, bucket: Bucket) -> Optional[str]:
    """The object name a meta subject encodes, or ``None`` when the token is not one."""
    prefix = bucket.all_meta[:-1]
    if not subject.startswith(prefix):
        return None
    try:
        return decode_name(subject[len(prefix) :])
    except (ValueError, binascii.Error):  # UnicodeDecodeError is a ValueError
        return None


async def scan_latest(bucket: Bucket) -> tuple[list[ObjectInfo], list[MalformedMeta]]:
    """The latest entry of every meta subject, in one pass: the good ones as infos and the
    malformed ones. Keyed by subject, the last entry wins whether it parses or not: a replicated
    bucket's consumer may run on a lagging follower and deliver an older version of a meta before
    its newest one, and a good old version must not stand in for a newest one that is bad."""
    latest: dict[str, Any] = {}

    def put(subject: str, entry: Any) -> None:
        latest.pop(subject, None)
        latest[subject] = entry

    async with ObjectWatcher(bucket) as w:
        w._on_bad = lambda bad: put(bad.subject, bad)
        w._on_gone = lambda subject: latest.pop(subject, None)
        async for info in w._drain_initial():
            put(bucket.meta_subject(info.name), info)
    infos = [e for e in latest.values() if isinstance(e, ObjectInfo)]
    bad = [e for e in latest.values() if isinstance(e, MalformedMeta)]
    return infos, bad
