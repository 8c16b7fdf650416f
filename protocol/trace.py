"""Wire trace: every frame in and out of a connection, as :class:`TraceEvent` records.

Rule: this module owns how frames are described for a trace (direction, timestamp, op and its
arguments, payload by size with an optional hex/ASCII preview) and the redaction of CONNECT
credentials (``pass``, ``auth_token``, ``jwt``, ``sig``: the ``user`` name and the public
``nkey`` stay visible). It never changes a frame and never writes to the wire.

Where it is hooked (zero cost when tracing is off: one ``if`` per batch, never per byte or
frame): ``Session.on_data`` after each ``Parser.feed`` (frames in), ``Outbox.flush``/``close``
and the handshake's writes (frames out). The parts given to :meth:`Tracer.outbound` follow the
outbox layout: each frame starts with its control line, ``PUB`` takes 3 parts, ``HPUB`` 4.

Turned on by ``connect(..., trace=callable)`` (the callable gets each :class:`TraceEvent`;
``str(event)`` is a one-line rendering) or by the environment: ``NATS_TRACE=1`` prints every
event to stderr, ``NATS_TRACE_PREVIEW=N`` adds a preview of the first N payload bytes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import deque
from typing import Any, Callable, Iterable, Optional

from .frames import Err, Info, Msg, Ok, Ping, Pong

__all__ = ["TraceEvent", "Tracer", "TraceRecorder", "make_tracer", "redact_connect", "stderr_sink", "SECRET_CONNECT_FIELDS"]

SECRET_CONNECT_FIELDS = ("pass", "auth_token", "jwt", "sig")
REDACTED = "<redacted>"
IN, OUT = "in", "out"
_ARROW = {IN: "<<", OUT: ">>"}
_MAX_ARG = 512  # an INFO or CONNECT JSON longer than this is cut in the rendering only


class TraceEvent:
    """One frame: ``direction`` ``"in"``/``"out"``, ``ts`` (``time.time()``), ``op`` (``"HPUB"``,
    ``"MSG"``, ``"-ERR"``...), ``args`` (the control line's arguments as strings, JSON redacted),
    ``size`` (payload bytes, headers included; ``None`` for frames without one), ``hdr`` (header
    bytes) and ``preview`` (hex/ASCII of the first payload bytes, ``""`` unless asked for)."""

    __slots__ = ("direction", "ts", "op", "args", "size", "hdr", "preview")

    def __init__(self, direction: str, ts: float, op: str, args: tuple = (), size: Optional[int] = None,
                 hdr: int = 0, preview: str = "") -> None:
        self.direction = direction
        self.ts = ts
        self.op = op
        self.args = args
        self.size = size
        self.hdr = hdr
        self.preview = preview

    def line(self) -> str:
        """The frame's control line as it was (or would be) on the wire, payload left out."""
        args = " ".join(a if len(a) <= _MAX_ARG else a[:_MAX_ARG] + "..." for a in self.args)
        return f"{self.op} {args}" if args else self.op

    def __str__(self) -> str:
        t = time.strftime("%H:%M:%S", time.gmtime(self.ts)) + f".{int(self.ts * 1e6) % 1000000:06d}"
        text = f"{t} {_ARROW[self.direction]} {self.line()}"
        if self.size is not None:
            text += f"  [{self.size} B" + (f", headers {self.hdr} B]" if self.hdr else "]")
        if self.preview:
            text += f"  {self.preview}"
        return text

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dir": self.direction, "ts": self.ts, "op": self.op, "args": list(self.args)}
        if self.size is not None:
            out["size"] = self.size
            out["hdr"] = self.hdr
        if self.preview:
            out["preview"] = self.preview
        return out

    def __repr__(self) -> str:
        return f"TraceEvent({self.direction!r}, {self.line()!r}, size={self.size})"


def redact_connect(raw_json: bytes | str) -> str:
    """The CONNECT JSON with its secrets replaced; unparseable JSON is withheld whole."""
    try:
        doc = json.loads(raw_json)
    except ValueError:
        return REDACTED
    if not isinstance(doc, dict):
        return REDACTED
    for key in SECRET_CONNECT_FIELDS:
        if key in doc:
            doc[key] = REDACTED
    return json.dumps(doc, separators=(",", ":"))


def _preview(chunks: Iterable[Any], n: int, text_only: bool = False) -> str:
    buf = bytearray()
    for c in chunks:
        if len(buf) >= n:
            break
        buf += bytes(c[: n - len(buf)])
    if not buf:
        return ""
    text = "".join(chr(b) if 32 <= b < 127 else "." for b in buf)
    if text_only:
        return f"|{text}|"
    return f"{buf.hex(' ')} |{text}|"


class Tracer:
    """Turns frames and outbound parts into :class:`TraceEvent` records for ``sink``.

    ``preview`` bytes of each payload are shown as hex and ASCII, or as ASCII only with
    ``text_only`` (JSON API traffic reads better so). A sink that raises is a bug in the caller's
    code: the error is printed once to stderr and tracing stops, so the connection itself is
    never broken by its trace.
    """

    __slots__ = ("sink", "preview", "text_only", "clock")

    def __init__(self, sink: Callable[[TraceEvent], Any], preview: int = 0, clock: Callable[[], float] = time.time,
                 text_only: bool = False) -> None:
        self.sink: Optional[Callable[[TraceEvent], Any]] = sink
        self.preview = max(0, int(preview))
        self.text_only = text_only
        self.clock = clock

    def _emit(self, event: TraceEvent) -> None:
        sink = self.sink
        if sink is None:
            return
        try:
            sink(event)
        except Exception as err:  # noqa: BLE001 - see the class docstring
            self.sink = None
            print(f"nats trace: sink failed, tracing stopped: {type(err).__name__}: {err}", file=sys.stderr)

    def inbound(self, frames: list) -> None:
        ts = self.clock()
        for f in frames:
            self._emit(self.describe_in(f, ts))

    def note(self, direction: str, op: str, text: str = "") -> None:
        """A non-frame event (a parser error, a closed transport) in the same stream."""
        self._emit(TraceEvent(direction, self.clock(), op, (text,) if text else ()))

    def describe_in(self, f: Any, ts: float) -> TraceEvent:
        kind = type(f)
        if kind is Msg:
            hdr = f._hdr
            hlen = len(hdr) if hdr is not None else 0
            size = hlen + len(f.data)
            args: tuple = (f.subject, str(f.sid)) + ((f.reply,) if f.reply else ())
            args += (str(hlen), str(size)) if hdr is not None else (str(size),)
            prev = _preview((hdr or b"", f.data), self.preview, self.text_only) if self.preview else ""
            return TraceEvent(IN, ts, "HMSG" if hdr is not None else "MSG", args, size, hlen, prev)
        if kind is Info:
            return TraceEvent(IN, ts, "INFO", (json.dumps(f.data, separators=(",", ":")),))
        if kind is Err:
            return TraceEvent(IN, ts, "-ERR", (f"'{f.text}'",))
        if kind is Ping:
            return TraceEvent(IN, ts, "PING")
        if kind is Pong:
            return TraceEvent(IN, ts, "PONG")
        if kind is Ok:
            return TraceEvent(IN, ts, "+OK")
        return TraceEvent(IN, ts, type(f).__name__)

    def outbound(self, parts: list) -> None:
        ts = self.clock()
        i, n = 0, len(parts)
        while i < n:
            line = bytes(parts[i])
            word, _, rest = line.rstrip(b"\r\n").partition(b" ")
            op = word.decode("ascii", "replace").upper()
            width = 3 if op == "PUB" else 4 if op == "HPUB" else 1
            body = parts[i + 1 : i + width - 1] if width > 1 else ()
            self._emit(self.describe_out(op, rest, body, ts))
            i += width

    def describe_out(self, op: str, rest: bytes, body: Any, ts: float) -> TraceEvent:
        if op == "CONNECT":
            return TraceEvent(OUT, ts, op, (redact_connect(rest),))
        args = tuple(rest.decode("utf-8", "replace").split())
        if not body:
            return TraceEvent(OUT, ts, op, args)
        size = sum(len(b) for b in body)
        hdr = len(body[0]) if op == "HPUB" else 0
        prev = _preview(body, self.preview, self.text_only) if self.preview else ""
        return TraceEvent(OUT, ts, op, args, size, hdr, prev)


class TraceRecorder:
    """A sink keeping the last ``maxlen`` events (bounded memory): ``trace=recorder``."""

    def __init__(self, maxlen: int = 10_000) -> None:
        self.events: deque[TraceEvent] = deque(maxlen=maxlen)
        self.total = 0  # events ever recorded (``mark``/``since`` positions)

    def __call__(self, event: TraceEvent) -> None:
        self.events.append(event)
        self.total += 1

    def mark(self) -> int:
        """A position to take the events recorded after it from (``since``)."""
        return self.total

    def since(self, mark: int) -> list[TraceEvent]:
        recent = list(self.events)
        dropped = self.total - len(recent)
        return recent[max(0, mark - dropped):]

    def lines(self, events: Optional[Iterable[TraceEvent]] = None) -> list[str]:
        return [str(e) for e in (self.events if events is None else events)]


def stderr_sink(event: TraceEvent) -> None:
    print(str(event), file=sys.stderr, flush=True)


def make_tracer(trace: Optional[Callable[[TraceEvent], Any]], preview: Optional[int] = None) -> Optional[Tracer]:
    """The tracer of a connection: ``trace`` if given (a sink for the events, or a ready
    :class:`Tracer`), else stderr when ``$NATS_TRACE`` is set (to anything but
    ``""``/``0``/``false``/``no``/``off``), else ``None`` (tracing off)."""
    if isinstance(trace, Tracer):
        return trace
    if preview is None:
        raw = os.environ.get("NATS_TRACE_PREVIEW", "")
        preview = int(raw) if raw.isdigit() else 0
    if trace is not None:
        return Tracer(trace, preview)
    if os.environ.get("NATS_TRACE", "").strip().lower() not in ("", "0", "false", "no", "off"):
        return Tracer(stderr_sink, preview)
    return None
