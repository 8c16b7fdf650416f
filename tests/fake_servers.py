"""Fake servers with known deviations, for proving the conformance kit catches what it claims.

Each fake is a :class:`DeviatingProxy`: a real asyncio TCP listener on 127.0.0.1 in front of a
real nats-server. What the server sends is parsed with :class:`protocol.parser.Parser`, passed
through the deviation, and encoded again (the server-side twins of ``protocol.encoder``, below);
what the client sends goes through untouched, except that a deviation may answer it itself.
So everything but the one deviation is the real server's behaviour.

Deviations (``DEVIATIONS``): ``no-max-payload`` (INFO without max_payload), ``no-pong`` (PONG
never sent), ``hmsg-header-size`` (HMSG header size off by two), ``err-on-pub`` (``-ERR`` after
every valid PUB), ``wrong-ack-stream`` (JetStream publish acks naming another stream),
``no-ok`` (verbose ignored) and ``no-503`` (no-responders status never sent).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Callable, Optional

from protocol.errors import ProtocolError
from protocol.frames import Err, Info, Msg, Ok, Ping, Pong
from protocol.parser import Parser

CRLF = b"\r\n"


# Server-side encoders (the twins of protocol.encoder's client-side ones) -------------------------
def encode_info(data: dict[str, Any]) -> bytes:
    return b"INFO " + json.dumps(data, separators=(",", ":")).encode() + CRLF


def encode_msg(subject: str, sid: int, payload: bytes, reply: str = "") -> bytes:
    mid = f" {reply}" if reply else ""
    return f"MSG {subject} {sid}{mid} {len(payload)}\r\n".encode() + payload + CRLF


def encode_hmsg(subject: str, sid: int, hdr: bytes, payload: bytes, reply: str = "", hlen_delta: int = 0) -> bytes:
    mid = f" {reply}" if reply else ""
    total = len(hdr) + len(payload)
    return f"HMSG {subject} {sid}{mid} {len(hdr) + hlen_delta} {total}\r\n".encode() + hdr + payload + CRLF


def encode_frame(f: Any) -> bytes:
    if type(f) is Msg:
        if f.raw_headers is not None:
            return encode_hmsg(f.subject, f.sid, f.raw_headers, f.data, f.reply)
        return encode_msg(f.subject, f.sid, f.data, f.reply)
    if type(f) is Info:
        return encode_info(f.data)
    if type(f) is Err:
        return f"-ERR '{f.text}'\r\n".encode()
    return {Ping: b"PING\r\n", Pong: b"PONG\r\n", Ok: b"+OK\r\n"}[type(f)]


# Deviations ---------------------------------------------------------------------------------------
class Deviation:
    """Pass-through; subclasses change one thing."""

    name = "none"

    def server_frame(self, f: Any) -> bytes:
        """The bytes sent to the client for one server frame."""
        return encode_frame(f)

    def client_data(self, data: bytes) -> bytes:
        """Bytes to send the client in answer to ``data`` (which still goes to the server)."""
        return b""


class NoMaxPayload(Deviation):
    name = "no-max-payload"

    def server_frame(self, f: Any) -> bytes:
        if type(f) is Info:
            return encode_info({k: v for k, v in f.data.items() if k != "max_payload"})
        return encode_frame(f)


class NoPong(Deviation):
    name = "no-pong"

    def server_frame(self, f: Any) -> bytes:
        return b"" if type(f) is Pong else encode_frame(f)


class HmsgHeaderSize(Deviation):
    name = "hmsg-header-size"

    def server_frame(self, f: Any) -> bytes:
        if type(f) is Msg and f.raw_headers is not None:
            return encode_hmsg(f.subject, f.sid, f.raw_headers, f.data, f.reply, hlen_delta=2)
        return encode_frame(f)


class ErrOnPub(Deviation):
    name = "err-on-pub"

    def client_data(self, data: bytes) -> bytes:
        lines = [line for line in data.split(CRLF) if line.startswith(b"PUB ")]
        return b"".join(b"-ERR 'Permissions Violation for Publish to \"%s\"'\r\n" % line.split()[1] for line in lines)


class WrongAckStream(Deviation):
    name = "wrong-ack-stream"

    def server_frame(self, f: Any) -> bytes:
        if type(f) is Msg and f.data.startswith(b"{") and b'"seq"' in f.data:
            try:
                doc = json.loads(f.data)
            except ValueError:
                doc = None
            if isinstance(doc, dict) and "stream" in doc and "seq" in doc and len(doc) <= 4:
                doc["stream"] = doc["stream"] + "_OTHER"
                f = Msg(f.subject, f.sid, f.reply, json.dumps(doc).encode(), f.raw_headers)
        return encode_frame(f)


class NoOk(Deviation):
    name = "no-ok"

    def server_frame(self, f: Any) -> bytes:
        return b"" if type(f) is Ok else encode_frame(f)


class No503(Deviation):
    name = "no-503"

    def server_frame(self, f: Any) -> bytes:
        return b"" if type(f) is Msg and f.status == "503" else encode_frame(f)


DEVIATIONS: dict[str, Callable[[], Deviation]] = {
    d.name: d for d in (NoMaxPayload, NoPong, HmsgHeaderSize, ErrOnPub, WrongAckStream, NoOk, No503)
}


# The proxy ----------------------------------------------------------------------------------------
class DeviatingProxy:
    """``async with DeviatingProxy(upstream_port, deviation) as proxy: proxy.url``."""

    def __init__(self, upstream_port: int, deviation: Deviation) -> None:
        self.upstream_port = upstream_port
        self.deviation = deviation
        self.server: Optional[asyncio.AbstractServer] = None
        self.port = 0
        self._tasks: set[asyncio.Task] = set()
        self._writers: list[asyncio.StreamWriter] = []

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def __aenter__(self) -> "DeviatingProxy":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self.server is not None
        self.server.close()
        for w in self._writers:
            w.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._writers.append(up_writer)
        down = asyncio.ensure_future(self._server_to_client(up_reader, writer))
        up = asyncio.ensure_future(self._client_to_server(reader, up_writer, writer))
        self._tasks.update((down, up))
        await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
        for t in (down, up):
            t.cancel()
        writer.close()
        up_writer.close()

    async def _server_to_client(self, up: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        parser = Parser(64 * 1024, 64 * 1024 * 1024)
        while True:
            data = await up.read(65536)
            if not data:
                return
            try:
                frames = parser.feed(data)
            except ProtocolError:
                return
            out = b"".join(self.deviation.server_frame(f) for f in frames)
            if out:
                client.write(out)
                await client.drain()

    async def _client_to_server(self, client: asyncio.StreamReader, up: asyncio.StreamWriter, back: asyncio.StreamWriter) -> None:
        while True:
            data = await client.read(65536)
            if not data:
                return
            up.write(data)
            await up.drain()
            extra = self.deviation.client_data(data)
            if extra:
                back.write(extra)
                await back.drain()
