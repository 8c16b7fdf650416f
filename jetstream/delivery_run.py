"""``DeliveryRun``: the ordered consumer's hot path, the deliveries already queued for it taken and
checked as one run instead of one by one. Sans-I/O: it is handed a ``take()`` callable (a
subscription's ``next_nowait``) and messages, and never awaits.

A run is the longest stretch of queued messages (at most ``limit``) whose reply subject starts
with the current consumer's v1 ACK prefix (``$JS.ACK.<stream>.<consumer>.``): the data messages
of that consumer. Only the first and the last reply subjects are parsed. One consumer's
deliveries take consecutive consumer sequences (an ordered consumer has ``ack_policy: none`` and
``max_deliver: 1``: nothing is redelivered, so the sequences strictly increase), hence when the
first one is the expected sequence and the last one is ``expected + count - 1`` no message is
missing in between (ADR-17's per-message check, done for the run at once). Otherwise the run is
checked message by message: the valid prefix is handed out and the rest is held back, in order,
for the consumer's full path (which re-creates the consumer at the gap). What the run trusts: a
reply subject between the two ends is not parsed, so one that is not a v1 ACK subject (no
server sends that) is noticed only when its metadata is read (InvalidAckSubjectError).

Per message the run costs a ``startswith``, an ``endswith`` (a zero pending count: the consumer
caught up there) and a ``JsMsg``; per run two ``rsplit`` and two ``int``. Must not await, reset
consumers or answer flow control (``jetstream.ordered`` does).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Optional

from protocol import Msg, NatsError

from .msg import JsMsg, delivered

__all__ = ["DeliveryRun"]

_LIMIT = 1024


def _cseq_pending(reply: str) -> tuple[int, str]:
    """(consumer sequence, pending count as its digits) of a v1 ACK subject; (0, "") if odd."""
    parts = reply.rsplit(".", 3)
    if len(parts) != 4 or not parts[1].isdigit() or not parts[3].isdigit():
        return 0, ""
    return int(parts[1]), parts[3]


class DeliveryRun:
    """The messages of the last run not yet handed out (``ready``), what the run's last message
    said (``last_reply``, ``pending``), how many are left when the first one that reported zero
    pending is handed out (``zero_left``, -1: none did) and the messages held back (``held``)."""

    __slots__ = ("ready", "held", "last_reply", "pending", "zero_left", "slow")

    def __init__(self) -> None:
        self.ready: deque[JsMsg] = deque()
        self.held: deque[Msg] = deque()
        self.last_reply = ""
        self.pending = ""
        self.zero_left = -1
        self.slow = False  # take() raised (a slow-consumer report) after some messages were taken

    def clear(self) -> None:
        self.ready.clear()
        self.held.clear()
        self.zero_left = -1
        self.slow = False

    def take(self, take: Callable[[], Optional[Msg]], prefix: str, expected: int, limit: int = _LIMIT) -> int:
        """Take the next run from ``take()`` into ``ready`` (which must be empty) and return how
        many messages it holds (0: the first queued message is not one of them, or nothing is
        queued). ``expected``: the consumer sequence the next delivery must have. A message
        that ends the run is appended to ``held``; an exception from ``take()`` propagates when
        nothing was taken yet, else sets ``slow`` and ends the run."""
        msgs: list[Msg] = []
        append = msgs.append
        zero = -1
        n = 0
        while n < limit:
            try:
                msg = take()
            except NatsError:
                if not n:
                    raise
                self.slow = True
                break
            if msg is None:
                break
            reply = msg.reply
            if not reply.startswith(prefix):
                self.held.append(msg)
                break
            if zero < 0 and reply.endswith(".0"):
                zero = n
            append(msg)
            n += 1
        if not n:
            return 0
        first, (last, pending) = _cseq_pending(msgs[0].reply)[0], _cseq_pending(msgs[-1].reply)
        if first != expected or last != expected + n - 1 or not pending:
            n, zero = self._checked(msgs, expected)
            if not n:
                return 0
            last_msg = msgs[n - 1]
            pending = _cseq_pending(last_msg.reply)[1]
        else:
            last_msg = msgs[-1]
        ready = self.ready
        for i in range(n):
            ready.append(delivered(msgs[i], 0))  # the stream sequence is parsed when asked
        self.last_reply = last_msg.reply
        self.pending = pending
        self.zero_left = n - 1 - zero if 0 <= zero < n else -1
        return n

    def _checked(self, msgs: list[Msg], expected: int) -> tuple[int, int]:
        """The run failed its check: how many messages from its start are valid one by one, and
        the index of the first of them with zero pending (-1: none). The rest go to the front of
        ``held`` in order."""
        good, zero = 0, -1
        for msg in msgs:
            cseq, pending = _cseq_pending(msg.reply)
            if cseq != expected + good:
                break
            if zero < 0 and pending == "0":
                zero = good
            good += 1
        rest: Any = msgs[good:]
        if rest:
            self.held.extendleft(reversed(rest))
        return good, zero
