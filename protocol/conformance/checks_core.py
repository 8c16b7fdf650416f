"""The ``core`` group: the client protocol itself, checked over raw probes (:mod:`.probe`).

Rule: this module owns what the core checks assert and the deviation each one names. Every
check uses scratch subjects under ``conformance.<nuid>`` so runs never meet, and leaves nothing
behind but closed connections. Server texts are compared case-insensitively (nats-server writes
``'maximum control line exceeded'`` in lower case and the other classic errors capitalised).
"""

from __future__ import annotations

from ..encoder import encode_connect, encode_hpub, encode_pub, encode_sub, encode_unsub
from ..frames import Err, Msg, Ok, Pong
from ..headers import encode_headers
from ..wire import DEFAULT_MAX_PAYLOAD, PING
from .model import CheckFailed, Context, Group
from .probe import MalformedFrame, open_probe

__all__ = ["GROUP", "GROUPS"]

GROUP = Group("core", "INFO, CONNECT, PING/PONG, PUB/SUB/UNSUB, queue groups, headers, errors, split frames")
GROUPS = [GROUP]
check = GROUP.check

# INFO field -> the JSON types it may have (server.go Info struct).
INFO_FIELDS: dict[str, tuple[type, ...]] = {
    "server_id": (str,), "version": (str,), "proto": (int,), "host": (str,), "port": (int,),
    "max_payload": (int,),
}
INFO_OPTIONAL: dict[str, tuple[type, ...]] = {
    "server_name": (str,), "headers": (bool,), "auth_required": (bool,), "tls_required": (bool,),
    "tls_available": (bool,), "jetstream": (bool,), "connect_urls": (list,), "nonce": (str,),
    "client_id": (int,), "ldm": (bool,), "go": (str,), "domain": (str,), "cluster": (str,),
}


def _subject(ctx: Context, leaf: str) -> str:
    return f"{ctx.unique('conformance')}.{leaf}"


def _errors(frames: list) -> list[str]:
    return [f.text for f in frames if type(f) is Err]


def _no_errors(frames: list, after: str) -> None:
    errs = _errors(frames)
    if errs:
        raise CheckFailed(f"the server answered -ERR '{errs[0]}' to {after}")


def _msgs(frames: list, sid: int) -> list[Msg]:
    return [f for f in frames if type(f) is Msg and f.sid == sid]


@check("info", "INFO comes first; its fields have the documented types; max_payload is announced and positive")
async def info_fields(ctx: Context) -> str:
    probe = await open_probe(ctx, handshake=False)
    info = probe.info
    for key, types in INFO_FIELDS.items():
        if key not in info:
            raise CheckFailed(f"INFO has no {key}")
        value = info[key]
        if type(value) not in types:
            raise CheckFailed(f"INFO {key} is a {type(value).__name__} ({value!r:.40}), expected {types[0].__name__}")
    for key, types in INFO_OPTIONAL.items():
        if key in info and info[key] is not None and type(info[key]) not in types:
            raise CheckFailed(f"INFO {key} is a {type(info[key]).__name__}, expected {types[0].__name__}")
    if info["max_payload"] <= 0:
        raise CheckFailed(f"INFO max_payload is {info['max_payload']}")
    if info["proto"] < 1:
        raise CheckFailed(f"INFO proto is {info['proto']}: headers and async INFO need proto >= 1")
    return f"server {info['version']}, max_payload {info['max_payload']}, headers {info.get('headers', False)}"


@check("ping", "PING is answered with PONG, before and after CONNECT")
async def ping_pong(ctx: Context) -> None:
    probe = await open_probe(ctx, handshake=False)
    await probe.send(encode_connect(probe.connect_fields))
    for _ in range(3):
        seen = await probe.sync()
        _no_errors(seen, "CONNECT/PING")


@check("verbose", "CONNECT verbose=true: +OK for CONNECT, SUB and PUB; off by default")
async def verbose(ctx: Context) -> None:
    subject = _subject(ctx, "v")
    probe = await open_probe(ctx, handshake=False, verbose=True)
    await probe.send(encode_connect(probe.connect_fields))
    await probe.send(encode_sub(subject, 1), *encode_pub(subject, b"hi"))
    seen = await probe.sync()
    _no_errors(seen, "a verbose CONNECT, SUB and PUB")
    oks = sum(1 for f in seen if type(f) is Ok)
    ctx.expect(oks == 3, f"verbose=true gave {oks} +OK for CONNECT, SUB and PUB (expected 3)")
    quiet = await open_probe(ctx)
    await quiet.send(encode_sub(subject, 1))
    seen = await quiet.sync()
    ctx.expect(not any(type(f) is Ok for f in seen), "+OK sent although CONNECT had verbose=false")


@check("pedantic", "CONNECT pedantic=true: a PUB to a wildcard subject gets -ERR 'Invalid Publish Subject'")
async def pedantic(ctx: Context) -> None:
    probe = await open_probe(ctx, pedantic=True)
    await probe.send(*encode_pub(_subject(ctx, "*"), b"x"))
    seen = await probe.sync()
    errs = [e.lower() for e in _errors(seen)]
    ctx.expect("invalid publish subject" in errs, f"pedantic PUB to a wildcard: expected -ERR 'Invalid Publish Subject', got {errs or 'no -ERR'}")


@check("pubsub", "PUB to a subscribed subject comes back as MSG with the same subject, sid and payload; no -ERR")
async def pubsub(ctx: Context) -> None:
    subject = _subject(ctx, "ps")
    probe = await open_probe(ctx)
    payload = bytes(range(256)) + b"\r\nPING\r\n"
    await probe.send(encode_sub(subject, 7))
    await probe.send(*encode_pub(subject, payload, reply="re.ply"), *encode_pub(subject, b""))
    seen = await probe.sync()
    _no_errors(seen, "a valid SUB and PUB")
    got = _msgs(seen, 7)
    ctx.expect(len(got) == 2, f"2 PUBs gave {len(got)} MSG on sid 7")
    first, empty = got
    ctx.expect(first.subject == subject and first.reply == "re.ply", f"MSG subject/reply {first.subject!r}/{first.reply!r}")
    ctx.expect(first.data == payload, f"MSG payload differs: {len(first.data)} bytes, expected {len(payload)}")
    ctx.expect(empty.data == b"" and empty.raw_headers is None, "an empty PUB did not come back as an empty MSG")


@check("unsub-max", "UNSUB <sid> <max> stops delivery after max messages; UNSUB <sid> stops it at once")
async def unsub_max(ctx: Context) -> None:
    subject = _subject(ctx, "u")
    probe = await open_probe(ctx)
    await probe.send(encode_sub(subject, 1), encode_unsub(1, 2), encode_sub(subject, 2), encode_unsub(2))
    for i in range(5):
        await probe.send(*encode_pub(subject, b"%d" % i))
    seen = await probe.sync()
    _no_errors(seen, "SUB/UNSUB")
    one, two = _msgs(seen, 1), _msgs(seen, 2)
    ctx.expect(len(one) == 2, f"UNSUB 1 2 then 5 PUBs: {len(one)} MSG delivered, expected 2")
    ctx.expect(not two, f"{len(two)} MSG delivered on a sid already unsubscribed")


@check("queue", "subscribers in one queue group share the messages: each delivered exactly once")
async def queue_group(ctx: Context) -> None:
    subject = _subject(ctx, "q")
    a, b = await open_probe(ctx), await open_probe(ctx)
    await a.send(encode_sub(subject, 1, "workers"), encode_sub(subject, 2, "workers"), encode_sub(subject, 3))
    await b.send(encode_sub(subject, 1, "workers"))
    await a.sync()
    await b.sync()
    for i in range(20):
        await a.send(*encode_pub(subject, b"%d" % i))
    seen_a = await a.sync()
    seen_b = await b.sync()
    _no_errors(seen_a + seen_b, "queue subscriptions")
    queued = _msgs(seen_a, 1) + _msgs(seen_a, 2) + _msgs(seen_b, 1)
    plain = _msgs(seen_a, 3)
    ctx.expect(len(plain) == 20, f"the plain subscriber got {len(plain)} of 20")
    ctx.expect(sorted(m.data for m in queued) == sorted(b"%d" % i for i in range(20)),
               f"the queue group got {len(queued)} deliveries for 20 messages (each exactly once expected)")


@check("headers", "HPUB comes back as HMSG: header size and total size account for the block byte for byte")
async def headers(ctx: Context) -> None:
    probe = await open_probe(ctx)
    ctx.expect(probe.info.get("headers"), "INFO does not announce headers support")
    subject = _subject(ctx, "h")
    hdr = encode_headers({"A": "b", "Multi": ["1", "2"], "Long": "x" * 300})
    await probe.send(encode_sub(subject, 1))
    await probe.send(*encode_hpub(subject, hdr, b"payload"), *encode_hpub(subject, hdr, b""))
    try:
        seen = await probe.sync()
    except MalformedFrame as err:
        raise CheckFailed(f"HMSG header/total size accounting is wrong: {err}") from None
    _no_errors(seen, "a valid HPUB")
    got = _msgs(seen, 1)
    ctx.expect(len(got) == 2, f"2 HPUBs gave {len(got)} messages")
    for m, body in zip(got, (b"payload", b"")):
        ctx.expect(m.raw_headers is not None, "an HPUB was delivered as MSG, its headers lost")
        ctx.expect(m.raw_headers == hdr, f"HMSG header block differs ({len(m.raw_headers or b'')} bytes, expected {len(hdr)})")
        ctx.expect(m.data == body, "HMSG payload differs from the HPUB payload")


@check("no-responders", "a request nobody subscribes to gets an HMSG with status 503 (headers + no_responders)")
async def no_responders(ctx: Context) -> None:
    probe = await open_probe(ctx)
    inbox = _subject(ctx, "inbox")
    await probe.send(encode_sub(inbox, 9), *encode_pub(_subject(ctx, "nobody"), b"", reply=inbox))
    seen = await probe.sync()
    _no_errors(seen, "a request")
    got = _msgs(seen, 9)
    ctx.expect(len(got) == 1, f"expected one no-responders status message, got {len(got)}")
    ctx.expect(got[0].status == "503", f"no-responders status is {got[0].status!r}, expected '503'")
    ctx.expect(got[0].data == b"", "the no-responders message has a payload")


async def _violation(ctx: Context, parts: tuple, expected: str, what: str, closes: bool = True) -> None:
    probe = await open_probe(ctx)
    await probe.send(*parts)
    if closes:
        seen = await probe.wait_closed(5.0)
    else:
        seen = await probe.sync()
    errs = [e.lower() for e in _errors(seen)]
    ctx.expect(expected.lower() in errs, f"{what}: expected -ERR '{expected}', got {errs or 'no -ERR'}")


@check("max-payload", "a PUB above INFO max_payload gets -ERR 'Maximum Payload Violation' and the connection closes")
async def max_payload(ctx: Context) -> None:
    probe = await open_probe(ctx)
    limit = probe.info.get("max_payload", DEFAULT_MAX_PAYLOAD)
    await probe.send(b"PUB %s %d\r\n" % (_subject(ctx, "big").encode(), limit + 1))
    seen = await probe.wait_closed(5.0)
    errs = [e.lower() for e in _errors(seen)]
    ctx.expect("maximum payload violation" in errs, f"PUB of max_payload+1 ({limit + 1}) bytes: expected -ERR 'Maximum Payload Violation', got {errs or 'no -ERR'}")


@check("err-texts", "the classic violations: unknown op, control line too long, invalid subject")
async def err_texts(ctx: Context) -> None:
    await _violation(ctx, (b"FOO BAR\r\n",), "Unknown Protocol Operation", "an unknown op")
    await _violation(ctx, (b"PUB " + b"a" * 5000 + b" 1\r\n",), "Maximum Control Line Exceeded", "a 5000-byte control line")
    await _violation(ctx, (encode_sub("a.b", 1).replace(b"a.b", b"a..b"),), "Invalid Subject", "SUB a..b", closes=False)


@check("split-frames", "frames written one byte per write are parsed like whole ones")
async def split_frames(ctx: Context) -> None:
    subject = _subject(ctx, "s")
    probe = await open_probe(ctx)
    hdr = encode_headers({"K": "v"})
    await probe.send(encode_sub(subject, 4), *encode_pub(subject, b"hello\r\n"), *encode_hpub(subject, hdr, b"w"), PING, bytewise=True)
    seen: list = []
    await probe.until(lambda f: type(f) is Pong, "PONG to a byte-at-a-time PING", keep=seen)
    _no_errors(seen, "frames written byte by byte")
    got = _msgs(seen, 4)
    ctx.expect([m.data for m in got] == [b"hello\r\n", b"w"], f"byte-at-a-time PUB/HPUB delivered {[m.data for m in got]}")
    ctx.expect(got[1].raw_headers == hdr, "byte-at-a-time HPUB lost or changed its headers")


@check("echo", "CONNECT echo=false: a connection does not receive its own messages", required=False)
async def echo(ctx: Context) -> None:
    subject = _subject(ctx, "e")
    probe = await open_probe(ctx, echo=False)
    await probe.send(encode_sub(subject, 1), *encode_pub(subject, b"x"))
    seen = await probe.sync()
    ctx.expect(not _msgs(seen, 1), "echo=false, but the connection received its own message")

