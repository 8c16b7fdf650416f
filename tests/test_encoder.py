"""Encoder golden bytes: CONNECT, PUB, HPUB, SUB, UNSUB, PING, PONG, and control-line injection."""

from __future__ import annotations

import json

import pytest

from protocol.encoder import PING, PONG, encode_connect, encode_hpub, encode_pub, encode_sub, encode_unsub
from protocol.errors import BadSubjectError, NatsError
from protocol.frames import Msg
from protocol.headers import Headers, encode_headers
from protocol.parser import Parser

BAD_TOKENS = ["a b", "a\tb", "a\rb", "a\nb", "a\r\nPUB x 1", " a", "a ", "\t", ""]


def _wire(parts) -> bytes:
    return b"".join(bytes(p) for p in parts)


def test_ping_pong():
    assert PING == b"PING\r\n"
    assert PONG == b"PONG\r\n"


def test_connect_compact_json():
    opts = {"verbose": False, "pedantic": False, "lang": "python3", "version": "0.1.0", "protocol": 1, "headers": True}
    raw = encode_connect(opts)
    assert raw == (
        b'CONNECT {"verbose":false,"pedantic":false,"lang":"python3","version":"0.1.0","protocol":1,"headers":true}\r\n'
    )
    assert b" " not in raw[len(b"CONNECT ") :]
    assert json.loads(raw[8:-2]) == opts


def test_connect_escapes_control_characters():
    raw = encode_connect({"name": "a\r\nPING", "pass": "p\"w"})
    assert raw.count(b"\r\n") == 1 and raw.endswith(b"\r\n")
    assert json.loads(raw[8:-2]) == {"name": "a\r\nPING", "pass": "p\"w"}


def test_connect_empty():
    assert encode_connect({}) == b"CONNECT {}\r\n"


def test_pub_without_reply():
    payload = b"Hello NATS!"
    parts = encode_pub("FOO", payload)
    assert parts == (b"PUB FOO 11\r\n", payload, b"\r\n")
    assert parts[1] is payload
    assert _wire(parts) == b"PUB FOO 11\r\nHello NATS!\r\n"


def test_pub_with_reply():
    payload = b"Knock Knock"
    parts = encode_pub("FRONT.DOOR", payload, reply="JOKE.22")
    assert _wire(parts) == b"PUB FRONT.DOOR JOKE.22 11\r\nKnock Knock\r\n"
    assert parts[1] is payload


def test_pub_empty_payload_and_empty_reply():
    assert _wire(encode_pub("NOTIFY", b"")) == b"PUB NOTIFY 0\r\n\r\n"
    assert _wire(encode_pub("NOTIFY", b"", reply="")) == b"PUB NOTIFY 0\r\n\r\n"


def test_pub_passes_payload_objects_through():
    for payload in (bytearray(b"abc"), memoryview(b"xyz!"), b"\x00" * 5):
        parts = encode_pub("s", payload)
        assert parts[1] is payload
        assert parts[0] == b"PUB s %d\r\n" % len(payload)


def test_pub_utf8_subject_counts_bytes():
    parts = encode_pub("café.€", "ü".encode())
    assert parts[0] == "PUB café.€ 2\r\n".encode()


def test_hpub_golden():
    hdr = encode_headers({"Bar": "Baz"})
    assert hdr == b"NATS/1.0\r\nBar: Baz\r\n\r\n" and len(hdr) == 22
    payload = b"Hello NATS!"
    parts = encode_hpub("FOO", hdr, payload)
    assert _wire(parts) == b"HPUB FOO 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n"
    assert parts[1] is hdr and parts[2] is payload and len(parts) == 4


def test_hpub_with_reply_and_multi_value():
    h = Headers()
    h.add("BREAKFAST", "donut")
    h.add("BREAKFAST", "eggs")
    hdr = encode_headers(h)
    assert hdr == b"NATS/1.0\r\nBREAKFAST: donut\r\nBREAKFAST: eggs\r\n\r\n" and len(hdr) == 47
    parts = encode_hpub("MORNING.MENU", hdr, b"Yum!", reply="INBOX.22")
    assert _wire(parts) == b"HPUB MORNING.MENU INBOX.22 47 51\r\n" + hdr + b"Yum!\r\n"


def test_hpub_header_only_and_rollup_size():
    hdr = encode_headers({"Nats-Rollup": "sub"})
    assert len(hdr) == 30
    assert _wire(encode_hpub("s", hdr, b"")) == b"HPUB s 30 30\r\n" + hdr + b"\r\n"


def test_hpub_sizes_are_bytes_not_chars():
    hdr = encode_headers({"K": "ñ"})  # 2 bytes in UTF-8
    payload = "€".encode()  # 3 bytes
    parts = encode_hpub("s", hdr, payload)
    assert parts[0] == b"HPUB s %d %d\r\n" % (len(hdr), len(hdr) + 3)
    assert len(hdr) == len("NATS/1.0\r\nK: ñ\r\n\r\n") + 1


def test_sub_golden():
    assert encode_sub("FOO", 1) == b"SUB FOO 1\r\n"
    assert encode_sub("BAR", 44, "G1") == b"SUB BAR G1 44\r\n"
    assert encode_sub("foo.*.>", 7) == b"SUB foo.*.> 7\r\n"
    assert encode_sub("FOO", 2, "") == b"SUB FOO 2\r\n"
    assert encode_sub("FOO", 2, None) == b"SUB FOO 2\r\n"


def test_unsub_golden():
    assert encode_unsub(1) == b"UNSUB 1\r\n"
    assert encode_unsub(1, 5) == b"UNSUB 1 5\r\n"
    assert encode_unsub(12, None) == b"UNSUB 12\r\n"
    assert encode_unsub(12, 0) == b"UNSUB 12\r\n"


@pytest.mark.parametrize("bad", BAD_TOKENS)
def test_injection_rejected_in_pub(bad):
    with pytest.raises(BadSubjectError):
        encode_pub(bad, b"x")
    if bad:  # an empty reply means "no reply"
        with pytest.raises(BadSubjectError):
            encode_pub("ok", b"x", reply=bad)


@pytest.mark.parametrize("bad", BAD_TOKENS)
def test_injection_rejected_in_hpub(bad):
    hdr = encode_headers({"A": "b"})
    with pytest.raises(BadSubjectError):
        encode_hpub(bad, hdr, b"x")
    if bad:
        with pytest.raises(BadSubjectError):
            encode_hpub("ok", hdr, b"x", reply=bad)


@pytest.mark.parametrize("bad", BAD_TOKENS)
def test_injection_rejected_in_sub(bad):
    with pytest.raises(BadSubjectError):
        encode_sub(bad, 1)
    if bad:
        with pytest.raises(BadSubjectError):
            encode_sub("ok", 1, queue=bad)


def test_control_line_limit():
    fits = "s" * (4096 - len("PUB  0"))
    assert len(encode_pub(fits, b"")[0]) == 4096 + 2
    with pytest.raises(BadSubjectError):
        encode_pub(fits + "s", b"")
    with pytest.raises(BadSubjectError):
        encode_pub("s", b"", reply="r" * 4096)
    with pytest.raises(BadSubjectError):
        encode_hpub("s" * 4090, b"NATS/1.0\r\n\r\n", b"")
    assert len(encode_sub("s" * (4096 - len("SUB  1")), 1)) == 4096 + 2
    with pytest.raises(BadSubjectError):
        encode_sub("s" * (4096 - len("SUB  1")), 10)
    with pytest.raises(BadSubjectError):
        encode_sub("s" * 2048, 1, queue="q" * 2048)


def test_bad_subject_error_is_value_error_and_nats_error():
    with pytest.raises(ValueError):
        encode_pub("a b", b"")
    with pytest.raises(NatsError):
        encode_sub("a\r\n", 1)
    assert issubclass(BadSubjectError, ValueError) and issubclass(BadSubjectError, NatsError)


def test_encoded_frames_parse_back_as_server_frames():
    # The server turns PUB/HPUB into MSG/HMSG with the same sizes; check the framing agrees.
    hdr = encode_headers([("A", "1"), ("A", "2")])
    pub = _wire(encode_pub("s.t", b"payload", reply="r")).replace(b"PUB s.t", b"MSG s.t 3", 1)
    hpub = _wire(encode_hpub("s.t", hdr, b"p")).replace(b"HPUB s.t", b"HMSG s.t 4", 1)
    frames = Parser().feed(pub + hpub)
    assert frames == [Msg("s.t", 3, "r", b"payload"), Msg("s.t", 4, "", b"p", hdr)]
    assert frames[1].headers.get_all("A") == ["1", "2"]
