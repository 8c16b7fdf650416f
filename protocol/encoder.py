"""Client-to-server encoders: CONNECT, PUB, HPUB, SUB, UNSUB, PING, PONG.

Pure functions. Frames that carry a payload are returned as a tuple of parts
``(control_line, [header_block,] payload, CRLF)`` meant for ``transport.writelines``: the
payload object is passed through untouched and never concatenated into a frame (h11's
``send_with_data_passthrough``). Callers validate subjects first (``protocol.subjects``); the
encoders only refuse what would corrupt the stream (CR/LF or spaces inside a token).
"""

from __future__ import annotations

import json
from typing import Any, Optional

from .errors import BadSubjectError
from .wire import CRLF, MAX_CONTROL_LINE, PING, PONG

__all__ = [
    "encode_connect",
    "encode_pub",
    "encode_hpub",
    "encode_sub",
    "encode_unsub",
    "PING",
    "PONG",
]


def _token(value: str, what: str) -> bytes:
    raw = value.encode("utf-8")
    if not raw or b" " in raw or b"\r" in raw or b"\n" in raw or b"\t" in raw:
        raise BadSubjectError(f"{what} {value!r} cannot be written to a control line")
    return raw


def _checked(line: bytes) -> bytes:
    """The server closes the connection for a control line over 4096 bytes: refuse it here."""
    if len(line) > MAX_CONTROL_LINE + 2:
        raise BadSubjectError(
            f"control line of {len(line) - 2} bytes exceeds {MAX_CONTROL_LINE}: subject, reply or queue too long"
        )
    return line


def encode_connect(options: dict[str, Any]) -> bytes:
    """``CONNECT {json}\\r\\n`` with compact JSON (no spaces)."""
    return b"CONNECT " + json.dumps(options, separators=(",", ":")).encode("utf-8") + CRLF


def encode_pub(subject: str, payload: bytes, reply: Optional[str] = None) -> tuple:
    """``PUB <subject> [reply] <#bytes>\\r\\n<payload>\\r\\n`` as three parts."""
    if reply:
        line = b"PUB %s %s %d\r\n" % (_token(subject, "subject"), _token(reply, "reply"), len(payload))
    else:
        line = b"PUB %s %d\r\n" % (_token(subject, "subject"), len(payload))
    return (_checked(line), payload, CRLF)


def encode_hpub(subject: str, header_block: bytes, payload: bytes, reply: Optional[str] = None) -> tuple:
    """``HPUB <subject> [reply] <#hdr> <#total>\\r\\n<headers><payload>\\r\\n`` as four parts.

    ``header_block`` is a complete ``NATS/1.0`` block ending with the blank line
    (``protocol.headers.encode_headers``); its length is the header size, header plus payload
    the total size, both in bytes.
    """
    hlen = len(header_block)
    total = hlen + len(payload)
    if reply:
        line = b"HPUB %s %s %d %d\r\n" % (_token(subject, "subject"), _token(reply, "reply"), hlen, total)
    else:
        line = b"HPUB %s %d %d\r\n" % (_token(subject, "subject"), hlen, total)
    return (_checked(line), header_block, payload, CRLF)


def encode_sub(subject: str, sid: int, queue: Optional[str] = None) -> bytes:
    """``SUB <subject> [queue] <sid>\\r\\n``."""
    if queue:
        return _checked(b"SUB %s %s %d\r\n" % (_token(subject, "subject"), _token(queue, "queue"), sid))
    return _checked(b"SUB %s %d\r\n" % (_token(subject, "subject"), sid))


def encode_unsub(sid: int, max_msgs: Optional[int] = None) -> bytes:
    """``UNSUB <sid> [max_msgs]\\r\\n``."""
    if max_msgs:
        return b"UNSUB %d %d\r\n" % (sid, max_msgs)
    return b"UNSUB %d\r\n" % sid
