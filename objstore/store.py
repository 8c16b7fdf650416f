"""``ObjectStore``: put, get, get_info, delete, list, watch, status, seal, update_meta, links.

Composed from ``writer`` (chunking), ``reader`` (verified chunk reads, ``writeinto``),
``watch`` (``ObjectWatcher``, behind ``watch`` and ``list``) and ``jetstream`` (Publisher,
direct get, purge). JetStream errors are translated into
object-store errors with ``raise ... from``. Puts never lose data: chunks go to a fresh nuid,
the meta (with ``Nats-Rollup: sub``) replaces the previous version only after every chunk is
acknowledged, and any failure purges the partial chunks and leaves the old version readable.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator, Callable, Optional

from jetstream import (
    JetStream,
    JetStreamNotEnabledError,
    MessageNotFoundError,
    StoredMsg,
    StreamInfo,
    StreamNotFoundError,
    WrongLastSequenceError,
)
from jetstream.publish import HDR_EXPECTED_LAST_SUBJ_SEQ, HDR_ROLLUP, ROLLUP_SUBJECT
from protocol import Headers, NatsError, encode_headers, next_nuid

from .digest import encode_digest
from .hashing import Hasher
from .errors import (
    BadObjectMetaError,
    BucketNotFoundError,
    LinkIsABucketError,
    LinkNotAllowedError,
    ObjectAlreadyExists,
    ObjectDeletedError,
    ObjectNotFoundError,
    ObjectStoreError,
)
from .models import DEFAULT_CHUNK_SIZE, ObjectInfo, ObjectLink, ObjectMeta, ObjectMetaOptions, ObjectStoreStatus, parse_meta
from .reader import DEFAULT_IDLE_TIMEOUT, ObjectReader, write_all
from .subjects import chunk_subject, meta_subject, stream_name, validate_object_name
from .watch import ObjectWatcher
from .writer import Source, iter_chunks

__all__ = ["ObjectStore", "ObjectWatcher"]

_ROLLUP = Headers({HDR_ROLLUP: ROLLUP_SUBJECT})
_ROLLUP_NEW = encode_headers({HDR_ROLLUP: ROLLUP_SUBJECT, HDR_EXPECTED_LAST_SUBJ_SEQ: "0"})
_KNOWN_MAX = 4096
_REPLACE_ATTEMPTS = 10
Progress = Callable[[int, Optional[int]], Any]


class ObjectStore:
    """One bucket. Get it from ``js.object_store(bucket)`` or ``js.create_object_store(...)``."""

    def __init__(self, js: JetStream, bucket: str, info: StreamInfo) -> None:
        self._js = js
        self._nc = js.connection
        self.bucket = bucket
        self.name = bucket
        self.stream_name = stream_name(bucket)
        self.stream_info = info
        cfg = info.config
        self.replicas = cfg.num_replicas or 1
        self._direct = self.replicas == 1 and bool(cfg.allow_direct)
        self._max_msg_size = cfg.max_msg_size if cfg.max_msg_size and cfg.max_msg_size > 0 else None
        self._known: dict[str, None] = {}

    def __repr__(self) -> str:
        return f"<ObjectStore bucket={self.bucket!r}>"

    # Reading meta --------------------------------------------------------------------------------
    async def get_info(self, name: str, show_deleted: bool = False) -> ObjectInfo:
        """The object's info. Raises ObjectNotFoundError, ObjectDeletedError (a subclass, when it
        was deleted and ``show_deleted`` is false), BadObjectMetaError, BucketNotFoundError."""
        stored = await self._fetch_meta(name)
        info = parse_meta(stored.data)
        info.mtime = stored.time or info.mtime
        if info.deleted and not show_deleted:
            raise ObjectDeletedError(f"object {name!r} was deleted")
        return info

    async def _fetch_meta(self, name: str) -> StoredMsg:
        """The stored meta message of ``name``. Raises ObjectNotFoundError, BucketNotFoundError."""
        validate_object_name(name)
        subject = meta_subject(self.bucket, name)
        try:
            if self._direct:
                try:
                    stored = await self._js.direct_get(self.stream_name, last_by_subj=subject)
                except JetStreamNotEnabledError:
                    # No direct-get responder (a mirror without allow_direct, or the stream is
                    # gone): ask the leader, which also tells "stream not found" apart.
                    stored = await self._js.get_msg(self.stream_name, last_by_subj=subject)
            else:  # read-after-write consistent on replicated buckets
                stored = await self._js.get_msg(self.stream_name, last_by_subj=subject)
        except MessageNotFoundError:
            self._known.pop(name, None)
            raise ObjectNotFoundError(f"object {name!r} not found in bucket {self.bucket!r}") from None
        except StreamNotFoundError as err:
            raise BucketNotFoundError(f"bucket {self.bucket!r} not found") from err
        self._remember(name)
        return stored

    def _remember(self, name: str) -> None:
        """Names seen to exist here: ``put`` looks up the previous version only for those."""
        known = self._known
        if name not in known:
            if len(known) >= _KNOWN_MAX:
                del known[next(iter(known))]
            known[name] = None

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
    ) -> ObjectInfo:
        """Store ``data`` under ``name`` (replacing any previous version) and return its info.

        ``data``: bytes, bytearray, memoryview, str, a binary file object or an (async) iterable
        of bytes. ``meta`` (an ObjectMeta) may carry name/description/headers/metadata/options
        instead of the keyword arguments. ``progress(acked_bytes, total_or_None)`` is called as
        the server acknowledges chunks. Raises BadObjectMetaError, LinkNotAllowedError, and
        JetStream errors (StreamSealedError, StoreFailedError ...) after purging partial chunks.
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
        if filename:
            headers = Headers(headers) if headers else Headers()
            headers.setdefault("Content-Disposition", f'attachment; filename="{filename}"')
        requested = chunk_size or DEFAULT_CHUNK_SIZE
        cs = min(requested, self._nc.max_payload, self._max_msg_size or requested)
        if cs < 1:
            raise BadObjectMetaError("chunk size must be positive")
        nuid = next_nuid()
        subject = chunk_subject(self.bucket, nuid)
        sha = Hasher()
        size = chunks = 0
        total = size_hint if size_hint is not None else _len_of(data)
        info = ObjectInfo(
            name=name,
            bucket=self.bucket,
            nuid=nuid,
            description=description or None,
            headers=Headers(headers) if headers else None,
            metadata=dict(metadata) if metadata else None,
            options=ObjectMetaOptions(max_chunk_size=cs),
        )
        # For a name known to exist, the previous version is looked up while the chunks are
        # sent; for others the meta is published expecting no previous version, and a conflict
        # reports the sequence of the one that exists (see _publish_meta_replacing).
        existing_task = asyncio.get_running_loop().create_task(self._previous(name)) if name in self._known else None
        try:
            if total is not None and total <= cs:
                # One chunk at most: a plain acknowledged publish, no pipeline to set up.
                async for chunk in iter_chunks(data, cs):
                    sha.update(chunk)
                    size, chunks = len(chunk), 1
                    await self._js.publish(subject, chunk)
            else:
                pub = self._js.publisher(max_pending_bytes=max(16 * cs, 8 * 1024 * 1024))
                await pub.start()
                try:
                    reported = 0
                    async for chunk in iter_chunks(data, cs):
                        sha.update(chunk)
                        size += len(chunk)
                        chunks += 1
                        await pub.publish(subject, chunk)
                        if progress is not None and pub.acked_bytes != reported:
                            reported = pub.acked_bytes
                            progress(reported, total)
                    await pub.wait()
                except BaseException:
                    # Every chunk already sent must be settled (stored or refused) before the
                    # purge below: one stored after the purge would leak (e.g. max_bytes: the
                    # purge frees room for the chunks still in flight).
                    await asyncio.shield(pub.settle())
                    raise
                finally:
                    await pub.close()
            info.size, info.chunks = size, chunks
            info.digest = encode_digest(sha.digest())
            existing, existing_seq = await existing_task if existing_task is not None else (None, 0)
            info.mtime = datetime.now(timezone.utc)
            existing = await self._publish_meta_replacing(info, existing, existing_seq)
        except BaseException:
            if existing_task is not None:
                existing_task.cancel()
            await asyncio.shield(self._purge_quietly(subject))
            raise
        if existing is not None and not existing.deleted and existing.nuid and existing.nuid != nuid:
            await self._purge_quietly(chunk_subject(self.bucket, existing.nuid))
        if progress is not None:
            progress(size, total)
        return info

    async def _previous(self, name: str) -> tuple[Optional[ObjectInfo], int]:
        """The current version of ``name`` (deleted included) and its sequence; ``(None, 0)`` when
        there is none. Unreadable meta gives ``(None, seq)``: it is replaced, its chunks unknown."""
        try:
            stored = await self._fetch_meta(name)
        except ObjectNotFoundError:
            return None, 0
        try:
            return parse_meta(stored.data), stored.seq
        except BadObjectMetaError:
            return None, stored.seq

    async def _version_at(self, seq: int) -> Optional[ObjectInfo]:
        try:
            stored = await self._js.get_msg(self.stream_name, seq)
            return parse_meta(stored.data)
        except (MessageNotFoundError, BadObjectMetaError):
            return None

    async def _publish_meta_replacing(self, info: ObjectInfo, previous: Optional[ObjectInfo], expected: int) -> Optional[ObjectInfo]:
        """Publish ``info``'s meta only if the meta subject's last sequence is ``expected`` (0: no
        meta yet), so concurrent puts of one name never orphan each other's chunks. On a conflict
        the server names the current sequence: read that version and try again. Returns the
        version that was replaced (whose chunks the caller purges)."""
        payload = json.dumps(info.to_json(), separators=(",", ":")).encode("utf-8")
        subject = meta_subject(self.bucket, info.name)
        for _ in range(_REPLACE_ATTEMPTS):
            try:
                if expected == 0:  # the usual case (a new name): a header block encoded once
                    await self._js.publish(subject, payload, headers=_ROLLUP_NEW)
                else:
                    await self._js.publish(subject, payload, headers=_ROLLUP, expected_last_subject_seq=expected)
            except WrongLastSequenceError as err:
                seq = err.last_seq
                if seq is None:
                    previous, seq = await self._previous(info.name)
                else:
                    previous = await self._version_at(seq)
                expected = seq
                continue
            self._remember(info.name)
            return previous
        raise ObjectStoreError(f"object {info.name!r} kept changing under concurrent updates; put abandoned")

    async def _publish_meta(self, info: ObjectInfo) -> None:
        payload = json.dumps(info.to_json(), separators=(",", ":")).encode("utf-8")
        await self._js.publish(meta_subject(self.bucket, info.name), payload, headers=_ROLLUP)

    async def _purge_quietly(self, subject: str) -> None:
        try:
            await self._js.purge_stream(self.stream_name, subject=subject)
        except (NatsError, asyncio.TimeoutError):
            pass

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
        store = self if link.bucket == self.bucket else await _bind(self._js, link.bucket)
        target = await store.get_info(link.name)
        if target.is_link():
            raise BadObjectMetaError(f"link {name!r} points to another link")
        return store, target

    async def reader(self, name: str, *, idle_timeout: Optional[float] = DEFAULT_IDLE_TIMEOUT, show_deleted: bool = False) -> ObjectReader:
        """A verified async iterator over the object's chunks (links followed)."""
        store, info = await self._resolve(name, show_deleted)
        return ObjectReader(store, info, idle_timeout=idle_timeout)

    async def get(
        self,
        name: str,
        writeinto: Any = None,
        show_deleted: bool = False,
        *,
        idle_timeout: Optional[float] = DEFAULT_IDLE_TIMEOUT,
        progress: Optional[Progress] = None,
    ) -> bytes:
        """The object's bytes, verified; or, with ``writeinto`` (a binary file object), streamed
        into it with bounded memory (returns ``b""``). Raises ObjectNotFoundError,
        ObjectDeletedError, LinkIsABucketError, DigestMismatchError, ChunkMissingError."""
        reader = await self.reader(name, idle_timeout=idle_timeout, show_deleted=show_deleted)
        info = reader.info
        async with reader:
            if writeinto is not None:
                await write_all(reader, writeinto, progress)
                return b""
            # The chunks (already separate bytes objects from the parser) are joined once into
            # one allocation of the known size: a single copy, never `bytes +=`.
            chunks: list[bytes] = []
            async for chunk in reader:
                chunks.append(chunk)
                if progress is not None:
                    progress(reader.bytes_read, info.size)
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def stream(self, name: str, **kwargs: Any) -> AsyncIterator[bytes]:
        """``async for chunk in store.stream(name)``: verified chunks with bounded memory."""
        reader = await self.reader(name, **kwargs)
        async with reader:
            async for chunk in reader:
                yield chunk

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
        await self._publish_meta(info)
        if old_nuid:
            await self._js.purge_stream(self.stream_name, subject=chunk_subject(self.bucket, old_nuid))
        return True

    # Meta updates and links --------------------------------------------------------------------
    async def update_meta(self, name: str, meta: ObjectMeta) -> ObjectInfo:
        """Change name (rename), description, headers or metadata; fields left ``None`` keep their
        value. With ``meta.options.link`` on a name that does not exist, creates that link (the
        seed's example). Raises ObjectNotFoundError, ObjectDeletedError, ObjectAlreadyExists."""
        validate_object_name(name)
        try:
            info = await self.get_info(name)
        except ObjectNotFoundError:
            link = meta.options.link if meta.options is not None else None
            if link is None or await self._maybe_live(name):
                raise
            return await self._link_from_meta(name, meta, link)
        new_name = meta.name or name
        if new_name != name:
            existing = await self._maybe_info(new_name)
            if existing is not None and not existing.deleted:
                raise ObjectAlreadyExists(f"an object named {new_name!r} already exists")
        info.name = new_name
        if meta.description is not None:
            info.description = meta.description or None
        if meta.headers is not None:
            info.headers = Headers(meta.headers) if meta.headers else None
        if meta.metadata is not None:
            info.metadata = dict(meta.metadata) or None
        if meta.options is not None and meta.options.link is not None and info.is_link():
            info.options = ObjectMetaOptions(link=meta.options.link, max_chunk_size=info.chunk_size)
        info.mtime = datetime.now(timezone.utc)
        await self._publish_meta(info)
        if new_name != name:
            await self._js.purge_stream(self.stream_name, subject=meta_subject(self.bucket, name))
        return info

    async def _maybe_live(self, name: str) -> bool:
        info = await self._maybe_info(name)
        return info is not None and not info.deleted

    async def _link_from_meta(self, name: str, meta: ObjectMeta, link: ObjectLink) -> ObjectInfo:
        if not link.name:
            other = await _bind(self._js, link.bucket)
            info = await self.add_bucket_link(name, other)
        else:
            store = self if link.bucket == self.bucket else await _bind(self._js, link.bucket)
            info = await self.add_link(name, await store.get_info(link.name))
        if meta.description or meta.headers or meta.metadata:
            info.description = meta.description or None
            info.headers = Headers(meta.headers) if meta.headers else None
            info.metadata = dict(meta.metadata) if meta.metadata else None
            await self._publish_meta(info)
        return info

    async def _check_link_name(self, name: str) -> None:
        existing = await self._maybe_info(name)
        if existing is not None and not existing.is_link() and not existing.deleted:
            raise ObjectAlreadyExists(f"an object named {name!r} already exists and is not a link")

    async def add_link(self, name: str, obj: ObjectInfo) -> ObjectInfo:
        """Make ``name`` a link to the object ``obj`` (in any bucket). Links to links and to
        deleted objects are refused (LinkNotAllowedError)."""
        validate_object_name(name)
        if obj is None or not obj.name:
            raise BadObjectMetaError("a link needs a target object")
        if obj.deleted:
            raise LinkNotAllowedError("not allowed to link to a deleted object")
        if obj.is_link():
            raise LinkNotAllowedError("not allowed to link to another link")
        await self._check_link_name(name)
        info = ObjectInfo(
            name=name,
            bucket=self.bucket,
            nuid=next_nuid(),
            options=ObjectMetaOptions(link=ObjectLink(bucket=obj.bucket or self.bucket, name=obj.name)),
            mtime=datetime.now(timezone.utc),
        )
        await self._publish_meta(info)
        return info

    async def add_bucket_link(self, name: str, bucket: "ObjectStore") -> ObjectInfo:
        """Make ``name`` a link to a whole bucket."""
        validate_object_name(name)
        if bucket is None or not getattr(bucket, "bucket", None):
            raise BadObjectMetaError("a bucket link needs a target bucket")
        await self._check_link_name(name)
        info = ObjectInfo(
            name=name,
            bucket=self.bucket,
            nuid=next_nuid(),
            options=ObjectMetaOptions(link=ObjectLink(bucket=bucket.bucket)),
            mtime=datetime.now(timezone.utc),
        )
        await self._publish_meta(info)
        return info

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
        return ObjectWatcher(self, include_history=include_history, ignore_deletes=ignore_deletes, updates_only=updates_only)

    async def list(self, ignore_deletes: bool = True, *, show_deleted: bool = False) -> list[ObjectInfo]:
        """Every object's latest info; deleted objects hidden unless ``show_deleted``. ``[]`` when empty."""
        hide = ignore_deletes and not show_deleted
        # Keyed by name, the last entry wins: a replicated bucket's consumer may run on a
        # lagging follower and deliver an older version of a meta before its newest one.
        latest: dict[str, ObjectInfo] = {}
        async with ObjectWatcher(self) as w:
            async for info in w.initial():
                latest.pop(info.name, None)
                latest[info.name] = info
        return [info for info in latest.values() if not (hide and info.deleted)]

    # Bucket ----------------------------------------------------------------------------------
    async def status(self) -> ObjectStoreStatus:
        try:
            si = await self._js.stream_info(self.stream_name)
        except StreamNotFoundError as err:
            raise BucketNotFoundError(f"bucket {self.bucket!r} not found") from err
        self.stream_info = si
        cfg = si.config
        count = len(await self.list())
        return ObjectStoreStatus(
            bucket=self.bucket,
            description=cfg.description,
            ttl=timedelta(seconds=cfg.max_age) if cfg.max_age else None,
            storage=_enum_value(cfg.storage) or "file",
            replicas=cfg.num_replicas or 1,
            sealed=bool(cfg.sealed),
            size=si.state.bytes,
            count=count,
            metadata=dict(cfg.metadata) if cfg.metadata else None,
            compression=_enum_value(cfg.compression) not in (None, "", "none"),
            stream_info=si,
        )

    async def seal(self) -> bool:
        """Make the bucket read-only (one-way)."""
        try:
            si = await self._js.stream_info(self.stream_name)
        except StreamNotFoundError as err:
            raise BucketNotFoundError(f"bucket {self.bucket!r} not found") from err
        cfg = si.config
        cfg.sealed = True
        updated = await self._js.update_stream(cfg)
        self.stream_info = updated
        return bool(updated.config.sealed)


def _len_of(data: Any) -> Optional[int]:
    if isinstance(data, (bytes, bytearray)):
        return len(data)
    if isinstance(data, memoryview):
        return data.nbytes
    if isinstance(data, str):
        return None
    return None


def _enum_value(value: Any) -> Optional[str]:
    if value is None:
        return None
    return getattr(value, "value", value)


async def _bind(js: JetStream, bucket: str) -> ObjectStore:
    from .manager import bind_object_store

    return await bind_object_store(js, bucket)
