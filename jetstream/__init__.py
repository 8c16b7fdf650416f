"""``jetstream``: the JetStream API over a ``protocol`` connection.

The table of contents: streams, publish with acks (and the pipelined :class:`Publisher`), message
and direct get, ordered consumers and pull fetch, typed models and typed errors, and the JetStream
wire vocabulary (``Nats-*`` header names, the ``$JS.ACK.``/``$JS.FC.`` subject prefixes) that
``objstore`` uses. Imports only the public API of ``protocol``; never imports ``objstore``.
"""

from .ack import AckMetadata
from .client import JetStream, direct_origin
from .errors import *  # noqa: F401,F403  (the error table is the public surface)
from . import errors
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
from .headers import (
    HDR_EXPECTED_LAST_MSG_ID,
    HDR_EXPECTED_LAST_SEQ,
    HDR_EXPECTED_LAST_SUBJ_SEQ,
    HDR_EXPECTED_STREAM,
    HDR_MSG_ID,
    HDR_MSG_SIZE,
    HDR_ROLLUP,
    HDR_TTL,
    ROLLUP_ALL,
    ROLLUP_SUBJECT,
    publish_headers,
)
from .publish import explain_no_responders
from .publisher import Publisher, Settlement
from .fast_batch import FastBatch
from .subjects import ACK_PREFIX, FC_PREFIX
from .pull import PullConsumer

__all__ = [
    "ACK_PREFIX",
    "FC_PREFIX",
    "HDR_EXPECTED_LAST_MSG_ID",
    "HDR_EXPECTED_LAST_SEQ",
    "HDR_EXPECTED_LAST_SUBJ_SEQ",
    "HDR_EXPECTED_STREAM",
    "HDR_MSG_ID",
    "HDR_MSG_SIZE",
    "HDR_ROLLUP",
    "HDR_TTL",
    "ROLLUP_ALL",
    "ROLLUP_SUBJECT",
    "AccountInfo",
    "AckMetadata",
    "AckPolicy",
    "ConsumerConfig",
    "ConsumerInfo",
    "DeliverPolicy",
    "DiscardPolicy",
    "FastBatch",
    "JetStream",
    "direct_origin",
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
    *errors.__all__,
]
