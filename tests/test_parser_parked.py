"""The parser's parked path (issue 14, point 2): a frame larger than one read is parked as views of
the reads and its payload built with one copy when it completes. Sans-I/O: bytes in, frames out.
"""

from __future__ import annotations

import os

import pytest

from protocol import ProtocolError
from protocol.parser import Parser

HDR = b"NATS/1.0\r\nK: v\r\n\r\n"


def _msg(subject: bytes, sid: int, payload: bytes, reply: bytes = b"") -> bytes:
    mid = b" " + reply if reply else b""
    return b"MSG %s %d%s %d\r\n%s\r\n" % (subject, sid, mid, len(payload), payload)


def _hmsg(subject: bytes, sid: int, payload: bytes, reply: bytes = b"") -> bytes:
    mid = b" " + reply if reply else b""
    return b"HMSG %s %d%s %d %d\r\n%s%s\r\n" % (subject, sid, mid, len(HDR), len(HDR) + len(payload), HDR, payload)


def _feed_in(pieces: list[bytes]) -> list:
    p = Parser(max_payload=1 << 22)
    out = []
    for piece in pieces:
        out += p.feed(piece)
    assert p.buffered == 0
    return out


def _cut(stream: bytes, sizes: list[int]) -> list[bytes]:
    pieces, pos = [], 0
    for n in sizes:
        pieces.append(stream[pos : pos + n])
        pos += n
    pieces.append(stream[pos:])
    return [p for p in pieces if p]


@pytest.mark.parametrize("make", [_msg, _hmsg])
def test_big_frame_across_reads_then_more_frames(make) -> None:
    big = os.urandom(300_000)
    stream = _msg(b"a", 1, b"x") + make(b"big.subj", 7, big, b"_INBOX.r") + _msg(b"b", 2, b"tail") + b"PING\r\n"
    for sizes in ([5], [20, 100_000, 100_000], [65_536] * 5, [len(stream) - 3], [1] * 40):
        frames = _feed_in(_cut(stream, sizes))
        msgs = [f for f in frames if hasattr(f, "sid")]
        assert [m.sid for m in msgs] == [1, 7, 2]
        m = msgs[1]
        assert type(m.data) is bytes and m.data == big
        assert (m.subject, m.reply) == ("big.subj", "_INBOX.r")
        if make is _hmsg:
            assert m.headers is not None and m.headers.get("K") == "v"
        assert msgs[2].data == b"tail"
        assert len(frames) == 4  # and the PING


def test_every_split_point_of_a_small_frame_pair() -> None:
    stream = _hmsg(b"s", 3, b"0123456789") + _msg(b"t", 4, b"abc", b"r")
    for i in range(1, len(stream)):
        frames = _feed_in([stream[:i], stream[i:]])
        assert [(f.sid, f.data) for f in frames] == [(3, b"0123456789"), (4, b"abc")]


def test_parked_payload_without_crlf_fails_with_earlier_frames() -> None:
    p = Parser(max_payload=1 << 20)
    assert p.feed(b"MSG a 1 10\r\n01234") == []
    with pytest.raises(ProtocolError) as ei:
        p.feed(b"56789XX")
    assert ei.value.frames == []  # type: ignore[attr-defined]
    with pytest.raises(ProtocolError):
        p.feed(b"\r\n")  # a failed parser refuses further input


def test_a_caller_buffer_is_not_aliased() -> None:
    p = Parser()
    buf = bytearray(b"MSG a 1 10\r\n01234")
    assert p.feed(buf) == []
    buf[:] = b"X" * len(buf)  # the caller reuses its buffer
    (m,) = p.feed(memoryview(bytearray(b"56789\r\n")))
    assert m.data == b"0123456789"


def test_many_small_frames_across_reads_resume_after_a_parked_frame() -> None:
    """A read that completes a parked frame is parsed on from that frame's end (no copy of the
    rest): frames after it, a second parked frame started in the same read, and a control line
    cut by the read's end all come out whole and in order."""
    payloads = [os.urandom(1000 + (i * 37) % 300) for i in range(400)]
    stream = b"".join(_msg(b"s.x", 9, p, b"$JS.ACK.S.C.1.%d.%d.0.%d" % (i + 1, i + 1, 399 - i)) for i, p in enumerate(payloads))
    for read in (1021, 4096 + 7, 65_536, 3000):
        frames = _feed_in([stream[i : i + read] for i in range(0, len(stream), read)])
        assert [f.data for f in frames] == payloads
        assert frames[-1].reply == "$JS.ACK.S.C.1.400.400.0.0"
