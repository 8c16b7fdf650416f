"""Sans-I/O parser of the server-to-client NATS protocol.

``Parser.feed(data) -> list[Frame]`` consumes as many complete frames as ``data`` (plus what
was left over from earlier calls) holds and keeps the rest. It never awaits, logs or calls back:
it is fed bytes and returns frames, so it can be unit-tested and fuzzed without a server.

Limits are checked before bytes are buffered (h11's rule): a control line longer than
``max_control_line`` or a payload announced above ``max_payload`` raises at once, so the
retained buffer never exceeds ``max_control_line + max_payload + 4`` bytes. ``max_payload`` here
is the *inbound frame cap* (the whole MSG/HMSG, headers included), not the server's publish
limit: the connection sets it from the ``max_inbound_frame`` option as lowered by INFO
(``protocol.handshake.inbound_cap``). A hostile server announcing a huge MSG therefore gets a
``ProtocolError`` from the control line alone, before any of the body arrives.

Failure contract: malformed input raises :class:`ProtocolError` and nothing else. The frames
that were complete before the bad bytes are attached to the error as ``err.frames`` so that
nothing is silently dropped; after a failure the parser refuses further input.

Large payloads: while a frame whose size is known is incomplete, incoming chunks are parked in a
list (views, not copies) and the payload is built with ONE copy straight from them when enough
bytes arrived (style.md 4.3 item 7): the control line's fields are kept from when the frame was
first seen, so neither the partial frame nor the joined frame is ever copied as a whole. (A parked
view keeps its whole read alive: ``buffered`` counts the frame's bytes, the memory held may exceed it
by at most one read, which asyncio bounds at 256 KiB.) When the parked frame is complete, parsing goes
on in the read that completed it from the frame's end: the rest of that read is not copied.
"""

from __future__ import annotations

import json
import re

from .errors import ProtocolError
from .frames import OK_FRAME, PING_FRAME, PONG_FRAME, Err, Info, Msg
from .wire import DEFAULT_MAX_PAYLOAD, HEADER_LINE, MAX_CONTROL_LINE

__all__ = ["Parser"]

_M, _m, _H, _h, _P, _p, _I, _i, _PLUS, _MINUS = b"MmHhPpIi+-"
_split_ws = re.compile(rb"[ \t]+").split


class Parser:
    """Incremental parser. ``max_payload`` (the inbound frame cap) may be raised or lowered at
    any time (from INFO)."""

    __slots__ = ("max_control_line", "max_payload", "_buf", "_parked", "_parked_len", "_need", "_frame", "_failed")

    def __init__(self, max_control_line: int = MAX_CONTROL_LINE, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        self.max_control_line = max_control_line
        self.max_payload = max_payload
        self._buf = b""
        self._parked: list | None = None  # bytes and memoryviews of the reads
        self._parked_len = 0
        self._need = 0
        # The parked frame as its control line gave it: (subject, sid, reply, body offset, hlen, size).
        self._frame: tuple = ()
        self._failed = False

    @property
    def buffered(self) -> int:
        """Bytes retained for the next call (an incomplete frame)."""
        return len(self._buf) + self._parked_len

    def feed(self, data: bytes) -> list:
        """Parse ``data`` and return the complete frames, in order. Raises ProtocolError."""
        if self._failed:
            raise ProtocolError("parser already failed; the connection must be closed")
        if type(data) is not bytes:  # parked views and payloads must not alias a caller's buffer
            data = bytes(data)
        parked = self._parked
        frames: list = []
        start = 0
        if parked is not None:
            parked.append(data)
            self._parked_len += len(data)
            if self._parked_len < self._need:
                return []
            try:
                start = self._finish_parked(parked, frames)
            except ProtocolError as err:
                self._fail(err, frames)
                raise
            if start == len(data):
                return frames
        elif self._buf:
            # ``_buf`` is always the start of a control line with no CRLF yet. If ``data`` does
            # not end it, append in place (a server trickling a long line byte by byte must not
            # cost a copy of the whole line per byte) and only check the limit.
            if b"\r\n" not in data and not (data[:1] == b"\n" and self._buf[-1] == 13):
                buf = self._buf
                if type(buf) is bytes:
                    buf = self._buf = bytearray(buf)
                buf += data
                n, max_cl = len(buf), self.max_control_line
                if n > max_cl and (n > max_cl + 1 or buf[-1] != 13):
                    exc = ProtocolError(f"control line exceeds {max_cl} bytes")
                    self._fail(exc, [])
                    raise exc
                return []
            data = bytes(self._buf) + data
            self._buf = b""
        try:
            pos, need = self._parse(data, frames, start)
        except ProtocolError as err:
            self._fail(err, frames)
            raise
        except (ValueError, IndexError, UnicodeDecodeError, RecursionError) as err:
            # RecursionError: json.loads of a deeply nested INFO array (a few KiB of "[").
            exc = ProtocolError(f"malformed protocol input: {err}")
            self._fail(exc, frames)
            raise exc from err
        if pos < len(data):
            if need > len(data) - pos:  # a frame of known size: park a view, no copy
                rest = memoryview(data)[pos:] if pos else data
                self._parked = [rest]
                self._parked_len = len(rest)
                self._need = need
            else:
                self._buf = data[pos:]
        return frames

    def _finish_parked(self, parts: list, frames: list) -> int:
        """The parked frame is complete: append its Msg (payload copied once, straight from the
        parked reads) and return where the bytes after it start in the last read (the frame
        always ends in the read that completed it: parsing goes on there, nothing is copied)."""
        subject, sid, reply, off, hlen, size = self._frame
        need = self._need
        last_start = self._parked_len - len(parts[-1])
        self._parked = None
        self._parked_len = 0
        self._frame = ()
        stop = off + size
        if _join(parts, stop, need) != b"\r\n":
            raise ProtocolError("MSG payload not followed by CRLF")
        hdr = None
        if hlen:
            hdr = _join(parts, off, off + hlen)
            if not hdr.startswith(HEADER_LINE) or not hdr.endswith(b"\r\n\r\n"):
                raise ProtocolError("HMSG header block is not a NATS/1.0 block")
        frames.append(Msg(subject, sid, reply, _join(parts, off + hlen, stop), hdr))
        return need - last_start

    def _fail(self, err: ProtocolError, frames: list) -> None:
        self._failed = True
        self._buf = b""
        self._parked = None
        self._parked_len = 0
        self._frame = ()
        err.frames = frames  # type: ignore[attr-defined]

    def _parse(self, data: bytes, frames: list, pos: int = 0) -> tuple[int, int]:
        """Parse frames from ``data`` from offset ``pos``; return (consumed up to, bytes needed
        for the partial frame)."""
        n = len(data)
        max_cl = self.max_control_line
        max_payload = self.max_payload
        append = frames.append
        find = data.find
        new = object.__new__
        last_raw = None
        last_subject = ""
        last_raw_sid = None
        last_sid = 0
        last_raw_size = None
        last_size = 0
        while pos < n:
            end = find(b"\r\n", pos)
            if end < 0:
                # Up to max_cl bytes may still be a line; one more is allowed only if it is the CR.
                if n - pos > max_cl and (n - pos > max_cl + 1 or data[n - 1] != 13):
                    raise ProtocolError(f"control line exceeds {max_cl} bytes")
                return pos, 0
            if end - pos > max_cl:
                raise ProtocolError(f"control line exceeds {max_cl} bytes")
            b0 = data[pos]
            if b0 == _M or b0 == _m:
                # Fields are separated by runs of spaces/tabs only: bytes.split() also cuts at
                # VT/FF, which a server-valid subject may contain (int membership is a memchr).
                line = data[pos:end]
                args = line.split()
                if 11 in line or 12 in line:
                    args = _split_ws(line.strip(b" \t"))
                op = args[0]
                if op != b"MSG" and op.upper() != b"MSG":
                    raise ProtocolError(f"unknown protocol operation {op[:16]!r}")
                nargs = len(args)
                if nargs == 4:
                    reply = ""
                    raw_size = args[3]
                elif nargs == 5:
                    reply = args[3].decode("utf-8", "surrogateescape")
                    raw_size = args[4]
                else:
                    raise ProtocolError(f"MSG with {nargs - 1} arguments")
                # int() alone would take "+5", " 5", "1_0" and "-1": only plain digits are sizes.
                raw_sid = args[2]
                if raw_sid != last_raw_sid:  # consecutive frames usually share a sid too
                    if not raw_sid.isdigit():
                        raise ProtocolError(f"MSG with a non-numeric sid: {data[pos:end][:64]!r}")
                    last_raw_sid = raw_sid
                    last_sid = int(raw_sid)
                if raw_size != last_raw_size:  # and a size (a stream of chunks, of same-sized messages)
                    if not raw_size.isdigit():
                        raise ProtocolError(f"MSG with a non-numeric size: {data[pos:end][:64]!r}")
                    size = int(raw_size)
                    if size > max_payload:
                        raise ProtocolError(f"server announced a MSG of {size} bytes, above the inbound frame cap of {max_payload}")
                    last_raw_size = raw_size
                    last_size = size
                else:
                    size = last_size
                start = end + 2
                stop = start + size
                if stop + 2 > n:
                    self._frame = (args[1].decode("utf-8", "surrogateescape"), last_sid, reply, start - pos, 0, size)
                    return pos, stop + 2 - pos
                if data[stop] != 13 or data[stop + 1] != 10:
                    raise ProtocolError("MSG payload not followed by CRLF")
                raw_subject = args[1]
                if raw_subject != last_raw:  # consecutive frames usually share a subject
                    last_raw = raw_subject
                    last_subject = raw_subject.decode("utf-8", "surrogateescape")
                # Build the Msg without the Python-level __init__ call (~40% of its cost on 3.11).
                msg = new(Msg)
                msg.subject = last_subject
                msg.sid = last_sid
                msg.reply = reply
                msg.data = data[start:stop]
                msg._hdr = msg._headers = msg._client = None
                append(msg)
                pos = stop + 2
            elif b0 == _H or b0 == _h:
                line = data[pos:end]
                args = line.split()
                if 11 in line or 12 in line:
                    args = _split_ws(line.strip(b" \t"))
                op = args[0]
                if op != b"HMSG" and op.upper() != b"HMSG":
                    raise ProtocolError(f"unknown protocol operation {op[:16]!r}")
                nargs = len(args)
                if nargs == 5:
                    reply = ""
                    raw_hlen, raw_size = args[3], args[4]
                elif nargs == 6:
                    reply = args[3].decode("utf-8", "surrogateescape")
                    raw_hlen, raw_size = args[4], args[5]
                else:
                    raise ProtocolError(f"HMSG with {nargs - 1} arguments")
                if not (raw_size.isdigit() and raw_hlen.isdigit() and args[2].isdigit()):
                    raise ProtocolError(f"HMSG with a non-numeric sid or size: {data[pos:end][:64]!r}")
                hlen = int(raw_hlen)
                size = int(raw_size)
                if size > max_payload:
                    raise ProtocolError(f"server announced an HMSG of {size} bytes, above the inbound frame cap of {max_payload}")
                if hlen < 12 or hlen > size:
                    raise ProtocolError(f"HMSG header size {hlen} invalid for total {size}")
                start = end + 2
                hend = start + hlen
                stop = start + size
                if stop + 2 > n:
                    self._frame = (args[1].decode("utf-8", "surrogateescape"), int(args[2]), reply, start - pos, hlen, size)
                    return pos, stop + 2 - pos
                if data[stop : stop + 2] != b"\r\n":
                    raise ProtocolError("HMSG payload not followed by CRLF")
                hdr = data[start:hend]
                if not hdr.startswith(HEADER_LINE) or not hdr.endswith(b"\r\n\r\n"):
                    raise ProtocolError("HMSG header block is not a NATS/1.0 block")
                append(
                    Msg(
                        args[1].decode("utf-8", "surrogateescape"),
                        int(args[2]),
                        reply,
                        data[hend:stop],
                        hdr,
                    )
                )
                pos = stop + 2
            elif b0 == _P or b0 == _p:
                op = data[pos:end].strip().upper()
                if op == b"PING":
                    append(PING_FRAME)
                elif op == b"PONG":
                    append(PONG_FRAME)
                else:
                    raise ProtocolError(f"unknown protocol operation {op[:16]!r}")
                pos = end + 2
            elif b0 == _I or b0 == _i:
                parts = data[pos:end].split(None, 1)
                if parts[0].upper() != b"INFO" or len(parts) != 2:
                    raise ProtocolError("malformed INFO")
                info = json.loads(parts[1])
                if not isinstance(info, dict):
                    raise ProtocolError("INFO payload is not a JSON object")
                append(Info(info))
                pos = end + 2
            elif b0 == _PLUS:
                if data[pos:end].strip().upper() != b"+OK":
                    raise ProtocolError("unknown protocol operation starting with '+'")
                append(OK_FRAME)
                pos = end + 2
            elif b0 == _MINUS:
                line = data[pos:end]
                if line[:4].upper() != b"-ERR":
                    raise ProtocolError("unknown protocol operation starting with '-'")
                text = line[4:].strip()
                if len(text) >= 2 and text[:1] == b"'" and text[-1:] == b"'":
                    text = text[1:-1]
                append(Err(text.decode("utf-8", "replace")))
                pos = end + 2
            else:
                raise ProtocolError(f"unknown protocol operation starting with {data[pos:pos + 8]!r}")
        return pos, 0


def _join(parts: list, start: int, stop: int) -> bytes:
    """Bytes ``[start, stop)`` of the concatenation of ``parts`` (``stop`` -1: to the end), with
    one copy: only the views that overlap the span are joined."""
    views = []
    pos = 0
    for part in parts:
        n = len(part)
        end = pos + n
        if end > start and (stop < 0 or pos < stop):
            lo = max(0, start - pos)
            hi = n if stop < 0 else min(n, stop - pos)
            views.append(part if lo == 0 and hi == n else memoryview(part)[lo:hi])
        pos = end
    if len(views) == 1 and type(views[0]) is bytes:
        return views[0]
    return b"".join(views)
