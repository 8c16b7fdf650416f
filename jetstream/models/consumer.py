"""Consumer models: consumer configuration and info, with the delivery enums (wire.md 2.8).

Owns ``ConsumerConfig`` (the ``config`` of a create request) and ``ConsumerInfo``. Conventions: see
``jetstream.models``.

Rule: no I/O; imports only ``jetstream.codec`` and ``models.stream`` (``ClusterInfo``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from jetstream.codec import JSONModel, extra_field
from .stream import ClusterInfo

__all__ = [
    "DeliverPolicy",
    "AckPolicy",
    "ReplayPolicy",
    "ConsumerConfig",
    "SequenceInfo",
    "ConsumerInfo",
]

_NS = {"unit": "ns"}  # a duration: float seconds here, integer nanoseconds on the wire

# --- consumer enums (server strings; SRV-cons) --------------------------------------------------


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
