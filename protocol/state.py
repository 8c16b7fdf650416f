"""The connection's states and the transitions between them (wsproto/h2 style).

Rule: this module owns the table and nothing else; it never touches a connection. A
:class:`Connection` changes state in exactly one method, ``Connection._set_state``, which asks
:func:`check_transition` first, so a move the table does not list is a bug caught where it happens.
Imports only ``errors``.
"""

from __future__ import annotations

import enum

from .errors import InvalidTransitionError

__all__ = ["ConnectionState", "TRANSITIONS", "check_transition"]


class ConnectionState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DRAINING = "draining"
    CLOSED = "closed"


_S = ConnectionState

#: state -> the states it may move to.
TRANSITIONS: dict[ConnectionState, frozenset[ConnectionState]] = {
    # The first connect walks the pool once: a handshake completes, or every server failed.
    _S.CONNECTING: frozenset({_S.CONNECTED, _S.CLOSED}),
    # drain(); a lost transport with reconnect allowed; close() or a lost transport without.
    _S.CONNECTED: frozenset({_S.DRAINING, _S.RECONNECTING, _S.CLOSED}),
    # A server took the handshake; attempts exhausted, the same auth error twice, or close().
    _S.RECONNECTING: frozenset({_S.CONNECTED, _S.CLOSED}),
    # A draining connection never reconnects (a lost transport ends the drain by closing).
    _S.DRAINING: frozenset({_S.CLOSED}),
    _S.CLOSED: frozenset(),
}


def check_transition(old: ConnectionState, new: ConnectionState) -> None:
    """Raise :class:`InvalidTransitionError` unless ``TRANSITIONS`` links ``old`` to ``new``."""
    if new not in TRANSITIONS[old]:
        raise InvalidTransitionError(f"connection state cannot go from {old.value} to {new.value}")
