"""``Metas``: the meta subject of each object in one bucket: read the current meta, publish a new
one as a rollup, replace one by compare-and-set, read back a meta whose ack was lost, and size
a meta before any chunk is uploaded. Keeps the names seen to exist (a put looks up the previous
version only for those).

Must not touch chunks (publishing or purging them is the writer's and ``cleanup``'s business).

Wire rules: every meta is published with ``Nats-Rollup: sub`` (ADR-20: the meta subject holds
one message, the latest version); a put's meta also carries ``Nats-Expected-Last-Subject-Sequence``
(0 for a new name), so concurrent puts of one name never orphan each other's chunks: the
loser gets the server's "wrong last sequence" error (10071), which names the current sequence.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import datetime, timezone
from typing import Optional

from jetstream import MessageNotFoundError, StoredMsg, WrongLastSequenceError
from jetstream import HDR_EXPECTED_LAST_SUBJ_SEQ, HDR_ROLLUP, ROLLUP_SUBJECT
from protocol import MAX_CONTROL_LINE, ConnectionClosedError, Headers, NatsError, NatsTimeoutError, encode_headers

from .bucket import Bucket
from .errors import BadObjectMetaError, CleanupFailedError, MetaTooLargeError, ObjectNotFoundError, ObjectStoreError
from .models import ObjectInfo, parse_meta
from .subjects import validate_object_name
from .ttl import is_marker, remaining_headers

__all__ = ["Metas", "MetaFateUnknown"]

_ROLLUP = Headers({HDR_ROLLUP: ROLLUP_SUBJECT})
_ROLLUP_NEW = encode_headers({HDR_ROLLUP: ROLLUP_SUBJECT, HDR_EXPECTED_LAST_SUBJ_SEQ: "0"})
_KNOWN_MAX = 4096
_REPLACE_ATTEMPTS = 10
# The meta is sized before upload with the widest values it can take (a 20-digit size and
# chunk count, a SHA-256 digest) and room for its headers (rollup, compare-and-set sequence).
_WIDEST = 10**19
_WIDEST_DIGEST = "SHA-256=" + "A" * 43 + "="
_META_HEADER_ROOM = 160
# Room on a publish's control line besides the subject: the reply inbox and two sizes.
_CONTROL_LINE_ROOM = 160


class MetaFateUnknown(Exception):
    """The meta publish of a put got no ack and the meta could not be read back: whether the
    put happened is unknown, so its chunks are kept (they are whole and verified)."""

    def __init__(self, name: str, cause: BaseException) -> None:
        super().__init__(name)
        self.name = name
        self.__cause__ = cause

    def as_error(self, bucket: Bucket, nuid: str) -> CleanupFailedError:
        return CleanupFailedError(
            f"put of {self.name!r}: the server never confirmed its meta ({self.__cause__}) and it could not be read "
            f"back, so whether the new version was stored is unknown. Its chunks ({bucket.chunk_subject(nuid)}) were kept: "
            "if get_info shows that nuid the put succeeded, otherwise store.sweep() removes them",
            nuid=nuid,
            bucket=bucket.name,
            put_error=self.__cause__,
        )


class Metas:
    """The metas of one bucket (see the module docstring)."""

    __slots__ = ("bucket", "_known")

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket
        self._known: dict[str, None] = {}

    # Reading -----------------------------------------------------------------------------------
    async def fetch(self, name: str) -> StoredMsg:
        """The stored meta message of ``name``. Raises ObjectNotFoundError, BucketNotFoundError."""
        validate_object_name(name)
        try:
            stored = await self.bucket.last(self.bucket.meta_subject(name))
        except MessageNotFoundError:
            self._known.pop(name, None)
            raise ObjectNotFoundError(f"object {name!r} not found in bucket {self.bucket.name!r}") from None
        if stored.headers and is_marker(stored.headers):  # the server removed it (ADR-43 marker)
            raise ObjectNotFoundError(f"object {name!r} not found in bucket {self.bucket.name!r} (it expired)")
        self.remember(name)
        return stored

    def known(self, name: str) -> bool:
        return name in self._known

    def remember(self, name: str) -> None:
        """Names seen to exist here: ``put`` looks up the previous version only for those."""
        known = self._known
        if name not in known:
            if len(known) >= _KNOWN_MAX:
                del known[next(iter(known))]
            known[name] = None

    async def previous(self, name: str) -> tuple[Optional[ObjectInfo], int]:
        """The current version of ``name`` (deleted included) and its sequence; ``(None, 0)`` when
        there is none. Unreadable meta gives ``(None, seq)``: it is replaced, its chunks unknown."""
        try:
            stored = await self.fetch(name)
        except ObjectNotFoundError:
            return None, 0
        try:
            return parse_meta(stored.data), stored.seq
        except BadObjectMetaError:
            return None, stored.seq

    async def _version_at(self, seq: int) -> Optional[ObjectInfo]:
        try:
            stored = await self.bucket.js.get_msg(self.bucket.stream, seq)
            return parse_meta(stored.data)
        except (MessageNotFoundError, BadObjectMetaError):
            return None

    # Writing -----------------------------------------------------------------------------------
    def check_size(self, info: ObjectInfo) -> None:
        """Refuse, before any chunk is sent, a meta that could not be stored: sized with the
        widest size, chunk count, digest and time it can get, plus the rollup and
        compare-and-set headers, against max_payload and the stream's max_msg_size."""
        bucket = self.bucket
        # The meta subject carries the encoded name: with the reply inbox and sizes, the publish's
        # control line must fit the protocol's 4096 bytes (the server closes the connection
        # on a longer one; the connection refuses to send it).
        line = len("HPUB  ") + len(bucket.meta_subject(info.name).encode("utf-8")) + _CONTROL_LINE_ROOM
        if line > MAX_CONTROL_LINE:
            raise MetaTooLargeError(
                f"object name of {len(info.name.encode('utf-8'))} bytes is too long: its meta subject would not fit "
                f"a {MAX_CONTROL_LINE}-byte protocol control line; nothing was uploaded"
            )
        probe = dataclasses.replace(info, size=_WIDEST, chunks=_WIDEST, digest=_WIDEST_DIGEST, mtime=datetime.now(timezone.utc))
        need = len(json.dumps(probe.to_json(), separators=(",", ":")).encode("utf-8")) + _META_HEADER_ROOM
        limits = [(bucket.max_payload, "the server's max_payload")]
        if bucket.max_msg_size:
            limits.append((bucket.max_msg_size, "the bucket's max_msg_size"))
        for limit, what in limits:
            if need > limit:
                raise MetaTooLargeError(
                    f"object {info.name!r}: its meta (name, description, headers, metadata) needs up to {need} bytes, "
                    f"more than {what} of {limit}; nothing was uploaded"
                )

    async def publish(self, info: ObjectInfo) -> None:
        """Publish ``info`` as the meta of ``info.name`` (a rollup: the previous one goes). An
        object with a TTL (``info.expires``) keeps its expiry: the new meta carries what is left."""
        payload = json.dumps(info.to_json(), separators=(",", ":")).encode("utf-8")
        ttl = remaining_headers(info) if not info.deleted else None
        headers = _ROLLUP if ttl is None else Headers({HDR_ROLLUP: ROLLUP_SUBJECT, **ttl})
        await self.bucket.js.publish(self.bucket.meta_subject(info.name), payload, headers=headers)

    async def replace(
        self, info: ObjectInfo, previous: Optional[ObjectInfo], expected: int, timeout: float, extra: Optional[dict[str, str]] = None
    ) -> Optional[ObjectInfo]:
        """Publish ``info``'s meta only if the meta subject's last sequence is ``expected`` (0: no
        meta yet), so concurrent puts of one name never orphan each other's chunks. On a conflict
        the server names the current sequence: read that version and try again. Returns the
        version that was replaced (whose chunks the caller purges).

        A publish whose ack never came (timeout, connection lost) may have been stored: the
        meta subject is read back (through reconnects, within ``timeout`` seconds) and, if it
        holds this meta, the put succeeded; if it holds another, the publish is tried again
        (compare-and-set makes that safe). When it cannot be read back, :class:`MetaFateUnknown`:
        the chunks must then be kept, since the meta naming them may exist. ``extra``: more
        headers for the meta (a per-object TTL)."""
        js = self.bucket.js
        payload = json.dumps(info.to_json(), separators=(",", ":")).encode("utf-8")
        subject = self.bucket.meta_subject(info.name)
        for _ in range(_REPLACE_ATTEMPTS):
            try:
                if extra:
                    hdrs = Headers({HDR_ROLLUP: ROLLUP_SUBJECT, **extra})
                    await js.publish(subject, payload, headers=hdrs, expected_last_subject_seq=expected)
                elif expected == 0:  # the usual case (a new name): a header block encoded once
                    await js.publish(subject, payload, headers=_ROLLUP_NEW)
                else:
                    await js.publish(subject, payload, headers=_ROLLUP, expected_last_subject_seq=expected)
            except WrongLastSequenceError as err:
                seq = err.last_seq
                if seq is None:
                    previous, seq = await self.previous(info.name)
                else:
                    previous = await self._version_at(seq)
                expected = seq
                continue
            except (NatsTimeoutError, ConnectionClosedError) as err:
                if await self.landed(info, err, timeout):
                    self.remember(info.name)
                    return previous
                continue  # not stored: publish again (still compare-and-set)
            self.remember(info.name)
            return previous
        raise ObjectStoreError(f"object {info.name!r} kept changing under concurrent updates; put abandoned")

    async def landed(self, info: ObjectInfo, cause: BaseException, timeout: float) -> bool:
        """Whether the stored meta of ``info.name`` is ``info`` (same nuid), read back through
        reconnects within ``timeout``. Raises MetaFateUnknown when it cannot be read."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        delay = 0.1
        while True:
            try:
                stored = await self.fetch(info.name)
                try:
                    return parse_meta(stored.data).nuid == info.nuid
                except BadObjectMetaError:
                    return False
            except ObjectNotFoundError:
                return False
            except (NatsError, asyncio.TimeoutError) as err:
                if loop.time() + delay >= deadline or self.bucket.nc.is_closed:
                    raise MetaFateUnknown(info.name, cause) from err
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
