"""h2-style helpers that build the bytes a nats-server sends, for parser and fuzz tests.

Each ``build_*`` returns the exact wire bytes of one server-to-client frame; each ``expect_*``
returns the frame object the parser must produce for them. Plain module, no pytest import.
"""

from __future__ import annotations

import json
import random
from typing import Any, Iterable, Optional, Sequence

from protocol.frames import OK_FRAME, PING_FRAME, PONG_FRAME, Err, Info, Msg

__all__ = [
    "header_block",
    "build_info",
    "build_msg",
    "build_hmsg",
    "build_ping",
    "build_pong",
    "build_ok",
    "build_err",
    "random_frame",
    "random_stream",
    "random_splits",
]


def header_block(
    pairs: Iterable[tuple[str, str]] = (), status: str = "", description: str = ""
) -> bytes:
    """A ``NATS/1.0`` block: status line, one ``Name: value`` line per pair, blank line."""
    line = b"NATS/1.0"
    if status:
        line += b" " + status.encode()
        if description:
            line += b" " + description.encode()
    out = [line + b"\r\n"]
    out += [f"{k}: {v}\r\n".encode() for k, v in pairs]
    out.append(b"\r\n")
    return b"".join(out)


def build_info(data: Optional[dict[str, Any]] = None, op: str = "INFO", sep: str = " ") -> bytes:
    if data is None:
        data = {"server_id": "NTEST", "version": "2.10.0", "proto": 1, "headers": True, "max_payload": 1048576}
    return f"{op}{sep}".encode() + json.dumps(data).encode() + b"\r\n"


def build_msg(
    subject: str,
    sid: int,
    payload: bytes = b"",
    reply: Optional[str] = None,
    *,
    op: str = "MSG",
    sep: str = " ",
    size: Optional[int] = None,
) -> bytes:
    """``MSG <subject> <sid> [reply] <#bytes>\\r\\n<payload>\\r\\n``. ``size`` overrides the count."""
    args = [op, subject, str(sid)]
    if reply:
        args.append(reply)
    args.append(str(len(payload) if size is None else size))
    return sep.join(args).encode() + b"\r\n" + payload + b"\r\n"


def build_hmsg(
    subject: str,
    sid: int,
    headers: bytes | Sequence[tuple[str, str]] = (),
    payload: bytes = b"",
    reply: Optional[str] = None,
    *,
    status: str = "",
    description: str = "",
    op: str = "HMSG",
    sep: str = " ",
    hsize: Optional[int] = None,
    size: Optional[int] = None,
) -> bytes:
    """``HMSG <subject> <sid> [reply] <#hdr> <#total>\\r\\n<hdr><payload>\\r\\n``.

    ``headers`` is a ready block (bytes) or (name, value) pairs for :func:`header_block`.
    """
    hdr = headers if isinstance(headers, bytes) else header_block(headers, status, description)
    args = [op, subject, str(sid)]
    if reply:
        args.append(reply)
    args.append(str(len(hdr) if hsize is None else hsize))
    args.append(str(len(hdr) + len(payload) if size is None else size))
    return sep.join(args).encode() + b"\r\n" + hdr + payload + b"\r\n"


def build_ping(op: str = "PING") -> bytes:
    return op.encode() + b"\r\n"


def build_pong(op: str = "PONG") -> bytes:
    return op.encode() + b"\r\n"


def build_ok() -> bytes:
    return b"+OK\r\n"


def build_err(text: str) -> bytes:
    return f"-ERR '{text}'\r\n".encode()


# Random valid streams (fuzz tests) -----------------------------------------------------------

_TOKENS = ["foo", "bar", "baz", "_INBOX", "$JS", "ACK", "a1", "x-y", "Ü", "*", ">"]
_SEPS = [" ", "  ", "\t", " \t "]


def _subject(rng: random.Random) -> str:
    return ".".join(rng.choice(_TOKENS[:-2]) for _ in range(rng.randint(1, 4)))


def random_frame(rng: random.Random, max_payload: int = 4096) -> tuple[bytes, Any]:
    """One random valid frame: (bytes, the frame the parser must return)."""
    kind = rng.randrange(8)
    sep = rng.choice(_SEPS)
    if kind == 0:
        data = {"server_id": "N" + str(rng.randrange(1000)), "max_payload": rng.randrange(1, 1 << 20)}
        return build_info(data, op=rng.choice(["INFO", "info"]), sep=sep), Info(data)
    if kind in (1, 2):
        subj = _subject(rng)
        sid = rng.randrange(1, 10_000)
        reply = _subject(rng) if rng.random() < 0.5 else None
        payload = rng.randbytes(rng.randrange(0, max_payload + 1))
        if rng.random() < 0.1:
            payload = b"\r\n" * rng.randrange(4)  # CRLF inside a payload is data
        op = rng.choice(["MSG", "msg", "Msg"])
        return build_msg(subj, sid, payload, reply, op=op, sep=sep), Msg(subj, sid, reply or "", payload)
    if kind == 3:
        subj = _subject(rng)
        sid = rng.randrange(1, 10_000)
        reply = _subject(rng) if rng.random() < 0.5 else None
        pairs = [(rng.choice(["A", "Nats-Seq", "x"]), str(rng.randrange(100))) for _ in range(rng.randrange(4))]
        status, desc = rng.choice([("", ""), ("503", ""), ("100", "Idle Heartbeat"), ("408", "Request Timeout")])
        hdr = header_block(pairs, status, desc)
        payload = rng.randbytes(rng.randrange(0, max(1, max_payload - len(hdr))))
        op = rng.choice(["HMSG", "hmsg"])
        return (
            build_hmsg(subj, sid, hdr, payload, reply, op=op, sep=sep),
            Msg(subj, sid, reply or "", payload, hdr),
        )
    if kind == 4:
        return build_ping(rng.choice(["PING", "ping"])), PING_FRAME
    if kind == 5:
        return build_pong(rng.choice(["PONG", "pong"])), PONG_FRAME
    if kind == 6:
        return build_ok(), OK_FRAME
    text = rng.choice(["Unknown Protocol Operation", "Permissions Violation for Publish to \"x\"", "Stale Connection"])
    return build_err(text), Err(text)


def random_stream(rng: random.Random, count: int, max_payload: int = 4096) -> tuple[bytes, list]:
    frames = [random_frame(rng, max_payload) for _ in range(count)]
    return b"".join(b for b, _ in frames), [f for _, f in frames]


def random_splits(rng: random.Random, data: bytes, pieces: int) -> list[bytes]:
    """``data`` cut at ``pieces - 1`` random points (empty pieces allowed)."""
    cuts = sorted(rng.randrange(len(data) + 1) for _ in range(max(0, pieces - 1)))
    out, last = [], 0
    for c in cuts:
        out.append(data[last:c])
        last = c
    out.append(data[last:])
    return out
