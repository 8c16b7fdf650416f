"""The one exception hierarchy of all three packages.

Rule: every exception raised by ``protocol``, ``jetstream`` or ``objstore`` is a subclass of
:class:`NatsError`. A caller's mistake (a bad subject, a payload too large) also subclasses
``ValueError`` so ``except ValueError`` keeps working; a timeout also subclasses the builtin
``TimeoutError``. This module imports nothing from the package.
"""

from __future__ import annotations

import enum

__all__ = [
    "NatsError",
    "ProtocolError",
    "ConnectionClosedError",
    "ConnectError",
    "NoServersError",
    "ConnectProtocolError",
    "AuthorizationError",
    "NoRespondersError",
    "NatsTimeoutError",
    "SlowConsumerError",
    "MaxPayloadError",
    "BadSubjectError",
    "BadHeaderError",
    "ServerError",
    "PermissionViolationError",
    "StaleConnectionError",
    "ReconnectBufferFullError",
    "MissingDependencyError",
    "InvalidOptionError",
    "TLSError",
    "InvalidTransitionError",
    "ErrAction",
    "classify_server_error",
    "error_from_server_text",
]


class NatsError(Exception):
    """Root of every error raised by this project."""


class ProtocolError(NatsError):
    """The bytes received do not follow the NATS client protocol (parser failure)."""


class ConnectionClosedError(NatsError):
    """The connection is closed (or draining) and cannot carry this operation."""


class ConnectError(NatsError):
    """A connection to a server could not be established."""


class NoServersError(ConnectError):
    """No server in the pool accepted a connection."""


class ConnectProtocolError(NoServersError, ProtocolError):
    """No server could be connected because every one answered outside the protocol (a
    malformed INFO, an INFO with an invalid ``max_payload``, an oversized frame). Both a
    :class:`NoServersError` and a :class:`ProtocolError`."""


class TLSError(ConnectError):
    """TLS was required but could not be negotiated or verified."""


class ServerError(NatsError):
    """The server sent ``-ERR '<text>'``. ``text`` holds the text without quotes."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class AuthorizationError(ServerError, ConnectError):
    """The server refused the credentials (authorization violation, expired or revoked)."""


class PermissionViolationError(ServerError):
    """Publish or subscribe to a subject this user may not use; the connection stays open.

    ``subject`` is the subject the server names (``Permissions Violation for Publish to
    "subj"``), "" if it names none; ``kind`` is ``"publish"``, ``"reply"`` (``Publish with Reply
    of``), ``"subscription"`` or "" (nats-server client.go pubPermissionViolation,
    replySubjectViolation, sendErr of processSub); ``queue`` the queue group of a refused queue
    subscription, else ``None``."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        quoted = text.split('"')[1::2]
        self.subject = quoted[0] if quoted else ""
        low = text.lower()
        # A refused queue subscription names its queue second: ... for Subscription to "s" using
        # queue "q" (nats-server client.go processSub).
        self.queue: str | None = None
        if "for subscription" in low:
            self.kind = "subscription"
            if "using queue" in low and len(quoted) > 1:
                self.queue = quoted[1]
        elif "with reply of" in low:
            self.kind = "reply"
        elif "for publish" in low:
            self.kind = "publish"
        else:
            self.kind = ""


class StaleConnectionError(ServerError):
    """The server or the client detected that the peer stopped answering PINGs."""


class NoRespondersError(NatsError):
    """A request reached no subscriber (status 503 with no_responders on)."""


class NatsTimeoutError(NatsError, TimeoutError):
    """An operation did not complete in time. Also a builtin ``TimeoutError``."""


class SlowConsumerError(NatsError):
    """A subscription exceeded its pending limits; messages were dropped for it."""

    def __init__(self, message: str, *, sid: int = 0, dropped: int = 0) -> None:
        super().__init__(message)
        self.sid = sid
        self.dropped = dropped


class MaxPayloadError(NatsError, ValueError):
    """Header plus payload exceed the server's ``max_payload``."""


class BadSubjectError(NatsError, ValueError):
    """A subject or queue name is empty, has empty tokens, whitespace or control characters."""


class BadHeaderError(NatsError, ValueError):
    """A header name or value cannot be encoded in a NATS header block."""


class ReconnectBufferFullError(NatsError):
    """Publishing while disconnected would exceed the bounded reconnect buffer."""


class InvalidOptionError(NatsError, ValueError):
    """A connect option has a value the client cannot work with (for example a non-positive
    ``max_inbound_frame``)."""


class InvalidTransitionError(NatsError, RuntimeError):
    """A connection was asked to move between two states its transition table does not link
    (``protocol.state.TRANSITIONS``): a bug in the client, never a server's doing."""


class MissingDependencyError(NatsError, ImportError):
    """An optional extra is needed for this feature (for example ``nkeys``)."""


class ErrAction(enum.Enum):
    """What a ``-ERR`` means for the connection (ADR-40; nats-server client.go sendErr vs
    sendErrAndErr / closeConnection)."""

    #: The server keeps the connection; the error belongs to one operation (a refused publish,
    #: subscription or request inbox) and is routed to it.
    ROUTE = "route"
    #: The server keeps the connection; nobody can be named, so the error is kept for the next
    #: ``flush()`` (nats-server processSub / processPub answer these without closing).
    KEEP = "keep"
    #: The server closes the connection after this ``-ERR`` (auth, stale connection, parser
    #: errors, anything not listed): treat the connection as lost now.
    CLOSE = "close"


# The one -ERR classifier: (lower-case text prefixes, exception class, action), first match wins.
# Prefixes are nats-server's texts (server/errors.go, client.go): authorization violation and
# the authentication expiry/revocation texts close the connection; permissions violations
# (client.go pubPermissionViolation, replySubjectViolation, processSub) do not.
_ERR_TABLE: tuple[tuple[tuple[str, ...], type, ErrAction], ...] = (
    (
        (
            "authorization violation",
            "user authentication expired",
            "user authentication revoked",
            "account authentication expired",
            "authentication timeout",
            "authorization timeout",
        ),
        AuthorizationError,
        ErrAction.CLOSE,
    ),
    (("permissions violation",), PermissionViolationError, ErrAction.ROUTE),
    (("stale connection",), StaleConnectionError, ErrAction.CLOSE),
    (
        ("maximum subscriptions exceeded", "invalid subject", "invalid publish subject"),
        ServerError,
        ErrAction.KEEP,
    ),
)


def classify_server_error(text: str) -> tuple[ServerError, ErrAction]:
    """The exception for the text of a ``-ERR`` line (quotes already stripped) and what the
    connection must do about it (:class:`ErrAction`)."""
    low = text.lower()
    for prefixes, cls, action in _ERR_TABLE:
        if low.startswith(prefixes):
            return cls(text), action
    return ServerError(text), ErrAction.CLOSE


def error_from_server_text(text: str) -> ServerError:
    """Map the text of a ``-ERR`` line (quotes already stripped) to an exception instance."""
    return classify_server_error(text)[0]
