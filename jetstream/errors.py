"""JetStream errors: the API error registry and the non-API JetStream failures.

Rule 1: every class here subclasses :class:`JetStreamError`, itself a ``protocol`` ``NatsError``.
Rule 2: an API reply's ``error`` object becomes an exception only through :func:`api_error_from_json`,
which picks the class by the stable ``err_code`` (wire.md 2.12); the ``description`` text may change
between server versions and is never matched.
Rule 3: a class registers itself by declaring ``err_code`` (an int or a tuple of ints) in its own body
(the asyncpg ``sqlstate`` pattern), so the table and the classes cannot drift. Duplicates are rejected.

This module imports only ``protocol.errors``; it does no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from protocol.errors import NatsError, NatsTimeoutError

__all__ = [
    "JetStreamError",
    "APIError",
    "ERR_CODE_TO_CLASS",
    "api_error_from_json",
    "raise_for_api_response",
    # API errors, grouped
    "NotFoundError",
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


class JetStreamError(NatsError):
    """Root of JetStream errors."""


# err_code -> class. Filled by APIError.__init_subclass__; read by api_error_from_json.
ERR_CODE_TO_CLASS: dict[int, type[APIError]] = {}


class APIError(JetStreamError):
    """An ``error`` object returned by the JetStream API.

    Instance attributes: ``code`` (HTTP-like status), ``err_code`` (the stable JetStream code),
    ``description`` (server text), and ``stream`` / ``seq`` when the reply carried them (PubAck
    errors do). The class attributes of the same names are the defaults a subclass declares; the
    class attribute ``err_code`` also registers the subclass (see the module docstring).
    """

    err_code: ClassVar[int | tuple[int, ...] | None] = None  # type: ignore[misc]
    code: ClassVar[int] = 0  # type: ignore[misc]
    description: ClassVar[str] = ""  # type: ignore[misc]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared = cls.__dict__.get("err_code")
        if declared is None:
            return  # grouping class or a subclass that inherits its parent's code: not registered
        codes = declared if isinstance(declared, tuple) else (declared,)
        if not codes or not all(isinstance(c, int) and not isinstance(c, bool) for c in codes):
            raise TypeError(f"{cls.__name__}.err_code must be an int or a non-empty tuple of ints")
        for c in codes:
            other = ERR_CODE_TO_CLASS.get(c)
            if other is not None:
                raise TypeError(f"err_code {c} of {cls.__name__} is already registered to {other.__name__}")
        for c in codes:
            ERR_CODE_TO_CLASS[c] = cls

    def __init__(
        self,
        code: int | None = None,
        err_code: int | None = None,
        description: str | None = None,
        *,
        stream: str | None = None,
        seq: int | None = None,
    ) -> None:
        cls = type(self)
        if code is None:
            code = cls.code
        if err_code is None:
            declared = cls.err_code
            err_code = (declared[0] if isinstance(declared, tuple) else declared) or 0
        if description is None:
            description = cls.description
        super().__init__(f"{description or 'JetStream API error'} (code={code}, err_code={err_code})")
        # Instance attributes shadow the class-level defaults of the same name.
        self.code = code  # type: ignore[misc]
        self.err_code = err_code  # type: ignore[misc]
        self.description = description  # type: ignore[misc]
        self.stream = stream
        self.seq = seq

    def __reduce__(self) -> Any:
        # Exception pickling replays ``args`` (the message); rebuild from the fields instead.
        return (
            type(self),
            (self.code, self.err_code, self.description),
            {"stream": self.stream, "seq": self.seq, **self.__dict__},
        )


def api_error_from_json(
    obj: Mapping[str, Any], *, stream: str | None = None, seq: int | None = None
) -> APIError:
    """Build the exception for an API reply's ``error`` object (never raises it).

    The class is chosen by ``err_code``; an unknown or missing code gives a plain :class:`APIError`
    that still carries ``code``, ``err_code`` and ``description``. A malformed ``obj`` (not a mapping,
    non-integer codes) is tolerated: the result is an :class:`APIError` describing what was received.
    """
    if not isinstance(obj, Mapping):
        return APIError(0, 0, f"malformed API error: {obj!r}", stream=stream, seq=seq)
    code = _as_int(obj.get("code"))
    err_code = _as_int(obj.get("err_code"))
    description = obj.get("description")
    if not isinstance(description, str):
        description = "" if description is None else str(description)
    cls = ERR_CODE_TO_CLASS.get(err_code, APIError)
    return cls(code, err_code, description, stream=stream, seq=seq)


def raise_for_api_response(resp: Mapping[str, Any]) -> Mapping[str, Any]:
    """Raise the mapped :class:`APIError` if the reply has an ``error`` object; else return ``resp``.

    ``error`` is tested first because PubAck error replies also carry ``stream`` and ``seq``
    (wire.md 2.7); those keys are copied onto the exception.
    """
    err = resp.get("error")
    if err:
        stream = resp.get("stream")
        seq = resp.get("seq")
        raise api_error_from_json(
            err,
            stream=stream if isinstance(stream, str) else None,
            seq=seq if isinstance(seq, int) else None,
        )
    return resp


def _as_int(value: Any) -> int:
    if isinstance(value, int):
        return 0 if isinstance(value, bool) else value
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


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


# --- non-API errors --------------------------------------------------------------------------


class NoStreamResponseError(JetStreamError):
    """A JetStream publish got a 503 no-responders status: no stream listens on that subject."""

    # Whether a stream listens on the subject: False (none does), True (one does but has no
    # leader: StreamUnavailableError), None (could not be told: the meta leader did not answer).
    listened: bool | None = False

    def __init__(self, message: str = "no stream matches this subject", *, subject: str | None = None) -> None:
        super().__init__(message if subject is None else f"{message}: {subject}")
        self.subject = subject


class StreamUnavailableError(NoStreamResponseError):
    """A publish got 503 no-responders although a stream listens on its subject: the stream has
    no leader right now (an election after its leader was lost, or no quorum). The message was
    not stored. A subclass of :class:`NoStreamResponseError` so that existing handlers still
    catch it; its message names the stream and the real cause."""

    listened = True

    def __init__(self, message: str, *, subject: str | None = None, stream: str | None = None) -> None:
        JetStreamError.__init__(self, message)
        self.subject = subject
        self.stream = stream


class JetStreamTimeoutError(JetStreamError, NatsTimeoutError):
    """A JetStream API request or publish ack did not arrive in time (also a builtin ``TimeoutError``)."""


class ConsumerStalledError(JetStreamError):
    """A push consumer stopped delivering (missed heartbeats, or flow control left unanswered)."""


class OrderedConsumerError(JetStreamError):
    """An ordered consumer could not be (re)created after a sequence gap or missed heartbeats."""


class InvalidArgumentError(JetStreamError, ValueError):
    """A caller passed a value the JetStream API cannot accept (also a ``ValueError``)."""


class InvalidNameError(InvalidArgumentError):
    """A stream or consumer name is empty, too long, or contains whitespace, ``.``, ``*``, ``>``, ``/``, ``\\``."""


class InvalidAckSubjectError(JetStreamError, ValueError):
    """A reply subject is not a JetStream ACK subject in the 9-token or >= 11-token layout."""


class CodecError(JetStreamError, ValueError):
    """A value could not be converted between API JSON and the Python models (bad time, duration, shape)."""
