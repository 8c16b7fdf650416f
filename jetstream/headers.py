"""The ``Nats-*`` header names of JetStream, and the publish-option header builder.

Owns every JetStream header name (the ones a publisher sets, the ones the server adds to direct-get
replies and consumer status messages) and ``publish_headers``, which turns publish options into a
header set. No other module spells a ``Nats-*`` literal; objstore imports these from ``jetstream``.
Status codes and the ``Status``/``Description`` pseudo-headers belong to ``protocol`` (not here).

Rule: no I/O; imports only ``protocol``'s public API.
"""

from __future__ import annotations

from typing import Any, Optional

from protocol import Headers, parse_headers

__all__ = [
    "HDR_MSG_ID",
    "HDR_EXPECTED_STREAM",
    "HDR_EXPECTED_LAST_SEQ",
    "HDR_EXPECTED_LAST_SUBJ_SEQ",
    "HDR_EXPECTED_LAST_MSG_ID",
    "HDR_ROLLUP",
    "HDR_TTL",
    "ROLLUP_SUBJECT",
    "ROLLUP_ALL",
    "HDR_STREAM",
    "HDR_SUBJECT",
    "HDR_SEQUENCE",
    "HDR_TIMESTAMP",
    "HDR_LAST_CONSUMER",
    "HDR_LAST_STREAM",
    "HDR_CONSUMER_STALLED",
    "HDR_MSG_SIZE",
    "publish_headers",
    "has_msg_id",
]

# Publish options (wire.md 2.7; server processJetStreamMsg). The server checks each one against the
# stream and answers with an API error (10060, 10071/10164, 10070) instead of storing the message.
HDR_MSG_ID = "Nats-Msg-Id"  # dedup within the stream's duplicate_window
HDR_EXPECTED_STREAM = "Nats-Expected-Stream"
HDR_EXPECTED_LAST_SEQ = "Nats-Expected-Last-Sequence"
HDR_EXPECTED_LAST_SUBJ_SEQ = "Nats-Expected-Last-Subject-Sequence"
HDR_EXPECTED_LAST_MSG_ID = "Nats-Expected-Last-Msg-Id"
# Rollup (needs allow_rollup_hdrs): "sub" purges earlier messages on the same subject, "all" the stream.
HDR_ROLLUP = "Nats-Rollup"
ROLLUP_SUBJECT = "sub"
ROLLUP_ALL = "all"
# ADR-43 (server 2.11, stream allow_msg_ttl): the message expires this long after its timestamp
# ("30s", seconds, a Go duration, or "never"); under 1 s it is refused (10165), and refused on a
# stream without allow_msg_ttl (10166).
HDR_TTL = "Nats-TTL"

# Added by the server to a direct-get reply (wire.md 2.6; ADR-31).
HDR_STREAM = "Nats-Stream"
HDR_SUBJECT = "Nats-Subject"
HDR_SEQUENCE = "Nats-Sequence"
HDR_TIMESTAMP = "Nats-Time-Stamp"

# Carried by a push consumer's idle heartbeat (status 100, no reply subject; wire.md 2.9, ADR-9):
# the consumer sequence of the last data message sent, and the flow-control subject the server
# is blocked on when it stalled waiting for our reply.
HDR_LAST_CONSUMER = "Nats-Last-Consumer"
HDR_LAST_STREAM = "Nats-Last-Stream"
HDR_CONSUMER_STALLED = "Nats-Consumer-Stalled"

# Delivered instead of the payload by a consumer with ``headers_only`` (server: the original
# message's headers plus its payload length in this header, and an empty body).
HDR_MSG_SIZE = "Nats-Msg-Size"

_MSG_ID_LINE = b"\r\n" + HDR_MSG_ID.encode() + b":"


def publish_headers(
    headers: Any = None,
    *,
    msg_id: Optional[str] = None,
    expected_stream: Optional[str] = None,
    expected_last_seq: Optional[int] = None,
    expected_last_subject_seq: Optional[int] = None,
    expected_last_msg_id: Optional[str] = None,
    rollup: Optional[str] = None,
) -> Optional[Headers]:
    """A new header set with the JetStream publish options added (the caller's is not mutated).
    With no option set, ``headers`` is returned as it is (a mapping, Headers or an encoded block)."""
    if (
        msg_id is None
        and expected_stream is None
        and expected_last_seq is None
        and expected_last_subject_seq is None
        and expected_last_msg_id is None
        and rollup is None
    ):
        return headers
    if type(headers) is bytes:
        headers = parse_headers(headers)
    extra = {
        HDR_MSG_ID: msg_id,
        HDR_EXPECTED_STREAM: expected_stream,
        HDR_EXPECTED_LAST_SEQ: None if expected_last_seq is None else str(expected_last_seq),
        HDR_EXPECTED_LAST_SUBJ_SEQ: None if expected_last_subject_seq is None else str(expected_last_subject_seq),
        HDR_EXPECTED_LAST_MSG_ID: expected_last_msg_id,
        HDR_ROLLUP: rollup,
    }
    out = Headers(headers) if headers is not None else Headers()
    for k, v in extra.items():
        if v is not None:
            out[k] = v
    return out


def has_msg_id(headers: Any) -> bool:
    """Whether ``headers`` (a mapping, Headers or an encoded block) carries ``Nats-Msg-Id``."""
    if headers is None:
        return False
    if type(headers) is bytes:  # a pre-encoded block
        return _MSG_ID_LINE in headers
    return HDR_MSG_ID in headers
