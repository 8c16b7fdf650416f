"""``protocol.Connection`` when the network or the server misbehaves (no reconnect involved).

- keepalive and stale-connection detection through :class:`FreezableProxy`, a tiny TCP forwarder on
  127.0.0.1 that can stop forwarding without closing either side;
- server PINGs answered (a real server with a short ``ping_interval``, seen through the proxy);
- limits checked before sending (control line, max_payload with headers) so the server never has
  a reason to close the connection;
- malformed or hostile server bytes from :class:`FakeServer`, a scripted server on 127.0.0.1: the
  connection must fail with ``ProtocolError`` after delivering what came before.

Every wait is bounded; ``allow_reconnect=False`` throughout.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest

import protocol
from events_util import eventually, take
from frames_factory import build_err, build_info, build_msg
from protocol import (
    BadSubjectError,
    ConnectionClosedError,
    MaxPayloadError,
    NoServersError,
    ProtocolError,
    ServerError,
    StaleConnectionError,
    encode_headers,
)

pytestmark = pytest.mark.timeout(60)


class FreezableProxy:
    """Forwards 127.0.0.1:<port> to the server; ``freeze()`` holds every byte without closing."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.client_bytes = bytearray()  # everything the client sent, as forwarded
        self._thawed = asyncio.Event()
        self._thawed.set()
        self._tasks: set[asyncio.Task] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    async def start(self) -> "FreezableProxy":
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def freeze(self) -> None:
        self._thawed.clear()

    def thaw(self) -> None:
        self._thawed.set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        for task in (self._pump(reader, up_writer, True), self._pump(up_reader, writer, False)):
            t = asyncio.get_running_loop().create_task(task)
            self._tasks.add(t)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: bool) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                await self._thawed.wait()
                if record:
                    self.client_bytes += data
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for w in self._writers:
            w.close()


@pytest.fixture
async def proxy(nats_server):
    p = await FreezableProxy(nats_server.port).start()
    try:
        yield p
    finally:
        await p.close()


class FakeServer:
    """Sends INFO, answers the CONNECT's PING with PONG, then does what the test says."""

    def __init__(self, info: dict | None = None, greeting: bytes | None = None) -> None:
        self.info = info or {"server_id": "FAKE", "version": "2.10.0", "proto": 1, "headers": True, "max_payload": 1048576}
        self.greeting = greeting
        self.received = bytearray()
        self.connected = asyncio.Event()
        self.writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.StreamReader | None = None
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> "FakeServer":
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer, self._reader = writer, reader
        writer.write(self.greeting if self.greeting is not None else build_info(self.info))
        await self.wait_for(b"PING\r\n")
        writer.write(b"PONG\r\n")
        self.connected.set()

    async def wait_for(self, needle: bytes, timeout: float = 5.0) -> None:
        """Read what the client sends until ``needle`` has been seen."""

        async def run():
            while needle not in self.received:
                data = await self._reader.read(65536)
                if not data:
                    raise ConnectionError("client closed")
                self.received += data

        await asyncio.wait_for(run(), timeout)

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self._server.close()


@pytest.fixture
async def fake():
    servers: list[FakeServer] = []

    async def make(**kw) -> FakeServer:
        srv = await FakeServer(**kw).start()
        servers.append(srv)
        return srv

    try:
        yield make
    finally:
        for srv in servers:
            await srv.close()


@pytest.fixture
async def nc(nats_url):
    conn = await protocol.connect(nats_url, allow_reconnect=False)
    try:
        yield conn
    finally:
        await conn.close()


async def _wait_closed(nc, timeout: float = 5.0) -> None:
    await eventually(lambda: nc.is_closed, timeout, what="connection closed")


# Keepalive and stale connections ----------------------------------------------------------------


async def test_ping_keepalive_keeps_connection_alive(proxy):
    nc = await protocol.connect(proxy.url, ping_interval=0.2, max_pings_outstanding=2, allow_reconnect=False)
    try:
        sub = await nc.subscribe("ka")
        # The handshake PING, then one every 0.2 s: with 2 outstanding allowed, 4 keepalive
        # rounds only pass if every PONG came back and was counted.
        await eventually(lambda: bytes(proxy.client_bytes).count(b"PING\r\n") >= 1 + 4, what="4 keepalive PINGs")
        assert nc.is_connected and nc.last_error is None
        await nc.publish("ka", b"alive")
        assert (await sub.next_msg(2)).data == b"alive"
    finally:
        await nc.close()


async def test_stale_connection_detected(proxy):
    nc = await protocol.connect(proxy.url, ping_interval=0.2, max_pings_outstanding=2, allow_reconnect=False)
    events = nc.events()
    sub = await nc.subscribe("stale")
    await nc.flush(timeout=2)
    proxy.freeze()
    t0 = time.monotonic()
    seen = []
    try:
        async def watch():
            async for ev in events:
                seen.append(ev)

        await asyncio.wait_for(watch(), 5)
        elapsed = time.monotonic() - t0
        assert nc.is_closed and elapsed < 3
        kinds = [e.kind for e in seen]
        assert kinds[-1] == "closed" and "disconnected" in kinds
        assert isinstance(seen[kinds.index("disconnected")].error, StaleConnectionError)
        assert isinstance(seen[-1].error, StaleConnectionError)
        assert isinstance(nc.last_error, StaleConnectionError)
        with pytest.raises((StaleConnectionError, StopAsyncIteration)):
            await asyncio.wait_for(sub.__anext__(), 2)
        with pytest.raises(ConnectionClosedError):
            await nc.publish("stale", b"x")
    finally:
        proxy.thaw()
        await nc.close()


async def test_server_pings_are_answered(server_factory):
    # The server pings every 200 ms and drops a client with 1 PING unanswered. The client only
    # sends PONG in answer to a server PING: the proxy sees each answer go out.
    srv = server_factory('ping_interval: "200ms"\nping_max: 1', jetstream=False)
    proxy = await FreezableProxy(srv.port).start()
    nc = await protocol.connect(proxy.url, allow_reconnect=False)
    try:
        sub = await nc.subscribe("srv.ping")
        await eventually(lambda: bytes(proxy.client_bytes).count(b"PONG\r\n") >= 3, what="3 server PINGs answered")
        assert nc.is_connected and nc.last_error is None
        await nc.publish("srv.ping", b"ok")
        assert (await sub.next_msg(2)).data == b"ok"
    finally:
        await nc.close()
        await proxy.close()


# Limits checked before sending -------------------------------------------------------------------


async def test_control_line_limit_checked_before_sending(nc):
    # The server kills the connection for a control line over 4096 bytes: refuse it locally.
    fits = "a" * (4096 - len("PUB  1"))
    sub = await nc.subscribe(fits)
    await nc.publish(fits, b"x")
    assert (await sub.next_msg(2)).data == b"x"
    for subject, kw in (("a" * 4100, {}), ("ok", {"reply": "r" * 4100}), (fits + "a", {})):
        with pytest.raises(BadSubjectError):
            await nc.publish(subject, b"x", **kw)
    with pytest.raises(BadSubjectError):
        await nc.publish("a" * 4088, b"x", headers={"K": "v"})  # HPUB line is longer
    with pytest.raises(BadSubjectError):
        await nc.subscribe("b" * 4100)
    with pytest.raises(BadSubjectError):
        await nc.subscribe("b" * 2050, queue="q" * 2050)
    with pytest.raises(BadSubjectError):
        await nc.request("c" * 4100, b"", timeout=1)
    await nc.flush(timeout=2)
    assert nc.is_connected and nc.last_error is None
    assert all(len(s.subject) < 4096 for s in nc._subs.values())


async def test_server_max_payload_above_default(server_factory):
    # The parser's limit follows INFO: a 3 MiB message must not be refused as oversized.
    srv = server_factory("max_payload: 4194304", jetstream=False)
    nc = await protocol.connect(srv.url)
    try:
        assert nc.max_payload == 4194304
        sub = await nc.subscribe("big")
        payload = os.urandom(3 * 1024 * 1024)
        await nc.publish("big", payload, headers={"K": "v"})
        msg = await sub.next_msg(10)
        assert msg.data == payload and msg.headers["K"] == "v"
    finally:
        await nc.close()


async def test_max_payload_counts_header_bytes(server_factory):
    srv = server_factory("max_payload: 2048", jetstream=False)
    errors: list = []
    nc = await protocol.connect(srv.url, error_cb=errors.append)
    try:
        assert nc.max_payload == 2048
        sub = await nc.subscribe("mp")
        hdr = {"A": "b"}
        hlen = len(encode_headers(hdr))
        await nc.publish("mp", b"x" * 2048)
        await nc.publish("mp", b"y" * (2048 - hlen), headers=hdr)
        with pytest.raises(MaxPayloadError):
            await nc.publish("mp", b"z" * 2049)
        with pytest.raises(MaxPayloadError) as info:
            await nc.publish("mp", b"z" * (2048 - hlen + 1), headers=hdr)
        assert isinstance(info.value, ValueError)
        with pytest.raises(MaxPayloadError):
            await nc.request("mp", b"z" * 4096, timeout=1)
        await nc.publish("mp", b"after")
        await nc.flush(timeout=2)
        msgs = await take(sub, 3)
        assert [len(m.data) for m in msgs] == [2048, 2048 - hlen, 5]
        assert nc.is_connected and not errors
    finally:
        await nc.close()


# Malformed server input ------------------------------------------------------------------------


async def test_garbage_after_valid_frames_closes_with_protocol_error(fake):
    srv = await fake()
    errors: list = []
    nc = await protocol.connect(srv.url, allow_reconnect=False, error_cb=errors.append)
    try:
        sub = await nc.subscribe("foo")
        await srv.wait_for(b"SUB foo 1\r\n")
        srv.send(build_msg("foo", 1, b"hi") + build_msg("foo", 1, b"there", "r") + b"GARBAGE\r\n")
        assert (await sub.next_msg(2)).data == b"hi"  # frames before the bad bytes are delivered
        assert (await sub.next_msg(2)).reply == "r"
        with pytest.raises(ProtocolError):
            await asyncio.wait_for(sub.__anext__(), 2)
        await _wait_closed(nc)
        assert isinstance(nc.last_error, ProtocolError)
        assert any(isinstance(e, ProtocolError) for e in errors)
        with pytest.raises(ConnectionClosedError):
            await nc.publish("foo", b"x")
    finally:
        await nc.close()


async def test_announced_size_above_inbound_limit_fails_at_once(fake):
    # INFO.max_payload bounds what we publish; incoming frames are bounded by the connection's
    # inbound limit (64 MiB), so a bigger announced size fails before any byte is buffered.
    srv = await fake(info={"server_id": "F", "headers": True, "max_payload": 1024})
    nc = await protocol.connect(srv.url, allow_reconnect=False)
    try:
        assert nc.max_payload == 1024
        sub = await nc.subscribe("foo")
        await srv.wait_for(b"SUB foo 1\r\n")
        srv.send(b"MSG foo 1 5000\r\n" + b"x" * 5000 + b"\r\n")  # above max_payload: accepted
        assert (await asyncio.wait_for(sub.__anext__(), 2)).data == b"x" * 5000
        srv.send(b"MSG foo 1 %d\r\n" % (64 * 1024 * 1024 + 1))  # those bytes never come
        await _wait_closed(nc, 2)
        assert isinstance(nc.last_error, ProtocolError)
        with pytest.raises(ProtocolError):
            await asyncio.wait_for(sub.__anext__(), 2)
    finally:
        await nc.close()


async def test_async_info_updates_limits(fake):
    srv = await fake()
    nc = await protocol.connect(srv.url, allow_reconnect=False)
    try:
        info = dict(srv.info, max_payload=2048)
        srv.send(build_info(info) + b"PING\r\n")
        srv.received.clear()
        await srv.wait_for(b"PONG\r\n", 2)  # the INFO before the PING has been applied
        assert nc.max_payload == 2048 and nc.server_info["max_payload"] == 2048
        with pytest.raises(protocol.MaxPayloadError):
            await nc.publish("x", b"a" * 2049)
    finally:
        await nc.close()


async def test_server_lines_longer_than_4096_are_accepted(fake):
    # The 4096 limit is on what clients send; the server's INFO (connect_urls of a big cluster)
    # and MSG lines (a 4090-byte subject plus sid, JetStream ack replies) can be longer.
    urls = [f"10.0.{i // 250}.{i % 250}:4222" for i in range(600)]
    srv = await fake(info={"server_id": "F", "headers": True, "max_payload": 1048576, "connect_urls": urls})
    assert len(build_info(srv.info)) > 10_000
    nc = await protocol.connect(srv.url, allow_reconnect=False)
    try:
        assert len(nc.server_info["connect_urls"]) == 600
        sub = await nc.subscribe("s.>")
        await srv.wait_for(b"SUB s.> 1\r\n")
        subject, reply = "s." + "x" * 4088, "$JS.ACK." + "y" * 1000
        srv.send(build_msg(subject, 1, b"p", reply))
        msg = await sub.next_msg(2)
        assert (msg.subject, msg.reply, msg.data) == (subject, reply, b"p")
        srv.send(b"MSG s.x 1 " + b"z" * 70_000)  # but a line is not allowed to grow forever
        await _wait_closed(nc)
        assert isinstance(nc.last_error, ProtocolError)
    finally:
        await nc.close()


async def test_server_err_closes_connection(fake):
    srv = await fake()
    nc = await protocol.connect(srv.url, allow_reconnect=False)
    try:
        srv.send(build_err("Unknown Protocol Operation"))
        await _wait_closed(nc)
        assert isinstance(nc.last_error, ServerError)
        assert nc.last_error.text == "Unknown Protocol Operation"
    finally:
        await nc.close()


@pytest.mark.parametrize(
    "greeting",
    [b"INFO [1,2]\r\n", b"INFO {nope\r\n", b"HELLO\r\n", b"PONG\r\n", b"X" * 5000],
)
async def test_bad_greeting_fails_connect(fake, greeting):
    srv = await fake(greeting=greeting)
    t0 = time.monotonic()
    with pytest.raises(NoServersError):
        await protocol.connect(srv.url, allow_reconnect=False, connect_timeout=1)
    assert time.monotonic() - t0 < 3


async def test_connect_json_sent(fake):
    srv = await fake()
    nc = await protocol.connect(srv.url, name="me", allow_reconnect=False)
    try:
        line = bytes(srv.received).split(b"\r\n", 1)[0]
        assert line.startswith(b"CONNECT {") and b" " not in line[8:]
        opts = json.loads(line[8:])
        assert opts["name"] == "me" and opts["headers"] is True and opts["no_responders"] is True
        assert opts["verbose"] is False and opts["pedantic"] is False and opts["protocol"] == 1
    finally:
        await nc.close()
