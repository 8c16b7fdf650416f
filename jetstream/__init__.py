"""``jetstream``: the JetStream API over a ``protocol`` connection.

Streams, publish with acks (and the pipelined :class:`Publisher`), message and direct get,
ordered consumers and pull fetch, typed models and typed errors. Imports only the public API of
``protocol``; never imports ``objstore``.
"""

from .ack import AckMetadata
from .client import JetStream
from .errors import *  # noqa: F401,F403  (the error table is the public surface)
from .errors import __all__ as _errors_all
from .models import (
    AccountInfo,
    AckPolicy,
    ConsumerConfig,
    ConsumerInfo,
    DeliverPolicy,
    DiscardPolicy,
    Placement,
    PubAck,
    ReplayPolicy,
    RetentionPolicy,
    StorageType,
    StoreCompression,
    StoredMsg,
    StreamConfig,
    StreamInfo,
    StreamSource,
    StreamState,
)
from .msg import JsMsg
from .ordered import OrderedConsumer
from .publish import Publisher, Settlement, explain_no_responders, publish_headers
from .pull import PullConsumer

__all__ = [
    "AccountInfo",
    "AckMetadata",
    "AckPolicy",
    "ConsumerConfig",
    "ConsumerInfo",
    "DeliverPolicy",
    "DiscardPolicy",
    "JetStream",
    "JsMsg",
    "OrderedConsumer",
    "Placement",
    "PubAck",
    "Publisher",
    "PullConsumer",
    "Settlement",
    "ReplayPolicy",
    "RetentionPolicy",
    "StorageType",
    "StoreCompression",
    "StoredMsg",
    "StreamConfig",
    "StreamInfo",
    "StreamSource",
    "StreamState",
    "explain_no_responders",
    "publish_headers",
    *_errors_all,
]
