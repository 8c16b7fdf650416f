"""JetStream ACK reply subjects: parsing into :class:`AckMetadata`, and the ack verbs.

A consumer-delivered message's reply subject carries its metadata (wire.md 2.9, ADR-15):

- v1, 9 tokens (the server default):
  ``$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<timestamp ns>.<pending>``
- v2, 11 or more tokens (server 2.14+ with the ``js_ack_fc_v2`` flag; later tokens are reserved):
  ``$JS.ACK.<domain or _>.<account hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>``

Both normalise to the same named fields (nats.py's fixed indexes read the wrong token on v2, trap 12).
This runs once per delivered message, so parsing is one ``str.split`` and five ``int`` calls: no regex,
no intermediate objects.

Rule: no I/O; imports only ``jetstream.errors`` and ``jetstream.subjects`` (which owns ``ACK_PREFIX``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from jetstream.errors import InvalidAckSubjectError
from jetstream.subjects import ACK_PREFIX

__all__ = [
    "ACK_PREFIX",
    "ACK",
    "NAK",
    "TERM",
    "WPI",
    "IN_PROGRESS",
    "NEXT",
    "AckMetadata",
    "is_ack_subject",
    "nak_payload",
    "term_payload",
]

# Ack verbs: the payload published to the ACK reply subject (ADR-15).
ACK = b"+ACK"
NAK = b"-NAK"
TERM = b"+TERM"
WPI = b"+WPI"  # work in progress: resets the ack wait timer
IN_PROGRESS = WPI
NEXT = b"+NXT"  # ack and request the next message (pull consumers)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def is_ack_subject(reply: str | None) -> bool:
    """Cheap prefix test: could ``reply`` be a JetStream ACK subject?"""
    return reply is not None and reply.startswith(ACK_PREFIX)


def nak_payload(delay: float | None = None) -> bytes:
    """``-NAK``, or ``-NAK {"delay": <ns>}`` to ask for redelivery after ``delay`` seconds."""
    if delay is None:
        return NAK
    return b'-NAK {"delay": %d}' % round(delay * 1_000_000_000)


def term_payload(reason: str | None = None) -> bytes:
    """``+TERM``, or ``+TERM <reason>`` (server 2.11+ records the reason in the advisory)."""
    return TERM if not reason else TERM + b" " + reason.encode("utf-8")


class AckMetadata:
    """The metadata of one delivered message, parsed from its ACK reply subject.

    ``domain`` and ``account_hash`` are ``""`` for the 9-token layout (and ``domain`` is ``""`` when the
    server wrote ``_``). ``timestamp_ns`` is the stored message's time in Unix nanoseconds.
    """

    __slots__ = (
        "domain",
        "account_hash",
        "stream",
        "consumer",
        "num_delivered",
        "stream_seq",
        "consumer_seq",
        "timestamp_ns",
        "num_pending",
    )

    def __init__(
        self,
        stream: str,
        consumer: str,
        num_delivered: int,
        stream_seq: int,
        consumer_seq: int,
        timestamp_ns: int,
        num_pending: int,
        domain: str = "",
        account_hash: str = "",
    ) -> None:
        self.domain = domain
        self.account_hash = account_hash
        self.stream = stream
        self.consumer = consumer
        self.num_delivered = num_delivered
        self.stream_seq = stream_seq
        self.consumer_seq = consumer_seq
        self.timestamp_ns = timestamp_ns
        self.num_pending = num_pending

    @classmethod
    def from_reply(cls, reply: str) -> AckMetadata:
        """Parse a 9-token (v1) or >= 11-token (v2) ACK subject. Raises InvalidAckSubjectError."""
        tokens = reply.split(".")
        n = len(tokens)
        if n == 9:
            i = 2
            domain = account_hash = ""
        elif n >= 11:
            i = 4
            domain = tokens[2]
            if domain == "_":
                domain = ""
            account_hash = tokens[3]
        else:
            raise InvalidAckSubjectError(f"not a JetStream ACK subject ({n} tokens): {reply!r}")
        if tokens[0] != "$JS" or tokens[1] != "ACK" or not tokens[i] or not tokens[i + 1]:
            raise InvalidAckSubjectError(f"not a JetStream ACK subject: {reply!r}")
        delivered = tokens[i + 2]
        sseq = tokens[i + 3]
        cseq = tokens[i + 4]
        ts = tokens[i + 5]
        pending = tokens[i + 6]
        # isdigit() rejects signs, spaces and '_' that int() would accept.
        if not (
            delivered.isdigit() and sseq.isdigit() and cseq.isdigit() and ts.isdigit() and pending.isdigit()
        ):
            raise InvalidAckSubjectError(f"non-numeric field in JetStream ACK subject: {reply!r}")
        try:
            return cls(
                tokens[i],
                tokens[i + 1],
                int(delivered),
                int(sseq),
                int(cseq),
                int(ts),
                int(pending),
                domain,
                account_hash,
            )
        except ValueError:  # non-ASCII digits such as '²' pass isdigit()
            raise InvalidAckSubjectError(f"non-numeric field in JetStream ACK subject: {reply!r}") from None

    @classmethod
    def try_from_reply(cls, reply: str | None) -> AckMetadata | None:
        """Like :meth:`from_reply` but ``None`` for a missing or non-ACK reply subject."""
        if not reply or not reply.startswith(ACK_PREFIX):
            return None
        try:
            return cls.from_reply(reply)
        except InvalidAckSubjectError:
            return None

    @property
    def timestamp(self) -> datetime:
        """The stored message's time as an aware UTC ``datetime`` (microsecond precision)."""
        return _EPOCH + timedelta(microseconds=self.timestamp_ns // 1_000)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AckMetadata):
            return NotImplemented
        return all(getattr(self, s) == getattr(other, s) for s in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{s}={getattr(self, s)!r}" for s in self.__slots__)
        return f"AckMetadata({fields})"
