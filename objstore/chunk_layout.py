"""Where an object's chunks sit in the stream: chunk index -> stream sequence, found without
transferring the chunks before the one asked for, and cached per nuid (:class:`LayoutCache`).

``locate`` reads the first and the last message on the object's chunk subject (a direct get with
``next_by_subj`` from the stream's start and ``last_by_subj``, ADR-31; through the stream leader
when the bucket does not allow direct gets or is replicated). When ``last.seq - first.seq ==
chunks - 1`` nothing else was stored between them (a chunk subject belongs to one nuid, one put):
chunk ``k`` is at ``first.seq + k``. Otherwise (puts that ran concurrently interleave their chunks)
one headers-only ordered consumer scan of the chunk subject (``headers_only: true``: each chunk's
headers and ``Nats-Msg-Size``, no payload) records every chunk's sequence and size.

The chunk size is the first chunk's length (the meta's ``max_chunk_size`` is what the writer
asked for; the first chunk is what it did, and it is read anyway), and the layout is checked
against the meta: the chunk count it implies for ``size``, the last chunk's length, and (scan)
every chunk's size. A mismatch raises :class:`DigestMismatchError`; a chunk subject with no
chunks, or fewer than the meta says, :class:`ChunkMissingError`.

Must not fetch chunk runs (``chunk_runs``) or validate ranges (``ranges``).
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Optional

from jetstream import HDR_MSG_SIZE, JetStreamNotEnabledError, MessageNotFoundError, StoredMsg

from .bucket import Bucket
from .errors import ChunkMissingError, DigestMismatchError
from .models import ObjectInfo
from .ranges import FetchStats, chunk_len

__all__ = ["ChunkLayout", "LayoutCache", "locate"]

DEFAULT_LAYOUTS = 128  # objects whose layout a store remembers
_SCAN_IDLE = 30.0  # seconds without a chunk header before a scan gives up (idle_timeout=None)


@dataclass
class ChunkLayout:
    """Chunk ``k`` of object ``nuid`` is at stream sequence ``seq_of(k)``; ``seqs`` is None when the
    chunks are contiguous (``first_seq + k``), else every chunk's sequence (from a scan)."""

    nuid: str
    chunks: int
    chunk_size: int
    first_seq: int
    seqs: Optional[array] = None
    edges: dict[int, bytes] = field(default_factory=dict, repr=False)  # first/last chunk data; not cached

    @property
    def contiguous(self) -> bool:
        return self.seqs is None

    def seq_of(self, index: int) -> int:
        if not 0 <= index < self.chunks:
            raise IndexError(f"chunk {index} is outside an object of {self.chunks} chunks")
        return self.first_seq + index if self.seqs is None else self.seqs[index]

    def without_edges(self) -> "ChunkLayout":
        return ChunkLayout(self.nuid, self.chunks, self.chunk_size, self.first_seq, self.seqs)


class LayoutCache:
    """A bounded LRU of :class:`ChunkLayout` by nuid (a nuid's chunks never change: a re-put of a
    name gets a new nuid; a deleted or purged chunk is caught by the sequence check on fetch)."""

    def __init__(self, maxsize: int = DEFAULT_LAYOUTS) -> None:
        self.maxsize = maxsize
        self._items: "OrderedDict[str, ChunkLayout]" = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, nuid: object) -> bool:
        return nuid in self._items

    def get(self, nuid: str) -> Optional[ChunkLayout]:
        layout = self._items.get(nuid)
        if layout is not None:
            self._items.move_to_end(nuid)
        return layout

    def put(self, layout: ChunkLayout) -> None:
        self._items[layout.nuid] = layout.without_edges()
        self._items.move_to_end(layout.nuid)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    def discard(self, nuid: str) -> None:
        self._items.pop(nuid, None)

    def clear(self) -> None:
        self._items.clear()


async def _get(bucket: Bucket, stats: FetchStats, *, next_by_subj: str = "", last_by_subj: str = "") -> Optional[StoredMsg]:
    js = bucket.js
    stats.requests += 1
    try:
        with bucket.missing:
            if bucket.direct:
                try:
                    if next_by_subj:
                        return await js.direct_get(bucket.stream, next_by_subj=next_by_subj)
                    return await js.direct_get(bucket.stream, last_by_subj=last_by_subj)
                except JetStreamNotEnabledError:
                    pass  # no direct-get responder: ask the leader
            if next_by_subj:
                return await js.get_msg(bucket.stream, next_by_subj=next_by_subj)
            return await js.get_msg(bucket.stream, last_by_subj=last_by_subj)
    except MessageNotFoundError:
        return None


async def locate(bucket: Bucket, info: ObjectInfo, stats: FetchStats, idle_timeout: Optional[float]) -> ChunkLayout:
    """The layout of a non-empty object's chunks (see the module docstring). The returned layout
    carries the first and last chunks' data in ``edges`` (the caller may use them instead of
    fetching them again). Raises ChunkMissingError, DigestMismatchError."""
    name, n, size = info.name, info.chunks, info.size
    if n < 1 or size < 1:
        raise DigestMismatchError(f"object {name!r}: its meta says {n} chunks and {size} bytes: no chunk to locate")
    subject = bucket.chunk_subject(info.nuid)
    first = await _get(bucket, stats, next_by_subj=subject)
    if first is None:
        raise ChunkMissingError(f"object {name!r}: no chunks stored (expired or purged)")
    stats.took(len(first.data))
    last = first
    if n > 1:
        last = await _get(bucket, stats, last_by_subj=subject)
        if last is None:
            raise ChunkMissingError(f"object {name!r}: its chunks are gone (expired or purged)")
        stats.took(len(last.data))
    chunk_size = len(first.data) if n > 1 else size
    if chunk_size < 1 or -(-size // chunk_size) != n:
        raise DigestMismatchError(f"object {name!r}: a first chunk of {len(first.data)} bytes does not fit {n} chunks of {size} bytes")
    _check_len(name, n - 1, len(last.data), n, chunk_size, size)
    layout = ChunkLayout(info.nuid, n, chunk_size, first.seq)
    span = last.seq - first.seq
    if span < n - 1:
        raise ChunkMissingError(f"object {name!r}: {n} chunks expected, at most {span + 1} stored")
    if span > n - 1:  # something else was stored between them: map every chunk
        layout.seqs = await _scan(bucket, info, first.seq, last.seq, chunk_size, stats, idle_timeout)
    layout.edges = {0: first.data, n - 1: last.data}
    return layout


def _check_len(name: str, index: int, got: int, n: int, chunk_size: int, size: int) -> None:
    want = chunk_len(index, n, chunk_size, size)
    if got != want:
        raise DigestMismatchError(f"object {name!r}: chunk {index} has {got} bytes, expected {want}")


async def _scan(
    bucket: Bucket, info: ObjectInfo, first_seq: int, last_seq: int, chunk_size: int, stats: FetchStats, idle_timeout: Optional[float]
) -> array:
    """Every chunk's stream sequence from one headers-only ordered consumer on the chunk subject,
    from ``first_seq`` to ``last_seq``; each chunk's size (``Nats-Msg-Size``) is checked."""
    name, n = info.name, info.chunks
    seqs = array("q")
    stats.scans += 1
    stats.requests += 1
    oc = bucket.js.ordered_consumer(
        bucket.stream,
        filter_subject=bucket.chunk_subject(info.nuid),
        deliver_policy="by_start_sequence",
        opt_start_seq=first_seq,
        headers_only=True,
        idle_timeout=idle_timeout,
    )
    try:
        await oc.start()
        while True:
            msg = await oc.next(timeout=idle_timeout or _SCAN_IDLE)
            seq = msg.metadata.stream_seq
            if len(seqs) >= n:
                raise DigestMismatchError(f"object {name!r}: more than its {n} chunks are stored")
            hdrs = msg.headers
            raw = hdrs.get(HDR_MSG_SIZE) if hdrs is not None else None
            if raw is not None and raw.strip().isdigit():
                _check_len(name, len(seqs), int(raw), n, chunk_size, info.size)
            seqs.append(seq)
            if seq >= last_seq:
                break
    finally:
        await oc.close()
    if len(seqs) != n:
        raise ChunkMissingError(f"object {name!r}: {len(seqs)} of its {n} chunks are stored")
    return seqs
