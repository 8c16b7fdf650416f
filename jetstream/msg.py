"""``JsMsg``: a message delivered by a consumer, with its ACK metadata parsed once."""

from __future__ import annotations

from typing import Optional

from protocol import Headers, Msg

from .ack import ACK, AckMetadata

__all__ = ["JsMsg"]


class JsMsg:
    """``subject`` is the stream subject the message was stored on; ``metadata`` carries the
    stream and consumer sequences, delivery count, pending count and timestamp."""

    __slots__ = ("subject", "data", "reply", "metadata", "_msg")

    def __init__(self, msg: Msg, metadata: AckMetadata) -> None:
        self.subject = msg.subject
        self.data = msg.data
        self.reply = msg.reply
        self.metadata = metadata
        self._msg = msg

    @property
    def headers(self) -> Optional[Headers]:
        return self._msg.headers

    @property
    def raw_headers(self) -> Optional[bytes]:
        return self._msg.raw_headers

    @property
    def seq(self) -> int:
        return self.metadata.stream_seq

    async def ack(self) -> None:
        """Acknowledge (only meaningful for consumers with an ack policy)."""
        await self._msg.respond(ACK)

    def __repr__(self) -> str:
        m = self.metadata
        return f"JsMsg(subject={self.subject!r}, seq={m.stream_seq}, pending={m.num_pending}, size={len(self.data)})"
