"""Client-side JetStream failures: the errors no API reply carries.

Owns the errors raised from what this client saw rather than from an API ``error`` object: a publish
that no stream answered (503 to the end, explained), a timeout, a stalled or unrecoverable consumer,
a value the API cannot take, an unparsable ACK subject, a codec failure.

Rule: no I/O; imports only ``errors.base`` and ``protocol.errors``.
"""

from __future__ import annotations

from protocol.errors import NatsTimeoutError

from .base import JetStreamError

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


class FastBatchGapError(JetStreamError):
    """An ADR-50 fast-ingest batch in ``gap: fail`` mode was ended by the server after a gap (a
    message it never received, e.g. dropped under load or lost with a connection): only the
    messages before the gap were stored. ``stored`` is how many (the final ack's ``count``)."""

    def __init__(self, message: str, *, stored: int | None = None) -> None:
        super().__init__(message)
        self.stored = stored
