"""``RangedVerbs``: the byte-range side of ``ObjectStore`` (``get``/``stream`` with ``offset`` and
``length`` land here once the range is known not to be the whole object; ``open`` and
``open_sync`` for seekable file objects), mixed into it, with the store's ``fetch_stats`` and
``layouts`` (per-nuid chunk layout LRU).

What a range read verifies: every covering chunk's subject, stream sequence and length against the
meta (chunk count and size, every chunk but the last ``chunk_size`` bytes); a missing chunk raises
:class:`ChunkMissingError`, a wrong length :class:`DigestMismatchError`. What it cannot verify:
the SHA-256 (it covers the whole object), so a same-length corruption inside the range goes
unnoticed. A range that covers the whole object is read through the ordinary verified path.

Must not hold the fetching itself (``chunk_layout``, ``chunk_runs``) or argument rules (``ranges``).
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Optional

import protocol
from jetstream import JetStream

from .bucket import Bucket
from .chunk_layout import ChunkLayout, LayoutCache, locate
from .chunk_runs import read_range
from .models import ObjectInfo
from .ranges import FetchStats, RangePlan, check_args, clip
from .rawio import SyncObjectFile
from .seekable import DEFAULT_WINDOW, ObjectFile

__all__ = ["RangedVerbs"]


class RangedVerbs:
    """Ranged reads; expects ``ObjectStore``'s ``_resolve`` and ``handle``, and sets up
    ``fetch_stats`` and ``layouts`` in :meth:`_init_ranges`."""

    fetch_stats: FetchStats
    layouts: LayoutCache

    def _init_ranges(self) -> None:
        self.fetch_stats = FetchStats()
        self.layouts = LayoutCache()

    async def _resolve_range(self, name: str, offset: Any, length: Any, show_deleted: bool) -> tuple[Any, ObjectInfo, int, int]:
        """``(store, info, offset, length)``: the arguments checked (BadRangeError) before any
        request, the object resolved (links followed) and the range clipped to its size."""
        start, count = check_args(offset, length)
        store, info = await self._resolve(name, show_deleted)  # type: ignore[attr-defined]
        start, count = clip(start, count, info.size)
        return store, info, start, count

    async def layout_of(self, store: Any, info: ObjectInfo, idle_timeout: Optional[float]) -> ChunkLayout:
        """The object's chunk layout: cached per nuid, else located (and cached without the edge
        chunks' data, which the returned layout carries for this read only)."""
        layout = self.layouts.get(info.nuid)
        if layout is None or layout.chunks != info.chunks:
            layout = await locate(store.handle, info, self.fetch_stats, idle_timeout)
            self.layouts.put(layout)
        return layout

    async def _range_pieces(
        self, store: Any, info: ObjectInfo, offset: int, length: int, idle_timeout: Optional[float]
    ) -> AsyncIterator[memoryview]:
        if length == 0:
            return
        layout = await self.layout_of(store, info, idle_timeout)
        pieces = read_range(store.handle, info, layout, RangePlan.of(offset, length, layout.chunk_size), self.fetch_stats, idle_timeout)
        try:
            async for piece in pieces:
                yield piece
        finally:
            await pieces.aclose()  # type: ignore[attr-defined]

    async def _get_range(
        self, store: Any, info: ObjectInfo, offset: int, length: int, writeinto: Any, idle_timeout: Optional[float], progress: Any
    ) -> bytes:
        """``get`` of a partial range: the bytes, or (``writeinto``) written to the file piece by
        piece in a worker thread (returns ``b""``; on failure the file keeps what was written).
        ``progress(bytes_of_the_range_read, range_length)`` after each piece."""
        held: list[memoryview] = []
        loop = asyncio.get_running_loop()
        target = getattr(writeinto, "buffer", writeinto)
        done = 0
        async for piece in self._range_pieces(store, info, offset, length, idle_timeout):
            if writeinto is None:
                held.append(piece)
            else:
                await loop.run_in_executor(None, target.write, piece)
            done += len(piece)
            if progress is not None:
                progress(done, length)
        return b"".join(held)  # one copy of the range (the pieces are views of the chunks)

    def open(
        self, name: str, *, show_deleted: bool = False, window: int = DEFAULT_WINDOW, idle_timeout: Optional[float] = 30.0
    ) -> ObjectFile:
        """The object as a seekable read-only async file: ``async with store.open(name) as f`` (or
        ``f = await store.open(name)`` and ``await f.close()``); see :mod:`objstore.seekable`.
        Sequential reads prefetch within ``window`` bytes. Chunks are checked as in ranged reads
        (no SHA-256). Raises ObjectNotFoundError (on entering) and the ranged-read errors."""
        return ObjectFile(self, name, show_deleted=show_deleted, window=window, idle_timeout=idle_timeout)

    def open_sync(self, name: str, *, timeout: float = 60.0, window: int = DEFAULT_WINDOW, **connect: Any) -> SyncObjectFile:
        """A synchronous ``io.RawIOBase`` over the object (:class:`objstore.rawio.SyncObjectFile`)
        for code that wants a plain binary file (``zipfile``, ``tarfile``; wrap it in
        ``io.BufferedReader``). It runs its own event loop in a thread with its own connection,
        opened with this store's connection options (servers, auth, TLS; ``connect`` overrides
        them) and JetStream prefix. Call it from synchronous code (a worker thread when in async
        code): its calls block. Raises ObjectNotFoundError and the connect errors."""
        handle = self.handle  # type: ignore[attr-defined]
        options = handle.nc.options.replace(
            error_cb=None, disconnected_cb=None, reconnected_cb=None, closed_cb=None, lame_duck_cb=None, **connect
        )
        store_class, bucket, prefix = type(self), self.bucket, handle.js.prefix  # type: ignore[attr-defined]

        async def opener() -> tuple[ObjectFile, Any]:
            nc = await protocol.connect(options=options)
            try:
                store = store_class.from_bucket(*await Bucket.bind(JetStream(nc, prefix=prefix), bucket))  # type: ignore[attr-defined]
                return await store.open(name, window=window), nc
            except BaseException:
                await nc.close()
                raise

        return SyncObjectFile(opener, timeout=timeout)

    def _count_whole(self, reader: Any) -> None:
        stats = self.fetch_stats
        stats.requests += 1
        stats.chunks += reader.chunks_read
        stats.payload_bytes += reader.bytes_read
