"""``ObjectStore``: one bucket's verbs (put, get, get_info, delete, list, watch, status, seal,
update_meta, links, health), each a few lines composing the parts. Must not hold the pipelines
themselves: chunking and verification are ``chunks``, the put is ``writer.ObjectWriter``, the
read ``reader.ObjectReader``, metas ``metas.Metas``, purges ``cleanup``, the stream handle
``bucket.Bucket``.

Puts never lose data: chunks go to a fresh nuid, the meta (with ``Nats-Rollup: sub``) replaces
the previous version only after every chunk is acknowledged, and any failure purges the partial
chunks and leaves the old version readable. JetStream errors are translated into object-store
errors with ``raise ... from``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, AsyncIterator, Optional

from jetstream import JetStream, StreamInfo
from protocol import Headers, next_nuid

from .bucket import Bucket
from .cleanup import DEFAULT_CLEANUP_TIMEOUT, purge_deleted
from .config import ObjectStoreStatus
from .errors import (
    BadObjectMetaError,
    LinkIsABucketError,
    LinkNotAllowedError,
    ObjectDeletedError,
    InvalidTTLError,
    ObjectNotFoundError,
    TTLNotAllowedError,
)

DEFAULT_RECONNECT_WAIT = 30.0
# Bytes kept free in each chunk message for its headers (Nats-Msg-Id, Nats-TTL) when the chunk
# size is capped by max_payload or max_msg_size, which count headers too.
CHUNK_HEADER_ROOM = 128
from .inputs import Source, resolve_source
from .health_verbs import HealthVerbs
from .links import LinkVerbs
from .ranged import RangedVerbs
from .metas import Metas
from .models import DEFAULT_CHUNK_SIZE, ObjectInfo, ObjectMeta, ObjectMetaOptions, parse_meta
from .result import ObjectResult
from .reader import DEFAULT_IDLE_TIMEOUT, DEFAULT_SPOOL_OVER, ObjectReader, read_all, read_into, verified_chunks, writable_view, write_all
from .subjects import validate_object_name
from .resume import prepare
from .ttl import ObjectTTL, TTLInput, apply_ttl
from .validate import validate_object_meta
from .watch import ObjectWatcher, scan_latest
from .writer import ObjectWriter, Progress

__all__ = ["ObjectStore", "ObjectWatcher"]


class ObjectStore(LinkVerbs, RangedVerbs, HealthVerbs):
    """One bucket. Get it from ``js.object_store(bucket)`` or ``js.create_object_store(...)``."""

    def __init__(self, js: JetStream, bucket: str, info: StreamInfo) -> None:
        self._init(Bucket(js, bucket, info), info)

    @classmethod
    def from_bucket(cls, handle: Bucket, info: StreamInfo) -> "ObjectStore":
        """The store over a bound bucket handle (``Bucket.bind``)."""
        store = cls.__new__(cls)
        store._init(handle, info)
        return store

    def _init(self, handle: Bucket, info: StreamInfo) -> None:
        self.handle = handle  # the narrow handle the writer, reader, watcher and health take
        self.bucket = handle.name
        self.name = handle.name
        self.stream_name = handle.stream
        self.stream_info = info
        self.replicas = handle.replicas
        self._metas = Metas(handle)
        # How long a failed put (or a delete) keeps trying to purge chunks through reconnects
        # and leader elections before it raises CleanupFailedError naming the nuid.
        self.cleanup_timeout = DEFAULT_CLEANUP_TIMEOUT
        # How long a put waits through a lost connection and carries on after the reconnect
        # (resending only the chunks without an ack); 0 fails it at the first loss instead.
        # Capped at half the stream's duplicate window, within which resends are deduplicated.
        self.reconnect_wait = DEFAULT_RECONNECT_WAIT
        self._init_ranges()  # fetch_stats, layouts (objstore.ranged)

    def __repr__(self) -> str:
        return f"<ObjectStore bucket={self.bucket!r}>"

    async def _other(self, bucket: str) -> "ObjectStore":
        """This store, or another bucket's bound on the same JetStream context (links)."""
        if bucket == self.bucket:
            return self
        return ObjectStore.from_bucket(*await Bucket.bind(self.handle.js, bucket))

    # Reading meta --------------------------------------------------------------------------------
    async def get_info(self, name: str, show_deleted: bool = False) -> ObjectInfo:
        """The object's info. Raises ObjectNotFoundError, ObjectDeletedError (a subclass, when it
        was deleted and ``show_deleted`` is false), BadObjectMetaError, BucketNotFoundError."""
        stored = await self._metas.fetch(name)
        try:
            info = parse_meta(stored.data)
        except BadObjectMetaError as err:
            raise BadObjectMetaError(f"object {name!r} in bucket {self.bucket!r}: malformed meta (seq {stored.seq}): {err}") from err
        info.mtime = stored.time or info.mtime
        if stored.headers:
            apply_ttl(info, stored.headers, stored.time)
        if info.deleted and not show_deleted:
            raise ObjectDeletedError(f"object {name!r} was deleted")
        return info

    async def _maybe_info(self, name: str) -> Optional[ObjectInfo]:
        try:
            return await self.get_info(name, show_deleted=True)
        except ObjectNotFoundError:
            return None

    # Put -------------------------------------------------------------------------------------
    async def put(
        self,
        name: str,
        data: Source = b"",
        description: Optional[str] = None,
        filename: Optional[str] = None,
        headers: Any = None,
        *,
        metadata: Optional[dict[str, str]] = None,
        chunk_size: Optional[int] = None,
        meta: Optional[ObjectMeta] = None,
        progress: Optional[Progress] = None,
        size_hint: Optional[int] = None,
        ttl: TTLInput = None,
        resume: bool = False,
        resume_dir: Optional[str] = None,
        window: Optional[int] = None,
    ) -> ObjectInfo:
        """Store ``data`` under ``name`` (replacing any previous version) and return its info.

        ``data``: bytes, bytearray, memoryview (or another bytes-like), str (UTF-8), a binary file
        object or an (async) iterable of bytes-likes; anything else (a dict, a list of ints, str
        items, a text-mode file, None) raises UnsupportedSourceError before anything is sent, as
        bad headers or filename raise BadObjectHeaderError (see ``inputs.check_source`` and
        ``validate.validate_object_meta``). ``meta`` (an ObjectMeta) may carry
        name/description/headers/metadata/options instead of the keyword arguments. ``progress(acked_bytes, total_or_None)`` is called as
        the server acknowledges chunks. ``window`` bounds the chunk bytes in flight (default: 16 chunks and
        at least 8 MiB pipelined, 16 MiB for a fast-ingest batch). Raises BadObjectMetaError, LinkNotAllowedError, and
        JetStream errors (StreamSealedError, StoreFailedError ...) after purging partial chunks.

        ``ttl`` (a ``timedelta``, seconds, or ``"never"``; whole seconds, rounded up, at least 1):
        the object's own lifetime from when ``put`` returns, on a bucket created with
        ``allow_msg_ttl=True``; chunks and meta carry ``Nats-TTL`` so that the whole object
        expires together (see :mod:`objstore.ttl`). Raises InvalidTTLError (bad value) and
        TTLNotAllowedError (the bucket does not allow it) before anything is uploaded.

        A lost connection does not fail the put: chunks without an ack are resent on the next
        connection (idempotent ``Nats-Msg-Id``s), for up to ``store.reconnect_wait`` seconds.
        ``resume=True`` (``data`` a binary file on a regular file, put whole): an earlier attempt
        of this file under this name, killed or failed, is carried on: its stored chunks are
        verified against the file and only the rest is sent (:mod:`objstore.resume`; state in
        ``resume_dir``). ``info.transfer`` says what was sent, resent, skipped and read back.
        """
        if meta is not None:
            name = meta.name or name
            description = meta.description if meta.description is not None else description
            headers = meta.headers if meta.headers is not None else headers
            metadata = meta.metadata if meta.metadata is not None else metadata
            if meta.options is not None:
                if meta.options.link is not None:
                    raise LinkNotAllowedError("a link cannot be set when putting an object; use add_link")
                chunk_size = chunk_size or meta.options.effective_chunk_size
        validate_object_name(name)
        if window is not None and (type(window) is not int or window < 1):
            raise BadObjectMetaError(f"window must be a positive number of bytes, not {window!r}")
        validate_object_meta(description=description, headers=headers, metadata=metadata, filename=filename)
        source = resolve_source(data)
        if filename:
            headers = Headers(headers) if headers else Headers()
            headers.setdefault("Content-Disposition", f'attachment; filename="{filename}"')
        room = CHUNK_HEADER_ROOM if (self.reconnect_wait > 0 or resume or ttl is not None) else 0
        plan = self.handle.chunk_plan(chunk_size or DEFAULT_CHUNK_SIZE, size_hint if size_hint is not None else source.total, room)
        object_ttl = session = None
        if resume:
            if ttl is not None:
                raise InvalidTTLError("ttl cannot be combined with resume=True")
            session = await prepare(self.handle, name, data, plan.chunk_size, resume_dir, self.cleanup_timeout)
            if session.complete is not None:  # the earlier attempt had finished
                session.done()
                done = session.complete
                done.transfer = {"sent_bytes": 0, "resent_bytes": 0, "duplicate_chunks": 0, "resumed_chunks": done.chunks,
                                 "skipped_bytes": done.size, "verified_bytes": 0}
                return done
            plan = self.handle.chunk_plan(plan.chunk_size, session.doc["source"]["size"], room)
        if ttl is not None:
            object_ttl = ObjectTTL.plan(ttl, plan.size, self.handle.ttl_floor)
            if not await self.handle.allows_msg_ttl():
                raise TTLNotAllowedError(
                    f"bucket {self.bucket!r} does not allow per-object TTLs: create it with allow_msg_ttl=True "
                    "(nats-server 2.11+); nothing was uploaded"
                )
        info = ObjectInfo(
            name=name,
            bucket=self.bucket,
            nuid=session.nuid if session is not None else next_nuid(),
            description=description or None,
            headers=Headers(headers) if headers else None,
            metadata=dict(metadata) if metadata else None,
            options=ObjectMetaOptions(max_chunk_size=plan.chunk_size),
        )
        try:
            self._metas.check_size(info)
        except BaseException:
            if session is not None:
                session.keep()
            raise
        writer = ObjectWriter(
            self.handle, self._metas, info, source, plan, cleanup_timeout=self.cleanup_timeout, progress=progress,
            ttl=object_ttl, resume=session, reconnect_wait=min(self.reconnect_wait, self.handle.duplicate_window / 2), window=window,
        )
        return await writer.write()

    # Get -------------------------------------------------------------------------------------
    async def _resolve(self, name: str, show_deleted: bool = False) -> tuple["ObjectStore", ObjectInfo]:
        info = await self.get_info(name, show_deleted=show_deleted)
        link = info.link
        if link is None:
            if not info.nuid and not info.deleted:
                raise BadObjectMetaError(f"object {name!r} has no nuid")
            return self, info
        if not link.name:
            raise LinkIsABucketError(f"object {name!r} is a link to bucket {link.bucket!r}")
        store = await self._other(link.bucket)
        target = await store.get_info(link.name)
        if target.is_link():
            raise BadObjectMetaError(f"link {name!r} points to another link")
        return store, target

    async def reader(self, name: str, *, idle_timeout: Optional[float] = DEFAULT_IDLE_TIMEOUT, show_deleted: bool = False) -> ObjectReader:
        """A verified async iterator over the object's chunks (links followed)."""
        store, info = await self._resolve(name, show_deleted)
        return ObjectReader(store.handle, info, idle_timeout=idle_timeout)

    async def get(
        self,
        name: str,
        writeinto: Any = None,
        show_deleted: bool = False,
        *,
        offset: int = 0,
        length: Optional[int] = None,
        idle_timeout: Optional[float] = DEFAULT_IDLE_TIMEOUT,
        progress: Optional[Progress] = None,
        result: bool = False,
    ) -> "bytes | ObjectResult":
        """The object's bytes, verified; or, with ``writeinto`` (a binary file object), streamed
        into it with bounded memory (returns ``b""``). Raises ObjectNotFoundError,
        ObjectDeletedError, LinkIsABucketError, DigestMismatchError, ChunkMissingError.
        ``result=True`` returns nats-py's shape instead: an :class:`ObjectResult` with ``.info``
        (the target's, for a link) and ``.data`` (``b""`` with ``writeinto``), async-iterable.

        ``offset``/``length``: only bytes ``[offset, offset + length)`` (``length`` None or past the
        end: to the end; ``offset == size``: ``b""``; negative, non-int or ``offset > size``:
        BadRangeError), fetching only the chunks that cover them. A partial range is checked
        chunk by chunk (count, sequence, sizes) but not against the SHA-256 (see
        :mod:`objstore.ranged`); a range covering the whole object is verified as a full get.

        With ``writeinto``, the bytes reach the file before the digest can be checked (at the
        last chunk). When a full read fails (mismatch, missing chunk, timeout, lost connection), a
        seekable file is truncated back to the position it had when the get started before
        the error is raised; a non-seekable one keeps what was written, and the error's
        ``bytes_written`` says how much (see ``reader.write_all``)."""
        store, info, offset, length = await self._resolve_range(name, offset, length, show_deleted)
        if length != info.size:
            data = await self._get_range(store, info, offset, length, writeinto, idle_timeout, progress)
            return ObjectResult(info, data) if result else data
        reader = ObjectReader(store.handle, info, idle_timeout=idle_timeout)
        async with reader:
            if writeinto is not None:
                await write_all(reader, writeinto, progress)
                self._count_whole(reader)
                return ObjectResult(info) if result else b""
            data = await read_all(reader, progress)
            self._count_whole(reader)
            return ObjectResult(info, data) if result else data

    async def get_into(
        self,
        name: str,
        buffer: Any,
        show_deleted: bool = False,
        *,
        idle_timeout: Optional[float] = DEFAULT_IDLE_TIMEOUT,
        progress: Optional[Progress] = None,
    ) -> int:
        """Read the object into ``buffer`` (a ``bytearray`` or writable ``memoryview`` of exactly
        the object's size: ``BadBufferError`` otherwise, before anything is read), each chunk
        copied once, nothing else held; returns the bytes written. Verified like ``get``; on
        any failure what was written is zeroed before the error is raised."""
        reader = await self.reader(name, idle_timeout=idle_timeout, show_deleted=show_deleted)
        view = writable_view(buffer, reader.info)
        async with reader:
            return await read_into(reader, view, progress)

    async def stream(
        self,
        name: str,
        offset: int = 0,
        length: Optional[int] = None,
        *,
        verified: bool = False,
        spool_over: int = DEFAULT_SPOOL_OVER,
        idle_timeout: Optional[float] = DEFAULT_IDLE_TIMEOUT,
        show_deleted: bool = False,
    ) -> AsyncIterator[Any]:
        """``async for chunk in store.stream(name)``: the object's chunks with bounded memory.

        By its nature a stream yields chunks before the last one has arrived, so before the
        object's SHA-256 digest can be checked: size, chunk count and digest are checked after
        the last chunk, and a mismatch raises :class:`DigestMismatchError` (or
        :class:`ChunkMissingError`) from the iteration then, after every chunk but the last was
        yielded.
        A consumer that must not act on unverified bytes either waits for the iteration to
        end without an error, or passes ``verified=True``: then nothing is yielded until the
        whole object has been read and verified, holding it in memory up to ``spool_over``
        bytes (8 MiB) and in an anonymous temporary file above that.

        ``offset``/``length`` as for :meth:`get`: a partial range yields memoryview pieces (one
        per covering chunk, each checked for its sequence and size before it is yielded; no
        SHA-256, and ``verified`` changes nothing); the whole object goes the verified way.
        """
        store, info, offset, length = await self._resolve_range(name, offset, length, show_deleted)
        if length != info.size:
            pieces = self._range_pieces(store, info, offset, length, idle_timeout)
            try:
                async for piece in pieces:
                    yield piece
            finally:
                await pieces.aclose()  # type: ignore[attr-defined]
            return
        async with ObjectReader(store.handle, info, idle_timeout=idle_timeout) as reader:
            chunks = verified_chunks(reader, spool_over) if verified else reader
            async for chunk in chunks:
                yield chunk
            self._count_whole(reader)

    # Delete ----------------------------------------------------------------------------------
    async def delete(self, name: str) -> bool:
        """Write a delete marker and purge the chunks. Raises ObjectNotFoundError."""
        info = await self.get_info(name, show_deleted=True)
        if not info.nuid and not info.is_link():
            raise BadObjectMetaError(f"object {name!r} has no nuid")
        old_nuid = info.nuid
        info.deleted = True
        info.size = info.chunks = 0
        info.digest = ""
        info.mtime = datetime.now(timezone.utc)
        await self._metas.publish(info)
        if old_nuid:
            await purge_deleted(self.handle, name, old_nuid, self.cleanup_timeout)
        return True

    # Listing and watching ----------------------------------------------------------------------
    def watch(
        self,
        *,
        include_history: bool = False,
        ignore_deletes: bool = False,
        updates_only: bool = False,
        meta_only: bool = False,
    ) -> "ObjectWatcher":
        """Latest info per object, then every update (``async for info in store.watch()``).
        ``meta_only`` is accepted for nats-py compatibility; watching never reads object data."""
        return ObjectWatcher(self.handle, include_history=include_history, ignore_deletes=ignore_deletes, updates_only=updates_only)

    async def list(self, ignore_deletes: bool = True, *, show_deleted: bool = False) -> list[ObjectInfo]:
        """Every object's latest info; deleted objects hidden unless ``show_deleted``. ``[]`` when empty.
        A malformed meta (another client's) is skipped with a warning on the ``objstore`` logger;
        ``status().bad_metas`` counts them, ``store.check()`` lists them."""
        hide = ignore_deletes and not show_deleted
        infos, _ = await scan_latest(self.handle)
        return [info for info in infos if not (hide and info.deleted)]

    # Bucket ----------------------------------------------------------------------------------
    async def status(self) -> ObjectStoreStatus:
        """The bucket's status; ``count`` is the live objects, ``bad_metas`` the malformed metas."""
        si = await self.handle.info()
        self.stream_info = si
        infos, bad = await scan_latest(self.handle)
        count = sum(1 for info in infos if not info.deleted)
        return ObjectStoreStatus.from_stream(self.bucket, si, count=count, bad_metas=len(bad))

    async def seal(self) -> bool:
        """Make the bucket read-only (one-way)."""
        si = await self.handle.info()
        cfg = si.config
        cfg.sealed = True
        updated = await self.handle.js.update_stream(cfg)
        self.stream_info = updated
        return bool(updated.config.sealed)
