"""Server-to-client frames produced by the parser: ``Info``, ``Msg`` (MSG and HMSG), ``Ping``,
``Pong``, ``Ok`` and ``Err``.

Every frame is a ``__slots__`` class (style.md 4.2 row 4: a frozen dataclass costs 4.6x to
build). ``Msg`` keeps the raw header block and parses it on first access; only the status line
is looked at eagerly, and only by callers that ask (``Msg.status``). No I/O here.
"""

from __future__ import annotations

from typing import Any, Optional

from .headers import Headers, parse_headers, parse_status

__all__ = ["Frame", "Info", "Msg", "Ping", "Pong", "Ok", "Err", "PING_FRAME", "PONG_FRAME", "OK_FRAME"]


class Info:
    """``INFO {json}``: the server's identity and limits. ``data`` is the decoded JSON object."""

    __slots__ = ("data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"Info({self.data!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Info) and other.data == self.data


class Msg:
    """A message delivered on a subscription (``MSG`` or ``HMSG``).

    ``subject`` and ``reply`` are ``str`` (``reply`` is ``""`` when absent); ``data`` is
    ``bytes``; ``headers`` is a :class:`Headers` or ``None``. ``status`` is the 3-digit status
    code of a status message (``"503"``, ``"100"`` ...) or ``""``.
    """

    __slots__ = ("subject", "sid", "reply", "data", "_hdr", "_headers", "_client")

    def __init__(
        self,
        subject: str,
        sid: int,
        reply: str,
        data: bytes,
        hdr: Optional[bytes] = None,
    ) -> None:
        self.subject = subject
        self.sid = sid
        self.reply = reply
        self.data = data
        self._hdr = hdr
        self._headers: Optional[Headers] = None
        self._client: Any = None

    @property
    def raw_headers(self) -> Optional[bytes]:
        """The header block exactly as received, or ``None`` for a plain MSG."""
        return self._hdr

    @property
    def headers(self) -> Optional[Headers]:
        if self._headers is None and self._hdr is not None:
            self._headers = parse_headers(self._hdr)
        return self._headers

    @property
    def status(self) -> str:
        hdr = self._hdr
        if hdr is None:
            return ""
        if self._headers is not None:
            return self._headers.status
        # Fast path: "NATS/1.0\r\n" means no status.
        if hdr[8:10] == b"\r\n":
            return ""
        return parse_status(hdr)[0]

    @property
    def description(self) -> str:
        if self._hdr is None:
            return ""
        return parse_status(self._hdr)[1]

    async def respond(self, data: bytes = b"", headers: Any = None) -> None:
        """Publish ``data`` to this message's reply subject."""
        from .errors import NatsError

        if not self.reply:
            raise NatsError("message has no reply subject")
        if self._client is None:
            raise NatsError("message is not bound to a connection")
        await self._client.publish(self.reply, data, headers=headers)

    def __repr__(self) -> str:
        body = self.data if len(self.data) <= 32 else self.data[:32] + b"..."
        extra = f", status={self.status!r}" if self._hdr is not None else ""
        return f"Msg(subject={self.subject!r}, sid={self.sid}, reply={self.reply!r}, data={body!r}{extra})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Msg):
            return NotImplemented
        return (
            self.subject == other.subject
            and self.sid == other.sid
            and self.reply == other.reply
            and self.data == other.data
            and self._hdr == other._hdr
        )

    __hash__ = None  # type: ignore[assignment]


class Ping:
    __slots__ = ()

    def __repr__(self) -> str:
        return "Ping()"


class Pong:
    __slots__ = ()

    def __repr__(self) -> str:
        return "Pong()"


class Ok:
    __slots__ = ()

    def __repr__(self) -> str:
        return "Ok()"


class Err:
    """``-ERR '<text>'``; ``text`` has the quotes removed."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Err({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Err) and other.text == self.text


PING_FRAME = Ping()
PONG_FRAME = Pong()
OK_FRAME = Ok()

Frame = Info | Msg | Ping | Pong | Ok | Err
