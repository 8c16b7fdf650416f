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
import dataclasses
import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator, Callable, Optional

from jetstream import (
    APIError,
    JetStream,
    JetStreamNotEnabledError,
    MessageNotFoundError,
    NoStreamResponseError,
    StoredMsg,
    StreamInfo,
    StreamNotFoundError,
    WrongLastSequenceError,
)
from jetstream.publish import HDR_EXPECTED_LAST_SUBJ_SEQ, HDR_ROLLUP, ROLLUP_SUBJECT
from protocol import MAX_CONTROL_LINE, ConnectionClosedError, Headers, NatsError, NatsTimeoutError, PermissionViolationError, encode_headers, next_nuid

from . import health as _health
from .cleanup import DEFAULT_CLEANUP_TIMEOUT, purge_failed_put, purge_until_gone

from .digest import encode_digest
from .hashing import Hasher
from .errors import (
    BadObjectMetaError,
    BucketNotFoundError,
    CleanupFailedError,
    LinkIsABucketError,
    LinkNotAllowedError,
    MetaTooLargeError,
    ObjectAlreadyExists,
    ObjectDeletedError,
    ObjectNotFoundError,
    ObjectStoreError,
)
from .models import DEFAULT_CHUNK_SIZE, ObjectInfo, ObjectLink, ObjectMeta, ObjectMetaOptions, ObjectStoreStatus, parse_meta, validate_object_meta
from .reader import DEFAULT_IDLE_TIMEOUT, DEFAULT_SPOOL_OVER, ObjectReader, verified_chunks, write_all
from .subjects import chunk_subject, meta_subject, stream_name, validate_object_name
from .watch import ObjectWatcher, scan_latest
from .writer import Source, check_source, iter_chunks

__all__ = ["ObjectStore", "ObjectWatcher"]

_ROLLUP = Headers({HDR_ROLLUP: ROLLUP_SUBJECT})
_ROLLUP_NEW = encode_headers({HDR_ROLLUP: ROLLUP_SUBJECT, HDR_EXPECTED_LAST_SUBJ_SEQ: "0"})
_KNOWN_MAX = 4096
log = logging.getLogger("objstore")
# The meta is sized before upload with the widest values it can take (a 20-digit size and
# chunk count, a SHA-256 digest) and room for its headers (rollup, compare-and-set sequence).
_WIDEST = 10**19
_WIDEST_DIGEST = "SHA-256=" + "A" * 43 + "="
_META_HEADER_ROOM = 128
# Room on a publish's control line besides the subject: the reply inbox and two sizes.
_CONTROL_LINE_ROOM = 160
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
        # How long a failed put (or a delete) keeps trying to purge chunks through reconnects
        # and leader elections before it raises CleanupFailedError naming the nuid.
        self.cleanup_timeout = DEFAULT_CLEANUP_TIMEOUT

    def __repr__(self) -> str:
        return f"<ObjectStore bucket={self.bucket!r}>"

    # Reading meta --------------------------------------------------------------------------------
    async def get_info(self, name: str, show_deleted: bool = False) -> ObjectInfo:
        """The object's info. Raises ObjectNotFoundError, ObjectDeletedError (a subclass, when it
        was deleted and ``show_deleted`` is false), BadObjectMetaError, BucketNotFoundError."""
        stored = await self._fetch_meta(name)
        try:
            info = parse_meta(stored.data)
        except BadObjectMetaError as err:
            raise BadObjectMetaError(f"object {name!r} in bucket {self.bucket!r}: malformed meta (seq {stored.seq}): {err}") from err
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

        ``data``: bytes, bytearray, memoryview (or another bytes-like), str (UTF-8), a binary file
        object or an (async) iterable of bytes-likes; anything else (a dict, a list of ints, str
        items, a text-mode file, None) raises UnsupportedSourceError before anything is sent, as
        bad headers or filename raise BadObjectHeaderError (see ``writer.check_source`` and
        ``models.validate_object_meta``). ``meta`` (an ObjectMeta) may carry
        name/description/headers/metadata/options instead of the keyword arguments. ``progress(acked_bytes, total_or_None)`` is called as
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
        validate_object_meta(description=description, headers=headers, metadata=metadata, filename=filename)
        check_source(data)
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
        self._check_meta_size(info)
        # For a name known to exist, the previous version is looked up while the chunks are
        # sent; for others the meta is published expecting no previous version, and a conflict
        # reports the sequence of the one that exists (see _publish_meta_replacing).
        existing_task = asyncio.get_running_loop().create_task(self._previous(name)) if name in self._known else None
        # What became of the chunks if the put fails: whether some chunk's fate is unknown (it
        # may be stored even after a purge) and whether any was stored. Neither: nothing to purge.
        unknown = stored = False
        try:
            if total is not None and total <= cs:
                # One chunk at most: a plain acknowledged publish, no pipeline to set up.
                async for chunk in iter_chunks(data, cs):
                    sha.update(chunk)
                    size, chunks = len(chunk), 1
                    unknown = True
                    try:
                        await self._js.publish(subject, chunk)
                    except (APIError, NoStreamResponseError, PermissionViolationError):
                        unknown = False  # refused, or no stream answered: not stored
                        raise
                    unknown, stored = False, True
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
                    stored = chunks > 0
                except BaseException:
                    # Every chunk must be settled (stored, refused, withdrawn unsent, or of
                    # unknown fate) before the purge: one stored after it would leak. Until the
                    # account is in (a second cancellation may cut the wait), assume the worst.
                    unknown = stored = True
                    settled = await asyncio.shield(pub.settle())
                    unknown, stored = settled.unknown > 0, pub.acked > 0
                    raise
                finally:
                    await pub.close()
            info.size, info.chunks = size, chunks
            info.digest = encode_digest(sha.digest())
            existing, existing_seq = await existing_task if existing_task is not None else (None, 0)
            info.mtime = datetime.now(timezone.utc)
            existing = await self._publish_meta_replacing(info, existing, existing_seq)
        except BaseException as err:
            if existing_task is not None:
                existing_task.cancel()
            if isinstance(err, _MetaFateUnknown):
                raise err.as_error(self.bucket, nuid) from err.__cause__
            if unknown or stored:
                await asyncio.shield(self._purge_failed_put(nuid, subject, unknown, err))
            raise
        if existing is not None and not existing.deleted and existing.nuid and existing.nuid != nuid:
            await self._purge_replaced(existing.nuid)
        if progress is not None:
            progress(size, total)
        return info

    def _check_meta_size(self, info: ObjectInfo) -> None:
        """Refuse, before any chunk is sent, a meta that could not be stored: sized with the
        widest size, chunk count, digest and time it can get, plus the rollup and
        compare-and-set headers, against max_payload and the stream's max_msg_size."""
        # The meta subject carries the encoded name: with the reply inbox and sizes, the publish's
        # control line must fit the protocol's 4096 bytes (the server closes the connection
        # on a longer one; the connection refuses to send it).
        line = len("HPUB  ") + len(meta_subject(self.bucket, info.name).encode("utf-8")) + _CONTROL_LINE_ROOM
        if line > MAX_CONTROL_LINE:
            raise MetaTooLargeError(
                f"object name of {len(info.name.encode('utf-8'))} bytes is too long: its meta subject would not fit "
                f"a {MAX_CONTROL_LINE}-byte protocol control line; nothing was uploaded"
            )
        probe = dataclasses.replace(info, size=_WIDEST, chunks=_WIDEST, digest=_WIDEST_DIGEST, mtime=datetime.now(timezone.utc))
        need = len(json.dumps(probe.to_json(), separators=(",", ":")).encode("utf-8")) + _META_HEADER_ROOM
        limits = [(self._nc.max_payload, "the server's max_payload")]
        if self._max_msg_size:
            limits.append((self._max_msg_size, "the bucket's max_msg_size"))
        for limit, what in limits:
            if need > limit:
                raise MetaTooLargeError(
                    f"object {info.name!r}: its meta (name, description, headers, metadata) needs up to {need} bytes, "
                    f"more than {what} of {limit}; nothing was uploaded"
                )

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
        version that was replaced (whose chunks the caller purges).

        A publish whose ack never came (timeout, connection lost) may have been stored: the
        meta subject is read back (through reconnects, within the cleanup bound) and, if it
        holds this meta, the put succeeded; if it holds another, the publish is tried again
        (compare-and-set makes that safe). When it cannot be read back, ``_MetaFateUnknown``:
        the chunks must then be kept, since the meta naming them may exist."""
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
            except (NatsTimeoutError, ConnectionClosedError) as err:
                if await self._meta_landed(info, err):
                    self._remember(info.name)
                    return previous
                continue  # not stored: publish again (still compare-and-set)
            self._remember(info.name)
            return previous
        raise ObjectStoreError(f"object {info.name!r} kept changing under concurrent updates; put abandoned")

    async def _meta_landed(self, info: ObjectInfo, cause: BaseException) -> bool:
        """Whether the stored meta of ``info.name`` is ``info`` (same nuid), read back through
        reconnects within the cleanup bound. Raises ``_MetaFateUnknown`` when it cannot be read."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.cleanup_timeout
        delay = 0.1
        while True:
            try:
                stored = await self._fetch_meta(info.name)
                try:
                    return parse_meta(stored.data).nuid == info.nuid
                except BadObjectMetaError:
                    return False
            except ObjectNotFoundError:
                return False
            except (NatsError, asyncio.TimeoutError) as err:
                if loop.time() + delay >= deadline or self._nc.is_closed:
                    raise _MetaFateUnknown(info.name, cause) from err
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _publish_meta(self, info: ObjectInfo) -> None:
        payload = json.dumps(info.to_json(), separators=(",", ":")).encode("utf-8")
        await self._js.publish(meta_subject(self.bucket, info.name), payload, headers=_ROLLUP)

    async def _purge_failed_put(self, nuid: str, subject: str, unknown: bool, cause: BaseException) -> None:
        """Purge a failed put's chunks (see ``cleanup.purge_failed_put``). A put that was
        cancelled stays cancelled: a cleanup failure is then logged (naming the nuid), not raised."""
        try:
            await purge_failed_put(
                self._js, self.stream_name, self.bucket, nuid, subject, unknown=unknown, timeout=self.cleanup_timeout, cause=cause
            )
        except CleanupFailedError as err:
            if not isinstance(cause, Exception):
                log.warning("%s", err)
                return
            raise

    async def _purge_replaced(self, nuid: str) -> None:
        """Purge a replaced version's chunks. The put itself succeeded, so a failure here is
        logged (naming the nuid, which ``orphans()``/``sweep()`` then find), not raised."""
        loop = asyncio.get_running_loop()
        try:
            await purge_until_gone(self._js, self.stream_name, chunk_subject(self.bucket, nuid), loop.time() + self.cleanup_timeout)
        except Exception as err:  # noqa: BLE001 - logged, see docstring
            log.warning("chunks of replaced version %s in bucket %s could not be purged (%s); store.sweep() removes them", nuid, self.bucket, err)

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
        ObjectDeletedError, LinkIsABucketError, DigestMismatchError, ChunkMissingError.

        With ``writeinto``, the bytes reach the file before the digest can be checked (at the
        last chunk). When the read fails (mismatch, missing chunk, timeout, lost connection), a
        seekable file is truncated back to the position it had when the get started before
        the error is raised; a non-seekable one keeps what was written, and the error's
        ``bytes_written`` says how much (see ``reader.write_all``)."""
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

    async def stream(
        self, name: str, *, verified: bool = False, spool_over: int = DEFAULT_SPOOL_OVER, **kwargs: Any
    ) -> AsyncIterator[bytes]:
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
        """
        reader = await self.reader(name, **kwargs)
        async with reader:
            chunks = verified_chunks(reader, spool_over) if verified else reader
            async for chunk in chunks:
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
            subject = chunk_subject(self.bucket, old_nuid)
            loop = asyncio.get_running_loop()
            try:
                await purge_until_gone(self._js, self.stream_name, subject, loop.time() + self.cleanup_timeout)
            except Exception as err:  # noqa: BLE001 - the delete marker is written: say what is left
                raise CleanupFailedError(
                    f"object {name!r} is deleted but its chunks ({subject}) could not be purged: {err}; store.sweep() removes them",
                    nuid=old_nuid,
                    bucket=self.bucket,
                    put_error=err,
                ) from err
        return True

    # Meta updates and links --------------------------------------------------------------------
    async def update_meta(self, name: str, meta: ObjectMeta) -> ObjectInfo:
        """Change name (rename), description, headers or metadata; fields left ``None`` keep their
        value. With ``meta.options.link`` on a name that does not exist, creates that link (the
        seed's example). Raises ObjectNotFoundError, ObjectDeletedError, ObjectAlreadyExists,
        BadObjectHeaderError / BadObjectMetaError (bad input, refused before anything is read)."""
        validate_object_name(name)
        if meta.name is not None and meta.name != "":
            validate_object_name(meta.name)
        validate_object_meta(description=meta.description, headers=meta.headers, metadata=meta.metadata)
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
        """Every object's latest info; deleted objects hidden unless ``show_deleted``. ``[]`` when empty.
        A malformed meta (another client's) is skipped with a warning on the ``objstore`` logger;
        ``status().bad_metas`` counts them, ``store.check()`` lists them."""
        hide = ignore_deletes and not show_deleted
        infos, _ = await scan_latest(self)
        return [info for info in infos if not (hide and info.deleted)]

    # Bucket ----------------------------------------------------------------------------------
    async def status(self) -> ObjectStoreStatus:
        try:
            si = await self._js.stream_info(self.stream_name)
        except StreamNotFoundError as err:
            raise BucketNotFoundError(f"bucket {self.bucket!r} not found") from err
        self.stream_info = si
        cfg = si.config
        infos, bad = await scan_latest(self)
        count = sum(1 for info in infos if not info.deleted)
        return ObjectStoreStatus(
            bucket=self.bucket,
            description=cfg.description,
            ttl=timedelta(seconds=cfg.max_age) if cfg.max_age else None,
            storage=_enum_value(cfg.storage) or "file",
            replicas=cfg.num_replicas or 1,
            sealed=bool(cfg.sealed),
            size=si.state.bytes,
            count=count,
            bad_metas=len(bad),
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

    # Health (objstore.health) ------------------------------------------------------------------
    async def orphans(self) -> list["_health.Orphan"]:
        """Chunk subjects no live meta names (a killed writer's leftovers, or a put still in
        progress), from the stream's subject listing; see :mod:`objstore.health`."""
        return await _health.find_orphans(self)

    async def sweep(self, older_than: "timedelta | float" = timedelta(hours=1), dry_run: bool = False) -> list["_health.Orphan"]:
        """Purge orphans whose newest chunk is at least ``older_than`` old (default 1 hour, on the
        server's clock), which keeps another client's put in progress safe. Returns them."""
        return await _health.sweep(self, older_than, dry_run)

    async def check(self, older_than: "timedelta | float" = timedelta(hours=1)) -> "_health.HealthReport":
        """The bucket's health: orphans, metas whose chunk count or size disagrees with the stream,
        live metas whose chunks are gone, malformed metas. See :mod:`objstore.health`."""
        return await _health.check(self, older_than)


class _MetaFateUnknown(Exception):
    """The meta publish of a put got no ack and the meta could not be read back: whether the
    put happened is unknown, so its chunks are kept (they are whole and verified)."""

    def __init__(self, name: str, cause: BaseException) -> None:
        super().__init__(name)
        self.name = name
        self.__cause__ = cause

    def as_error(self, bucket: str, nuid: str) -> CleanupFailedError:
        return CleanupFailedError(
            f"put of {self.name!r}: the server never confirmed its meta ({self.__cause__}) and it could not be read "
            f"back, so whether the new version was stored is unknown. Its chunks ($O.{bucket}.C.{nuid}) were kept: "
            "if get_info shows that nuid the put succeeded, otherwise store.sweep() removes them",
            nuid=nuid,
            bucket=bucket,
            put_error=self.__cause__,
        )


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
