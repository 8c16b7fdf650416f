"""``ObjectWriter``: the put pipeline as an object, the mirror of ``reader.ObjectReader``.

One writer stores one version of one object: the input adapter (``inputs``) is resolved once,
the chunks go to a fresh nuid (one plain acknowledged publish for an object of one chunk,
pipelined publishes otherwise), are counted and hashed as they pass (``chunks.ChunkVerifier``),
the publisher is settled, and the meta is published as a rollup by compare-and-set (``metas``)
only after every chunk was acknowledged. Then the replaced version's chunks are purged.

One failure path: whatever fails (a refused chunk, a lost connection, a bad item from a
generator, a cancellation), every chunk publish is settled first (stored, refused, withdrawn
unsent, or of unknown fate), then the chunks that may be stored are purged (``cleanup``), and
the previous version stays readable. Must not validate the object's name, headers or metadata
(the store does that before a writer exists) nor purge by itself (``cleanup`` does).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from jetstream import APIError, NoStreamResponseError
from protocol import PermissionViolationError

from .bucket import Bucket
from .chunks import ChunkPlan, ChunkVerifier
from .cleanup import clean_failed_put, purge_replaced
from .fast_put import FastChunks
from .metas import MetaFateUnknown, Metas
from .models import ObjectInfo
from .inputs import ResolvedSource, Source, check_source, iter_chunks

__all__ = ["ObjectWriter", "Progress", "Source", "check_source", "iter_chunks"]

Progress = Callable[[int, Optional[int]], Any]
# The publisher's window: 16 chunks, and at least 8 MiB in flight.
_MIN_WINDOW = 8 * 1024 * 1024
_WINDOW_CHUNKS = 16


class ObjectWriter:
    """Writes ``source`` as the new version of ``info.name`` (``info`` carries the name,
    description, headers, metadata, options and the fresh nuid). ``await writer.write()``
    returns ``info`` completed with size, chunks, digest and mtime."""

    __slots__ = ("bucket", "metas", "info", "source", "plan", "progress", "cleanup_timeout", "verifier", "window", "_unknown", "_stored")

    def __init__(
        self,
        bucket: Bucket,
        metas: Metas,
        info: ObjectInfo,
        source: ResolvedSource,
        plan: ChunkPlan,
        *,
        cleanup_timeout: float,
        progress: Optional[Progress] = None,
        window: Optional[int] = None,
    ) -> None:
        self.bucket = bucket
        self.metas = metas
        self.info = info
        self.source = source
        self.plan = plan  # plan.size: the total when known up front (progress, one-chunk path)
        self.progress = progress
        self.cleanup_timeout = cleanup_timeout
        self.window = window  # chunk bytes in flight (None: the defaults below / fast_put's)
        self.verifier = ChunkVerifier(name=info.name)
        # What became of the chunks if the put fails: whether some chunk's fate is unknown (it
        # may be stored even after a purge) and whether any was stored. Neither: nothing to purge.
        self._unknown = False
        self._stored = False

    async def write(self) -> ObjectInfo:
        info, metas = self.info, self.metas
        # For a name known to exist, the previous version is looked up while the chunks are
        # sent; for others the meta is published expecting no previous version, and a conflict
        # reports the sequence of the one that exists (see Metas.replace).
        previous_task = asyncio.get_running_loop().create_task(metas.previous(info.name)) if metas.known(info.name) else None
        try:
            if self.plan.fits_one():
                info.put_path = "single"
                await self._publish_one()
            elif self.bucket.fast_ingest:
                info.put_path = "fast_ingest"
                await self._publish_fast()
            else:
                info.put_path = "pipelined"
                await self._publish_pipelined()
            v = self.verifier
            info.size, info.chunks = v.bytes, v.count
            info.digest = v.wire_digest()
            previous, previous_seq = await previous_task if previous_task is not None else (None, 0)
            info.mtime = datetime.now(timezone.utc)
            previous = await metas.replace(info, previous, previous_seq, self.cleanup_timeout)
        except BaseException as err:
            if previous_task is not None:
                previous_task.cancel()
            await self._fail(err)
            raise
        if previous is not None and not previous.deleted and previous.nuid and previous.nuid != info.nuid:
            await purge_replaced(self.bucket, previous.nuid, self.cleanup_timeout)
        if self.progress is not None:
            self.progress(info.size, self.plan.size)
        return info

    async def _publish_one(self) -> None:
        """At most one chunk: a plain acknowledged publish, no pipeline to set up."""
        subject = self.bucket.chunk_subject(self.info.nuid)
        js = self.bucket.js
        async for chunk in self.source.chunks(self.plan.chunk_size):
            self.verifier.take(chunk)
            self._unknown = True
            try:
                await js.publish(subject, chunk)
            except (APIError, NoStreamResponseError, PermissionViolationError):
                self._unknown = False  # refused, or no stream answered: not stored
                raise
            self._unknown, self._stored = False, True

    async def _publish_pipelined(self) -> None:
        cs = self.plan.chunk_size
        subject = self.bucket.chunk_subject(self.info.nuid)
        take = self.verifier.take
        progress, total = self.progress, self.plan.size
        pub = self.bucket.js.publisher(max_pending_bytes=self.window or max(_WINDOW_CHUNKS * cs, _MIN_WINDOW))
        await pub.start()
        try:
            reported = 0
            async for chunk in self.source.chunks(cs):
                take(chunk)
                await pub.publish(subject, chunk)
                if progress is not None and pub.acked_bytes != reported:
                    reported = pub.acked_bytes
                    progress(reported, total)
            await pub.wait()
            self._stored = self.verifier.count > 0
        except BaseException:
            # Every chunk must be settled (stored, refused, withdrawn unsent, or of unknown
            # fate) before the purge: one stored after it would leak. Until the account is in
            # (a second cancellation may cut the wait), assume the worst.
            self._unknown = self._stored = True
            settled = await asyncio.shield(pub.settle())
            self._unknown, self._stored = settled.unknown > 0, pub.acked > 0
            raise
        finally:
            await pub.close()

    async def _publish_fast(self) -> None:
        """ADR-50 fast ingest (``fast_put``): one flow-controlled batch, no ack per chunk."""
        sender = FastChunks(self.bucket) if self.window is None else FastChunks(self.bucket, self.window)
        try:
            await sender.send(
                self.bucket.chunk_subject(self.info.nuid), self.source.chunks(self.plan.chunk_size),
                self.verifier.take, self.plan.chunk_size, self.progress, self.plan.size,
            )
        finally:
            self._unknown, self._stored = sender.unknown, sender.stored

    async def _fail(self, err: BaseException) -> None:
        """The one failure path: a meta of unknown fate keeps the chunks (and says so); else
        the chunks that may be stored are purged before ``err`` goes on."""
        if isinstance(err, MetaFateUnknown):
            raise err.as_error(self.bucket, self.info.nuid) from err.__cause__
        if self._unknown or self._stored:
            await asyncio.shield(
                clean_failed_put(self.bucket, self.info.nuid, unknown=self._unknown, timeout=self.cleanup_timeout, cause=err)
            )
