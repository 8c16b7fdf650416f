"""Stream models: stream configuration and info, with the stream-level enums (wire.md 2.3, 2.4).

Owns ``StreamConfig`` (the ``STREAM.CREATE``/``UPDATE`` body) and everything nested in it, and
``StreamInfo`` with its state, cluster and source replication info. Conventions: see ``jetstream.models``.

Rule: no I/O; imports only ``jetstream.codec``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from jetstream.codec import JSONModel, extra_field

__all__ = [
    "RetentionPolicy",
    "StorageType",
    "DiscardPolicy",
    "StoreCompression",
    "Placement",
    "SubjectTransform",
    "RePublish",
    "ExternalStream",
    "StreamSource",
    "StreamConsumerLimits",
    "StreamConfig",
    "LostStreamData",
    "StreamState",
    "PeerInfo",
    "ClusterInfo",
    "StreamSourceInfo",
    "StreamAlternate",
    "StreamInfo",
]

_NS = {"unit": "ns"}  # a duration: float seconds here, integer nanoseconds on the wire

# --- enums (server strings; SRV-store / SRV-fs) ------------------------------------------------


class RetentionPolicy(str, Enum):
    LIMITS = "limits"
    INTEREST = "interest"
    WORK_QUEUE = "workqueue"


class StorageType(str, Enum):
    FILE = "file"
    MEMORY = "memory"


class DiscardPolicy(str, Enum):
    OLD = "old"
    NEW = "new"


class StoreCompression(str, Enum):
    NONE = "none"
    S2 = "s2"


# --- stream configuration (wire.md 2.3) --------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class Placement(JSONModel):
    cluster: str | None = None
    tags: list[str] | None = None
    preferred: str | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class SubjectTransform(JSONModel):
    src: str | None = None
    dest: str | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class RePublish(JSONModel):
    src: str | None = None
    dest: str | None = None
    headers_only: bool | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class ExternalStream(JSONModel):
    api: str | None = None
    deliver: str | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class StreamSource(JSONModel):
    """A ``mirror`` or one of ``sources`` in a StreamConfig."""

    name: str | None = None
    opt_start_seq: int | None = None
    opt_start_time: datetime | None = None
    filter_subject: str | None = None
    subject_transforms: list[SubjectTransform] | None = None
    external: ExternalStream | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class StreamConsumerLimits(JSONModel):
    inactive_threshold: float | None = field(default=None, metadata=_NS)
    max_ack_pending: int | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class StreamConfig(JSONModel):
    """``STREAM.CREATE`` / ``STREAM.UPDATE`` body and ``StreamInfo.config``."""

    name: str
    description: str | None = None
    subjects: list[str] | None = None
    retention: RetentionPolicy | None = None
    max_consumers: int | None = None
    max_msgs: int | None = None
    max_bytes: int | None = None
    max_age: float | None = field(default=None, metadata=_NS)
    max_msgs_per_subject: int | None = None
    max_msg_size: int | None = None
    discard: DiscardPolicy | None = None
    discard_new_per_subject: bool | None = None
    storage: StorageType | None = None
    num_replicas: int | None = None
    no_ack: bool | None = None
    duplicate_window: float | None = field(default=None, metadata=_NS)
    placement: Placement | None = None
    mirror: StreamSource | None = None
    sources: list[StreamSource] | None = None
    compression: StoreCompression | None = None
    first_seq: int | None = None
    subject_transform: SubjectTransform | None = None
    republish: RePublish | None = None
    allow_direct: bool | None = None
    mirror_direct: bool | None = None
    sealed: bool | None = None
    deny_delete: bool | None = None
    deny_purge: bool | None = None
    allow_rollup_hdrs: bool | None = None
    consumer_limits: StreamConsumerLimits | None = None
    allow_msg_ttl: bool | None = None
    subject_delete_marker_ttl: float | None = field(default=None, metadata=_NS)
    allow_msg_counter: bool | None = None
    allow_atomic: bool | None = None
    allow_msg_schedules: bool | None = None
    allow_batched: bool | None = None
    persist_mode: str | None = None
    metadata: dict[str, str] | None = None
    _extra: dict[str, Any] = extra_field()


# --- stream info (wire.md 2.4) -----------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class LostStreamData(JSONModel):
    msgs: list[int] | None = None
    bytes: int | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class StreamState(JSONModel):
    messages: int = 0
    bytes: int = 0
    first_seq: int = 0
    first_ts: datetime | None = None
    last_seq: int = 0
    last_ts: datetime | None = None
    consumer_count: int = 0
    num_subjects: int | None = None
    subjects: dict[str, int] | None = None
    num_deleted: int | None = None
    deleted: list[int] | None = None
    lost: LostStreamData | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class PeerInfo(JSONModel):
    name: str | None = None
    current: bool | None = None
    offline: bool | None = None
    active: float | None = field(default=None, metadata=_NS)
    lag: int | None = None
    peer: str | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class ClusterInfo(JSONModel):
    name: str | None = None
    raft_group: str | None = None
    leader: str | None = None
    leader_since: datetime | None = None
    replicas: list[PeerInfo] | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class StreamSourceInfo(JSONModel):
    """Replication state of a mirror or source, in ``StreamInfo``."""

    name: str | None = None
    external: ExternalStream | None = None
    lag: int | None = None
    active: float | None = field(default=None, metadata=_NS)
    filter_subject: str | None = None
    subject_transforms: list[SubjectTransform] | None = None
    error: dict[str, Any] | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class StreamAlternate(JSONModel):
    name: str | None = None
    domain: str | None = None
    cluster: str | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class StreamInfo(JSONModel):
    """``STREAM.INFO`` / ``CREATE`` / ``UPDATE`` reply and ``STREAM.LIST`` entries.

    The reply's ``type`` and paging keys (``total``, ``offset``, ``limit``) land in ``_extra``.
    """

    config: StreamConfig
    state: StreamState
    created: datetime | None = None
    domain: str | None = None
    cluster: ClusterInfo | None = None
    mirror: StreamSourceInfo | None = None
    sources: list[StreamSourceInfo] | None = None
    alternates: list[StreamAlternate] | None = None
    ts: datetime | None = None
    did_create: bool | None = None
    _extra: dict[str, Any] = extra_field()
