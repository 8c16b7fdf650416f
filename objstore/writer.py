"""``ObjectWriter``: the put pipeline as an object, the mirror of ``reader.ObjectReader``.

One writer stores one version of one object: the input adapter (``inputs``) is resolved once,
the chunks go to a fresh nuid (one plain acknowledged publish for an object of one chunk,
pipelined publishes otherwise), are counted and hashed as they pass (``chunks.ChunkVerifier``),
the publisher is settled, and the meta is published as a rollup by compare-and-set (``metas``)
only after every chunk was acknowledged. Then the replaced version's chunks are purged.

One failure path: whatever fails (a refused chunk, a lost connection, a bad item from a
generator, a cancellation), every chunk publish is settled first (stored, refused, withdrawn
unsent, or of unknown fate), then the chunks that may be stored are purged (``cleanup``), and
the previous version stays readable. Two exceptions: a meta of unknown fate keeps the chunks
(it may name them), and a resumable put (``objstore.resume``) keeps them for its next attempt.

Carrying on: with ``reconnect_wait`` > 0 every chunk carries a ``Nats-Msg-Id`` of
``<nuid>.<index>`` and the publisher resends the chunks lost with a connection on the next one,
in order (``jetstream.carry``), so a lost connection does not fail the put. Chunks and meta
carry ``Nats-TTL`` for a per-object TTL (``objstore.ttl``). Must not validate the object's name,
headers or metadata (the store does that before a writer exists) nor purge by itself
(``cleanup`` does).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional

from jetstream import HDR_TTL, APIError, NoStreamResponseError
from protocol import PermissionViolationError

from .bucket import Bucket
from .chunks import ChunkPlan, ChunkVerifier
from .cleanup import clean_failed_put, purge_replaced
from .fast_put import FastChunks
from .metas import MetaFateUnknown, Metas
from .models import ObjectInfo
from .inputs import ResolvedSource, Source, check_source, iter_chunks
from .resume import ResumeSession
from .ttl import NEVER, ObjectTTL

__all__ = ["ObjectWriter", "Progress", "Source", "check_source", "iter_chunks"]

Progress = Callable[[int, Optional[int]], Any]
# The publisher's window: 16 chunks, and at least 8 MiB in flight.
_MIN_WINDOW = 8 * 1024 * 1024
_WINDOW_CHUNKS = 16


class ObjectWriter:
    """Writes ``source`` as the new version of ``info.name`` (``info`` carries the name,
    description, headers, metadata, options and the fresh nuid). ``await writer.write()``
    returns ``info`` completed with size, chunks, digest and mtime."""

    __slots__ = (
        "bucket", "metas", "info", "source", "plan", "progress", "cleanup_timeout", "verifier", "ttl", "_headers",
        "_started", "_unknown", "_stored", "resume", "reconnect_wait", "sent_bytes", "_pub", "window",
    )

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
        ttl: Optional[ObjectTTL] = None,
        resume: Optional[ResumeSession] = None,
        reconnect_wait: float = 0.0,
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
        # Per-object TTL (objstore.ttl): every chunk carries the chunks' Nats-TTL; the meta's is
        # bounded by the time since the first chunk was sent (``_started``, loop time).
        self.ttl = ttl
        self._headers = ttl.chunk_headers() if ttl is not None else None
        self._started: Optional[float] = None
        # What became of the chunks if the put fails: whether some chunk's fate is unknown (it
        # may be stored even after a purge) and whether any was stored. Neither: nothing to purge.
        self._unknown = False
        self._stored = False
        # Resuming (objstore.resume): the verified prefix is hashed, not sent; checkpoints are
        # recorded as acks come; a failure keeps the chunks for the next attempt.
        self.resume = resume
        if resume is not None and resume.stored:
            self.verifier.continue_from(resume.prefix, resume.skipped_bytes, resume.stored)
        # A lost connection: chunks without an ack are resent on the next one (Nats-Msg-Id
        # ``<nuid>.<index>``: the server drops a chunk it already has), for this long.
        self.reconnect_wait = reconnect_wait
        self.sent_bytes = 0
        self._pub: Any = None

    async def write(self) -> ObjectInfo:
        info, metas = self.info, self.metas
        # For a name known to exist, the previous version is looked up while the chunks are
        # sent; for others the meta is published expecting no previous version, and a conflict
        # reports the sequence of the one that exists (see Metas.replace).
        previous_task = asyncio.get_running_loop().create_task(metas.previous(info.name)) if metas.known(info.name) else None
        meta_sent = False
        try:
            if self.plan.fits_one() and self.resume is None:
                info.put_path = "single"
                await self._publish_one()
            elif self.bucket.fast_ingest and self.resume is None:
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
            extra = self._meta_ttl(info)
            meta_sent = True
            previous = await metas.replace(info, previous, previous_seq, self.cleanup_timeout, extra)
        except BaseException as err:
            if previous_task is not None:
                previous_task.cancel()
            # (A resumable put keeps its chunks on every failure anyway: _fail.)
            if meta_sent and self.resume is None and isinstance(err, asyncio.CancelledError) and await self._kept_on_cancel(err):
                raise  # cancelled after the meta was sent, and it (maybe) landed: the chunks stay
            await self._fail(err)
            raise
        self._account(info)
        if self.resume is not None:
            self.resume.done()
        if previous is not None and not previous.deleted and previous.nuid and previous.nuid != info.nuid:
            await purge_replaced(self.bucket, previous.nuid, self.cleanup_timeout)
        if self.progress is not None:
            self.progress(info.size, self.plan.size)
        return info

    def _meta_ttl(self, info: ObjectInfo) -> Optional[dict[str, str]]:
        """The meta's Nats-TTL header (None without a TTL); sets ``info.ttl`` and ``expires``."""
        ttl = self.ttl
        if ttl is None:
            return None
        if ttl.never:
            return {HDR_TTL: NEVER}
        loop = asyncio.get_running_loop()
        seconds = ttl.meta_seconds(loop.time() - (self._started if self._started is not None else loop.time()))
        assert seconds is not None
        info.ttl = timedelta(seconds=seconds)
        info.expires = info.mtime + info.ttl if info.mtime is not None else None
        return {HDR_TTL: f"{seconds}s"}

    def _account(self, info: ObjectInfo) -> None:
        """``info.transfer``: what this put moved (resumes and reconnects included)."""
        pub, resume = self._pub, self.resume
        info.transfer = {
            "sent_bytes": self.sent_bytes if pub is not None else info.size,
            "resent_bytes": pub.resent_bytes if pub is not None else 0,
            "duplicate_chunks": pub.duplicates if pub is not None else 0,
            "resumed_chunks": resume.stored if resume is not None else 0,
            "skipped_bytes": resume.skipped_bytes if resume is not None else 0,
            "verified_bytes": resume.verified_bytes if resume is not None else 0,
        }

    def _start_clock(self) -> None:
        if self._started is None:
            self._started = asyncio.get_running_loop().time()

    async def _publish_one(self) -> None:
        """At most one chunk: a plain acknowledged publish, no pipeline to set up."""
        subject = self.bucket.chunk_subject(self.info.nuid)
        js = self.bucket.js
        async for chunk in self.source.chunks(self.plan.chunk_size):
            self.verifier.take(chunk)
            self._unknown = True
            self._start_clock()
            try:
                await js.publish(subject, chunk, headers=self._headers)
            except (APIError, NoStreamResponseError, PermissionViolationError):
                self._unknown = False  # refused, or no stream answered: not stored
                raise
            self._unknown, self._stored = False, True

    async def _publish_pipelined(self) -> None:
        cs = self.plan.chunk_size
        subject = self.bucket.chunk_subject(self.info.nuid)
        take = self.verifier.take
        progress, total = self.progress, self.plan.size
        pub = self._pub = self.bucket.js.publisher(
            max_pending_bytes=self.window or max(_WINDOW_CHUNKS * cs, _MIN_WINDOW), reconnect_wait=self.reconnect_wait
        )
        await pub.start()
        headers = self._headers
        verifier, resume = self.verifier, self.resume
        base = verifier.count  # chunks of an earlier attempt, already stored
        skipped = verifier.bytes
        prefix = self.info.nuid + "."
        ids = resume is not None or self.reconnect_wait > 0  # without them, a lost ack fails the put
        try:
            reported = 0
            self._start_clock()
            async for chunk in self.source.chunks(cs):
                take(chunk)
                self.sent_bytes += len(chunk)
                await pub.publish(subject, chunk, headers=headers, msg_id=prefix + str(verifier.count - 1) if ids else None)
                if resume is not None:
                    resume.sent(verifier.count, verifier.snapshot())
                    resume.acked(base + pub.acked, pub.last_seq)
                if progress is not None and pub.acked_bytes != reported:
                    reported = pub.acked_bytes
                    progress(skipped + reported, total)
            await pub.wait()
            if resume is not None:
                resume.acked(base + pub.acked, pub.last_seq, force=True)
            self._stored = self.verifier.count > 0
        except BaseException:
            # Every chunk must be settled (stored, refused, withdrawn unsent, or of unknown
            # fate) before the purge: one stored after it would leak. Until the account is in
            # (a second cancellation may cut the wait), assume the worst.
            self._unknown = self._stored = True
            settled = await asyncio.shield(pub.settle())
            self._unknown, self._stored = settled.unknown > 0, pub.acked > 0
            if resume is not None:
                resume.acked(base + pub.acked, pub.last_seq, force=True)
            raise
        finally:
            await pub.close()

    async def _publish_fast(self) -> None:
        """ADR-50 fast ingest (``fast_put``): one flow-controlled batch, no ack per chunk."""
        sender = FastChunks(self.bucket, headers=self._headers) if self.window is None else FastChunks(self.bucket, self.window, headers=self._headers)
        self._start_clock()
        try:
            await sender.send(
                self.bucket.chunk_subject(self.info.nuid), self.source.chunks(self.plan.chunk_size),
                self.verifier.take, self.plan.chunk_size, self.progress, self.plan.size,
            )
        finally:
            self._unknown, self._stored = sender.unknown, sender.stored

    async def _kept_on_cancel(self, err: BaseException) -> bool:
        """A put cancelled (Ctrl-C) while its meta was in flight: read the meta back (shielded
        from the cancellation) before anything is purged. True when it landed, or when that
        cannot be told: a stored meta must never be left naming purged chunks."""
        try:
            return await asyncio.shield(self.metas.landed(self.info, err, self.cleanup_timeout))
        except MetaFateUnknown:
            return True

    async def _fail(self, err: BaseException) -> None:
        """The one failure path: a meta of unknown fate keeps the chunks (and says so); else
        the chunks that may be stored are purged before ``err`` goes on."""
        if self.resume is not None:
            self.resume.keep()  # the chunks stay for the next attempt (objstore.resume)
        if isinstance(err, MetaFateUnknown):
            raise err.as_error(self.bucket, self.info.nuid) from err.__cause__
        if self.resume is not None:
            return
        if self._unknown or self._stored:
            await asyncio.shield(
                clean_failed_put(self.bucket, self.info.nuid, unknown=self._unknown, timeout=self.cleanup_timeout, cause=err)
            )
