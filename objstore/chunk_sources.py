"""The ways an ``ObjectReader`` fetches an object's chunks in order: one ``ChunkSource`` each.
Must not verify, count bytes or decide which source to use (the reader does).

- :class:`DirectSingle`: an object of one chunk, one direct get of the last message on its
  chunk subject;
- :class:`DirectBatch`: up to 64 chunks and 8 MiB on a single-replica bucket, one batched
  direct get (ADR-31, server 2.11+), with no consumer to create and delete;
- :class:`OrderedChunks`: an ordered consumer on the chunk subject, whose flow control keeps the
  in-flight window small whatever the object size.

A source that cannot serve (no direct get, a server before 2.11, a replica that may lag) says so
from ``open()`` before it delivered anything, and the reader tries the next one.
"""

from __future__ import annotations

from typing import Optional

from jetstream import JetStreamError, MessageNotFoundError, OrderedConsumer

from .bucket import Bucket
from .errors import ChunkMissingError
from .models import ObjectInfo

__all__ = ["ChunkSource", "DirectBatch", "DirectSingle", "OrderedChunks"]

# Objects up to this size are read with one batched direct get instead of a consumer.
_BATCH_MAX_CHUNKS = 64
_BATCH_MAX_BYTES = 8 * 1024 * 1024


# Chunk sources ------------------------------------------------------------------------------------
class ChunkSource:
    """One way to fetch an object's chunks in order. ``open()`` returns False when this way is
    not available (nothing was delivered: the reader tries the next one); ``next()`` returns the
    next chunk and sets ``last`` when no chunk follows it, or returns ``None`` when the stream
    has no more chunks although the meta says there are (the verifier then reports them missing)."""

    __slots__ = ("bucket", "info", "last", "_read")

    def __init__(self, bucket: Bucket, info: ObjectInfo) -> None:
        self.bucket = bucket
        self.info = info
        self.last = False
        self._read = 0

    async def open(self) -> bool:
        return True

    async def next(self) -> Optional[bytes]:
        raise NotImplementedError

    async def close(self) -> None:
        return None


class DirectSingle(ChunkSource):
    """An object of one chunk: one direct get. Not available without a direct-get responder,
    nor when a replicated bucket's replica does not have the chunk yet (it may lag)."""

    __slots__ = ("_chunk",)

    @staticmethod
    def fits(bucket: Bucket, info: ObjectInfo) -> bool:
        return info.chunks == 1

    async def open(self) -> bool:
        bucket = self.bucket
        try:
            stored = await bucket.js.direct_get(bucket.stream, last_by_subj=bucket.chunk_subject(self.info.nuid))
        except MessageNotFoundError:
            if bucket.replicas > 1:
                return False  # a replica may lag: let the consumer path (leader) decide
            raise ChunkMissingError(f"object {self.info.name!r}: its chunk is gone (expired or purged)") from None
        except JetStreamError:
            return False
        self._chunk = stored.data
        return True

    async def next(self) -> Optional[bytes]:
        self.last = True
        return self._chunk


class DirectBatch(ChunkSource):
    """A few chunks on a single-replica bucket: one batched direct get streams them all (server
    2.11+). Not available when the first answer is an error (older server, no direct get)."""

    __slots__ = ("_batch", "_first")

    @staticmethod
    def fits(bucket: Bucket, info: ObjectInfo) -> bool:
        return bucket.direct and 1 < info.chunks <= _BATCH_MAX_CHUNKS and info.size <= _BATCH_MAX_BYTES

    async def open(self) -> bool:
        bucket, info = self.bucket, self.info
        self._batch = bucket.js.direct_get_batch(bucket.stream, info.chunks, next_by_subj=bucket.chunk_subject(info.nuid))
        try:
            self._first: Optional[bytes] = (await self._batch.__anext__()).data
        except StopAsyncIteration:  # no chunk at all
            self._first = None
        except JetStreamError:
            await self.close()
            return False  # no batch support (server < 2.11) or no direct get: next source
        return True

    async def next(self) -> Optional[bytes]:
        self._read += 1
        self.last = self._read >= self.info.chunks
        if self._read == 1:
            return self._first
        try:
            return (await self._batch.__anext__()).data
        except StopAsyncIteration:  # the batch ended early: chunks are missing
            return None

    async def close(self) -> None:
        batch, self._batch = getattr(self, "_batch", None), None
        if batch is not None:
            await batch.aclose()


class OrderedChunks(ChunkSource):
    """An ordered consumer on the object's chunk subject (any object, any bucket)."""

    __slots__ = ("_oc", "idle_timeout")

    def __init__(self, bucket: Bucket, info: ObjectInfo, idle_timeout: Optional[float]) -> None:
        super().__init__(bucket, info)
        self.idle_timeout = idle_timeout
        self._oc: Optional[OrderedConsumer] = None

    async def open(self) -> bool:
        bucket = self.bucket
        oc = self._oc = OrderedConsumer(
            bucket.js, bucket.stream, filter_subject=bucket.chunk_subject(self.info.nuid), idle_timeout=self.idle_timeout
        )
        await oc.start()
        if oc.num_pending == 0 and not await self._more_on_leader(0):
            await self.close()
            raise ChunkMissingError(f"object {self.info.name!r}: no chunks stored (expired or purged)")
        return True

    async def next(self) -> Optional[bytes]:
        msg = await self._oc.__anext__()  # type: ignore[union-attr]
        self._read += 1
        md = msg.metadata
        last = self._read >= self.info.chunks
        if not last and md.num_pending == 0 and not await self._more_on_leader(md.stream_seq):
            last = True  # nothing stored after this one: the verifier reports the missing chunks
        self.last = last
        return msg.data

    async def _more_on_leader(self, after_seq: int) -> bool:
        """Whether a chunk of this object is stored after stream sequence ``after_seq``.

        A single-replica bucket's consumer counts pending messages exactly, so "0 pending" is
        final. A replicated bucket's (R1, ephemeral) consumer may run on a follower that lags
        behind the leader and report 0 pending early: ask the leader.
        """
        bucket = self.bucket
        if bucket.replicas == 1:
            return False
        try:
            await bucket.js.get_msg(bucket.stream, after_seq + 1, next_by_subj=bucket.chunk_subject(self.info.nuid))
        except MessageNotFoundError:
            return False
        return True

    async def close(self) -> None:
        oc, self._oc = self._oc, None
        if oc is not None:
            await oc.close()
