"""``NatsProtocol``: the ``asyncio.Protocol`` between a socket and a connection's ``Session``.

Rule: this module parses nothing and knows no subscriptions. ``data_received`` hands the raw
bytes straight to the ``on_data`` callback it was made with (``Connection._on_data``, which
feeds the parser synchronously: style.md 4.2 row 2b); pause/resume writing and connection loss
are forwarded the same way, each tagged with the protocol instance so the connection can ignore
events of a transport it already replaced. The ``lost`` future lets the handshake and ``close()``
wait for the transport to go away. TLS upgrades (``loop.start_tls``) are driven by
``handshake``. Imports nothing from the package.
"""

from __future__ import annotations

import asyncio
from typing import Callable, Optional

__all__ = ["NatsProtocol"]


class NatsProtocol(asyncio.Protocol):
    """Thin transport adapter: forwards bytes and transport events to the callbacks given."""

    __slots__ = ("transport", "lost", "_on_data", "_on_lost", "_on_pause", "_on_resume")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_data: Callable[["NatsProtocol", bytes], None],
        on_lost: Callable[["NatsProtocol", Optional[BaseException]], None],
        on_pause: Callable[["NatsProtocol"], None],
        on_resume: Callable[["NatsProtocol"], None],
    ) -> None:
        self.transport: Optional[asyncio.Transport] = None
        self.lost: asyncio.Future = loop.create_future()
        self._on_data = on_data
        self._on_lost = on_lost
        self._on_pause = on_pause
        self._on_resume = on_resume

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._on_data(self, data)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)
        self._on_lost(self, exc)

    def pause_writing(self) -> None:
        self._on_pause(self)

    def resume_writing(self) -> None:
        self._on_resume(self)
