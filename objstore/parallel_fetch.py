"""Parallel chunk fetch (issue 14 point 3): a big object's chunks read with several batched direct
gets in flight (ADR-31, server 2.11+), handed out in order: :class:`ParallelChunks`, one more
:class:`~objstore.chunk_sources.ChunkSource` for the reader, with its :class:`ParallelPolicy`.

How: :func:`~objstore.chunk_layout.locate` maps chunk index -> stream sequence (two single gets
through the leader on a replicated bucket; the first and last chunks' data are kept and handed
out, not fetched again). The chunks in between are cut into batches of ``batch_bytes`` (8 MiB:
64 chunks of 128 KiB); up to ``window_bytes // batch_bytes`` batches (4) are requested at once,
each one request (``seq`` = its first chunk's sequence, ``next_by_subj`` = the chunk subject,
``batch`` and ``max_bytes``), and a new batch is requested only when the oldest one has been
handed out entirely: what is received but not yet handed out stays within the window.

Checks on every chunk as it arrives, before the reader's own (size, chunk count, SHA-256): its
subject, its stream sequence (a later one means a chunk is gone: :class:`ChunkMissingError`) and
its length (:class:`DigestMismatchError`). A meta the layout does not fit (a wrong chunk count or
size) makes ``open()`` decline, so that the ordered consumer reports it exactly as before.

When: the caller's :class:`ParallelPolicy` enables it (off by default: see its docstring), the
stream allows direct gets, the server announces a JetStream API level (``api_lvl``, 2.11+), the
object is larger than ``min_bytes`` and the connection's round trip is at least ``min_rtt``.
Otherwise, or when the first batch is answered with an error before any chunk (no direct-get
responder), ``open()`` returns False and the reader falls back to the ordered consumer.

Replicated buckets: a direct get is answered by whichever replica the server routes it to (every
caught-up replica, and ``mirror_direct`` mirrors, answer in the ``_sys_`` queue group; the NATS
routing prefers a member on the server the client is connected to). A replica that lags may end a
batch early or answer "no message": the rest of that batch is then read through the stream leader
(an ordered consumer from that chunk, :func:`~objstore.chunk_runs.fetch_chunks`), never reported
missing on a replica's word alone.

Must not verify the whole object or pick between sources (the reader does).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Optional

from jetstream import JetStreamError, direct_origin

from .bucket import Bucket
from .chunk_layout import ChunkLayout, locate
from .chunk_runs import fetch_chunks
from .chunk_sources import ChunkSource
from .errors import ChunkMissingError, DigestMismatchError, ObjectStoreError
from .models import ObjectInfo
from .ranges import FetchStats, chunk_len

__all__ = ["DEFAULT_POLICY", "ParallelChunks", "ParallelPolicy", "parallel_capable", "round_trip"]

MIB = 1024 * 1024
_SLACK = 64 * 1024  # max_bytes headroom for the headers of one batch's messages
_RTT_PROBES = 3


@dataclass(frozen=True)
class ParallelPolicy:
    """When and how a whole-object read uses parallel batched direct gets.

    ``min_bytes``: objects larger than this are read in parallel (smaller ones take the single or
    one-batch direct get, or the ordered consumer); ``batch_bytes``: the payload one batched
    direct get asks for; ``window_bytes``: payload requested or held but not yet handed out;
    ``enabled``: False (the default) keeps the ordered consumer for every object above the
    one-batch size; ``min_rtt``: seconds; with ``enabled``, only when the connection's round trip
    (the fastest of 3 PING/PONGs, measured at open) is at least this (0: always).

    Off by default because that is what measurement chose (README, "Parallel chunk fetch"): on
    the 2-core development machine the ordered consumer was as fast or faster at 64 MiB and 512
    MiB, on loopback and through a delay proxy of 10 to 100 ms, and cost the server less CPU."""

    min_bytes: int = 8 * MIB
    batch_bytes: int = 8 * MIB
    window_bytes: int = 32 * MIB
    enabled: bool = False
    min_rtt: float = 0.0

    def __post_init__(self) -> None:
        for name in ("min_bytes", "batch_bytes", "window_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < (0 if name == "min_bytes" else 1):
                raise ValueError(f"ParallelPolicy.{name} must be a positive int, not {value!r}")
        if not isinstance(self.min_rtt, (int, float)) or isinstance(self.min_rtt, bool) or not self.min_rtt >= 0:
            raise ValueError(f"ParallelPolicy.min_rtt must be seconds >= 0, not {self.min_rtt!r}")
        if self.window_bytes < self.batch_bytes:
            raise ValueError(f"ParallelPolicy.window_bytes ({self.window_bytes}) is below batch_bytes ({self.batch_bytes})")

    def batches_in_flight(self, per_batch_bytes: int) -> int:
        return max(1, self.window_bytes // max(1, per_batch_bytes))


DEFAULT_POLICY = ParallelPolicy()


def parallel_capable(bucket: Bucket) -> bool:
    """The stream allows direct gets and the server announces an API level (batched direct gets:
    an older server ignores ``batch`` and answers one message with no end-of-batch marker)."""
    if not bucket.allow_direct:
        return False
    try:
        return int(bucket.nc.server_info.get("api_lvl") or 0) >= 1
    except (TypeError, ValueError):
        return False


async def round_trip(bucket: Bucket, timeout: Optional[float] = None) -> float:
    """The connection's round trip in seconds: the fastest of a few PING/PONGs."""
    loop = asyncio.get_running_loop()
    best = float("inf")
    for _ in range(_RTT_PROBES):
        t0 = loop.time()
        await bucket.nc.flush(timeout=timeout or None)
        best = min(best, loop.time() - t0)
    return best


class _Slot:
    """One batch: chunks ``first..first + count - 1``, filled by its task, drained in order."""

    __slots__ = ("first", "count", "chunks", "error", "done", "task", "waiter")

    def __init__(self, first: int, count: int) -> None:
        self.first = first
        self.count = count
        self.chunks: deque[bytes] = deque()
        self.error: Optional[BaseException] = None
        self.done = False
        self.task: Optional[asyncio.Task] = None
        self.waiter: Optional[asyncio.Future] = None

    def wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def push(self, data: bytes) -> None:
        self.chunks.append(data)
        self.wake()

    def end(self, error: Optional[BaseException] = None) -> None:
        self.error, self.done = error, True
        self.wake()


class _NoDirect(Exception):
    """The first batch was answered with an error before any chunk: fall back."""


class ParallelChunks(ChunkSource):
    """A big object's chunks from concurrent batched direct gets, in order (module docstring)."""

    __slots__ = ("policy", "idle_timeout", "stats", "layout", "_slots", "_next_slot", "_edges", "_subject", "_first_ok", "_opened")

    def __init__(self, bucket: Bucket, info: ObjectInfo, idle_timeout: Optional[float], policy: ParallelPolicy = DEFAULT_POLICY) -> None:
        super().__init__(bucket, info)
        self.policy = policy
        self.idle_timeout = idle_timeout
        self.stats = FetchStats()
        self.layout: Optional[ChunkLayout] = None
        self._slots: deque[_Slot] = deque()
        self._next_slot = 0  # chunk index the next batch to request starts at
        self._edges: dict[int, bytes] = {}
        self._subject = bucket.chunk_subject(info.nuid)
        self._first_ok = False  # a batch delivered a chunk: errors from now on are real
        self._opened = False

    @staticmethod
    def fits(bucket: Bucket, info: ObjectInfo, policy: ParallelPolicy = DEFAULT_POLICY) -> bool:
        return policy.enabled and info.chunks > 2 and info.size > policy.min_bytes and parallel_capable(bucket)

    async def open(self) -> bool:
        bucket, info = self.bucket, self.info
        if self.policy.min_rtt > 0 and await round_trip(bucket, self.idle_timeout) < self.policy.min_rtt:
            return False  # a near server: the ordered consumer is as fast and cheaper
        try:
            layout = await locate(bucket, info, self.stats, self.idle_timeout)
        except DigestMismatchError:  # (and ChunkMissingError): the ordered consumer says it as before
            return False
        self.layout = layout
        self._edges = dict(layout.edges)
        layout.edges = {}
        self._next_slot = 1  # chunk 0 and the last chunk come from the layout's edges
        self._fill()
        slot = self._slots[0] if self._slots else None
        if slot is not None:
            try:
                await self._ready(slot)
            except _NoDirect:
                await self.close()
                return False
        self._opened = True
        return True

    # Scheduling ------------------------------------------------------------------------------
    def _fill(self) -> None:
        """Request batches until the window is full or every chunk is requested."""
        layout = self.layout
        assert layout is not None
        per = max(1, self.policy.batch_bytes // layout.chunk_size)
        limit = self.policy.batches_in_flight(per * layout.chunk_size)
        stop = layout.chunks - 1  # the last chunk is an edge
        while len(self._slots) < limit and self._next_slot < stop:
            first = self._next_slot
            slot = _Slot(first, min(per, stop - first))
            self._next_slot = first + slot.count
            slot.task = asyncio.get_running_loop().create_task(self._fetch(slot))
            self._slots.append(slot)

    async def _ready(self, slot: _Slot) -> None:
        """Wait until ``slot`` holds a chunk or ended; raise its error when it has no chunk."""
        while not slot.chunks:
            if slot.done:
                err = slot.error
                if err is None:  # cannot happen: a batch ends with all its chunks or an error
                    err = ChunkMissingError(f"object {self.info.name!r}: chunk {slot.first} did not arrive")
                if isinstance(err, _NoDirect) and self._opened and err.__cause__ is not None:
                    raise err.__cause__  # another batch failed first: its own error, no fallback now
                raise err
            slot.waiter = asyncio.get_running_loop().create_future()
            try:
                await slot.waiter
            finally:
                slot.waiter = None

    async def next(self) -> Optional[bytes]:
        index = self._read
        n = self.info.chunks
        edge = self._edges.pop(index, None)
        if edge is not None:
            data = edge
        else:
            slot = self._slots[0]
            await self._ready(slot)
            data = slot.chunks.popleft()
            if slot.first + slot.count - 1 == index:
                self._slots.popleft()
                self._fill()
        self._read = index + 1
        self.last = self._read >= n
        return data

    # One batch -------------------------------------------------------------------------------
    async def _fetch(self, slot: _Slot) -> None:
        try:
            await self._fetch_into(slot)
        except BaseException as err:  # handed to the reader by next(); cancelled by close()
            slot.end(err)
            if not isinstance(err, Exception):
                raise
        else:
            slot.end()

    async def _fetch_into(self, slot: _Slot) -> None:
        bucket, layout = self.bucket, self.layout
        assert layout is not None
        js, cs = bucket.js, layout.chunk_size
        k, end = slot.first, slot.first + slot.count
        timeout = self.idle_timeout or None
        while k < end:
            want = end - k
            got = 0
            self.stats.requests += 1
            batch = js.direct_get_batch_raw(
                bucket.stream, want, seq=layout.seq_of(k), next_by_subj=self._subject, max_bytes=want * cs + _SLACK, timeout=timeout
            )
            try:
                with bucket.missing:
                    async for msg in batch:
                        subject, seq = direct_origin(msg)
                        data = msg.data
                        self._check(k, subject, seq, data)
                        slot.push(data)
                        self._first_ok = True
                        k += 1
                        got += 1
                        if k >= end:
                            break
            except ObjectStoreError:
                raise
            except JetStreamError as err:
                if not self._first_ok and got == 0:
                    raise _NoDirect() from err
                raise
            finally:
                await batch.aclose()  # type: ignore[attr-defined]
            if got == 0 and k < end:
                if bucket.replicas > 1:  # a replica may lag: read the rest through the leader
                    await self._from_leader(slot, k, end - 1)
                    return
                raise ChunkMissingError(f"object {self.info.name!r}: chunk {k} is gone (nothing stored at or after it)")

    async def _from_leader(self, slot: _Slot, first: int, last: int) -> None:
        layout = self.layout
        assert layout is not None
        chunks = fetch_chunks(self.bucket, self.info, layout, first, last, self.stats, self.idle_timeout)
        try:
            async for _index, data in chunks:
                slot.push(data)
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]

    def _check(self, index: int, subject: str, seq: int, data: bytes) -> None:
        layout, info = self.layout, self.info
        assert layout is not None
        self.stats.took(len(data))
        if subject != self._subject:
            raise DigestMismatchError(f"object {info.name!r}: chunk {index} came from subject {subject!r}")
        want_seq = layout.seq_of(index)
        if seq != want_seq:
            raise ChunkMissingError(f"object {info.name!r}: chunk {index} (stream sequence {want_seq}) is gone; found sequence {seq}")
        want = chunk_len(index, layout.chunks, layout.chunk_size, info.size)
        if len(data) != want:
            raise DigestMismatchError(f"object {info.name!r}: chunk {index} has {len(data)} bytes, expected {want}")

    async def close(self) -> None:
        slots, self._slots = self._slots, deque()
        tasks = [s.task for s in slots if s.task is not None and not s.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for s in slots:
            s.chunks.clear()
        self._edges.clear()
