"""``ObjectReader``: an object's chunks as an async iterator, verified at the end.

Small objects are read with direct gets (one chunk: a single get; up to 64 chunks and 8 MiB on a
single-replica bucket: one batched direct get, server 2.11+, falling back to a consumer where it
is not available); larger ones through an ordered consumer on the object's chunk subject, whose
flow control keeps the in-flight window small whatever the object size. Size, chunk count and SHA-256 are checked when the last chunk arrives:
:class:`DigestMismatchError` (or :class:`ChunkMissingError`) instead of corrupt data, and an
idle timeout that restarts on every chunk instead of a hang on a missing one.

``write_all`` streams a reader into a binary file (``ObjectStore.get(writeinto=...)``) with
bounded memory, the writes done in a worker thread; when the read fails (a digest, size or
chunk-count mismatch, a missing chunk, a timeout), a seekable file is cut back to where it
started, so that unverified bytes never stay behind as if they were good.
``verified_chunks`` reads and verifies a whole object before it yields anything, holding it in
memory up to a bound and spooling it to a temporary file above that.
"""

from __future__ import annotations

import asyncio
import tempfile
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Optional

from jetstream import JetStreamError, MessageNotFoundError, OrderedConsumer
from protocol import NatsTimeoutError

from .digest import decode_digest
from .errors import ChunkMissingError, DigestMismatchError
from .hashing import Hasher
from .models import ObjectInfo
from .subjects import chunk_subject

if TYPE_CHECKING:
    from .store import ObjectStore

__all__ = ["ObjectReader", "write_all", "verified_chunks", "DEFAULT_SPOOL_OVER"]

DEFAULT_IDLE_TIMEOUT = 30.0
# Objects up to this size are read with one batched direct get instead of a consumer.
_BATCH_MAX_CHUNKS = 64
_BATCH_MAX_BYTES = 8 * 1024 * 1024


class ObjectReader:
    """``async with store.reader(name) as r: async for chunk in r: ...`` (bytes chunks).

    ``info`` is the object's :class:`ObjectInfo`. Iteration raises :class:`DigestMismatchError`
    after the last chunk if the data does not match, and :class:`protocol.NatsTimeoutError` when
    no chunk arrives for ``idle_timeout`` seconds.
    """

    def __init__(self, store: "ObjectStore", info: ObjectInfo, *, idle_timeout: Optional[float] = DEFAULT_IDLE_TIMEOUT) -> None:
        self._store = store
        self.info = info
        self.idle_timeout = idle_timeout
        self._sha = Hasher()
        self.bytes_read = 0
        self.chunks_read = 0
        self._oc: Optional[OrderedConsumer] = None
        self._batch: Any = None  # an async iterator of a batched direct get, for small objects
        self._done = info.chunks == 0 and info.size == 0
        self._verified = False
        if self._done:
            self._verify()

    async def __aenter__(self) -> "ObjectReader":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        batch, self._batch = self._batch, None
        if batch is not None:
            await batch.aclose()
        oc, self._oc = self._oc, None
        if oc is not None:
            await oc.close()

    def __aiter__(self) -> "ObjectReader":
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            await self.close()
            raise StopAsyncIteration
        info = self.info
        if info.chunks == 1 and self.chunks_read == 0 and self._oc is None:
            chunk = await self._direct_single()
            if chunk is not None:
                return self._take(chunk, last=True)
        if self._batch is None and self._oc is None and self.chunks_read == 0 and self._batchable():
            # A few chunks on a single-replica bucket: one batched direct get streams them all
            # (server 2.11+), with no consumer to create and delete.
            self._batch = self._store._js.direct_get_batch(
                self._store.stream_name, info.chunks, next_by_subj=chunk_subject(self._store.bucket, info.nuid)
            )
        if self._batch is not None:
            try:
                stored = await self._batch.__anext__()
            except StopAsyncIteration:  # the batch ended early: chunks are missing
                self._batch = None
                self._done = True
                self._verify()  # raises ChunkMissingError: fewer chunks than the meta says
                raise
            except JetStreamError:
                if self.chunks_read:
                    raise
                self._batch = None  # no batch support (server < 2.11) or no direct get: consumer
            else:
                return self._take(stored.data, last=self.chunks_read + 1 >= info.chunks)
        oc = self._oc
        if oc is None:
            oc = self._oc = OrderedConsumer(
                self._store._js,
                self._store.stream_name,
                filter_subject=chunk_subject(self._store.bucket, info.nuid),
                idle_timeout=self.idle_timeout,
            )
            await oc.start()
            if oc.num_pending == 0 and not await self._more_on_leader(0):
                await self.close()
                raise ChunkMissingError(f"object {info.name!r}: no chunks stored (expired or purged)")
        try:
            msg = await oc.__anext__()
        except NatsTimeoutError:
            await self.close()
            raise
        md = msg.metadata
        last = self.chunks_read + 1 >= info.chunks
        if not last and md.num_pending == 0 and not await self._more_on_leader(md.stream_seq):
            last = True  # nothing stored after this one: _verify reports the missing chunks
        return self._take(msg.data, last=last)

    def _batchable(self) -> bool:
        info = self.info
        store = self._store
        return store.replicas == 1 and getattr(store, "_direct", False) and 1 < info.chunks <= _BATCH_MAX_CHUNKS and info.size <= _BATCH_MAX_BYTES

    async def _more_on_leader(self, after_seq: int) -> bool:
        """Whether a chunk of this object is stored after stream sequence ``after_seq``.

        A single-replica bucket's consumer counts pending messages exactly, so "0 pending" is
        final. A replicated bucket's (R1, ephemeral) consumer may run on a follower that lags
        behind the leader and report 0 pending early: ask the leader.
        """
        store = self._store
        if store.replicas == 1:
            return False
        subject = chunk_subject(store.bucket, self.info.nuid)
        try:
            await store._js.get_msg(store.stream_name, after_seq + 1, next_by_subj=subject)
        except MessageNotFoundError:
            return False
        return True

    async def _direct_single(self) -> Optional[bytes]:
        store = self._store
        try:
            stored = await store._js.direct_get(store.stream_name, last_by_subj=chunk_subject(store.bucket, self.info.nuid))
        except MessageNotFoundError:
            if store.replicas > 1:
                return None  # a replica may lag: let the consumer path (leader) decide
            raise ChunkMissingError(f"object {self.info.name!r}: its chunk is gone (expired or purged)") from None
        except JetStreamError:
            return None
        return stored.data

    def _take(self, chunk: bytes, last: bool) -> bytes:
        self._sha.update(chunk)
        self.bytes_read += len(chunk)
        self.chunks_read += 1
        if self.bytes_read > self.info.size:
            self._done = True
            raise DigestMismatchError(f"object {self.info.name!r}: more data than its size {self.info.size}")
        if last:
            self._done = True
            self._verify()
        return chunk

    def _verify(self) -> None:
        info = self.info
        if self.chunks_read != info.chunks or self.bytes_read != info.size:
            cls = ChunkMissingError if self.chunks_read < info.chunks else DigestMismatchError
            raise cls(
                f"object {info.name!r}: read {self.bytes_read} bytes in {self.chunks_read} chunks, "
                f"expected {info.size} bytes in {info.chunks} chunks"
            )
        if info.digest and self._sha.digest() != decode_digest(info.digest):
            raise DigestMismatchError(f"object {info.name!r}: received data does not match its SHA-256 digest")
        self._verified = True

    @property
    def verified(self) -> bool:
        return self._verified


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
