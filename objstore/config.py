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

__all__ = ["ObjectStoreConfig", "ObjectStoreStatus", "stream_config_for", "config_differences", "edited_stream_config",
           "user_metadata", "EDITABLE"]

# Bucket settings ``update_object_store`` may change in place (storage and placement cannot).
EDITABLE = ("description", "ttl", "max_bytes", "replicas", "compression", "fast_ingest", "metadata")


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


def user_metadata(metadata: Optional[dict[str, str]]) -> dict[str, str]:
    """Bucket metadata without the server's own ``_nats.*`` bookkeeping keys."""
    return {k: v for k, v in (metadata or {}).items() if not k.startswith("_nats.")}


def _settings(cfg: StreamConfig) -> dict[str, Any]:
    """A stream config as the bucket settings a user sets, in the user's units."""
    max_bytes = cfg.max_bytes if cfg.max_bytes and cfg.max_bytes > 0 else None
    return {
        "description": cfg.description or None,
        "ttl": float(cfg.max_age) if cfg.max_age else None,
        "max_bytes": max_bytes,
        "storage": _enum_value(cfg.storage) or "file",
        "replicas": cfg.num_replicas or 1,
        "compression": _enum_value(cfg.compression) not in (None, "", "none"),
        "fast_ingest": bool(cfg.allow_batched),
        "metadata": user_metadata(cfg.metadata),
        "sealed": bool(cfg.sealed),
    }


def config_differences(asked: StreamConfig, existing: StreamConfig) -> list[tuple[str, Any, Any]]:
    """The bucket settings in which ``existing`` differs from ``asked``: ``(setting, existing
    value, asked value)`` in the user's units (ttl in seconds, max_bytes None for unlimited,
    metadata without ``_nats.*`` keys). ``sealed`` is listed when the existing bucket is sealed."""
    have, want = _settings(existing), _settings(asked)
    return [(k, have[k], want[k]) for k in have if have[k] != want[k]]


def edited_stream_config(current: StreamConfig, **changes: Any) -> StreamConfig:
    """``current`` (a bucket's stream config, every other field kept as the server has it) with
    the bucket settings in ``changes`` applied: ``description`` (None or "" clears it), ``ttl``
    (seconds or timedelta; None or 0: never expire), ``max_bytes`` (None or <= 0: unlimited),
    ``replicas`` (1-5), ``compression`` (bool), ``fast_ingest`` (bool) and ``metadata`` (the
    new user metadata; ``_nats.*`` keys of the server are kept). Raises BadBucketError."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise BadBucketError(f"cannot change bucket setting(s) {', '.join(sorted(unknown))} in place "
                             f"(editable: {', '.join(EDITABLE)})")
    cfg = StreamConfig.from_json(current.to_json())
    if "description" in changes:
        cfg.description = changes["description"] or None
    if "ttl" in changes:
        ttl = _ttl_seconds(changes["ttl"])
        if ttl is not None and ttl < 0:
            raise BadBucketError("ttl must not be negative")
        cfg.max_age = ttl or 0
        if ttl and cfg.duplicate_window and cfg.duplicate_window > ttl:
            cfg.duplicate_window = ttl  # the server refuses a duplicate window longer than max_age
    if "max_bytes" in changes:
        mb = changes["max_bytes"]
        cfg.max_bytes = int(mb) if mb and mb > 0 else -1
    if "replicas" in changes:
        r = int(changes["replicas"] or 1)
        if not 1 <= r <= 5:
            raise BadBucketError("replicas must be between 1 and 5")
        cfg.num_replicas = r
    if "compression" in changes:
        cfg.compression = "s2" if changes["compression"] else "none"
    if "fast_ingest" in changes:
        cfg.allow_batched = True if changes["fast_ingest"] else None  # absent: off
    if "metadata" in changes:
        internal = {k: v for k, v in (current.metadata or {}).items() if k.startswith("_nats.")}
        merged = {**internal, **user_metadata(changes["metadata"])}
        cfg.metadata = merged or None
    return cfg
