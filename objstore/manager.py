"""The nats-py-compatible entry points: ``connect``, :class:`Client` and the object-store
methods of :class:`JetStreamContext`. Must not hold bucket logic: binding is ``bucket.Bucket``,
stream configs are ``config``, the verbs are ``ObjectStore``'s.

``objstore.connect(...)`` returns a :class:`Client` (a ``protocol.Connection`` with
``.jetstream()``); ``Client.jetstream()`` returns a :class:`JetStreamContext`, a
``jetstream.JetStream`` with the object-store methods of nats-py's ``JetStreamContext``:
``create_object_store``, ``object_store``, ``delete_object_store``, ``object_store_names``,
``object_stores``, plus ``update_object_store`` (nats.go's). The object-store facade lives here, not in ``jetstream`` (style.md 3.1).
``open_sync(url, bucket, name)`` opens an object as a synchronous file on its own connection.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import protocol
from jetstream import JetStream, StreamNameInUseError

from .bucket import Bucket, delete_bucket
from .config import ObjectStoreConfig, ObjectStoreStatus, config_differences, edited_stream_config, stream_config_for
from .errors import BadBucketError, BucketExistsError, BucketNotFoundError, TTLNotAllowedError
from .rawio import SyncObjectFile
from .seekable import DEFAULT_WINDOW, ObjectFile
from .store import ObjectStore
from .local_server import default_url
from .subjects import ALL_BUCKETS_CHUNKS, OBJ_STREAM_PREFIX, bucket_of_stream, stream_name

__all__ = ["Client", "JetStreamContext", "connect", "bind_object_store", "open_sync", "stream_config_for"]


async def bind_object_store(js: JetStream, bucket: str) -> ObjectStore:
    """Bind an existing bucket by its stream name (works on mirrors). Raises BucketNotFoundError."""
    handle, info = await Bucket.bind(js, bucket)
    return ObjectStore.from_bucket(handle, info)


class JetStreamContext(JetStream):
    """A JetStream context with the nats-py object-store methods."""

    async def create_object_store(
        self,
        bucket: Optional[str] = None,
        config: Optional[ObjectStoreConfig] = None,
        **params: Any,
    ) -> ObjectStore:
        """Create a bucket (idempotent for an identical config) and return it.

        ``params`` are ObjectStoreConfig fields (description, ttl, max_bytes, storage,
        replicas, placement, metadata, compression, fast_ingest, allow_msg_ttl); they override ``config``'s. Raises
        BadBucketError (invalid name or parameters), BucketExistsError (exists, different config).
        """
        cfg = config if config is not None else ObjectStoreConfig()
        if bucket is not None:
            params["bucket"] = bucket
        if params:
            unknown = set(params) - {f.name for f in dataclasses.fields(ObjectStoreConfig)}
            if unknown:
                raise BadBucketError(f"unknown object store parameter(s): {', '.join(sorted(unknown))}")
            cfg = dataclasses.replace(cfg, **params)
        stream_cfg = stream_config_for(cfg)
        try:
            info = await self.add_stream(stream_cfg)
        except StreamNameInUseError as err:
            raise await self._exists_error(cfg.bucket, stream_cfg) from err
        if cfg.allow_msg_ttl and not info.config.allow_msg_ttl:
            # A server before 2.11 drops the unknown field: the bucket exists, without TTLs.
            raise TTLNotAllowedError(
                f"bucket {cfg.bucket!r} was created, but the server does not support per-message TTL "
                "(allow_msg_ttl needs nats-server 2.11+): put(..., ttl=...) will be refused"
            )
        return ObjectStore.from_bucket(Bucket(self, cfg.bucket, info), info)

    async def _exists_error(self, bucket: str, asked: Any) -> BucketExistsError:
        """The BucketExistsError naming each setting that differs (best effort: without them
        when the existing stream cannot be read)."""
        try:
            existing = (await self.stream_info(stream_name(bucket))).config
        except (protocol.NatsError, OSError):
            return BucketExistsError(f"bucket {bucket!r} exists with a different configuration")
        diffs = config_differences(asked, existing)
        sealed = bool(existing.sealed)
        shown = [f"{k} is {have!r} (asked {want!r})" for k, have, want in diffs if k != "sealed"]
        if sealed:
            shown.insert(0, "it is sealed (read-only)")
        detail = "; ".join(shown) or "a stream setting outside the bucket settings differs"
        return BucketExistsError(f"bucket {bucket!r} exists with different settings: {detail}",
                                 differences=diffs, sealed=sealed)

    async def update_object_store(self, bucket: str, **changes: Any) -> ObjectStore:
        """Change an existing bucket's settings in place (nats.go ``UpdateObjectStore``) and return
        it bound to the new config. ``changes``: any of description, ttl, max_bytes, replicas,
        compression, fast_ingest, metadata (see ``config.edited_stream_config``); every other
        stream setting is kept. Objects are untouched. Raises BucketNotFoundError,
        BadBucketError, and the server's refusal (e.g. replicas > 1 on a single server)."""
        handle, info = await Bucket.bind(self, bucket)
        cfg = edited_stream_config(info.config, **changes)
        with handle.missing:
            updated = await self.update_stream(cfg)
        return ObjectStore.from_bucket(Bucket(self, bucket, updated), updated)

    async def object_store(self, bucket: str) -> ObjectStore:
        """Bind an existing bucket. Raises BucketNotFoundError, BadBucketError."""
        return await bind_object_store(self, bucket)

    async def delete_object_store(self, bucket: str) -> bool:
        """Delete a bucket and every object in it. Raises BucketNotFoundError."""
        return await delete_bucket(self, bucket)

    async def object_store_names(self) -> list[str]:
        """Names of every object-store bucket."""
        names = await self.stream_names(subject=ALL_BUCKETS_CHUNKS)
        return sorted(bucket_of_stream(n) for n in names if n.startswith(OBJ_STREAM_PREFIX))

    async def object_stores(self) -> list[ObjectStoreStatus]:
        """Status of every bucket."""
        out = []
        for name in await self.object_store_names():
            try:
                out.append(await (await self.object_store(name)).status())
            except BucketNotFoundError:
                continue
        return out


class Client(protocol.Connection):
    """A ``protocol.Connection`` that also offers ``jetstream()`` (an object-store context)."""

    def jetstream(self, *, domain: Optional[str] = None, prefix: Optional[str] = None, timeout: float = 5.0) -> JetStreamContext:
        return JetStreamContext(self, domain=domain, prefix=prefix, timeout=timeout)


async def connect(servers: Any = None, **kwargs: Any) -> Client:
    """``protocol.connect`` returning a :class:`Client`. Same arguments.

    With no ``servers`` (and no ``options=``): ``$NATS_URL``, else the running embedded server of ``objstore serve``
    (its state file in the data directory), else ``nats://127.0.0.1:4222``
    (:func:`objstore.local_server.default_url`)."""
    kwargs["connection_class"] = Client
    if not servers and not kwargs.get("servers") and kwargs.get("options") is None:
        servers = default_url()
    return await protocol.connect(servers, **kwargs)  # type: ignore[return-value]


def open_sync(
    servers: Any, bucket: str, name: str, *, prefix: Optional[str] = None, timeout: float = 60.0, window: int = DEFAULT_WINDOW, **kwargs: Any
) -> SyncObjectFile:
    """Object ``name`` of ``bucket`` as a synchronous ``io.RawIOBase`` (see
    :mod:`objstore.rawio`): its own connection (``servers`` and ``kwargs`` as for
    :func:`connect`) on a private event loop thread. Raises ObjectNotFoundError, BucketNotFoundError
    and the connect errors."""

    async def opener() -> tuple[ObjectFile, Any]:
        nc = await connect(servers, **kwargs)
        try:
            store = await nc.jetstream(prefix=prefix).object_store(bucket)
            return await store.open(name, window=window), nc
        except BaseException:
            await nc.close()
            raise

    return SyncObjectFile(opener, timeout=timeout)
