"""Typed JetStream API models: stream/consumer configs and infos, PubAck, stored messages, account info.

Every model is ``@dataclass(slots=True, kw_only=True)`` with :class:`~jetstream.codec.JSONModel`'s
``from_json`` / ``to_json``. Python field names are the server's JSON names unless a field's
``metadata["json"]`` says otherwise; durations are ``float`` seconds in Python (a ``timedelta`` is
also accepted when writing) and integer nanoseconds on the wire (``"unit": "ns"``); times are aware
``datetime``. Every field defaults to ``None`` (omitted on output, so the server applies its own
defaults) except the few the server always sends. Unknown keys are kept in ``_extra`` and written
back, so a ``StreamConfig`` read from a newer server survives read-modify-write (wire.md 2.1, 2.3).
Enum fields are ``str`` enums; they are never sent as ``null`` or ``""``.

Rule: no I/O; imports only ``jetstream.codec``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from jetstream.codec import JSONModel, extra_field, from_json

__all__ = [
    "RetentionPolicy",
    "StorageType",
    "DiscardPolicy",
    "StoreCompression",
    "DeliverPolicy",
    "AckPolicy",
    "ReplayPolicy",
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
    "ConsumerConfig",
    "SequenceInfo",
    "ConsumerInfo",
    "PubAck",
    "StoredMsg",
    "AccountLimits",
    "APIStats",
    "Tier",
    "AccountInfo",
    "PurgeRequest",
    "PurgeResponse",
    "MsgGetRequest",
    "PullRequest",
]

_NS = {"unit": "ns"}

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


class DeliverPolicy(str, Enum):
    ALL = "all"
    LAST = "last"
    NEW = "new"
    BY_START_SEQUENCE = "by_start_sequence"
    BY_START_TIME = "by_start_time"
    LAST_PER_SUBJECT = "last_per_subject"


class AckPolicy(str, Enum):
    NONE = "none"
    ALL = "all"
    EXPLICIT = "explicit"
    FLOW_CONTROL = "flow_control"


class ReplayPolicy(str, Enum):
    INSTANT = "instant"
    ORIGINAL = "original"


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


# --- consumers (wire.md 2.8) -------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class ConsumerConfig(JSONModel):
    """The ``config`` of a consumer create request and of ``ConsumerInfo``."""

    name: str | None = None
    durable_name: str | None = None
    description: str | None = None
    deliver_policy: DeliverPolicy | None = None
    opt_start_seq: int | None = None
    opt_start_time: datetime | None = None
    ack_policy: AckPolicy | None = None
    ack_wait: float | None = field(default=None, metadata=_NS)
    max_deliver: int | None = None
    backoff: list[float] | None = field(default=None, metadata=_NS)
    filter_subject: str | None = None
    filter_subjects: list[str] | None = None
    replay_policy: ReplayPolicy | None = None
    rate_limit_bps: int | None = None
    sample_freq: str | None = None
    max_waiting: int | None = None
    max_ack_pending: int | None = None
    flow_control: bool | None = None
    headers_only: bool | None = None
    max_batch: int | None = None
    max_expires: float | None = field(default=None, metadata=_NS)
    max_bytes: int | None = None
    deliver_subject: str | None = None
    deliver_group: str | None = None
    idle_heartbeat: float | None = field(default=None, metadata=_NS)
    inactive_threshold: float | None = field(default=None, metadata=_NS)
    num_replicas: int | None = None
    mem_storage: bool | None = None
    metadata: dict[str, str] | None = None
    pause_until: datetime | None = None
    priority_groups: list[str] | None = None
    priority_policy: str | None = None
    priority_timeout: float | None = field(default=None, metadata=_NS)
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class SequenceInfo(JSONModel):
    consumer_seq: int = 0
    stream_seq: int = 0
    last_active: datetime | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class ConsumerInfo(JSONModel):
    stream_name: str
    name: str
    config: ConsumerConfig
    created: datetime | None = None
    delivered: SequenceInfo | None = None
    ack_floor: SequenceInfo | None = None
    num_ack_pending: int = 0
    num_redelivered: int = 0
    num_waiting: int = 0
    num_pending: int = 0
    cluster: ClusterInfo | None = None
    push_bound: bool | None = None
    paused: bool | None = None
    pause_remaining: float | None = field(default=None, metadata=_NS)
    ts: datetime | None = None
    _extra: dict[str, Any] = extra_field()


# --- publish and stored messages (wire.md 2.6, 2.7) --------------------------------------------


@dataclass(slots=True, kw_only=True)
class PubAck(JSONModel):
    """A successful publish acknowledgement. Check the reply's ``error`` before building one."""

    stream: str
    seq: int
    domain: str | None = None
    duplicate: bool | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class StoredMsg(JSONModel):
    """A message read with ``STREAM.MSG.GET``; ``headers`` is the raw ``NATS/1.0`` header block."""

    subject: str
    seq: int
    headers: bytes = field(default=b"", metadata={"json": "hdrs", "unit": "base64"})
    data: bytes = field(default=b"", metadata={"unit": "base64"})
    time: datetime | None = None
    _extra: dict[str, Any] = extra_field()

    @classmethod
    def from_message(cls, message: Mapping[str, Any]) -> StoredMsg:
        """Build from the ``message`` object of a ``STREAM.MSG.GET`` reply (``hdrs``/``data`` base64).

        Raises CodecError (bad base64, bad time, missing ``subject``/``seq``).
        """
        return from_json(cls, message)

    @classmethod
    def from_response(cls, resp: Mapping[str, Any]) -> StoredMsg:
        """Build from a whole ``STREAM.MSG.GET`` reply whose ``error`` was already checked."""
        return from_json(cls, resp.get("message"))  # type: ignore[arg-type]


# --- account (wire.md 2.5) ---------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class AccountLimits(JSONModel):
    max_memory: int | None = None
    max_storage: int | None = None
    max_streams: int | None = None
    max_consumers: int | None = None
    max_ack_pending: int | None = None
    memory_max_stream_bytes: int | None = None
    storage_max_stream_bytes: int | None = None
    max_bytes_required: bool | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class APIStats(JSONModel):
    level: int | None = None
    total: int = 0
    errors: int = 0
    inflight: int | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class Tier(JSONModel):
    memory: int = 0
    storage: int = 0
    reserved_memory: int | None = None
    reserved_storage: int | None = None
    streams: int = 0
    consumers: int = 0
    limits: AccountLimits | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class AccountInfo(JSONModel):
    """``$JS.API.INFO`` reply."""

    memory: int = 0
    storage: int = 0
    reserved_memory: int | None = None
    reserved_storage: int | None = None
    streams: int = 0
    consumers: int = 0
    limits: AccountLimits | None = None
    domain: str | None = None
    api: APIStats | None = None
    tiers: dict[str, Tier] | None = None
    _extra: dict[str, Any] = extra_field()


# --- small request / response bodies (wire.md 2.2, 2.6) ----------------------------------------


@dataclass(slots=True, kw_only=True)
class PurgeRequest(JSONModel):
    """``STREAM.PURGE`` body: ``filter`` subject (wildcards ok), and ``seq`` (purge below) or ``keep``."""

    filter: str | None = None
    seq: int | None = None
    keep: int | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class PurgeResponse(JSONModel):
    success: bool = False
    purged: int = 0
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class MsgGetRequest(JSONModel):
    """``STREAM.MSG.GET`` / ``DIRECT.GET`` body: ``seq``, ``last_by_subj`` or ``next_by_subj`` (+ ``seq``).

    ``batch`` and ``max_bytes`` make it a batched direct get (server 2.11+, ADR-31), answered by up to
    ``batch`` messages and a ``204`` end-of-batch status.
    """

    seq: int | None = None
    last_by_subj: str | None = None
    next_by_subj: str | None = None
    batch: int | None = None
    max_bytes: int | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class PullRequest(JSONModel):
    """``CONSUMER.MSG.NEXT`` body (wire.md 2.10): up to ``batch`` messages and ``max_bytes``, the
    request living ``expires`` seconds, or ``no_wait`` (a 404 at once when nothing is pending)."""

    batch: int
    max_bytes: int | None = None
    no_wait: bool | None = None
    expires: float | None = field(default=None, metadata=_NS)
    idle_heartbeat: float | None = field(default=None, metadata=_NS)
    _extra: dict[str, Any] = extra_field()
