"""Sans-I/O parser: every frame type and every failure, each checked with h11-style ``tr()``.

``tr(data, expected)`` feeds the bytes whole, one byte at a time, at random split points (fixed
seeds) and with trailing bytes of the next frame left over, and checks the same frames come out
every time. ``tr_error(data, prefix)`` checks that every way of feeding malformed bytes raises
``ProtocolError`` (and nothing else) after exactly the frames of ``prefix``.
"""

from __future__ import annotations

import json
import random
import time

import pytest

from frames_factory import (
    build_err,
    build_hmsg,
    build_info,
    build_msg,
    build_ok,
    build_ping,
    build_pong,
    header_block,
)
from protocol.errors import NatsError, ProtocolError
from protocol.frames import OK_FRAME, PING_FRAME, PONG_FRAME, Err, Info, Msg, Ok, Ping, Pong
from protocol.parser import Parser

MAX_CL = 4096
MAX_PAYLOAD = 1 << 20


def _bound(p: Parser) -> int:
    return p.max_control_line + p.max_payload + 4


def _feed_all(pieces, **kw) -> list:
    p = Parser(**kw)
    out: list = []
    for piece in pieces:
        out += p.feed(piece)
        assert p.buffered <= _bound(p)
    return out, p


def _splits(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    cuts = sorted(rng.randrange(len(data) + 1) for _ in range(rng.randint(1, 6)))
    pieces, last = [], 0
    for c in cuts:
        pieces.append(data[last:c])
        last = c
    pieces.append(data[last:])
    return pieces


def _strategies(data: bytes):
    yield "whole", [data]
    yield "bytewise", [data[i : i + 1] for i in range(len(data))]
    for seed in range(8):
        yield f"random-{seed}", _splits(data, seed)


def tr(data: bytes, expected: list, **kw) -> list:
    """Check ``data`` parses to ``expected`` however it is cut, and with trailing bytes left."""
    for name, pieces in _strategies(data):
        frames, p = _feed_all(pieces, **kw)
        assert frames == expected, name
        assert p.buffered == 0, name
    # Trailing bytes: the start of the next frame stays buffered and completes later.
    for tail in (b"P", b"PIN", b"MSG x 1 3\r\nab", b"HMSG x 1 12 12\r\nNATS/1.0\r\n"):
        p = Parser(**kw)
        assert p.feed(data + tail) == expected
        assert p.buffered == len(tail)
        if tail.startswith(b"P"):
            assert p.feed(b"PING\r\n"[len(tail) :]) == [PING_FRAME]
        elif tail.startswith(b"MSG"):
            assert p.feed(b"c\r\n") == [Msg("x", 1, "", b"abc")]
        else:
            assert p.feed(b"\r\n\r\n") == [Msg("x", 1, "", b"", b"NATS/1.0\r\n\r\n")]
        assert p.buffered == 0
    return expected


def tr_error(data: bytes, prefix: list = (), **kw) -> ProtocolError:
    """Every way of feeding ``data`` raises ProtocolError after exactly the frames in ``prefix``."""
    last = None
    for name, pieces in _strategies(data):
        p = Parser(**kw)
        got: list = []
        with pytest.raises(ProtocolError) as info:
            for piece in pieces:
                got += p.feed(piece)
                assert p.buffered <= _bound(p)
        got += info.value.frames
        assert got == list(prefix), name
        # A failed parser refuses further input.
        with pytest.raises(ProtocolError):
            p.feed(b"PING\r\n")
        last = info.value
    return last


# Frames ----------------------------------------------------------------------------------------


def test_info():
    data = {"server_id": "NABC", "max_payload": 1048576, "headers": True, "connect_urls": ["1.2.3.4:4222"]}
    (frame,) = tr(build_info(data), [Info(data)])
    assert frame.data["connect_urls"] == ["1.2.3.4:4222"]


@pytest.mark.parametrize("op,sep", [("info", " "), ("Info", "\t"), ("INFO", " \t  ")])
def test_info_case_and_whitespace(op, sep):
    tr(build_info({"a": 1}, op=op, sep=sep), [Info({"a": 1})])


def test_msg_without_reply():
    (m,) = tr(build_msg("foo.bar", 7, b"hello"), [Msg("foo.bar", 7, "", b"hello")])
    assert (m.subject, m.sid, m.reply, m.data, m.headers, m.status) == ("foo.bar", 7, "", b"hello", None, "")


def test_msg_with_reply():
    tr(build_msg("foo", 1, b"hi", "_INBOX.abc.1"), [Msg("foo", 1, "_INBOX.abc.1", b"hi")])


def test_msg_zero_length_payload():
    assert build_msg("foo", 1) == b"MSG foo 1 0\r\n\r\n"
    tr(build_msg("foo", 1), [Msg("foo", 1, "", b"")])
    tr(build_msg("foo", 1, reply="r"), [Msg("foo", 1, "r", b"")])


def test_msg_payload_containing_crlf_and_protocol_text():
    payload = b"\r\nPING\r\nMSG x 1 2\r\n\r\n"
    tr(build_msg("foo", 3, payload), [Msg("foo", 3, "", payload)])


@pytest.mark.parametrize("op", ["msg", "Msg", "mSg"])
@pytest.mark.parametrize("sep", ["\t", "   ", " \t ", "\t\t"])
def test_msg_case_and_whitespace(op, sep):
    tr(build_msg("foo", 2, b"xy", "rep", op=op, sep=sep), [Msg("foo", 2, "rep", b"xy")])
    line = f"{op}{sep}foo{sep}2{sep}2{sep}".encode() + b"\r\nxy\r\n"  # trailing whitespace too
    tr(line, [Msg("foo", 2, "", b"xy")])


def test_msg_subject_may_hold_vertical_tab_and_form_feed():
    # Fields split on spaces and tabs only; the server accepts VT in subjects.
    tr(b"MSG a\x0bb.\x0c 5 1\r\nx\r\n", [Msg("a\x0bb.\x0c", 5, "", b"x")])


def test_msg_utf8_subject():
    tr(build_msg("föö.€", 1, b"x"), [Msg("föö.€", 1, "", b"x")])


def test_hmsg_without_reply():
    hdr = header_block([("Bar", "Baz")])
    (m,) = tr(build_hmsg("FOO", 9, hdr, b"Hello NATS!"), [Msg("FOO", 9, "", b"Hello NATS!", hdr)])
    assert m.raw_headers == hdr == b"NATS/1.0\r\nBar: Baz\r\n\r\n"
    assert m.headers["Bar"] == "Baz" and m.status == "" and m.description == ""


def test_hmsg_with_reply_and_multi_value_headers():
    hdr = header_block([("A", "1"), ("a", "2"), ("A", "3")])
    (m,) = tr(build_hmsg("s", 1, hdr, b"p", "re.ply"), [Msg("s", 1, "re.ply", b"p", hdr)])
    assert m.headers.get_all("A") == ["1", "3"] and m.headers.get_all("a") == ["2"]


def test_hmsg_header_only():
    hdr = header_block([("K", "v")])
    tr(build_hmsg("s", 1, hdr), [Msg("s", 1, "", b"", hdr)])
    tr(b"HMSG s 1 12 12\r\nNATS/1.0\r\n\r\n\r\n", [Msg("s", 1, "", b"", b"NATS/1.0\r\n\r\n")])


def test_hmsg_no_responders_status():
    hdr = b"NATS/1.0 503\r\nNats-Subject: svc.x\r\n\r\n"
    raw = build_hmsg("_INBOX.a.1", 4, hdr)
    assert raw == b"HMSG _INBOX.a.1 4 37 37\r\n" + hdr + b"\r\n"
    (m,) = tr(raw, [Msg("_INBOX.a.1", 4, "", b"", hdr)])
    assert m.status == "503" and m.description == ""
    assert m.headers.status == "503" and m.headers["Nats-Subject"] == "svc.x"


def test_hmsg_idle_heartbeat_status_with_headers():
    hdr = b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 0\r\nNats-Last-Stream: 0\r\n\r\n"
    assert len(hdr) == 75
    (m,) = tr(build_hmsg("ib", 2, hdr), [Msg("ib", 2, "", b"", hdr)])
    assert (m.status, m.description) == ("100", "Idle Heartbeat")
    assert m.headers["Nats-Last-Consumer"] == "0" and m.headers.description == "Idle Heartbeat"


def test_hmsg_flow_control_with_reply():
    hdr = b"NATS/1.0 100 FlowControl Request\r\n\r\n"
    assert len(hdr) == 36
    (m,) = tr(build_hmsg("ib", 2, hdr, reply="$JS.FC.x.y"), [Msg("ib", 2, "$JS.FC.x.y", b"", hdr)])
    assert m.status == "100" and m.description == "FlowControl Request"


@pytest.mark.parametrize("op,sep", [("hmsg", " "), ("HMsg", "\t"), ("HMSG", "  \t")])
def test_hmsg_case_and_whitespace(op, sep):
    hdr = header_block([("X", "y")])
    tr(build_hmsg("s", 3, hdr, b"d", "r", op=op, sep=sep), [Msg("s", 3, "r", b"d", hdr)])


@pytest.mark.parametrize("op", ["PING", "ping", "Ping", "PING ", "PING\t"])
def test_ping(op):
    tr(build_ping(op), [PING_FRAME])


@pytest.mark.parametrize("op", ["PONG", "pong", "pOnG"])
def test_pong(op):
    tr(build_pong(op), [PONG_FRAME])


@pytest.mark.parametrize("raw", [b"+OK\r\n", b"+ok\r\n", b"+Ok \r\n"])
def test_ok(raw):
    (f,) = tr(raw, [OK_FRAME])
    assert isinstance(f, Ok)


@pytest.mark.parametrize(
    "raw,text",
    [
        (build_err("Unknown Protocol Operation"), "Unknown Protocol Operation"),
        (b"-ERR 'Permissions Violation for Publish to \"a.b\"'\r\n", 'Permissions Violation for Publish to "a.b"'),
        (b"-err\t'Stale Connection'\r\n", "Stale Connection"),
        (b"-ERR unquoted text\r\n", "unquoted text"),
        (b"-ERR 'it''s'\r\n", "it''s"),
        (b"-ERR\r\n", ""),
    ],
)
def test_err(raw, text):
    (f,) = tr(raw, [Err(text)])
    assert f.text == text


def test_mixed_stream_in_order():
    hdr = header_block([("A", "b")], "100", "Idle Heartbeat")
    data = (
        build_info({"x": 1})
        + build_ping()
        + build_msg("a", 1, b"1")
        + build_ok()
        + build_hmsg("b", 2, hdr, b"22", "r")
        + build_pong()
        + build_err("oops")
        + build_msg("c", 3, b"", "q")
    )
    expected = [
        Info({"x": 1}),
        PING_FRAME,
        Msg("a", 1, "", b"1"),
        OK_FRAME,
        Msg("b", 2, "r", b"22", hdr),
        PONG_FRAME,
        Err("oops"),
        Msg("c", 3, "q", b""),
    ]
    got = tr(data, expected)
    assert [type(f) for f in got] == [Info, Ping, Msg, Ok, Msg, Pong, Err, Msg]


def test_many_frames_in_one_feed():
    data = b"".join(build_msg("s", i, str(i).encode()) for i in range(1000))
    frames = Parser().feed(data)
    assert [m.data for m in frames] == [str(i).encode() for i in range(1000)]


def test_empty_feed():
    p = Parser()
    assert p.feed(b"") == []
    assert p.feed(b"MSG a 1 2\r\n") == []
    assert p.feed(b"") == []
    assert p.feed(b"ab\r\n") == [Msg("a", 1, "", b"ab")]


def test_large_payload_in_32k_pieces():
    payload = bytes(random.Random(1).randbytes(1 << 20))
    data = build_msg("big", 1, payload, "r") + build_ping()
    p = Parser()
    out: list = []
    for i in range(0, len(data), 32 * 1024):
        out += p.feed(data[i : i + 32 * 1024])
        assert p.buffered <= _bound(p)
    assert len(out) == 2 and out[0].data == payload and out[0].reply == "r" and out[1] is PING_FRAME
    assert p.buffered == 0


def test_large_hmsg_in_uneven_pieces():
    hdr = header_block([("Nats-Msg-Id", "x" * 100)])
    payload = random.Random(2).randbytes(MAX_PAYLOAD - len(hdr))
    data = build_hmsg("big", 1, hdr, payload)
    frames, p = _feed_all(_splits(data, 3) + [build_pong()])
    assert frames == [Msg("big", 1, "", payload, hdr), PONG_FRAME]


def test_payload_at_exact_max_payload():
    tr(build_msg("s", 1, b"x" * 64), [Msg("s", 1, "", b"x" * 64)], max_payload=64)


def test_control_line_at_exact_limit():
    subject = "s" * (MAX_CL - len("MSG  1 0"))
    line = build_msg(subject, 1)
    assert line.index(b"\r\n") == MAX_CL
    frames, _ = _feed_all([line])
    assert frames == [Msg(subject, 1, "", b"")]
    frames, _ = _feed_all([line[:MAX_CL], line[MAX_CL : MAX_CL + 1], line[MAX_CL + 1 :]])
    assert len(frames) == 1


def test_max_payload_can_change():
    p = Parser(max_payload=10)
    with pytest.raises(ProtocolError):
        p.feed(b"MSG a 1 11\r\n")
    p = Parser(max_payload=10)
    p.max_payload = 20
    assert p.feed(build_msg("a", 1, b"x" * 15)) == [Msg("a", 1, "", b"x" * 15)]


# Errors ----------------------------------------------------------------------------------------


def test_control_line_too_long_with_crlf():
    tr_error(b"MSG " + b"a" * MAX_CL + b" 1 0\r\n\r\n")
    tr_error(b"-ERR '" + b"x" * MAX_CL + b"'\r\n", [])
    tr_error(build_ping() + b"INFO {" + b" " * MAX_CL + b"}\r\n", [PING_FRAME])


def test_control_line_too_long_without_crlf_raises_early():
    # No CRLF ever arrives: the parser must not keep buffering.
    p = Parser()
    p.feed(b"A" * MAX_CL)
    with pytest.raises(ProtocolError):
        p.feed(b"A")
    p = Parser()
    with pytest.raises(ProtocolError):
        p.feed(b"MSG " + b"a" * (MAX_CL + 10))
    # MAX_CL bytes + CR is still a candidate line; a different byte after it is not.
    p = Parser()
    assert p.feed(b"P" * MAX_CL + b"\r") == []
    with pytest.raises(ProtocolError):
        p.feed(b"\n")  # a 4096-byte line of P's is an unknown op
    p = Parser(max_control_line=16)
    with pytest.raises(ProtocolError):
        p.feed(b"PING" + b" " * 13)


def _trickle(size: int) -> float:
    """Seconds to feed an INFO line of about ``size`` bytes one byte per call (checked as it goes)."""
    p = Parser(max_control_line=64 * 1024)
    data = {"connect_urls": ["x" * size]}
    line = build_info(data)
    out: list = []
    t0 = time.perf_counter()
    for i in range(len(line)):
        out += p.feed(line[i : i + 1])
        assert p.buffered <= 64 * 1024 + 1
    elapsed = time.perf_counter() - t0
    assert out == [Info(data)] and p.buffered == 0
    return elapsed


def test_long_line_trickled_byte_by_byte_is_linear():
    # With a large limit (the connection allows 64 KiB inbound), a line arriving one byte per
    # read must not be re-copied whole on every read (that took ~1.5 s for 60 KB). Checked as
    # a growth rate, not a speed: 10x the bytes must cost about 10x the time (~100x if
    # quadratic), which holds on a slow machine as on a fast one. Best of 3 against noise.
    small = min(_trickle(6_000) for _ in range(3))
    large = min(_trickle(60_000) for _ in range(3))
    assert large < 30 * small, (small, large)
    p = Parser(max_control_line=64 * 1024)
    with pytest.raises(ProtocolError):
        for _ in range(64 * 1024 + 2):
            p.feed(b"x")


def test_control_line_too_long_after_frames():
    err = tr_error(build_msg("a", 1, b"x") + b"B" * (MAX_CL + 2), [Msg("a", 1, "", b"x")])
    assert "control line" in str(err)


@pytest.mark.parametrize(
    "line",
    [
        b"MSG a 1 1048577\r\n",
        b"MSG a 1 r 99999999999999999999\r\n",
        b"HMSG a 1 12 1048577\r\n",
        b"HMSG a 1 r 20 2000000\r\n",
    ],
)
def test_payload_above_max_rejected_before_its_bytes(line):
    p = Parser()
    with pytest.raises(ProtocolError):
        p.feed(line)
    assert p.buffered == 0
    # Also when the announcement arrives byte by byte.
    p = Parser()
    with pytest.raises(ProtocolError):
        for i in range(len(line)):
            p.feed(line[i : i + 1])


def test_payload_above_small_max():
    tr_error(build_ping() + build_msg("a", 1, b"x" * 11), [PING_FRAME], max_payload=10)


@pytest.mark.parametrize(
    "raw",
    [
        b"MSG a 1 -1\r\n\r\n",
        b"MSG a 1 r -5\r\nhello\r\n",
        b"HMSG a 1 -12 12\r\nNATS/1.0\r\n\r\n\r\n",
        b"HMSG a 1 12 -12\r\n",
        b"MSG a -1 1\r\nx\r\n",
    ],
)
def test_negative_sizes(raw):
    tr_error(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"HMSG a 1 22 12\r\nNATS/1.0\r\n\r\n\r\n",
        b"HMSG a 1 r 13 12\r\nNATS/1.0\r\n\r\n\r\n",
        b"HMSG a 1 11 11\r\nNATS/1.0\r\n\r\r\n",  # shorter than the smallest block
    ],
)
def test_header_size_greater_than_total_or_too_small(raw):
    tr_error(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"MSG a 1 x\r\n",
        b"MSG a 1 +1\r\nx\r\n",
        b"MSG a 1 1_0\r\n0123456789\r\n",
        b"MSG a 1 0x1\r\nx\r\n",
        b"MSG a 1 \xd9\xa1\r\nx\r\n",  # non-ASCII digit
        b"MSG a b 1\r\nx\r\n",
        b"HMSG a 1 x 12\r\n",
        b"HMSG a 1 12 +12\r\nNATS/1.0\r\n\r\n\r\n",
        b"HMSG a 1 r 12 1e3\r\n",
        b"HMSG a z 12 12\r\nNATS/1.0\r\n\r\n\r\n",
    ],
)
def test_non_numeric_sizes(raw):
    tr_error(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"MSG\r\n",
        b"MSG a\r\n",
        b"MSG a 1\r\n",
        b"MSG a 1 r x 2\r\n",
        b"HMSG a 1 12\r\n",
        b"HMSG a 1 r x 12 12\r\n",
        b"INFO\r\n",
        b"INFO \r\n",
    ],
)
def test_wrong_argument_counts(raw):
    tr_error(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"MSG a 1 2\r\nabc\r\n",
        b"MSG a 1 2\r\nab\n\r",
        b"MSG a 1 2\r\nabXY",
        b"HMSG a 1 12 14\r\nNATS/1.0\r\n\r\nab!\r\n",
    ],
)
def test_missing_crlf_after_payload(raw):
    tr_error(build_pong() + raw, [PONG_FRAME])


@pytest.mark.parametrize(
    "raw",
    [
        b"HMSG a 1 12 12\r\nXATS/1.0\r\n\r\n\r\n",
        b"HMSG a 1 14 14\r\nNATS/1.0\r\n\r\nab\r\n",  # first 14 bytes do not end the block
        b"HMSG a 1 16 16\r\nNATS/1.0\r\nab\r\n\r\n\r\n",  # ok: a valid block, see below
    ],
)
def test_header_block_checked(raw):
    if raw.startswith(b"HMSG a 1 16"):
        assert Parser().feed(raw)[0].raw_headers == b"NATS/1.0\r\nab\r\n\r\n"
        return
    tr_error(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"FOO bar\r\n",
        b"PUB a 1\r\nx\r\n",
        b"SUB a 1\r\n",
        b"PINGX\r\n",
        b"PONG extra\r\n",
        b"+OKAY\r\n",
        b"-OK\r\n",
        b"MOO\r\n",
        b"MSGX a 1 0\r\n\r\n",
        b"HMS a 1 12 12\r\n",
        b"INFOX {}\r\n",
        b"INFO{}\r\n",
        b"\r\n",
        b" PING\r\n",
        b"\x00\r\n",
    ],
)
def test_unknown_ops(raw):
    tr_error(build_ok() + raw, [OK_FRAME])


@pytest.mark.parametrize(
    "raw",
    [
        b"INFO {\r\n",
        b"INFO {'a': 1}\r\n",
        b"INFO nope\r\n",
        b"INFO {\"a\": \xff}\r\n",
        b"INFO " + b"[" * 3000 + b"\r\n",  # json recursion depth
        b"INFO {\"a\":" + b"[" * 2000 + b"\r\n",
    ],
)
def test_info_invalid_json(raw):
    tr_error(raw)


@pytest.mark.parametrize("payload", [b"[]", b"1", b"\"s\"", b"null", b"true", b"[{}]"])
def test_info_not_an_object(payload):
    err = tr_error(b"INFO " + payload + b"\r\n")
    assert isinstance(err, NatsError)


def test_error_frames_attribute_and_refusal():
    good = build_info({"a": 1}) + build_msg("x", 1, b"y") + build_ping()
    p = Parser()
    with pytest.raises(ProtocolError) as info:
        p.feed(good + b"BOGUS\r\n" + build_pong())
    assert info.value.frames == [Info({"a": 1}), Msg("x", 1, "", b"y"), PING_FRAME]
    assert p.buffered == 0
    for data in (b"", b"PING\r\n", b"MSG a 1 0\r\n\r\n"):
        with pytest.raises(ProtocolError):
            p.feed(data)


def test_error_while_payload_parked():
    p = Parser()
    assert p.feed(b"MSG a 1 100\r\n" + b"x" * 50) == []
    assert p.buffered > 0
    with pytest.raises(ProtocolError) as info:
        p.feed(b"x" * 50 + b"!!")
    assert info.value.frames == []
    with pytest.raises(ProtocolError):
        p.feed(b"\r\n")


def test_only_protocol_error_is_raised():
    # The class of every failure above is exactly ProtocolError (or a subclass).
    for raw in (b"INFO " + b"[" * 5000 + b"\r\n", b"MSG a 1 \xff\r\n", b"HMSG a 1 r 1 2 3\r\n"):
        try:
            Parser().feed(raw)
        except ProtocolError:
            pass
        else:  # pragma: no cover
            pytest.fail(f"{raw[:20]!r} parsed")


def test_buffered_never_exceeds_bound_on_max_frame():
    p = Parser(max_control_line=64, max_payload=1000)
    data = build_msg("s" * 50, 1, b"z" * 1000)
    assert data.index(b"\r\n") <= 64
    for i in range(len(data) - 1):
        p.feed(data[i : i + 1])
        assert p.buffered <= 64 + 1000 + 4
    assert p.feed(data[-1:]) == [Msg("s" * 50, 1, "", b"z" * 1000)]


def test_info_json_roundtrip_unicode():
    data = {"server_name": "ñ-☃", "connect_urls": ["[::1]:4222"], "nested": {"k": [1, 2.5, None]}}
    raw = b"INFO " + json.dumps(data, ensure_ascii=False).encode() + b"\r\n"
    tr(raw, [Info(data)])


def test_parser_built_msg_has_every_slot_set():
    # The parser builds Msg without calling __init__ (hot path): every slot must still be set.
    from protocol.frames import Msg
    from protocol.parser import Parser

    (m,) = Parser().feed(b"MSG a.b 7 r.x 3\r\nabc\r\n")
    for slot in Msg.__slots__:
        getattr(m, slot)  # AttributeError if a slot was left unset
    assert (m.subject, m.sid, m.reply, m.data, m.headers, m.status) == ("a.b", 7, "r.x", b"abc", None, "")
    assert m == Msg("a.b", 7, "r.x", b"abc")
