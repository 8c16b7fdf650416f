"""The in-flight window of a :class:`~jetstream.publisher.Publisher`: its entries and their account.

Owns which messages await an ack (``entries``, in send order: dict order), how many bytes they
hold, which wait to be resent, and what became of them after an error (:class:`Settlement`):
withdrawn unsent, refused by permission, lost with their connection, timed out. Does no I/O and
never waits: the publisher drives it (its ack reader pops entries, its timer expires them).

Hot path: the publisher inserts and pops ``entries`` and adjusts ``nbytes`` directly, with no
call per message; the methods here run on the error paths only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from protocol import Headers

__all__ = ["Pending", "Settlement", "Window"]


class Pending:
    """One message of the window, kept for its ack (and its resend)."""

    __slots__ = ("subject", "payload", "headers", "size", "sent", "first_sent", "epoch", "attempts")

    def __init__(self, subject: str, payload: bytes, headers: Optional[Headers], size: int, sent: float, epoch: int) -> None:
        self.subject = subject
        self.payload = payload
        self.headers = headers
        self.size = size
        self.sent = sent
        self.first_sent = sent
        self.epoch = epoch  # the connection it was written to (see Publisher's _epoch)
        self.attempts = 0


@dataclass
class Settlement:
    """What became of a publisher's window after an error (``Publisher.settle``).

    ``withdrawn``: taken back from the connection's outbox or reconnect buffer, or a resend that
    had not happened yet: provably never sent. ``unknown``: written to a connection that was then
    lost, or whose ack timed out, or still unanswered when the bound ran out: the server may
    have stored it, even later (a paused server reading its socket after it resumes).
    Messages acknowledged or refused are settled and not counted here.
    """

    withdrawn: int = 0
    unknown: int = 0


class Window:
    """The entries awaiting an ack, keyed by reply token, and the counts kept about them."""

    __slots__ = ("entries", "nbytes", "retrying", "timed_out", "withdrawn", "refusals")

    def __init__(self) -> None:
        self.entries: dict[str, Pending] = {}
        self.nbytes = 0
        self.retrying = 0  # waiting out a resend backoff: they keep their slot and bytes
        self.timed_out = 0  # acks that never came (no msg id to resend with): fate unknown
        self.withdrawn = 0  # resends given up after an error: never stored
        # Permission -ERRs per subject not yet matched to an entry (one per refused message).
        self.refusals: dict[str, int] = {}

    @property
    def pending(self) -> int:
        return len(self.entries) + self.retrying

    def pop(self, token: str) -> Optional[Pending]:
        entry = self.entries.pop(token, None)
        if entry is not None:
            self.nbytes -= entry.size
        return entry

    def hold(self, entry: Pending) -> None:
        """``entry`` waits to be resent: it keeps its window slot and bytes meanwhile."""
        self.retrying += 1
        self.nbytes += entry.size

    def unhold(self, entry: Pending) -> None:
        self.retrying -= 1
        self.nbytes -= entry.size

    def withdraw(self, replies: Iterable[str], prefix_len: int) -> int:
        """Drop the entries whose publishes the connection took back unsent; how many."""
        n = 0
        for reply in replies:
            if self.pop(reply[prefix_len:]) is not None:
                n += 1
        return n

    def refused(self, subject: str) -> None:
        self.refusals[subject] = self.refusals.get(subject, 0) + 1

    def take_refused(self) -> int:
        """Settle messages refused by permission: each message gets an ack or a ``-ERR``, never
        both, so once a subject's entries still here are no more than its ``-ERR``s, every one of
        them was refused."""
        taken = 0
        for subject, n in list(self.refusals.items()):
            tokens = [t for t, e in self.entries.items() if e.subject == subject]
            if len(tokens) <= n:
                for t in tokens:
                    self.pop(t)
                taken += len(tokens)
                self.refusals[subject] = n - len(tokens)
        return taken

    def drop_lost(self, current_epoch: Optional[int]) -> int:
        """Drop the entries written to a connection other than ``current_epoch`` (None: no
        connection now): no ack can come for them any more. Returns how many (fate unknown)."""
        lost = [t for t, e in self.entries.items() if e.epoch != current_epoch]
        for token in lost:
            self.pop(token)
        return len(lost)

    def expire(self, limit: float) -> list[Pending]:
        """Pop the entries sent at or before loop time ``limit`` (send order: the oldest first)."""
        expired = []
        for token, entry in self.entries.items():
            if entry.sent > limit:
                break
            expired.append(token)
        return [e for e in (self.pop(t) for t in expired) if e is not None]
