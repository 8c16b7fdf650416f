"""A bucket's configuration and status, and the stream config a bucket is (ADR-20, wire.md 3.3:
``OBJ_<bucket>`` over ``$O.<bucket>.C.>`` and ``$O.<bucket>.M.>``, rollups and direct get allowed,
discard new). Must not do I/O: the manager creates streams, the store reads their status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Optional, Union

from jetstream import Placement, StreamConfig, StreamInfo

from .errors import BadBucketError
from .subjects import all_chunks, all_meta, stream_name, validate_bucket

__all__ = ["ObjectStoreConfig", "ObjectStoreStatus", "stream_config_for"]


def _ttl_seconds(ttl: Union[timedelta, float, int, None]) -> Optional[float]:
    if ttl is None:
        return None
    if isinstance(ttl, timedelta):
        return ttl.total_seconds()
    return float(ttl)


@dataclass
class ObjectStoreConfig:
    """Bucket configuration. ``ttl`` is a ``timedelta`` or seconds."""

    bucket: str = ""
    description: Optional[str] = None
    ttl: Union[timedelta, float, None] = None
    max_bytes: int = -1
    storage: str = "file"
    replicas: int = 1
    placement: Optional[Placement] = None
    metadata: Optional[dict[str, str]] = None
    compression: bool = False
    # ADR-50 fast ingest: the stream allows batched publishes (server 2.14+); puts then send
    # their chunks as one flow-controlled batch (objstore.fast_put). Other clients read as usual.
    fast_ingest: bool = False
    # ADR-43 per-message TTL (server 2.11+): the stream allows ``Nats-TTL``, so puts may give an
    # object its own lifetime (``put(..., ttl=...)``, see objstore.ttl). Cannot be turned off.
    allow_msg_ttl: bool = False

    @property
    def ttl_seconds(self) -> Optional[float]:
        return _ttl_seconds(self.ttl)


@dataclass
class ObjectStoreStatus:
    """Bucket status from its stream info. ``count`` is the number of live (not deleted) objects;
    ``bad_metas`` the number of meta subjects whose latest message does not parse (skipped by
    ``list()`` and ``watch()``, each logged as a warning; ``store.check()`` lists them)."""

    bucket: str
    description: Optional[str]
    ttl: Optional[timedelta]
    storage: str
    replicas: int
    sealed: bool
    size: int
    count: int
    backing_store: str = "JetStream"
    metadata: Optional[dict[str, str]] = None
    compression: bool = False
    stream_info: Optional[StreamInfo] = field(default=None, repr=False)
    bad_metas: int = 0
    fast_ingest: bool = False
    allow_msg_ttl: bool = False

    @classmethod
    def from_stream(cls, bucket: str, si: StreamInfo, *, count: int, bad_metas: int) -> "ObjectStoreStatus":
        """A bucket's status from its stream info, with the object counts a meta scan gave."""
        cfg = si.config
        return cls(
            bucket=bucket,
            description=cfg.description,
            ttl=timedelta(seconds=cfg.max_age) if cfg.max_age else None,
            storage=_enum_value(cfg.storage) or "file",
            replicas=cfg.num_replicas or 1,
            sealed=bool(cfg.sealed),
            size=si.state.bytes,
            count=count,
            bad_metas=bad_metas,
            metadata=dict(cfg.metadata) if cfg.metadata else None,
            compression=_enum_value(cfg.compression) not in (None, "", "none"),
            stream_info=si,
            fast_ingest=bool(cfg.allow_batched),
            allow_msg_ttl=bool(cfg.allow_msg_ttl),
        )

    # nats-py names
    @property
    def storage_type(self) -> str:
        return self.storage

    @property
    def is_compressed(self) -> bool:
        return self.compression


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
        allow_batched=True if config.fast_ingest else None,
        allow_msg_ttl=True if config.allow_msg_ttl else None,
    )


def _enum_value(value: Any) -> Optional[str]:
    if value is None:
        return None
    return getattr(value, "value", value)
