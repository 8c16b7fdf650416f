"""Fetching a run of an object's chunks, ``first..last`` by index, from a known
:class:`~objstore.chunk_layout.ChunkLayout`, and cutting a byte range out of them.

On a single-replica bucket with ``allow_direct`` the run is read with batched direct gets (ADR-31,
server 2.11+, told by ``api_lvl`` in its INFO: ``seq`` = chunk ``first``'s stream sequence, ``next_by_subj`` = the chunk subject,
``batch`` and ``max_bytes`` bounding one answer to about 8 MiB), one request per batch and no
consumer. Otherwise (direct get off, a replicated bucket whose replicas may lag, a server that
answers the batch with an error) an ordered consumer starts at that sequence (``opt_start_seq``)
and is deleted after the run's last chunk; its flow-control window (about 2 MiB) bounds what the
server may have sent past the run.

Every chunk is checked before it is handed out: its subject, its stream sequence (the layout's:
a later one means the chunk asked for is gone, :class:`ChunkMissingError`) and its length (every
chunk but the object's last ``chunk_size``, the last ``size - (chunks - 1) * chunk_size``:
:class:`DigestMismatchError`). No SHA-256: a range cannot be checked against the whole-object
digest. Must not validate arguments or locate chunks (``ranges``, ``chunk_layout``).
"""

from __future__ import annotations

from typing import AsyncIterator, Optional

from jetstream import JetStreamError, StoredMsg

from .bucket import Bucket
from .chunk_layout import ChunkLayout
from .errors import ChunkMissingError, DigestMismatchError, ObjectStoreError
from .models import ObjectInfo
from .ranges import FetchStats, RangePlan, chunk_len

__all__ = ["BATCH_BYTES", "batch_capable", "fetch_chunks", "read_range"]

BATCH_BYTES = 8 * 1024 * 1024  # one batched direct get answers at most about this much
_IDLE = 30.0  # seconds without a chunk before a consumer run gives up (idle_timeout=None)


class _Run:
    """Checks chunks ``first..last`` arriving in order against the layout and the meta."""

    __slots__ = ("info", "layout", "subject", "next", "last", "stats")

    def __init__(self, bucket: Bucket, info: ObjectInfo, layout: ChunkLayout, first: int, last: int, stats: FetchStats) -> None:
        self.info = info
        self.layout = layout
        self.subject = bucket.chunk_subject(info.nuid)
        self.next = first
        self.last = last
        self.stats = stats

    @property
    def done(self) -> bool:
        return self.next > self.last

    def take(self, subject: str, seq: int, data: bytes) -> int:
        """Check the next chunk; returns its index. Raises ChunkMissingError, DigestMismatchError."""
        info, index = self.info, self.next
        self.stats.took(len(data))
        if subject != self.subject:
            raise DigestMismatchError(f"object {info.name!r}: chunk {index} came from subject {subject!r}")
        want_seq = self.layout.seq_of(index)
        if seq != want_seq:
            raise ChunkMissingError(f"object {info.name!r}: chunk {index} (stream sequence {want_seq}) is gone; found sequence {seq}")
        want = chunk_len(index, self.layout.chunks, self.layout.chunk_size, info.size)
        if len(data) != want:
            raise DigestMismatchError(f"object {info.name!r}: chunk {index} has {len(data)} bytes, expected {want}")
        self.next = index + 1
        return index


async def fetch_chunks(
    bucket: Bucket, info: ObjectInfo, layout: ChunkLayout, first: int, last: int, stats: FetchStats, idle_timeout: Optional[float]
) -> AsyncIterator[tuple[int, bytes]]:
    """``(index, chunk)`` for chunks ``first..last`` (inclusive) in order, each checked (see the
    module docstring). The layout's ``edges`` (first/last chunk data) are used, not fetched again."""
    run = _Run(bucket, info, layout, first, last, stats)
    edges = layout.edges
    use_direct = batch_capable(bucket)
    while not run.done:
        k = run.next
        if k in edges:
            run.next += 1
            yield k, edges[k]
            continue
        stop = k
        while stop < last and stop + 1 not in edges:
            stop += 1
        run.last = stop
        if use_direct:
            inner = _direct(bucket, run)
            try:
                async for item in inner:
                    yield item
            except _NoBatch:
                use_direct = False
            finally:
                await inner.aclose()
        if not use_direct and not run.done:
            inner = _consumer(bucket, run, idle_timeout)
            try:
                async for item in inner:
                    yield item
            finally:
                await inner.aclose()
        run.last = last


def batch_capable(bucket: Bucket) -> bool:
    """Whether runs may use batched direct gets: a single-replica bucket with ``allow_direct`` on a
    server announcing a JetStream API level (``api_lvl`` in INFO: 2.11+, ADR-44). An older server
    ignores ``batch`` and answers one message with no end-of-batch marker, so it is not asked."""
    if not bucket.direct:
        return False
    try:
        return int(bucket.nc.server_info.get("api_lvl") or 0) >= 1
    except (TypeError, ValueError):
        return False


class _NoBatch(Exception):
    """The server answered the first batch with an error before any chunk: use a consumer."""


async def _direct(bucket: Bucket, run: _Run) -> AsyncIterator[tuple[int, bytes]]:
    per = max(1, BATCH_BYTES // run.layout.chunk_size)
    js, first_batch = bucket.js, True
    while not run.done:
        want = min(per, run.last - run.next + 1)
        run.stats.requests += 1
        batch = js.direct_get_batch(
            bucket.stream, want, seq=run.layout.seq_of(run.next), next_by_subj=run.subject, max_bytes=want * run.layout.chunk_size + 65536
        )
        got = 0
        try:
            while got < want:
                try:
                    with bucket.missing:
                        stored: StoredMsg = await batch.__anext__()
                except StopAsyncIteration:
                    break
                except ObjectStoreError:
                    raise
                except JetStreamError as err:
                    if first_batch and got == 0:
                        raise _NoBatch() from err
                    raise
                got += 1
                yield run.take(stored.subject, stored.seq, stored.data), stored.data
        finally:
            await batch.aclose()
        first_batch = False
        if got == 0:
            raise ChunkMissingError(f"object {run.info.name!r}: chunk {run.next} is gone (nothing stored at or after it)")


async def _consumer(bucket: Bucket, run: _Run, idle_timeout: Optional[float]) -> AsyncIterator[tuple[int, bytes]]:
    run.stats.requests += 1
    oc = bucket.js.ordered_consumer(
        bucket.stream,
        filter_subject=run.subject,
        deliver_policy="by_start_sequence",
        opt_start_seq=run.layout.seq_of(run.next),
        idle_timeout=idle_timeout,
    )
    try:
        with bucket.missing:
            await oc.start()
        if oc.num_pending == 0 and bucket.replicas == 1:
            raise ChunkMissingError(f"object {run.info.name!r}: chunk {run.next} is gone (nothing stored at or after it)")
        while not run.done:
            msg = await oc.next(timeout=idle_timeout or _IDLE)
            md = msg.metadata
            index = run.take(msg.subject, md.stream_seq, msg.data)
            yield index, msg.data
            if not run.done and md.num_pending == 0 and bucket.replicas == 1:
                raise ChunkMissingError(f"object {run.info.name!r}: chunks {run.next}..{run.last} are gone")
    finally:
        await oc.close()


async def read_range(
    bucket: Bucket, info: ObjectInfo, layout: ChunkLayout, plan: RangePlan, stats: FetchStats, idle_timeout: Optional[float]
) -> AsyncIterator[memoryview]:
    """The bytes of ``plan``'s range as memoryview pieces (one per covering chunk, the first and
    last cut to the range), every chunk checked as in :func:`fetch_chunks`."""
    chunks = fetch_chunks(bucket, info, layout, plan.first, plan.last, stats, idle_timeout)
    try:
        async for index, chunk in chunks:
            yield plan.cut(index, memoryview(chunk))
    finally:
        await chunks.aclose()
