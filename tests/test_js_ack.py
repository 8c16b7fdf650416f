"""jetstream.ack: ACK reply subject parsing (9-token v1, >= 11-token v2) and ack verbs."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from jetstream import ack as A
from jetstream.ack import AckMetadata
from jetstream.errors import InvalidAckSubjectError, JetStreamError

# Captured from nats-server v2.15.1 (push consumer, ack explicit).
V1_REAL = "$JS.ACK.T.c1.1.1.1.1795569910784222928.0"


def test_v1_real_subject() -> None:
    m = AckMetadata.from_reply(V1_REAL)
    assert (m.domain, m.account_hash, m.stream, m.consumer) == ("", "", "T", "c1")
    assert (m.num_delivered, m.stream_seq, m.consumer_seq, m.num_pending) == (1, 1, 1, 0)
    assert m.timestamp_ns == 1795569910784222928
    assert m.timestamp == datetime(2026, 11, 25, 1, 25, 10, 784222, tzinfo=timezone.utc)


def test_v1_distinct_values() -> None:
    m = AckMetadata.from_reply("$JS.ACK.OBJ_b.oc1.2.1000.37.1659745767587861324.12")
    assert m == AckMetadata("OBJ_b", "oc1", 2, 1000, 37, 1659745767587861324, 12)


def test_v2_eleven_tokens() -> None:
    m = AckMetadata.from_reply("$JS.ACK.hub.ACCHASH.OBJ_b.oc1.2.1000.37.1659745767587861324.12")
    assert (m.domain, m.account_hash, m.stream, m.consumer) == ("hub", "ACCHASH", "OBJ_b", "oc1")
    assert (m.num_delivered, m.stream_seq, m.consumer_seq, m.num_pending) == (2, 1000, 37, 12)
    assert m.timestamp_ns == 1659745767587861324


def test_v2_underscore_domain_is_empty() -> None:
    m = AckMetadata.from_reply("$JS.ACK._.ACCHASH.S.c.1.5.5.1.0")
    assert m.domain == "" and m.account_hash == "ACCHASH"
    assert (m.stream, m.consumer, m.stream_seq, m.consumer_seq, m.num_pending) == ("S", "c", 5, 5, 0)


@pytest.mark.parametrize("extra", [".rand", ".rand.more", ".12345"])
def test_v2_more_tokens_are_ignored(extra: str) -> None:
    m = AckMetadata.from_reply("$JS.ACK._.H.S.c.1.5.6.7.8" + extra)
    assert (m.stream, m.num_delivered, m.stream_seq, m.consumer_seq, m.timestamp_ns, m.num_pending) == (
        "S",
        1,
        5,
        6,
        7,
        8,
    )


def test_v1_and_v2_normalise_to_the_same_fields() -> None:
    v1 = AckMetadata.from_reply("$JS.ACK.S.c.3.10.9.123.4")
    v2 = AckMetadata.from_reply("$JS.ACK._.H.S.c.3.10.9.123.4")
    for name in ("stream", "consumer", "num_delivered", "stream_seq", "consumer_seq", "timestamp_ns", "num_pending"):
        assert getattr(v1, name) == getattr(v2, name)
    assert v1 != v2  # account hash differs


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "$JS.ACK",
        "$JS.ACK.S.c.1.2.3.4",  # 8 tokens
        "$JS.ACK.D.H.S.c.1.2.3.4",  # 10 tokens
        "$JS.NAK.S.c.1.2.3.4.5",
        "$JX.ACK.S.c.1.2.3.4.5",
        "_INBOX.abc.def.1.2.3.4.5.6",
        "$JS.FC.S.c.1.2.3.4.5",
        "$JS.ACK.S.c.1.2.x.4.5",
        "$JS.ACK.S.c.1.2.3.4.-5",
        "$JS.ACK.S.c.+1.2.3.4.5",
        "$JS.ACK.S.c.1_0.2.3.4.5",
        "$JS.ACK.S.c.1.2.3.4.",
        "$JS.ACK.S.c.1.2.3.4.²",
        "$JS.ACK.S.c. 1.2.3.4.5",
        "$JS.ACK..c.1.2.3.4.5",
        "$JS.ACK.S..1.2.3.4.5",
        "$JS.ACK._.H.S.c.1.2.three.4.5",
        "$JS.ACK._.H..c.1.2.3.4.5",
    ],
)
def test_invalid_subjects(reply: str) -> None:
    with pytest.raises(InvalidAckSubjectError) as info:
        AckMetadata.from_reply(reply)
    assert isinstance(info.value, ValueError) and isinstance(info.value, JetStreamError)
    assert AckMetadata.try_from_reply(reply) is None


def test_try_from_reply() -> None:
    assert AckMetadata.try_from_reply(None) is None
    assert AckMetadata.try_from_reply("") is None
    assert AckMetadata.try_from_reply(V1_REAL) == AckMetadata.from_reply(V1_REAL)


def test_is_ack_subject() -> None:
    assert A.is_ack_subject(V1_REAL)
    assert not A.is_ack_subject("$JS.FC.S.c.abcd")
    assert not A.is_ack_subject(None)


def test_slots_repr_eq() -> None:
    m = AckMetadata.from_reply(V1_REAL)
    assert not hasattr(m, "__dict__")
    with pytest.raises(AttributeError):
        m.extra = 1  # type: ignore[attr-defined]
    assert "stream_seq=1" in repr(m) and repr(m).startswith("AckMetadata(")
    assert m == AckMetadata.from_reply(V1_REAL)
    assert m != "not metadata"
    with pytest.raises(TypeError):
        hash(m)


def test_verbs() -> None:
    assert (A.ACK, A.NAK, A.TERM, A.WPI) == (b"+ACK", b"-NAK", b"+TERM", b"+WPI")
    assert A.IN_PROGRESS == A.WPI
    assert A.NEXT == b"+NXT"
    assert A.nak_payload() == b"-NAK"
    assert A.nak_payload(1.5) == b'-NAK {"delay": 1500000000}'
    assert A.term_payload() == b"+TERM"
    assert A.term_payload("bad data") == b"+TERM bad data"
