"""Buckets and the nats-py-compatible entry points.

``objstore.connect(...)`` returns a :class:`Client` (a ``protocol.Connection`` with
``.jetstream()``); ``Client.jetstream()`` returns a :class:`JetStreamContext`, a
``jetstream.JetStream`` with the object-store methods of nats-py's ``JetStreamContext``:
``create_object_store``, ``object_store``, ``delete_object_store``, ``object_store_names``,
``object_stores``. The object-store facade lives here, not in ``jetstream`` (style.md 3.1).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import protocol
from jetstream import (
    JetStream,
    StreamConfig,
    StreamNameInUseError,
    StreamNotFoundError,
)

from .errors import BadBucketError, BucketExistsError, BucketNotFoundError
from .models import ObjectStoreConfig, ObjectStoreStatus
from .store import ObjectStore
from .subjects import OBJ_STREAM_PREFIX, all_chunks, all_meta, bucket_of_stream, stream_name, validate_bucket

__all__ = ["Client", "JetStreamContext", "connect", "bind_object_store", "stream_config_for"]


def stream_config_for(config: ObjectStoreConfig) -> StreamConfig:
    """The stream config nats.go writes for a bucket (wire.md 3.3)."""
    bucket = validate_bucket(config.bucket)
    storage = (config.storage or "file").lower()
    if storage not in ("file", "memory"):
        raise BadBucketError(f"storage must be 'file' or 'memory', not {config.storage!r}")
    if config.replicas is not None and not 0 <= int(config.replicas) <= 5:
        raise BadBucketError("replicas must be between 1 and 5 (0 means 1)")
    ttl = config.ttl_seconds
    if ttl is not None and ttl < 0:
        raise BadBucketError("ttl must not be negative")
    max_bytes = config.max_bytes if config.max_bytes and config.max_bytes > 0 else -1
    return StreamConfig(
        name=stream_name(bucket),
        description=config.description or None,
        subjects=[all_chunks(bucket), all_meta(bucket)],
        max_age=ttl or 0,
        max_bytes=max_bytes,
        storage=storage,
        num_replicas=int(config.replicas or 1),
        placement=config.placement,
        discard="new",
        allow_rollup_hdrs=True,
        allow_direct=True,
        metadata=dict(config.metadata) if config.metadata else None,
        compression="s2" if config.compression else "none",
    )


async def bind_object_store(js: JetStream, bucket: str) -> ObjectStore:
    """Bind an existing bucket by its stream name (works on mirrors). Raises BucketNotFoundError."""
    validate_bucket(bucket)
    try:
        info = await js.stream_info(stream_name(bucket))
    except StreamNotFoundError as err:
        raise BucketNotFoundError(f"bucket {bucket!r} not found") from err
    return ObjectStore(js, bucket, info)


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
        replicas, placement, metadata, compression); they override ``config``'s. Raises
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
            raise BucketExistsError(f"bucket {cfg.bucket!r} exists with a different configuration") from err
        return ObjectStore(self, cfg.bucket, info)

    async def object_store(self, bucket: str) -> ObjectStore:
        """Bind an existing bucket. Raises BucketNotFoundError, BadBucketError."""
        return await bind_object_store(self, bucket)

    async def delete_object_store(self, bucket: str) -> bool:
        """Delete a bucket and every object in it. Raises BucketNotFoundError."""
        validate_bucket(bucket)
        try:
            return await self.delete_stream(stream_name(bucket))
        except StreamNotFoundError as err:
            raise BucketNotFoundError(f"bucket {bucket!r} not found") from err

    async def object_store_names(self) -> list[str]:
        """Names of every object-store bucket."""
        names = await self.stream_names(subject="$O.*.C.>")
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
    """``protocol.connect`` returning a :class:`Client`. Same arguments."""
    kwargs["connection_class"] = Client
    return await protocol.connect(servers, **kwargs)  # type: ignore[return-value]
