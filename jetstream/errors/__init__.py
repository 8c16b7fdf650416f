"""JetStream errors: the table of contents of the error hierarchy.

Rule 1: every class here subclasses :class:`JetStreamError`, itself a ``protocol`` ``NatsError``.
Rule 2: an API reply's ``error`` object becomes an exception only through :func:`api_error_from_json`
(``errors.base``), which picks the class by the stable ``err_code`` (wire.md 2.12).
Rule 3: a class registers itself by declaring ``err_code`` in its own body (``errors.api``).
Client-side failures, which no API reply carries, are in ``errors.local``.

This package does no I/O; it imports only ``protocol.errors``. Importing it loads the whole table,
so the registry is complete before any reply is translated.
"""

from __future__ import annotations

from .api import (
    BatchPublishDisabledError,
    BadRequestError,
    ConsumerDoesNotExistError,
    ConsumerExistsError,
    ConsumerFilterMismatchError,
    ConsumerFlowControlNeedsHeartbeatError,
    ConsumerHeartbeatTooSmallError,
    ConsumerNameInUseError,
    ConsumerNotFoundError,
    DuplicateMsgIdInProcessError,
    ExpectedStreamMismatchError,
    HeaderSizeExceedsError,
    InsufficientResourcesError,
    InvalidJSONError,
    JetStreamNotEnabledError,
    JetStreamUnavailableError,
    MessageNotFoundError,
    MessageSizeExceedsError,
    NotFoundError,
    PurgeFailedError,
    RollupFailedError,
    StoreFailedError,
    StreamNameInUseError,
    StreamNameMismatchError,
    StreamNotFoundError,
    StreamSealedError,
    TooManyRequestsError,
    WrongLastMsgIdError,
    WrongLastSequenceError,
)
from .base import ERR_CODE_TO_CLASS, APIError, JetStreamError, api_error_from_json, raise_for_api_response
from .local import (
    CodecError,
    FastBatchGapError,
    ConsumerStalledError,
    InvalidAckSubjectError,
    InvalidArgumentError,
    InvalidNameError,
    JetStreamTimeoutError,
    NoStreamResponseError,
    OrderedConsumerError,
    StreamUnavailableError,
)

__all__ = [
    "JetStreamError",
    "APIError",
    "ERR_CODE_TO_CLASS",
    "api_error_from_json",
    "raise_for_api_response",
    # API errors, grouped
    "NotFoundError",
    "BatchPublishDisabledError",
    "FastBatchGapError",
    "StreamNotFoundError",
    "ConsumerNotFoundError",
    "MessageNotFoundError",
    "StreamNameInUseError",
    "WrongLastSequenceError",
    "WrongLastMsgIdError",
    "ExpectedStreamMismatchError",
    "MessageSizeExceedsError",
    "HeaderSizeExceedsError",
    "StreamSealedError",
    "PurgeFailedError",
    "RollupFailedError",
    "StoreFailedError",
    "InsufficientResourcesError",
    "JetStreamUnavailableError",
    "JetStreamNotEnabledError",
    "InvalidJSONError",
    "BadRequestError",
    "StreamNameMismatchError",
    "ConsumerNameInUseError",
    "ConsumerExistsError",
    "ConsumerDoesNotExistError",
    "DuplicateMsgIdInProcessError",
    "TooManyRequestsError",
    "ConsumerHeartbeatTooSmallError",
    "ConsumerFlowControlNeedsHeartbeatError",
    "ConsumerFilterMismatchError",
    # non-API errors
    "NoStreamResponseError",
    "StreamUnavailableError",
    "JetStreamTimeoutError",
    "ConsumerStalledError",
    "OrderedConsumerError",
    "InvalidArgumentError",
    "InvalidNameError",
    "InvalidAckSubjectError",
    "CodecError",
]
