"""``ObjectReader``: an object's chunks as an async iterator, verified at the end; and the
reader-to-file paths (``write_all``, ``verified_chunks``).

The reader picks one :class:`~objstore.chunk_sources.ChunkSource` when the first chunk is asked
for (a single direct get, a batched direct get, parallel batched direct gets for a big object
(:mod:`objstore.parallel_fetch`, ``policy``), or an ordered consumer: the first available, in
order of cost), and the per-chunk loop never branches on the strategy. Size, chunk count and SHA-256 are
checked by :class:`~objstore.chunks.ChunkVerifier` when the last chunk arrives:
:class:`DigestMismatchError` (or :class:`ChunkMissingError`) instead of corrupt data, and an idle
timeout that restarts on every chunk instead of a hang on a missing one.

``write_all`` streams a reader into a binary file (``ObjectStore.get(writeinto=...)`` and the
CLI's ``get``) with bounded memory, the writes done in a worker thread; when the read fails (a
digest, size or chunk-count mismatch, a missing chunk, a timeout), a seekable file is cut back to
where it started, so that unverified bytes never stay behind as if they were good.
``verified_chunks`` reads and verifies a whole object before it yields anything, holding it in
memory up to a bound and spooling it to a temporary file above that. ``read_into`` copies the
chunks into a caller's buffer of the object's size (``ObjectStore.get_into``), each chunk once,
and zeroes what it wrote when the read fails.

Must not read metas or resolve links (the store hands it a resolved ``ObjectInfo``).
"""

from __future__ import annotations

import asyncio
import tempfile
from typing import Any, AsyncIterator, Callable, Optional

from protocol import NatsTimeoutError

from .bucket import Bucket
from .chunk_sources import ChunkSource, DirectBatch, DirectSingle, OrderedChunks
from .chunks import ChunkVerifier
from .errors import BadBufferError, DigestMismatchError
from .models import ObjectInfo
from .parallel_fetch import DEFAULT_POLICY, ParallelChunks, ParallelPolicy

__all__ = ["DEFAULT_IDLE_TIMEOUT", "DEFAULT_SPOOL_OVER", "ObjectReader", "read_all", "read_into", "verified_chunks", "writable_view", "write_all"]

DEFAULT_IDLE_TIMEOUT = 30.0
# The reader ---------------------------------------------------------------------------------------
class ObjectReader:
    """``async with store.reader(name) as r: async for chunk in r: ...`` (bytes chunks).

    ``info`` is the object's :class:`ObjectInfo`. Iteration raises :class:`DigestMismatchError`
    after the last chunk if the data does not match, and :class:`protocol.NatsTimeoutError` when
    no chunk arrives for ``idle_timeout`` seconds.
    """

    def __init__(
        self,
        bucket: Bucket,
        info: ObjectInfo,
        *,
        idle_timeout: Optional[float] = DEFAULT_IDLE_TIMEOUT,
        policy: Optional[ParallelPolicy] = None,
    ) -> None:
        self.bucket = bucket
        self.info = info
        self.idle_timeout = idle_timeout
        # When to fetch in parallel (objstore.parallel_fetch): this reader's, else the bucket
        # handle's (``handle.parallel``), else the default (off). Set before reading.
        self.policy = policy if policy is not None else bucket.parallel or DEFAULT_POLICY
        self._verifier = ChunkVerifier.for_object(info.name, info.size, info.chunks, info.digest)
        self._source: Optional[ChunkSource] = None
        self._strategy = ""
        self._done = info.chunks == 0 and info.size == 0
        if self._done:
            self._verifier.finish()

    @property
    def bytes_read(self) -> int:
        return self._verifier.bytes

    @property
    def chunks_read(self) -> int:
        return self._verifier.count

    @property
    def verified(self) -> bool:
        return self._verifier.verified

    @property
    def strategy(self) -> str:
        """The chunk source chosen (``ParallelChunks``, ``OrderedChunks``, ...; ``""`` before the
        first chunk was asked for; kept after close)."""
        return self._strategy

    async def __aenter__(self) -> "ObjectReader":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        source, self._source = self._source, None
        if source is not None:
            await source.close()

    def __aiter__(self) -> "ObjectReader":
        return self

    async def _open(self) -> ChunkSource:
        """Pick the source, once: the first that is available, in order of cost."""
        bucket, info = self.bucket, self.info
        if DirectSingle.fits(bucket, info):
            source: ChunkSource = DirectSingle(bucket, info)
            if await source.open():
                return source
        if ParallelChunks.fits(bucket, info, self.policy):  # only where the policy enables it (off by default)
            source = ParallelChunks(bucket, info, self.idle_timeout, self.policy)
            if await source.open():
                return source
        if DirectBatch.fits(bucket, info):
            source = DirectBatch(bucket, info)
            if await source.open():
                return source
        source = OrderedChunks(bucket, info, self.idle_timeout)
        await source.open()
        return source

    async def __anext__(self) -> bytes:
        if self._done:
            await self.close()
            raise StopAsyncIteration
        source = self._source
        if source is None:
            source = self._source = await self._open()
            self._strategy = type(source).__name__
        try:
            chunk = await source.next()
        except NatsTimeoutError:
            await self.close()
            raise
        verifier = self._verifier
        if chunk is None:  # the stream has fewer chunks than the meta says
            self._done = True
            verifier.finish()  # raises ChunkMissingError
            raise StopAsyncIteration
        try:
            verifier.take(chunk)
            if source.last:
                self._done = True
                verifier.finish()
        except DigestMismatchError:
            self._done = True
            raise
        return chunk


# Reader to file -----------------------------------------------------------------------------------
_WRITE_BATCH = 1024 * 1024


async def write_all(reader: ObjectReader, fh: Any, progress: Optional[Callable[[int, Optional[int]], Any]]) -> None:
    """Copy the reader's chunks into a binary file in a worker thread, about 1 MiB per call.

    One batch is written while the next one is received (so a thread hop per 128 KiB chunk
    never slows the reading down and lets the delivery window grow); at most two batches are
    held here.

    On any failure, a seekable file is truncated back to the position it had when the copy
    started (and left there) before the error is raised: nothing unverified stays in it. A
    non-seekable one (a pipe, a socket) keeps what was written: at most the chunks received
    before the failing one (the last chunk is never written when the digest does not match,
    and a batch not yet handed to the file is dropped); the error's ``bytes_written``
    attribute says how many bytes that was (0 after a truncation).
    """
    loop = asyncio.get_running_loop()
    target = getattr(fh, "buffer", fh)  # a text-mode file: its binary buffer (nats-py)
    start = await loop.run_in_executor(None, _position, target)
    counted = _Counted(target.write)
    try:
        await _copy(reader, counted, progress)
    except BaseException as err:
        written = counted.n
        if start is not None:
            await asyncio.shield(loop.run_in_executor(None, _cut_back, target, start))
            written = 0
        if isinstance(err, Exception):
            err.bytes_written = written  # type: ignore[attr-defined]
        raise


class _Counted:
    """A write function that counts the bytes it wrote (called in the worker thread)."""

    __slots__ = ("write", "n")

    def __init__(self, write: Callable[[bytes], Any]) -> None:
        self.write = write
        self.n = 0

    def __call__(self, data: bytes) -> None:
        self.write(data)
        self.n += len(data)


def _position(fh: Any) -> Optional[int]:
    """The file's position if it can be sought back to (and truncated), else None."""
    try:
        if fh.seekable():
            return int(fh.tell())
    except (AttributeError, OSError, ValueError):
        pass
    return None


def _cut_back(fh: Any, start: int) -> None:
    fh.seek(start)
    fh.truncate(start)
    flush = getattr(fh, "flush", None)
    if flush is not None:
        flush()


async def _copy(reader: ObjectReader, write: Callable[[bytes], Any], progress: Optional[Callable[[int, Optional[int]], Any]]) -> None:
    loop = asyncio.get_running_loop()
    writing: Optional[asyncio.Future] = None
    batch: list[bytes] = []
    batch_bytes = 0
    size = reader.info.size
    try:
        async for chunk in reader:
            batch.append(chunk)
            batch_bytes += len(chunk)
            if batch_bytes >= _WRITE_BATCH:
                if writing is not None:
                    await writing
                writing = loop.run_in_executor(None, _write_batch, write, batch)
                batch, batch_bytes = [], 0
            if progress is not None:
                progress(reader.bytes_read, size)
        if writing is not None:
            await writing
            writing = None
        if batch:
            await loop.run_in_executor(None, _write_batch, write, batch)
    finally:
        if writing is not None:
            await asyncio.wait((writing,))  # never leave a write running on a closed file


def _write_batch(write: Callable[[bytes], Any], batch: list[bytes]) -> None:
    for chunk in batch:
        write(chunk)


# Objects up to this size are held in memory by a verified stream; larger ones are spooled.
DEFAULT_SPOOL_OVER = 8 * 1024 * 1024
_SPOOL_READ = 1024 * 1024


async def verified_chunks(reader: ObjectReader, spool_over: int = DEFAULT_SPOOL_OVER) -> AsyncIterator[bytes]:
    """The object's chunks, yielded only once the whole object was read and verified.

    An object of at most ``spool_over`` bytes is held in memory (its chunks as received); a
    larger one is written to an anonymous temporary file (``write_all``'s batching, in a worker
    thread) and read back in 1 MiB pieces, so memory stays bounded whatever the size. The
    verification error, if any, is raised before the first yield.
    """
    if reader.info.size <= spool_over:
        held = [chunk async for chunk in reader]
        for chunk in held:
            yield chunk
        return
    loop = asyncio.get_running_loop()
    spool = await loop.run_in_executor(None, tempfile.TemporaryFile)
    try:
        await _copy(reader, spool.write, None)
        await loop.run_in_executor(None, spool.seek, 0)
        while True:
            piece = await loop.run_in_executor(None, spool.read, _SPOOL_READ)
            if not piece:
                return
            yield piece
    finally:
        await loop.run_in_executor(None, spool.close)


# Reader to a caller's buffer ----------------------------------------------------------------------
_ZEROS = bytes(1024 * 1024)


def writable_view(buffer: Any, info: ObjectInfo) -> memoryview:
    """``buffer`` as a writable flat byte view of exactly the object's size, else
    :class:`BadBufferError` (checked before anything is read)."""
    try:
        view = memoryview(buffer)
    except TypeError:
        raise BadBufferError(f"get_into needs a bytearray or a writable memoryview, not {type(buffer).__name__}") from None
    if view.readonly:
        raise BadBufferError(f"get_into needs a writable buffer; a {type(buffer).__name__} is read-only")
    if not view.c_contiguous:
        raise BadBufferError("get_into needs a contiguous buffer")
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    if view.nbytes != info.size:
        raise BadBufferError(f"object {info.name!r} has {info.size} bytes; the buffer holds {view.nbytes}")
    return view


async def read_into(reader: ObjectReader, view: memoryview, progress: Optional[Callable[[int, Optional[int]], Any]]) -> int:
    """Copy the reader's chunks into ``view`` (from ``writable_view``) as they arrive; returns the
    bytes written (the object's size, verified). On any failure the bytes written so far are
    zeroed before the error goes on: unverified data never stays in the buffer."""
    pos = 0
    size = reader.info.size
    try:
        async for chunk in reader:  # the verifier refuses more bytes than the size before this
            end = pos + len(chunk)
            view[pos:end] = chunk
            pos = end
            if progress is not None:
                progress(pos, size)
    except BaseException:
        for off in range(0, pos, len(_ZEROS)):
            n = min(len(_ZEROS), pos - off)
            view[off : off + n] = _ZEROS[:n] if n < len(_ZEROS) else _ZEROS
        raise
    return pos


async def read_all(reader: ObjectReader, progress: Optional[Callable[[int, Optional[int]], Any]]) -> bytes:
    """The whole verified object as ``bytes`` (``ObjectStore.get``). One chunk is returned as the
    parser made it; more are copied into a buffer preallocated from the meta's size as they
    arrive (each freed at once: no list of chunks, whose interleaving with the reads' buffers
    fragments the heap), then made ``bytes``: the peak is twice the object, never more."""
    size = reader.info.size
    if reader.info.chunks <= 1:
        chunks = [chunk async for chunk in reader]
        if progress is not None and chunks:
            progress(size, size)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    buffer = bytearray(size)
    await read_into(reader, memoryview(buffer), progress)
    return bytes(buffer)
