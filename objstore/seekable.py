"""``ObjectFile``: an object as a seekable, read-only async file (``async with store.open(name) as
f``): ``read(n)``, ``readinto(buf)``, ``seek(pos, whence)``, ``tell()``, ``size``, ``info``, and
``async for piece in f`` by chunk from the current position.

Reads go through ranged reads' parts (``chunk_layout``, ``chunk_runs``): every chunk read is
checked for its subject, stream sequence and length, none against the SHA-256 (see
:mod:`objstore.ranged`). Chunks are fetched in runs by a background task into a small cache.
Reading on from where the last read ended (sequential) prefetches ahead, the look-ahead doubling
from one chunk up to a byte-bounded window (``window`` bytes, 8 MiB by default, at least one
chunk); a read elsewhere (after a random ``seek``) drops the prefetch (its run is cancelled) and
fetches only the chunks that read needs. The cache holds at most the window plus two chunks.

Must not validate ranges for ``get`` (``ranges``) or run its own event loop (``rawio`` does).
"""

from __future__ import annotations

import asyncio
import io
from collections import OrderedDict
from typing import Any, AsyncIterator, Optional

from .chunk_layout import ChunkLayout
from .chunk_runs import fetch_chunks
from .errors import BadRangeError
from .models import ObjectInfo
from .ranges import FetchStats

__all__ = ["DEFAULT_WINDOW", "ObjectFile"]

DEFAULT_WINDOW = 8 * 1024 * 1024


class _Run:
    """A background task fetching chunks ``first..last`` into the file's cache."""

    __slots__ = ("first", "last", "task")

    def __init__(self, first: int, last: int, task: "asyncio.Task[None]") -> None:
        self.first = first
        self.last = last
        self.task = task

    def covers(self, index: int) -> bool:
        return self.first <= index <= self.last


class ObjectFile:
    """A read-only, seekable view of one object version (see the module docstring). Get it from
    ``store.open(name)``; ``close()`` (or leaving ``async with``) cancels any prefetch."""

    def __init__(
        self,
        owner: Any,
        name: str,
        *,
        show_deleted: bool = False,
        window: int = DEFAULT_WINDOW,
        idle_timeout: Optional[float] = 30.0,
    ) -> None:
        self._owner = owner  # the store whose fetch_stats and layout cache are used
        self._store: Any = None  # the store the object lives in (links followed), once opened
        self._show_deleted = show_deleted
        self.info: Optional[ObjectInfo] = None
        self.name = name
        self.size = 0
        self.idle_timeout = idle_timeout
        self.window = max(1, window)
        self.closed = False
        self._pos = 0
        self._layout: Optional[ChunkLayout] = None
        self._cache: "OrderedDict[int, bytes]" = OrderedDict()
        self._arrived = asyncio.Event()
        self._run: Optional[_Run] = None
        self._dropped: list["asyncio.Task[None]"] = []
        self._next_pos = 0  # where the last read ended: a read starting here is sequential
        self._ahead = 1  # chunks to prefetch past the current one (doubles up to the window)

    async def _open(self) -> "ObjectFile":
        """Resolve the object (links followed; ObjectNotFoundError...) once."""
        if self.info is None:
            self._store, info = await self._owner._resolve(self.name, self._show_deleted)
            self.info, self.size = info, info.size
        return self

    def __await__(self) -> Any:
        """``f = await store.open(name)`` (then ``await f.close()``)."""
        return self._open().__await__()

    # Context and state ------------------------------------------------------------------------
    async def __aenter__(self) -> "ObjectFile":
        return await self._open()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<ObjectFile {self.name!r} size={self.size} pos={self._pos}>"

    @property
    def fetch_stats(self) -> FetchStats:
        return self._owner.fetch_stats

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        """Move the position (no I/O); past the end is allowed (reads then give ``b""``). A
        position outside what is cached or being fetched drops the prefetch."""
        self._check_open()
        if isinstance(pos, bool) or not isinstance(pos, int):
            raise BadRangeError(f"seek position must be an int, not {type(pos).__name__}")
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence ({whence!r}): 0, 1 or 2")
        new = base + pos
        if new < 0:
            raise BadRangeError(f"negative seek position {new}")
        self._pos = new
        if new != self._next_pos and self._layout is not None:
            k = new // self._layout.chunk_size
            run = self._run
            if k not in self._cache and run is not None and not run.covers(k):
                self._drop_run()
            self._ahead = 1
        return new

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._drop_run()
        dropped, self._dropped = self._dropped, []
        if dropped:
            await asyncio.gather(*dropped, return_exceptions=True)
        self._cache.clear()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on a closed object file")

    # Reads -------------------------------------------------------------------------------------
    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes from the position (all the rest for ``n < 0``); ``b""`` at the end."""
        self._check_open()
        await self._open()
        end = self.size if n is None or n < 0 else min(self.size, self._pos + n)
        if end <= self._pos:
            return b""
        buf = bytearray(end - self._pos)
        got = await self.readinto(buf)
        return bytes(buf) if got == len(buf) else bytes(buf[:got])

    async def readinto(self, buf: Any) -> int:
        """Fill ``buf`` (a writable bytes-like) from the position; returns the bytes written
        (less than ``len(buf)`` only at the end of the object)."""
        self._check_open()
        await self._open()
        view = memoryview(buf).cast("B")
        want = min(len(view), max(0, self.size - self._pos))
        done = 0
        if want == 0:
            return 0
        layout = await self._get_layout()
        cs = layout.chunk_size
        last = (self._pos + want - 1) // cs
        sequential = self._pos == self._next_pos
        while done < want:
            pos = self._pos + done
            k = pos // cs
            chunk = await self._chunk(k, last, sequential)
            start = pos - k * cs
            take = min(want - done, len(chunk) - start)
            view[done : done + take] = chunk[start : start + take]
            done += take
            if take == len(chunk) - start:
                self._evict(k + 1)  # chunk k is used up: never hold more than the window
        self._pos += done
        self._next_pos = self._pos
        self._evict(self._pos // cs)
        return done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """The rest of the object from the position, one piece per chunk (the first one cut at the
        position); the position advances as pieces are taken."""
        await self._open()
        while self._pos < self.size:
            layout = await self._get_layout()
            cs = layout.chunk_size
            n = min(cs - self._pos % cs, self.size - self._pos)
            yield await self.read(n)

    # Chunks ------------------------------------------------------------------------------------
    async def _get_layout(self) -> ChunkLayout:
        if self._layout is None:
            layout = await self._owner.layout_of(self._store, self.info, self.idle_timeout)
            for index, data in layout.edges.items():  # the first and last chunk came with it
                self._cache[index] = data
            self._layout = layout.without_edges()
        return self._layout

    async def _chunk(self, k: int, need_last: int, sequential: bool) -> bytes:
        """Chunk ``k``, from the cache or a run; starts runs (and prefetch when ``sequential``)."""
        layout = self._layout
        assert layout is not None
        for _ in range(4 * layout.chunks + 8):  # each turn returns, waits for a chunk of a run, or starts one
            data = self._cache.get(k)
            if data is not None:
                self._cache.move_to_end(k)
                if sequential:
                    self._prefetch(k, need_last)
                return data
            run = self._run
            if run is not None and run.covers(k):
                if not run.task.done():
                    self._arrived.clear()
                    await self._arrived.wait()
                    continue
                self._run = None
                if not run.task.cancelled() and run.task.exception() is not None:
                    raise run.task.exception()  # type: ignore[misc]
                continue  # the run ended without chunk k (evicted): fetch again
            self._drop_run()
            ahead = self._ahead if sequential else 0
            self._start(k, max(need_last, k + ahead))
        raise RuntimeError(f"chunk {k} of {self.name!r} could not be fetched")  # not reached

    def _chunks_per_window(self) -> int:
        assert self._layout is not None
        return max(1, self.window // self._layout.chunk_size)

    def _prefetch(self, k: int, need_last: int) -> None:
        """Sequential reading at chunk ``k``: keep ``_ahead`` chunks past it cached or in flight."""
        layout = self._layout
        assert layout is not None
        if self._run is not None and not self._run.task.done():
            return
        target = min(layout.chunks - 1, max(need_last, k + self._ahead))
        first = k + 1
        while first <= target and first in self._cache:
            first += 1
        if first > target:
            return
        self._start(first, target)
        self._ahead = min(self._ahead * 2, self._chunks_per_window())

    def _start(self, first: int, last: int) -> None:
        layout = self._layout
        assert layout is not None
        self._drop_run()  # a finished run's error (past what was read) is retrieved, not left behind
        last = min(last, layout.chunks - 1, first + self._chunks_per_window() - 1)
        task = asyncio.get_running_loop().create_task(self._fetch(first, last))
        self._run = _Run(first, last, task)

    async def _fetch(self, first: int, last: int) -> None:
        assert self._layout is not None
        chunks = fetch_chunks(self._store.handle, self.info, self._layout, first, last, self.fetch_stats, self.idle_timeout)
        try:
            async for index, data in chunks:
                self._cache[index] = data
                self._arrived.set()
        finally:
            self._arrived.set()
            await chunks.aclose()  # type: ignore[attr-defined]

    def _drop_run(self) -> None:
        run, self._run = self._run, None
        if run is not None:
            if not run.task.done():
                run.task.cancel()
                self._dropped.append(run.task)
            elif not run.task.cancelled():
                run.task.exception()  # a prefetch that failed past what was read: retrieved, dropped
        self._dropped = [t for t in self._dropped if not t.done()]

    def _evict(self, current: int) -> None:
        """Keep the current chunk, what lies ahead of it within the window, and (after that)
        the most recently used, at most window + 2 chunks in all."""
        cache = self._cache
        horizon = current + self._chunks_per_window()
        for index in [i for i in cache if i < current or i > horizon]:
            if len(cache) <= 2:
                break
            del cache[index]
        while len(cache) > self._chunks_per_window() + 2:
            cache.popitem(last=False)
