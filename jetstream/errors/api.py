"""The JetStream API errors: one class per stable ``err_code`` of the server's errors.json.

Owns the table (wire.md 2.12): each class declares ``err_code`` (an int or a tuple), ``code`` (the
HTTP-like status) and the server's ``description``, and so registers itself with
``errors.base.ERR_CODE_TO_CLASS``. Grouping classes (``NotFoundError``) declare no code.

Rule: no I/O, no translation logic (that is ``errors.base.api_error_from_json``); imports only
``errors.base``.
"""

from __future__ import annotations

from .base import APIError

# --- API errors (wire.md 2.12). Codes and texts from the server's errors.json. -----------------


class NotFoundError(APIError):
    """Grouping class: a stream, consumer or message does not exist (HTTP-like 404)."""

    code = 404


class StreamNotFoundError(NotFoundError):
    err_code = 10059
    description = "stream not found"


class ConsumerNotFoundError(NotFoundError):
    err_code = 10014
    description = "consumer not found"


class MessageNotFoundError(NotFoundError):
    err_code = 10037
    description = "no message found"


class StreamNameInUseError(APIError):
    err_code = 10058
    code = 400
    description = "stream name already in use with a different configuration"


class WrongLastSequenceError(APIError):
    """``Nats-Expected-Last-(Subject-)Sequence`` did not match (10071 with the actual value, or 10164)."""

    err_code = (10071, 10164)
    code = 400
    description = "wrong last sequence"

    @property
    def last_seq(self) -> int | None:
        """The stream's actual last sequence parsed from ``wrong last sequence: N``, if present."""
        _, sep, tail = self.description.rpartition(":")
        tail = tail.strip()
        return int(tail) if sep and tail.isdigit() else None


class WrongLastMsgIdError(APIError):
    err_code = 10070
    code = 400
    description = "wrong last msg ID"


class ExpectedStreamMismatchError(APIError):
    err_code = 10060
    code = 400
    description = "expected stream does not match"


class MessageSizeExceedsError(APIError):
    err_code = 10054
    code = 400
    description = "message size exceeds maximum allowed"


class HeaderSizeExceedsError(APIError):
    err_code = 10097
    code = 400
    description = "header size exceeds maximum allowed of 64k"


class StreamSealedError(APIError):
    err_code = 10109
    code = 400
    description = "invalid operation on sealed stream"


class PurgeFailedError(APIError):
    err_code = 10110
    code = 500
    description = "stream purge failed"


class RollupFailedError(APIError):
    err_code = 10111
    code = 500
    description = "rollup failed"


class StoreFailedError(APIError):
    """The stream store refused the message, e.g. ``maximum bytes exceeded`` with discard new."""

    err_code = 10077
    code = 503
    description = "stream store failed"


class InsufficientResourcesError(APIError):
    err_code = 10023
    code = 503
    description = "insufficient resources"


class JetStreamUnavailableError(APIError):
    err_code = 10008
    code = 503
    description = "JetStream system temporarily unavailable"


class JetStreamNotEnabledError(APIError):
    """JetStream is off on the server (10076) or for the account (10039)."""

    err_code = (10076, 10039)
    code = 503
    description = "JetStream not enabled"


class InvalidJSONError(APIError):
    """The server rejected the request JSON (strict mode rejects unknown fields, wire.md 2.1)."""

    err_code = 10025
    code = 400
    description = "invalid JSON"


class BadRequestError(APIError):
    err_code = 10003
    code = 400
    description = "bad request"


class StreamNameMismatchError(APIError):
    err_code = 10056
    code = 400
    description = "stream name in subject does not match request"


class ConsumerNameInUseError(APIError):
    err_code = 10013
    code = 400
    description = "consumer name already in use"


class ConsumerExistsError(APIError):
    err_code = (10148, 10105)
    code = 400
    description = "consumer already exists"


class ConsumerDoesNotExistError(APIError):
    err_code = 10149
    code = 400
    description = "consumer does not exist"


class DuplicateMsgIdInProcessError(APIError):
    err_code = 10158
    code = 409
    description = "duplicate message id is in process"


class TooManyRequestsError(APIError):
    err_code = 10167
    code = 429
    description = "too many requests"


class ConsumerHeartbeatTooSmallError(APIError):
    err_code = 10083
    code = 400
    description = "consumer idle heartbeat needs to be >= 100ms"


class ConsumerFlowControlNeedsHeartbeatError(APIError):
    err_code = 10108
    code = 400
    description = "consumer with flow control also needs heartbeats"


class ConsumerFilterMismatchError(APIError):
    err_code = 10131
    code = 400
    description = "Consumer create request did not match filtered subject from create subject"


class BatchPublishDisabledError(APIError):
    """ADR-50 fast ingest: the stream does not have ``allow_batched`` (or the server predates it)."""

    err_code = 10205
    code = 400
    description = "batch publish is disabled"
