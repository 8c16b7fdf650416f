"""``Outbox``: the outbound byte path of one connection, flushed once per loop turn.

Rule: this module owns the queued parts, their byte count, the flush schedule, the transport's
pause/resume back-pressure and ``discard_unsent``; it encodes nothing and knows no states. Writes
are collected as parts and handed to ``transport.writelines`` once per loop turn (style.md 4.2:
one syscall for many publishes); publishers await only while the transport is paused.

``transport`` is set only while the connection is open (``Connection`` sets it when a handshake
completes, clears it when the transport is lost): while it is ``None`` parts are kept, and what
is kept while reconnecting is the reconnect buffer (bounded by ``reconnect_buf_size`` in
``Connection.publish``, which must stay one function). The hot path (``Connection.publish``)
writes ``parts``/``nbytes`` directly, no method call per message.

The parts form a flat list in which every frame starts with its control line: ``PUB`` frames are
3 parts (line, payload, CRLF), ``HPUB`` frames 4 (line, header block, payload, CRLF), everything
else one part (``discard_unsent`` relies on it).
"""

from __future__ import annotations

import asyncio
from typing import Any, Optional

from .wire import PING

__all__ = ["Outbox", "FLUSH_THRESHOLD", "immutable_view"]

# Flush synchronously once this many bytes are queued in one loop turn (a publisher that never
# yields would otherwise grow the list without bound).
FLUSH_THRESHOLD = 256 * 1024


def immutable_view(payload: Any) -> bool:
    """A read-only byte memoryview over a ``bytes`` object: nobody can change it, so the outbox
    keeps it like ``bytes`` (no copy); any other buffer is copied before it is queued."""
    return (
        type(payload) is memoryview
        and payload.readonly
        and type(payload.obj) is bytes
        and payload.contiguous
        and payload.itemsize == 1
    )


class Outbox:
    """Queued outbound parts and the one flush per loop turn."""

    __slots__ = ("parts", "nbytes", "transport", "flush_handle", "paused", "tracer", "_writable", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.parts: list = []
        self.nbytes = 0
        self.transport: Optional[asyncio.Transport] = None
        self.flush_handle: Optional[asyncio.Handle] = None
        self.paused = False
        self.tracer: Any = None  # a protocol.trace.Tracer while tracing: sees each batch written
        self._writable: Optional[asyncio.Future] = None
        self._loop = loop

    def write_now(self, data: bytes) -> None:
        """Queue a small control frame and make sure it goes out this loop turn."""
        self.parts.append(data)
        self.nbytes += len(data)
        if self.flush_handle is None:
            self.flush_handle = self._loop.call_soon(self.flush)

    def flush(self) -> None:
        """Hand every queued part to the transport in one ``writelines`` (if it is open)."""
        self.flush_handle = None
        if not self.parts:
            return
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        parts = self.parts
        self.parts = []
        self.nbytes = 0
        transport.writelines(parts)
        if self.tracer is not None:
            self.tracer.outbound(parts)

    def flush_early(self) -> None:
        """Flush now instead of at the end of the loop turn (``FLUSH_THRESHOLD`` reached)."""
        if self.flush_handle is not None:
            self.flush_handle.cancel()
        self.flush()

    def detach(self) -> None:
        """The transport is gone: keep the parts (the reconnect buffer) but never the PINGs.
        Their waiters were just failed; sent later, their PONGs would complete ``flush()``
        calls made while reconnecting too early."""
        self.transport = None
        if self.parts:
            self.parts = [p for p in self.parts if p is not PING]
            self.nbytes = sum(len(p) for p in self.parts)
        self.release_writers()

    def close(self, write_through: bool) -> Optional[asyncio.Transport]:
        """Stop flushing; write what is queued first if ``write_through`` (a clean close of an
        open connection). Returns the transport that was attached, for the caller to close."""
        if self.flush_handle is not None:
            self.flush_handle.cancel()
            self.flush_handle = None
        transport, self.transport = self.transport, None
        if transport is not None and write_through and self.parts and not transport.is_closing():
            transport.writelines(self.parts)
            if self.tracer is not None:
                self.tracer.outbound(self.parts)
        self.parts = []
        self.nbytes = 0
        self.release_writers()
        return transport

    def discard_unsent(self, reply_prefix: str) -> list[str]:
        """Withdraw queued ``PUB``/``HPUB`` frames whose reply subject starts with
        ``reply_prefix``; return their reply subjects (see ``Connection.discard_unsent``)."""
        out = self.parts
        if not out:
            return []
        needle = reply_prefix.encode("utf-8")
        kept: list = []
        dropped: list[str] = []
        i, n = 0, len(out)
        while i < n:
            part = out[i]
            width = 1
            if type(part) is bytes:
                if part.startswith(b"PUB "):
                    width = 3
                elif part.startswith(b"HPUB "):
                    width = 4
            if width > 1:
                fields = part.split()
                # PUB subj reply size / HPUB subj reply hsize size: width + 1 fields with a reply.
                reply = fields[2] if len(fields) == width + 1 else None
                if reply is not None and reply.startswith(needle):
                    dropped.append(reply.decode("utf-8"))
                    i += width
                    continue
            kept.extend(out[i : i + width])
            i += width
        if dropped:
            self.parts = kept
            self.nbytes = sum(len(p) for p in kept)
        return dropped

    # Back-pressure (asyncio.Protocol pause_writing / resume_writing) ----------------------------
    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.release_writers()

    async def wait_writable(self) -> None:
        if self._writable is None:
            self._writable = self._loop.create_future()
        await self._writable

    def release_writers(self) -> None:
        self.paused = False
        w, self._writable = self._writable, None
        if w is not None and not w.done():
            w.set_result(None)
