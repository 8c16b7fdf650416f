"""The NATS/1.0 header block: the multimap, status lines, exact round trips, invalid input."""

from __future__ import annotations

import random

import pytest

from protocol.errors import BadHeaderError, NatsError, ProtocolError
from protocol.headers import Headers, encode_headers, parse_headers, parse_status

CANONICAL = [
    b"NATS/1.0\r\n\r\n",
    b"NATS/1.0\r\nBar: Baz\r\n\r\n",
    b"NATS/1.0\r\nA: 1\r\nA: 2\r\nA: 3\r\n\r\n",
    b"NATS/1.0\r\nA: 1\r\nB: 2\r\nA: 3\r\nb: 4\r\n\r\n",  # interleaved names, mixed case
    b"NATS/1.0\r\nFoo: \r\n\r\n",  # empty value
    b"NATS/1.0\r\nX-Unicode: \xc3\xa9t\xc3\xa9 \xe2\x82\xac\r\n\r\n",
    b"NATS/1.0\r\nK: a: b: c\r\n\r\n",  # colons in the value
    b"NATS/1.0\r\nK: two  spaces\tand tab inside\r\n\r\n",
    b"NATS/1.0 503\r\n\r\n",
    b"NATS/1.0 503\r\nNats-Subject: svc.x\r\n\r\n",
    b"NATS/1.0 404 No Messages\r\n\r\n",
    b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\nNats-Pending-Bytes: 0\r\n\r\n",
    b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 0\r\nNats-Last-Stream: 0\r\n\r\n",
    b"NATS/1.0 100 FlowControl Request\r\n\r\n",
    b"NATS/1.0 409 Exceeded MaxRequestBatch of 10\r\n\r\n",
    b"NATS/1.0\r\n!#$%&'*+-.^_`|~09AZaz{}\"(),/;<=>?@[]\\: punctuation name\r\n\r\n",
]


def test_multi_valued():
    h = Headers()
    h.add("A", "1")
    h.add("A", "2")
    assert h["A"] == "1"
    assert h.get_all("A") == ["1", "2"]
    assert h.get_all("missing") == []
    assert len(h) == 1 and list(h) == ["A"]
    h["A"] = "3"
    assert h.get_all("A") == ["3"]
    assert encode_headers(h) == b"NATS/1.0\r\nA: 3\r\n\r\n"


def test_mapping_behaviour():
    h = Headers({"A": "1", "B": ["2", "3"]})
    assert dict(h) == {"A": "1", "B": "2"}
    assert "B" in h and "b" not in h
    assert h.get("C") is None and h.get("C", "d") == "d"
    with pytest.raises(KeyError):
        h["C"]
    del h["B"]
    assert list(h.multi_items()) == [("A", "1")]
    with pytest.raises(KeyError):
        del h["B"]
    h.update({"Z": "9"})
    assert list(h.multi_items()) == [("A", "1"), ("Z", "9")]
    assert h.to_lists() == {"A": ["1"], "Z": ["9"]}


def test_case_preserved_and_case_sensitive():
    h = Headers([("Nats-Msg-Id", "1"), ("nats-msg-id", "2"), ("NATS-MSG-ID", "3")])
    assert h["Nats-Msg-Id"] == "1" and h["nats-msg-id"] == "2" and h["NATS-MSG-ID"] == "3"
    raw = encode_headers(h)
    assert raw == b"NATS/1.0\r\nNats-Msg-Id: 1\r\nnats-msg-id: 2\r\nNATS-MSG-ID: 3\r\n\r\n"
    assert list(parse_headers(raw)) == ["Nats-Msg-Id", "nats-msg-id", "NATS-MSG-ID"]


def test_order_preserved_including_interleaved_names():
    pairs = [("Z", "1"), ("A", "2"), ("Z", "3"), ("M", "4"), ("A", "5")]
    h = Headers(pairs)
    assert list(h.multi_items()) == pairs
    assert list(h) == ["Z", "A", "M"]
    raw = encode_headers(h)
    assert raw == b"NATS/1.0\r\nZ: 1\r\nA: 2\r\nZ: 3\r\nM: 4\r\nA: 5\r\n\r\n"
    assert list(parse_headers(raw).multi_items()) == pairs


def test_setitem_replaces_in_place_and_drops_later_values():
    h = Headers([("A", "1"), ("B", "2"), ("A", "3")])
    h["A"] = "x"
    assert list(h.multi_items()) == [("A", "x"), ("B", "2")]
    h["C"] = "y"
    assert list(h.multi_items()) == [("A", "x"), ("B", "2"), ("C", "y")]


def test_copy_constructor_is_independent():
    h = Headers([("A", "1"), ("B", "2")], status="503")
    c = Headers(h)
    assert c == h and c.status == "503"
    c.add("A", "3")
    assert h.get_all("A") == ["1"] and list(c.multi_items())[-1] == ("A", "3")


def test_input_shapes():
    assert encode_headers({"A": ["1", "2"], "B": ("3",)}) == b"NATS/1.0\r\nA: 1\r\nA: 2\r\nB: 3\r\n\r\n"
    assert encode_headers([("A", "1"), ("A", "2")]) == b"NATS/1.0\r\nA: 1\r\nA: 2\r\n\r\n"
    assert encode_headers(None) == b"NATS/1.0\r\n\r\n"
    assert encode_headers({}) == b"NATS/1.0\r\n\r\n"


def test_equality():
    assert Headers([("A", "1"), ("B", "2")]) == Headers([("B", "2"), ("A", "1")])
    assert Headers([("A", "1"), ("A", "2")]) != Headers([("A", "2"), ("A", "1")])
    assert Headers({"A": "1"}, status="503") != Headers({"A": "1"})
    assert Headers({"A": "1"}) == {"A": "1"}
    assert Headers({"A": "1"}) != {"A": "2"}


def test_status_code_and_description():
    h = parse_headers(b"NATS/1.0 503\r\n\r\n")
    assert (h.status, h.description, len(h)) == ("503", "", 0)
    h = parse_headers(b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 5\r\n\r\n")
    assert (h.status, h.description) == ("408", "Request Timeout")
    assert h["Nats-Pending-Messages"] == "5"
    assert "Status" not in h  # kept on the object, not as pseudo headers
    assert parse_status(b"NATS/1.0 100 Idle Heartbeat\r\nA: b\r\n\r\n") == ("100", "Idle Heartbeat")
    assert parse_status(b"NATS/1.0\r\n\r\n") == ("", "")
    assert parse_status(b"NATS/1.0   409   Consumer Deleted  \r\n\r\n") == ("409", "Consumer Deleted")


def test_encode_status():
    assert encode_headers(None, status="503") == b"NATS/1.0 503\r\n\r\n"
    assert encode_headers({"A": "b"}, "100", "Idle Heartbeat") == b"NATS/1.0 100 Idle Heartbeat\r\nA: b\r\n\r\n"
    h = Headers({"A": "b"}, status="404", description="No Messages")
    assert encode_headers(h) == b"NATS/1.0 404 No Messages\r\nA: b\r\n\r\n"
    assert encode_headers(h, status="409") == b"NATS/1.0 409\r\nA: b\r\n\r\n"


@pytest.mark.parametrize("status", ["50", "5034", "abc", "5 3", "²²²", "١٢٣", " 503"])
def test_invalid_status_rejected(status):
    with pytest.raises(BadHeaderError):
        encode_headers(None, status=status)


@pytest.mark.parametrize("desc", ["a\rb", "a\nb", "x\r\nInjected: 1"])
def test_status_description_with_crlf_rejected(desc):
    with pytest.raises(BadHeaderError):
        encode_headers(None, status="100", description=desc)


@pytest.mark.parametrize("raw", CANONICAL)
def test_exact_round_trip_of_canonical_blocks(raw):
    h = parse_headers(raw)
    assert encode_headers(h) == raw
    assert parse_headers(encode_headers(h)) == h


@pytest.mark.parametrize("raw", CANONICAL)
def test_raw_block_equals_parse_of_hmsg(raw):
    from protocol.frames import Msg

    m = Msg("s", 1, "", b"", raw)
    assert m.headers == parse_headers(raw)
    assert m.status == parse_status(raw)[0]
    assert m.description == parse_status(raw)[1]


def test_parse_of_encode_is_identity_random():
    rng = random.Random(7)
    names = ["A", "b", "Nats-Msg-Id", "X_Y", "k.1", "~"]
    values = ["", "v", "with space", "ünïcödé", "a:b", "1" * 300, "tab\tinside"]
    for _ in range(300):
        h = Headers(
            [(rng.choice(names), rng.choice(values)) for _ in range(rng.randrange(6))],
            status=rng.choice(["", "503", "100"]),
        )
        if h.status == "100":
            h.description = "Idle Heartbeat"
        back = parse_headers(encode_headers(h))
        assert back == h
        assert list(back.multi_items()) == list(h.multi_items())
        assert (back.status, back.description) == (h.status, h.description)


def test_parse_is_lenient_on_whitespace():
    h = parse_headers(b"NATS/1.0\r\nA:1\r\nB:   2  \r\nC:\t3\r\n\r\n")
    assert list(h.multi_items()) == [("A", "1"), ("B", "2"), ("C", "3")]
    # Values are trimmed like nats.go does, so surrounding blanks do not survive a round trip.
    assert parse_headers(encode_headers({"A": "  x  "}))["A"] == "x"


@pytest.mark.parametrize(
    "raw",
    [
        b"NATS/1.1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"NATS/1.0\r\nno colon here\r\n\r\n",
        b"NATS/1.0\r\n: empty name\r\n\r\n",
    ],
)
def test_parse_rejects_malformed_blocks(raw):
    with pytest.raises(ProtocolError):
        parse_headers(raw)


@pytest.mark.parametrize(
    "name",
    ["", "Has Space", "Co:lon", "Tab\there", "Nön-ASCII", "CR\r", "LF\n", "\x7f", "\x00", "é", " A", "A "],
)
def test_invalid_names_rejected(name):
    with pytest.raises(BadHeaderError):
        encode_headers({name: "v"})
    h = Headers()
    h.add(name, "v")
    with pytest.raises(BadHeaderError):
        encode_headers(h)


@pytest.mark.parametrize("value", ["a\rb", "a\nb", "a\r\nInjected: yes", "\r\n", "end\n"])
def test_values_with_crlf_rejected(value):
    with pytest.raises(BadHeaderError):
        encode_headers({"A": value})
    with pytest.raises(BadHeaderError):
        encode_headers([("A", "ok"), ("B", value)])


@pytest.mark.parametrize("value", [1, None, b"bytes", 1.5])
def test_non_str_values_rejected(value):
    with pytest.raises(BadHeaderError):
        encode_headers({"A": value})


def test_non_str_name_rejected():
    with pytest.raises(BadHeaderError):
        encode_headers([(b"A", "v")])


def test_bad_header_error_hierarchy():
    assert issubclass(BadHeaderError, ValueError) and issubclass(BadHeaderError, NatsError)
    with pytest.raises(ValueError):
        encode_headers({"a b": "c"})
