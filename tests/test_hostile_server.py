"""A buggy or hostile server cannot exhaust the client (issue 10, point 5).

No real nats-server sends these bytes, so :class:`CraftedServer` below is a real asyncio TCP
listener on 127.0.0.1 that sends crafted INFO / MSG bytes (the only fake server this suite allows).
The rules under test (``protocol.handshake``):

- INFO ``max_payload``: missing -> 1 MiB; zero, negative, not an int -> ``ProtocolError`` at
  connect (no CONNECT, no PUB sent) and, in a later INFO, the INFO refused and the connection
  handled as broken; above 64 MiB -> clamped to 64 MiB.
- Inbound frame cap: ``max_inbound_frame`` (default 64 MiB), lowered by INFO to
  ``max(max_payload + 64 KiB, max_inbound_frame // 2)``, never raised; an announced size above it
  is a ``ProtocolError`` from the control line alone, before any body byte.

Plus sans-I/O parser tests (bytes in, frames or ``ProtocolError`` out) and a real nats-server
with default options. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest

import protocol
from frames_factory import build_hmsg, build_info, build_msg, header_block
from protocol import MaxPayloadError, ProtocolError
from protocol.errors import InvalidOptionError, NatsError
from protocol.frames import PING_FRAME, Msg
from protocol.handshake import MAX_PAYLOAD_BOUND, inbound_cap, outbound_limit
from protocol.parser import Parser

pytestmark = pytest.mark.timeout(60)

MiB = 1024 * 1024
KiB = 1024
DEFAULT_CAP = 64 * MiB
GOOD_INFO = {"server_id": "CRAFTED", "version": "2.10.0", "proto": 1, "headers": True, "max_payload": MiB}


def _info(**changes) -> dict:
    info = dict(GOOD_INFO)
    for k, v in changes.items():
        if v is _MISSING:
            info.pop(k, None)
        else:
            info[k] = v
    return info


_MISSING = object()


class CraftedServer:
    """Accepts connections; on each, sends the next INFO of ``infos`` (the last one repeats),
    answers the handshake PING with PONG, then sends what the test says (``send``)."""

    def __init__(self, infos: list) -> None:
        self.infos = infos
        self.accepted = 0
        self.received: list[bytearray] = []  # what each connection's client sent
        self.ready: asyncio.Queue = asyncio.Queue()
        self.writer: asyncio.StreamWriter | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> "CraftedServer":
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._tasks.add(asyncio.current_task())
        self._writers.append(writer)
        n = self.accepted
        self.accepted += 1
        got = bytearray()
        self.received.append(got)
        info = self.infos[min(n, len(self.infos) - 1)]
        writer.write(info if isinstance(info, bytes) else build_info(info))
        try:
            while b"PING\r\n" not in got:
                data = await reader.read(65536)
                if not data:
                    return
                got += data
            writer.write(b"PONG\r\n")
            self.writer = writer
            self.ready.put_nowait(writer)
            while True:  # keep reading what the client sends
                data = await reader.read(65536)
                if not data:
                    return
                got += data
        except (ConnectionError, asyncio.CancelledError):
            return

    async def next_connection(self, timeout: float = 5.0) -> asyncio.StreamWriter:
        return await asyncio.wait_for(self.ready.get(), timeout)

    async def close(self) -> None:
        for w in self._writers:
            w.close()
        for t in list(self._tasks):
            t.cancel()
        self._server.close()
        await self._server.wait_closed()


@pytest.fixture
async def crafted():
    servers: list[CraftedServer] = []

    async def make(*infos) -> CraftedServer:
        srv = await CraftedServer(list(infos)).start()
        servers.append(srv)
        return srv

    try:
        yield make
    finally:
        for srv in servers:
            await srv.close()


async def _until(pred, timeout: float = 5.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


# max_payload from INFO: the pure rule ---------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [(_MISSING, MiB), (1, 1), (MiB, MiB), (8 * MiB, 8 * MiB), (MAX_PAYLOAD_BOUND, MAX_PAYLOAD_BOUND),
     (MAX_PAYLOAD_BOUND + 1, MAX_PAYLOAD_BOUND), (2**62, MAX_PAYLOAD_BOUND), (10**30, MAX_PAYLOAD_BOUND)],
)
def test_outbound_limit_accepted_and_clamped(value, expected):
    assert outbound_limit(_info(max_payload=value)) == expected


BAD_MAX_PAYLOADS = [0, -1, -(2**63), True, False, 1048576.0, 1.5, float("inf"), "1048576", None, [], {}]


@pytest.mark.parametrize("value", BAD_MAX_PAYLOADS, ids=repr)
def test_outbound_limit_refuses_invalid(value):
    with pytest.raises(ProtocolError, match="max_payload"):
        outbound_limit({"max_payload": value})


def test_inbound_cap_rule():
    # Lowered by a small max_payload, but never below half the option ...
    assert inbound_cap(DEFAULT_CAP, MiB) == 32 * MiB
    assert inbound_cap(DEFAULT_CAP, 1) == 32 * MiB
    # ... follows a large one (plus header slack) ...
    assert inbound_cap(DEFAULT_CAP, 48 * MiB) == 48 * MiB + 64 * KiB
    # ... and never above the option.
    assert inbound_cap(DEFAULT_CAP, MAX_PAYLOAD_BOUND) == DEFAULT_CAP
    assert inbound_cap(128 * KiB, MAX_PAYLOAD_BOUND) == 128 * KiB
    assert inbound_cap(256 * MiB, MiB) == 128 * MiB


@pytest.mark.parametrize("value", [0, -1, 1000, 1.5e6, True, "64MiB", None])
async def test_max_inbound_frame_option_validated(value):
    with pytest.raises(InvalidOptionError) as info:
        await protocol.connect("nats://127.0.0.1:1", max_inbound_frame=value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, NatsError)


# max_payload from INFO: against a crafted server ---------------------------------------------


@pytest.mark.parametrize("value", BAD_MAX_PAYLOADS, ids=repr)
async def test_invalid_max_payload_refused_at_connect(crafted, value):
    srv = await crafted(_info(max_payload=value))
    with pytest.raises(ProtocolError, match="max_payload"):
        await protocol.connect(srv.url, allow_reconnect=False, connect_timeout=2)
    # Refused on the INFO itself: not even CONNECT was sent, let alone a message.
    await _until(lambda: srv.accepted == 1, what="the connection")
    assert b"CONNECT" not in bytes(srv.received[0]) and b"PUB" not in bytes(srv.received[0])


async def test_unparsable_max_payload_refused_at_connect(crafted):
    # JSON the parser maps to a float (1e400 -> inf) or that has an absurd exponent.
    srv = await crafted(b'INFO {"server_id":"X","headers":true,"max_payload":1e400}\r\n')
    with pytest.raises(ProtocolError, match="max_payload"):
        await protocol.connect(srv.url, allow_reconnect=False)


async def test_missing_max_payload_means_the_protocol_default(crafted):
    srv = await crafted(_info(max_payload=_MISSING))
    nc = await protocol.connect(srv.url, allow_reconnect=False)
    try:
        assert nc.max_payload == MiB
        assert nc._session.parser.max_payload == 32 * MiB
        with pytest.raises(MaxPayloadError):
            await nc.publish("x", b"a" * (MiB + 1))
        await nc.publish("x", b"a" * MiB)
    finally:
        await nc.close()


@pytest.mark.parametrize("value", [MAX_PAYLOAD_BOUND + 1, 2**62, 10**30])
async def test_absurd_max_payload_clamped(crafted, value):
    srv = await crafted(_info(max_payload=value))
    nc = await protocol.connect(srv.url, allow_reconnect=False)
    try:
        assert nc.max_payload == MAX_PAYLOAD_BOUND
        assert nc._session.parser.max_payload == DEFAULT_CAP
        with pytest.raises(MaxPayloadError):
            await nc.publish("x", memoryview(bytes(MAX_PAYLOAD_BOUND + 1)))
    finally:
        await nc.close()


@pytest.mark.parametrize("value", [0, -5, True, "big", None, 2.0])
async def test_invalid_max_payload_in_async_info_breaks_the_connection(crafted, value):
    srv = await crafted(GOOD_INFO)
    errors: list[BaseException] = []
    nc = await protocol.connect(srv.url, allow_reconnect=False, error_cb=errors.append)
    try:
        writer = await srv.next_connection()
        writer.write(build_info(_info(max_payload=value, connect_urls=["10.9.9.9:4222"])))
        await _until(lambda: nc.is_closed, what="the connection closed")
        assert isinstance(nc.last_error, ProtocolError) and "max_payload" in str(nc.last_error)
        assert any(isinstance(e, ProtocolError) for e in errors)
        # Refused whole: nothing of that INFO was applied.
        assert nc.max_payload == MiB and nc.server_info["max_payload"] == MiB
        assert "nats://10.9.9.9:4222" not in nc.servers
    finally:
        await nc.close()


async def test_invalid_async_info_then_reconnect_per_options(crafted):
    # The second connection gets a good INFO again: the client reconnects and works.
    srv = await crafted(GOOD_INFO, _info(max_payload=4 * MiB))
    events: list[str] = []
    nc = await protocol.connect(
        srv.url, reconnect_time_wait=0.05, reconnect_jitter=0.0, error_cb=lambda e: events.append(type(e).__name__),
        reconnected_cb=lambda: events.append("reconnected"),
    )
    try:
        writer = await srv.next_connection()
        writer.write(build_info(_info(max_payload=-1)))
        await _until(lambda: "reconnected" in events, what="the reconnect")
        assert "ProtocolError" in events
        assert nc.is_connected and nc.max_payload == 4 * MiB and nc.reconnects == 1
    finally:
        await nc.close()


async def test_async_info_with_a_valid_max_payload_still_applies(crafted):
    srv = await crafted(_info(max_payload=48 * MiB))
    nc = await protocol.connect(srv.url, allow_reconnect=False)
    try:
        assert nc._session.parser.max_payload == 48 * MiB + 64 * KiB
        writer = await srv.next_connection()
        writer.write(build_info(_info(max_payload=2048)) + b"PING\r\n")
        await _until(lambda: b"PONG\r\n" in bytes(srv.received[0]), what="the PONG")
        assert nc.max_payload == 2048 and nc._session.parser.max_payload == 32 * MiB  # lowered by INFO
        with pytest.raises(MaxPayloadError):
            await nc.publish("x", b"a" * 2049)
    finally:
        await nc.close()


# Inbound frame cap against a crafted server ---------------------------------------------------


async def _refused_without_body(srv: CraftedServer, nc, control_line: bytes) -> None:
    """Send only ``control_line`` (the body never comes): the client must fail on it alone."""
    writer = await srv.next_connection()
    sub = await nc.subscribe("big")
    await _until(lambda: b"SUB big" in bytes(srv.received[-1]), what="the SUB")
    writer.write(control_line)
    await _until(lambda: nc.is_closed, what="the ProtocolError")
    assert isinstance(nc.last_error, ProtocolError) and "inbound frame cap" in str(nc.last_error)
    with pytest.raises(ProtocolError):
        await asyncio.wait_for(sub.next_msg(timeout=2), 5)


async def test_frame_above_the_option_refused_before_its_body(crafted):
    srv = await crafted(GOOD_INFO)
    nc = await protocol.connect(srv.url, allow_reconnect=False, max_inbound_frame=128 * KiB)
    try:
        assert nc._session.parser.max_payload == 128 * KiB  # the INFO's 1 MiB cannot raise it
        writer = await srv.next_connection()
        sub = await nc.subscribe("big")
        await _until(lambda: b"SUB big" in bytes(srv.received[0]), what="the SUB")
        writer.write(build_msg("big", 1, b"x" * (128 * KiB)))  # exactly the cap: accepted
        assert len((await sub.next_msg(timeout=5)).data) == 128 * KiB
        writer.write(b"MSG big 1 %d\r\n" % (128 * KiB + 1))
        await _until(lambda: nc.is_closed, what="the ProtocolError")
        assert isinstance(nc.last_error, ProtocolError)
    finally:
        await nc.close()


async def test_frame_lowered_by_info_refused_before_its_body(crafted):
    # Option 64 MiB, server max_payload 1 KiB: the cap is 32 MiB, so 33 MiB is refused although
    # the option alone would allow it; 5000 bytes (above max_payload, as server-built replies
    # can be) still pass.
    srv = await crafted(_info(max_payload=1024))
    nc = await protocol.connect(srv.url, allow_reconnect=False)
    try:
        assert nc._session.parser.max_payload == 32 * MiB
        writer = await srv.next_connection()
        sub = await nc.subscribe("big")
        await _until(lambda: b"SUB big" in bytes(srv.received[0]), what="the SUB")
        writer.write(build_msg("big", 1, b"y" * 5000))
        assert len((await sub.next_msg(timeout=5)).data) == 5000
        writer.write(b"MSG big 1 %d\r\n" % (33 * MiB))
        await _until(lambda: nc.is_closed, what="the ProtocolError")
        assert "inbound frame cap of 33554432" in str(nc.last_error)
    finally:
        await nc.close()


async def test_huge_announced_msg_refused_without_body(crafted):
    srv = await crafted(GOOD_INFO)
    nc = await protocol.connect(srv.url, allow_reconnect=False)
    try:
        await _refused_without_body(srv, nc, b"MSG big 1 %d\r\n" % (2**62))
    finally:
        await nc.close()


async def test_huge_announced_hmsg_refused_without_body(crafted):
    srv = await crafted(GOOD_INFO)
    nc = await protocol.connect(srv.url, allow_reconnect=False, max_inbound_frame=256 * KiB)
    try:
        await _refused_without_body(srv, nc, b"HMSG big 1 r 12 %d\r\n" % (256 * KiB + 1))
    finally:
        await nc.close()


async def test_oversized_frame_reconnects_per_options(crafted):
    srv = await crafted(GOOD_INFO)
    events: list[str] = []
    nc = await protocol.connect(
        srv.url, reconnect_time_wait=0.05, reconnect_jitter=0.0, max_inbound_frame=128 * KiB,
        disconnected_cb=lambda: events.append("disconnected"), reconnected_cb=lambda: events.append("reconnected"),
    )
    try:
        writer = await srv.next_connection()
        writer.write(b"MSG big 1 %d\r\n" % (10 * MiB))
        await _until(lambda: "reconnected" in events, what="the reconnect")
        assert isinstance(nc.last_error, ProtocolError) and nc.is_connected
        # The new connection works.
        writer = await srv.next_connection()
        sub = await nc.subscribe("ok")
        await _until(lambda: b"SUB ok" in bytes(srv.received[-1]), what="the SUB")
        writer.write(build_msg("ok", sub.sid, b"fine"))
        assert (await sub.next_msg(timeout=5)).data == b"fine"
    finally:
        await nc.close()


# Sans-I/O: the parser's cap -------------------------------------------------------------------


def test_parser_refuses_from_the_control_line_alone():
    p = Parser(max_control_line=4096, max_payload=1000)
    with pytest.raises(ProtocolError, match="inbound frame cap of 1000") as info:
        p.feed(b"PING\r\nMSG a 1 1001\r\n")
    assert info.value.frames == [PING_FRAME] and p.buffered == 0
    p = Parser(max_control_line=4096, max_payload=1000)
    with pytest.raises(ProtocolError, match="HMSG"):
        p.feed(b"HMSG a 1 12 1001\r\n")
    assert p.buffered == 0


def test_parser_refuses_a_control_line_arriving_in_pieces():
    p = Parser(max_control_line=4096, max_payload=1000)
    line = b"MSG a.b 7 99999999999\r\n"
    for byte in line[:-1]:
        assert p.feed(bytes([byte])) == []
    with pytest.raises(ProtocolError):
        p.feed(line[-1:])
    assert p.buffered == 0


def test_parser_cap_is_inclusive_and_counts_headers():
    hdr = header_block([("A", "b")])
    payload = b"z" * (100 - len(hdr))
    assert Parser(max_payload=100).feed(build_hmsg("s", 1, hdr, payload)) == [Msg("s", 1, "", payload, hdr)]
    with pytest.raises(ProtocolError):
        Parser(max_payload=99).feed(build_hmsg("s", 1, hdr, payload))
    assert Parser(max_payload=100).feed(build_msg("s", 1, b"q" * 100)) == [Msg("s", 1, "", b"q" * 100)]


def test_parser_cap_lowered_between_feeds_applies_to_the_next_frame():
    p = Parser(max_payload=DEFAULT_CAP)
    assert len(p.feed(build_msg("s", 1, b"x" * 5000))) == 1
    p.max_payload = inbound_cap(DEFAULT_CAP, 1024)
    assert p.max_payload == 32 * MiB
    with pytest.raises(ProtocolError):
        p.feed(b"MSG s 1 %d\r\n" % (32 * MiB + 1))


def test_parser_retains_at_most_the_cap():
    # A frame at the cap arriving in pieces is parked, never more than cap + line + CRLF.
    cap = 64 * KiB
    p = Parser(max_payload=cap)
    data = build_msg("s", 1, os.urandom(cap))
    got = []
    for i in range(0, len(data), 7000):
        got += p.feed(data[i : i + 7000])
        assert p.buffered <= p.max_control_line + cap + 4
    assert len(got) == 1 and len(got[0].data) == cap


# A real nats-server with default options ------------------------------------------------------


async def test_real_server_with_default_options(nats_url):
    nc = await protocol.connect(nats_url)
    try:
        assert nc.max_payload == MiB
        assert nc._session.parser.max_payload == inbound_cap(DEFAULT_CAP, MiB) == 32 * MiB
        sub = await nc.subscribe("big")
        payload = os.urandom(MiB)
        await nc.publish("big", payload)
        assert (await sub.next_msg(timeout=5)).data == payload
        reply = await nc.request("$JS.API.INFO", b"", timeout=5)
        assert json.loads(reply.data)["type"] == "io.nats.jetstream.api.v1.account_info_response"
        await nc.flush()
        assert nc.is_connected and nc.last_error is None
    finally:
        await nc.close()


# A remembered auth error is forgotten once a connection stayed up ---------------------------------
async def test_same_auth_error_much_later_reconnects_again(crafted, monkeypatch):
    """The same auth error twice in a row from one server closes the connection (bad credentials
    for good); after a connection that stayed up AUTH_ERROR_RESET_AFTER seconds it is a new
    incident, and the client reconnects."""
    monkeypatch.setattr(protocol.session, "AUTH_ERROR_RESET_AFTER", 0.2)
    srv = await crafted(GOOD_INFO)
    events: list[str] = []
    nc = await protocol.connect(
        srv.url, reconnect_time_wait=0.05, reconnect_jitter=0.0,
        reconnected_cb=lambda: events.append("reconnected"), closed_cb=lambda: events.append("closed"),
    )
    try:
        for n in range(1, 4):
            writer = await srv.next_connection()
            await asyncio.sleep(0.3)  # "much later": past the reset interval
            writer.write(b"-ERR 'Authorization Violation'\r\n")
            await _until(lambda: events.count("reconnected") == n or "closed" in events, what=f"reconnect {n}")
            assert "closed" not in events and nc.is_connected
    finally:
        await nc.close()


async def test_same_auth_error_right_after_connecting_closes(crafted, monkeypatch):
    """The same auth error again right after a reconnect (an expired JWT accepted in its last
    second): the credentials are bad, the client gives up instead of looping."""
    monkeypatch.setattr(protocol.session, "AUTH_ERROR_RESET_AFTER", 5.0)
    srv = await crafted(GOOD_INFO)
    events: list[str] = []
    nc = await protocol.connect(
        srv.url, reconnect_time_wait=0.05, reconnect_jitter=0.0,
        reconnected_cb=lambda: events.append("reconnected"), closed_cb=lambda: events.append("closed"),
    )
    try:
        (await srv.next_connection()).write(b"-ERR 'Authorization Violation'\r\n")
        (await srv.next_connection()).write(b"-ERR 'Authorization Violation'\r\n")
        await _until(lambda: "closed" in events, what="the close")
        assert events.count("reconnected") == 1 and nc.is_closed
    finally:
        await nc.close()


async def test_frames_after_a_fatal_error_in_the_same_read_are_dropped(crafted):
    """The server closes the connection after a fatal -ERR; anything after it in the same read
    belongs to a dead transport. A second auth error there (an expiring JWT sends two) is not
    counted again, or it would pass for a failed reconnect and end the connection."""
    srv = await crafted(GOOD_INFO)
    errors: list[BaseException] = []
    events: list[str] = []
    nc = await protocol.connect(
        srv.url, reconnect_time_wait=0.05, reconnect_jitter=0.0, error_cb=errors.append,
        reconnected_cb=lambda: events.append("reconnected"), closed_cb=lambda: events.append("closed"),
    )
    try:
        writer = await srv.next_connection()
        writer.write(b"-ERR 'User Authentication Expired'\r\n-ERR 'User Authentication Expired'\r\n")
        await _until(lambda: "reconnected" in events or "closed" in events, what="the reconnect")
        assert events == ["reconnected"] and nc.is_connected
        assert [str(e) for e in errors] == ["User Authentication Expired"]
    finally:
        await nc.close()
