"""``RawProbe``: a raw, traced socket that speaks the client protocol frame by frame.

Rule: this module owns the byte-level conversation the core checks need and a ``Connection``
would hide or refuse (a PUB above ``max_payload``, an unknown op, byte-at-a-time writes, a
CONNECT with ``verbose``/``pedantic``). It encodes with :mod:`protocol.encoder`, parses with
:class:`protocol.parser.Parser`, and records every frame both ways into the run's trace
(``Tracer``), which is the evidence of a failed check. It answers server PINGs itself.

Failures are :class:`~.model.CheckFailed` naming what was missing or malformed: no frame in
time, the connection closed, a frame the parser refuses.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import Any, Callable, Optional

from .. import auth
from ..encoder import encode_connect
from ..errors import ProtocolError
from ..frames import Err, Info, Ping, Pong
from ..handshake import INBOUND_CONTROL_LINE, INBOUND_MAX_PAYLOAD
from ..options import parse_server_url
from ..parser import Parser
from ..trace import Tracer
from ..wire import CLIENT_LANG, CLIENT_VERSION, PING, PONG
from .model import CheckFailed, Context

__all__ = ["MalformedFrame", "RawProbe", "open_probe"]

READ_SIZE = 64 * 1024


class MalformedFrame(CheckFailed):
    """The server sent bytes the parser refuses (a wrong size, a bad header block...)."""


class RawProbe:
    """One raw connection. ``connect_fields`` is the CONNECT JSON it sent (secrets included:
    only the trace, which redacts them, is ever shown)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tracer: Tracer, timeout: float) -> None:
        self.reader = reader
        self.writer = writer
        self.tracer = tracer
        self.timeout = timeout
        self.parser = Parser(INBOUND_CONTROL_LINE, INBOUND_MAX_PAYLOAD)
        self.frames: deque = deque()
        self.info: dict[str, Any] = {}
        self.connect_fields: dict[str, Any] = {}
        self.eof = False
        self.last_err: Optional[str] = None  # the text of the latest -ERR received

    # Writing -----------------------------------------------------------------------------------
    async def send(self, *parts: Any, bytewise: bool = False) -> None:
        """Write frames given as outbox-style parts; ``bytewise``: one byte per write."""
        self.tracer.outbound(list(parts))
        data = b"".join(bytes(p) for p in parts)
        if not bytewise:
            self.writer.write(data)
            await self.writer.drain()
            return
        for i in range(len(data)):
            self.writer.write(data[i : i + 1])
            await self.writer.drain()
            await asyncio.sleep(0)  # let each byte leave as its own segment

    # Reading -----------------------------------------------------------------------------------
    async def _read(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        left = deadline - loop.time()
        if left <= 0:
            raise asyncio.TimeoutError
        data = await asyncio.wait_for(self.reader.read(READ_SIZE), left)
        if not data:
            self.eof = True
            self.tracer.note("in", "EOF", "the server closed the connection")
            after = f" after -ERR '{self.last_err}'" if self.last_err is not None else ""
            raise CheckFailed(f"the server closed the connection{after}")
        try:
            frames = self.parser.feed(data)
        except ProtocolError as err:
            got = getattr(err, "frames", [])
            self.tracer.inbound(got)
            self.tracer.note("in", "MALFORMED", str(err))
            self.frames.extend(got)
            raise MalformedFrame(f"malformed frame from the server: {err}") from err
        self.tracer.inbound(frames)
        for f in frames:
            if type(f) is Ping:
                await self.send(PONG)
            else:
                if type(f) is Err:
                    self.last_err = f.text
                self.frames.append(f)

    async def until(self, pred: Callable[[Any], bool], what: str, timeout: Optional[float] = None, keep: Optional[list] = None) -> Any:
        """The first frame matching ``pred``; frames before it go to ``keep`` (when given)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (timeout if timeout is not None else self.timeout)
        while True:
            while self.frames:
                f = self.frames.popleft()
                if pred(f):
                    return f
                if keep is not None:
                    keep.append(f)
            try:
                await self._read(deadline)
            except asyncio.TimeoutError:
                raise CheckFailed(f"no {what} within {timeout if timeout is not None else self.timeout:g}s") from None

    async def sync(self, timeout: Optional[float] = None) -> list:
        """PING, then every frame that arrives before its PONG."""
        await self.send(PING)
        seen: list = []
        await self.until(lambda f: type(f) is Pong, "PONG to PING", timeout, keep=seen)
        return seen

    async def wait_closed(self, timeout: float) -> list:
        """Frames until the server closes the connection (CheckFailed if it stays open)."""
        seen: list = []
        try:
            await self.until(lambda f: False, "close", timeout, keep=seen)
        except CheckFailed:
            if self.eof:
                return seen + list(self.frames)
            raise CheckFailed(f"the server kept the connection open ({timeout:g}s)") from None
        return seen  # pragma: no cover - until() never returns for a false predicate

    async def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 2.0)
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            pass

    # Opening -----------------------------------------------------------------------------------
    @classmethod
    async def open(cls, ctx: Context, handshake: bool = True, timeout: float = 5.0, **fields: Any) -> "RawProbe":
        target = ctx.target
        server = parse_server_url(target.url.split(",")[0].strip())
        reader, writer = await asyncio.wait_for(asyncio.open_connection(server.host, server.port), timeout)
        probe = cls(reader, writer, ctx.recorder_tracer(), timeout)
        try:
            info = await probe.until(lambda f: True, "INFO", timeout)
            if type(info) is not Info:
                raise CheckFailed(f"the first frame is {info!r}, not INFO")
            probe.info = ctx.info = info.data
            if info.data.get("tls_required") or server.tls or target.tls_ca:
                tls = ssl.create_default_context(cafile=target.tls_ca)
                await writer.start_tls(tls, server_hostname=server.host)
            connect = {
                "verbose": False, "pedantic": False, "tls_required": bool(info.data.get("tls_required")),
                "lang": CLIENT_LANG, "version": CLIENT_VERSION, "protocol": 1, "echo": True,
                "headers": True, "no_responders": True, "name": "natsobj-conformance-probe",
            }
            connect.update(auth.auth_fields(
                user=target.user or server.user, password=target.password or server.password,
                token=target.token or server.token, nkey_seed=target.nkey_seed, creds=target.creds,
                nonce=info.data.get("nonce"),
            ))
            connect.update(fields)
            probe.connect_fields = connect
            if handshake:
                await probe.send(encode_connect(connect), PING)
                seen: list = []
                await probe.until(lambda f: type(f) is Pong, "PONG to the handshake PING", timeout, keep=seen)
                errs = [f.text for f in seen if type(f) is Err]
                if errs:
                    raise CheckFailed(f"the server refused CONNECT: -ERR '{errs[0]}'")
        except BaseException:
            await probe.close()
            raise
        return probe


async def open_probe(ctx: Context, **kwargs: Any) -> RawProbe:
    """A probe closed with the check (``handshake=False`` stops after INFO)."""
    p = await RawProbe.open(ctx, **kwargs)
    ctx.on_cleanup(p.close)
    return p
