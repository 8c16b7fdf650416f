"""Typed JetStream API models: the table of contents (streams, consumers, messages, account).

Every model is ``@dataclass(slots=True, kw_only=True)`` with :class:`~jetstream.codec.JSONModel`'s
``from_json`` / ``to_json``. Python field names are the server's JSON names unless a field's
``metadata["json"]`` says otherwise; durations are ``float`` seconds in Python (a ``timedelta`` is
also accepted when writing) and integer nanoseconds on the wire (``"unit": "ns"``); times are aware
``datetime``. Every field defaults to ``None`` (omitted on output, so the server applies its own
defaults) except the few the server always sends. Unknown keys are kept in ``_extra`` and written
back, so a ``StreamConfig`` read from a newer server survives read-modify-write (wire.md 2.1, 2.3).
Enum fields are ``str`` enums; they are never sent as ``null`` or ``""``.

The models live in ``models.stream``, ``models.consumer``, ``models.messages`` and
``models.account``. Rule: no I/O; the modules import only ``jetstream.codec`` and each other.
"""

from __future__ import annotations

from .account import (
    APIStats,
    AccountInfo,
    AccountLimits,
    Tier,
)
from .consumer import (
    AckPolicy,
    ConsumerConfig,
    ConsumerInfo,
    DeliverPolicy,
    ReplayPolicy,
    SequenceInfo,
)
from .messages import (
    MsgGetRequest,
    PubAck,
    PullRequest,
    PurgeRequest,
    PurgeResponse,
    StoredMsg,
)
from .stream import (
    ClusterInfo,
    DiscardPolicy,
    ExternalStream,
    LostStreamData,
    PeerInfo,
    Placement,
    RePublish,
    RetentionPolicy,
    StorageType,
    StoreCompression,
    StreamAlternate,
    StreamConfig,
    StreamConsumerLimits,
    StreamInfo,
    StreamSource,
    StreamSourceInfo,
    StreamState,
    SubjectTransform,
)

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
