"""``_NatsProtocol``: the ``asyncio.Protocol`` between a socket and a :class:`Connection`.

Rule: this module parses nothing and knows no subscriptions. ``data_received`` hands the raw
bytes straight to ``Connection._on_data``, which feeds the parser synchronously (style.md 4.2 row
2b); pause/resume writing and connection loss are forwarded the same way, each tagged with the
protocol instance so the connection can ignore events of a transport it already replaced. The
``lost`` future lets the handshake and ``close()`` wait for the transport to go away. TLS
upgrades (``loop.start_tls``) are driven by ``handshake``. Imports nothing from ``jetstream`` or
``objstore``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["_NatsProtocol"]


class _NatsProtocol(asyncio.Protocol):
    """Thin transport adapter: forwards bytes and transport events to the connection."""

    def __init__(self, conn: "Connection") -> None:
        self.conn = conn
        self.transport: Optional[asyncio.Transport] = None
        self.lost: asyncio.Future = conn._loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.conn._on_data(self, data)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)
        self.conn._on_connection_lost(self, exc)

    def pause_writing(self) -> None:
        self.conn._on_pause_writing(self)

    def resume_writing(self) -> None:
        self.conn._on_resume_writing(self)
