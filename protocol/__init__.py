"""``protocol``: a hand-written sans-I/O NATS client protocol and an asyncio connection on it.

The table of contents: everything public is re-exported here, including the wire vocabulary
the upper layers use (``STATUS_*`` codes, ``STATUS_HDR``/``DESCRIPTION_HDR``). The parser,
encoder, headers, subjects, frames, wire and errors modules do no I/O (they are fed bytes and
return frames). The asyncio side: ``connection`` (the public ``Connection`` API) on ``session``
(state machine, frames in, lifetime; its states and transitions in ``state``), composed of
parts that each own their state: ``outbox``, ``keepalive``, ``subtable``, ``request``,
``permissions``, ``handshake``, ``reconnect``, ``status`` and ``transport``. This package never
imports ``jetstream`` or ``objstore``.
"""

from .connection import Connection, connect
from .encoder import encode_connect, encode_hpub, encode_pub, encode_sub, encode_unsub
from .errors import (
    AuthorizationError,
    BadHeaderError,
    BadSubjectError,
    ConnectError,
    ConnectionClosedError,
    ConnectProtocolError,
    InvalidOptionError,
    MaxPayloadError,
    MissingDependencyError,
    NatsError,
    NatsTimeoutError,
    NoRespondersError,
    NoServersError,
    PermissionViolationError,
    ProtocolError,
    ReconnectBufferFullError,
    ServerError,
    SlowConsumerError,
    StaleConnectionError,
    TLSError,
)
from .frames import Err, Info, Msg, Ping, Pong, Ok
from .headers import Headers, encode_headers, parse_headers
from .nuid import NUID, next_nuid
from .options import ConnectOptions
from .parser import Parser
from .status import ConnectionState, StatusEvent
from .subjects import new_inbox, validate_publish_subject, validate_queue, validate_subscribe_subject
from .subscription import Subscription
from .trace import TraceEvent, TraceRecorder
from .wire import (
    DEFAULT_MAX_PAYLOAD,
    DESCRIPTION_HDR,
    MAX_CONTROL_LINE,
    STATUS_CONFLICT,
    STATUS_CONTROL,
    STATUS_EOB,
    STATUS_HDR,
    STATUS_NO_MESSAGES,
    STATUS_NO_RESPONDERS,
    STATUS_REQUEST_TIMEOUT,
)

__all__ = [
    "DEFAULT_MAX_PAYLOAD",
    "DESCRIPTION_HDR",
    "MAX_CONTROL_LINE",
    "STATUS_CONFLICT",
    "STATUS_CONTROL",
    "STATUS_EOB",
    "STATUS_HDR",
    "STATUS_NO_MESSAGES",
    "STATUS_NO_RESPONDERS",
    "STATUS_REQUEST_TIMEOUT",
    "AuthorizationError",
    "BadHeaderError",
    "BadSubjectError",
    "ConnectError",
    "ConnectProtocolError",
    "InvalidOptionError",
    "ConnectOptions",
    "Connection",
    "ConnectionClosedError",
    "ConnectionState",
    "Err",
    "Headers",
    "Info",
    "MaxPayloadError",
    "MissingDependencyError",
    "Msg",
    "NUID",
    "NatsError",
    "NatsTimeoutError",
    "NoRespondersError",
    "NoServersError",
    "Ok",
    "Parser",
    "PermissionViolationError",
    "Ping",
    "Pong",
    "ProtocolError",
    "ReconnectBufferFullError",
    "ServerError",
    "SlowConsumerError",
    "StaleConnectionError",
    "StatusEvent",
    "Subscription",
    "TLSError",
    "TraceEvent",
    "TraceRecorder",
    "connect",
    "encode_connect",
    "encode_headers",
    "encode_hpub",
    "encode_pub",
    "encode_sub",
    "encode_unsub",
    "new_inbox",
    "next_nuid",
    "parse_headers",
    "validate_publish_subject",
    "validate_queue",
    "validate_subscribe_subject",
]
