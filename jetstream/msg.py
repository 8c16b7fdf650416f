"""``JsMsg``: a message delivered by a consumer; its ACK metadata is parsed on first use."""

from __future__ import annotations

from typing import Optional

from protocol import Headers, Msg

from .ack import ACK, AckMetadata

__all__ = ["JsMsg"]


class JsMsg:
    """``subject`` is the stream subject the message was stored on; ``metadata`` carries the
    stream and consumer sequences, delivery count, pending count and timestamp (parsed from the
    ACK reply subject the first time it is read, unless the consumer already passed it in)."""

    __slots__ = ("subject", "data", "reply", "_meta", "_seq", "_msg")

    def __init__(self, msg: Msg, metadata: Optional[AckMetadata] = None, *, seq: int = 0) -> None:
        self.subject = msg.subject
        self.data = msg.data
        self.reply = msg.reply
        self._meta = metadata
        self._seq = seq
        self._msg = msg

    @property
    def metadata(self) -> AckMetadata:
        """Raises InvalidAckSubjectError if the reply subject is not a JetStream ACK subject."""
        meta = self._meta
        if meta is None:
            meta = self._meta = AckMetadata.from_reply(self.reply)
        return meta

    @property
    def headers(self) -> Optional[Headers]:
        return self._msg.headers

    @property
    def raw_headers(self) -> Optional[bytes]:
        return self._msg.raw_headers

    @property
    def seq(self) -> int:
        """The stream sequence."""
        return self._seq or self.metadata.stream_seq

    async def ack(self) -> None:
        """Acknowledge (only meaningful for consumers with an ack policy)."""
        await self._msg.respond(ACK)

    def __repr__(self) -> str:
        m = self.metadata
        return f"JsMsg(subject={self.subject!r}, seq={m.stream_seq}, pending={m.num_pending}, size={len(self.data)})"
