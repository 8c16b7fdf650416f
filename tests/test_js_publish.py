"""``jetstream.Publisher`` (pipelined publish with a bounded window of in-flight acks) against a
real nats-server, plus fake "streams" (plain responders) for the retry paths.

Every test that could hang on a publisher bug is bounded with ``asyncio.wait_for``.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, AsyncIterator

import pytest

import jetstream
import protocol
from jetstream import errors as E

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[protocol.Connection]:
    conn = await protocol.connect(nats_url, allow_reconnect=False)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
def js(nc: protocol.Connection) -> jetstream.JetStream:
    return jetstream.JetStream(nc)


# --------------------------------------------------------------------------------------------------
# A full window run


async def test_window_10k_messages(js: jetstream.JetStream) -> None:
    await js.add_stream(name="W", subjects=["w.>"], storage="memory")
    n = 10_000
    max_msgs, max_bytes = 200, 64 * 1024
    payloads = [b"p" * (10 + (i * 37) % 2000) for i in range(n)]
    samples: list[tuple[int, int]] = []
    stop = asyncio.Event()

    async def run() -> jetstream.Publisher:
        async with js.publisher(max_pending_msgs=max_msgs, max_pending_bytes=max_bytes) as pub:

            async def sampler() -> None:
                while not stop.is_set():
                    samples.append((pub.pending, pub.pending_bytes))
                    await asyncio.sleep(0)

            task = asyncio.get_running_loop().create_task(sampler())
            try:
                for i, data in enumerate(payloads):
                    await pub.publish(f"w.{i % 7}", data)
                    samples.append((pub.pending, pub.pending_bytes))
            finally:
                stop.set()
                await task
        return pub

    pub = await asyncio.wait_for(run(), 30)
    assert pub.error is None
    assert pub.acked == n
    assert pub.acked_bytes == sum(len(p) for p in payloads)
    assert pub.pending == 0 and pub.pending_bytes == 0
    assert pub.last_seq == n and pub.stream == "W"
    assert pub.duplicates == 0
    info = await js.stream_info("W")
    assert info.state.messages == n and info.state.last_seq == n
    # the window bounds held at every sample, and the window was really used (pipelining)
    assert max(p for p, _ in samples) <= max_msgs
    assert max(b for _, b in samples) <= max_bytes
    assert max(p for p, _ in samples) > 10
    # order is preserved: spot-check payload sizes against sequence numbers
    for seq in (1, 2, 777, n):
        assert (await js.get_msg("W", seq)).data == payloads[seq - 1]


async def test_window_message_bound(js: jetstream.JetStream) -> None:
    await js.add_stream(name="WM", subjects=["wm"], storage="memory")
    peak = 0
    async with js.publisher(max_pending_msgs=8) as pub:
        for _ in range(500):
            await pub.publish("wm", b"x")
            peak = max(peak, pub.pending)
    assert peak <= 8 and pub.acked == 500 and pub.last_seq == 500


async def test_message_larger_than_byte_window_still_goes(js: jetstream.JetStream) -> None:
    await js.add_stream(name="BIG", subjects=["big"], storage="memory")
    async with js.publisher(max_pending_bytes=1000) as pub:
        for _ in range(5):
            await pub.publish("big", b"b" * 5000)  # alone in the window each time
            assert pub.pending_bytes <= 5000
    assert pub.acked == 5


async def test_publisher_with_headers_and_explicit_start(js: jetstream.JetStream) -> None:
    await js.add_stream(name="H", subjects=["h"], storage="memory")
    pub = js.publisher()
    await pub.start()
    try:
        await pub.publish("h", b"1", headers={"X-A": "a"})
        await pub.publish("h", bytearray(b"2"))
        await pub.wait(5)
    finally:
        await pub.close()
    m = await js.get_msg("H", 1)
    assert b"X-A: a" in m.headers
    assert (await js.get_msg("H", 2)).data == b"2"


async def test_invalid_window_rejected(js: jetstream.JetStream) -> None:
    with pytest.raises(ValueError):
        js.publisher(max_pending_msgs=0)
    with pytest.raises(ValueError):
        js.publisher(max_pending_bytes=0)


# --------------------------------------------------------------------------------------------------
# Errors mid-window


async def test_stream_limit_reported_on_exit(js: jetstream.JetStream) -> None:
    """The window holds everything: all 300 are written before any ack, the error comes at exit."""
    await js.add_stream(name="LIM", subjects=["lim"], storage="memory", max_msgs=100, discard="new")
    published = 0

    async def run() -> None:
        nonlocal published
        async with js.publisher(max_pending_msgs=4096) as pub:
            for _ in range(300):
                await pub.publish("lim", b"x")
                published += 1

    with pytest.raises(E.StoreFailedError) as ei:
        await asyncio.wait_for(run(), 10)
    assert published == 300
    assert ei.value.err_code == 10077
    assert (await js.stream_info("LIM")).state.messages == 100


async def test_stream_limit_reported_by_later_publish(js: jetstream.JetStream) -> None:
    """With a small window the first failed ack surfaces from a later ``publish()`` call."""
    await js.add_stream(name="LIM", subjects=["lim"], storage="memory", max_msgs=100, discard="new")
    published = 0
    raised_in_loop = False

    async def run() -> None:
        nonlocal published, raised_in_loop
        async with js.publisher(max_pending_msgs=10) as pub:
            try:
                for _ in range(1000):
                    await pub.publish("lim", b"x")
                    published += 1
            except E.StoreFailedError:
                raised_in_loop = True
                assert pub.error is not None
                with pytest.raises(E.StoreFailedError):  # and again on every later call
                    await pub.publish("lim", b"x")
                raise

    with pytest.raises(E.StoreFailedError):
        await asyncio.wait_for(run(), 10)
    assert raised_in_loop
    assert 100 < published < 1000
    assert (await js.stream_info("LIM")).state.messages == 100


async def test_max_bytes_discard_new(js: jetstream.JetStream) -> None:
    await js.add_stream(name="MB", subjects=["mb"], storage="memory", max_bytes=20_000, discard="new")

    async def run() -> None:
        async with js.publisher(max_pending_msgs=16) as pub:
            for _ in range(200):
                await pub.publish("mb", b"z" * 1000)

    with pytest.raises(E.StoreFailedError):
        await asyncio.wait_for(run(), 10)
    info = await js.stream_info("MB")
    assert 0 < info.state.messages < 200 and info.state.bytes <= 20_000


async def test_message_size_error_in_window(js: jetstream.JetStream) -> None:
    await js.add_stream(name="MS", subjects=["ms"], storage="memory", max_msg_size=100)

    async def run() -> None:
        async with js.publisher() as pub:
            await pub.publish("ms", b"ok")
            await pub.publish("ms", b"x" * 500)
            await pub.publish("ms", b"ok")

    with pytest.raises(E.MessageSizeExceedsError):
        await asyncio.wait_for(run(), 10)


async def test_error_inside_block_does_not_hang(js: jetstream.JetStream) -> None:
    await js.add_stream(name="X", subjects=["x"], storage="memory")

    async def run() -> None:
        async with js.publisher() as pub:
            for _ in range(100):
                await pub.publish("x", b"1")
            raise RuntimeError("user code failed")

    with pytest.raises(RuntimeError, match="user code failed"):
        await asyncio.wait_for(run(), 10)


# --------------------------------------------------------------------------------------------------
# Retries


async def test_retry_503_until_stream_exists(js: jetstream.JetStream) -> None:
    """Publishing starts before the stream exists: 503s are retried, everything lands."""

    async def create_later() -> None:
        await asyncio.sleep(0.3)
        await js.add_stream(name="LATE", subjects=["late.>"], storage="memory")

    async def run() -> jetstream.Publisher:
        async with js.publisher(retries=20, retry_wait=0.1) as pub:
            for i in range(50):
                await pub.publish(f"late.{i}", b"%d" % i)
        return pub

    creator = asyncio.get_running_loop().create_task(create_later())
    pub = await asyncio.wait_for(run(), 15)
    await creator
    assert pub.acked == 50 and pub.stream == "LATE"
    info = await js.stream_info("LATE", subjects_filter=">")
    assert info.state.messages == 50
    assert set(info.state.subjects or {}) == {f"late.{i}" for i in range(50)}


async def test_messages_awaiting_retry_keep_their_window_slot(js: jetstream.JetStream) -> None:
    """While the stream is missing, 503'd messages wait for a resend: they must still count
    against the window, or a fast producer would pile up unbounded retry state."""
    window = 10
    published = 0
    peak = 0

    async def producer(pub: jetstream.Publisher) -> None:
        nonlocal published, peak
        for i in range(200):
            await pub.publish(f"gap.{i}", b"g" * 100)
            published += 1
            peak = max(peak, pub.pending)

    async def run() -> jetstream.Publisher:
        nonlocal peak
        async with js.publisher(max_pending_msgs=window, max_pending_bytes=10_000, retries=200, retry_wait=0.01) as pub:
            task = asyncio.get_running_loop().create_task(producer(pub))
            for _ in range(40):  # ~0.4 s of 503 round trips and resends
                await asyncio.sleep(0.01)
                peak = max(peak, pub.pending)
                assert pub.pending_bytes <= 10_000
            assert published <= window
            await js.add_stream(name="GAP", subjects=["gap.>"], storage="memory")
            await task
        return pub

    pub = await asyncio.wait_for(run(), 20)
    assert published == 200 and pub.acked == 200
    assert peak <= window
    assert pub.pending == 0 and pub.pending_bytes == 0
    assert (await js.stream_info("GAP")).state.messages == 200


async def test_no_stream_fails_after_retries(js: jetstream.JetStream) -> None:
    async def run() -> None:
        async with js.publisher(retries=2, retry_wait=0.05, timeout=30.0) as pub:
            await pub.publish("nobody.home", b"x")

    t0 = time.monotonic()
    with pytest.raises(E.NoStreamResponseError):
        await asyncio.wait_for(run(), 50)
    assert time.monotonic() - t0 < 10  # three 503s, not the 30 s ack timeout


async def test_idempotent_mode_adds_msg_ids(js: jetstream.JetStream) -> None:
    await js.add_stream(name="ID", subjects=["id"], storage="memory")
    async with js.publisher(idempotent=True) as pub:
        for i in range(20):
            await pub.publish("id", b"%d" % i)
    ids = set()
    for seq in range(1, 21):
        hdrs = protocol.parse_headers((await js.get_msg("ID", seq)).headers)
        ids.add(hdrs["Nats-Msg-Id"])
    assert len(ids) == 20
    # explicit ids are kept; a repeated id is a duplicate, not a new message
    async with js.publisher(idempotent=True) as pub:
        await pub.publish("id", b"a", msg_id="fixed-1")
        await pub.publish("id", b"a", msg_id="fixed-1")
        await pub.publish("id", b"b", msg_id="fixed-2")
    assert pub.acked == 3 and pub.duplicates == 1
    assert (await js.stream_info("ID")).state.messages == 22
    # without idempotent mode no id is added
    async with js.publisher() as pub:
        await pub.publish("id", b"plain")
    assert (await js.get_msg("ID", 23)).headers == b""


async def _fake_stream(nc: protocol.Connection, subject: str, behave: Any) -> tuple[Any, list]:
    """A plain responder that plays a stream: ``behave(msg, nth_delivery_of_this_id)`` returns the
    reply JSON (dict) or None to stay silent."""
    seen: dict[str, int] = {}
    log: list = []
    seq = 0

    async def cb(msg: protocol.Msg) -> None:
        nonlocal seq
        key = (msg.headers or {}).get("Nats-Msg-Id") or msg.data.decode()
        seen[key] = seen.get(key, 0) + 1
        log.append((key, seen[key]))
        reply = behave(msg, seen[key])
        if reply is None:
            return
        if "error" not in reply:
            seq += 1
            reply = {"stream": "FAKE", "seq": seq, **reply}
        await msg.respond(json.dumps(reply).encode())

    sub = await nc.subscribe(subject, cb=cb)
    return sub, log


async def test_ack_timeout_retried_only_with_msg_id(js: jetstream.JetStream, nc: protocol.Connection) -> None:
    # the "stream" drops the first copy of every message
    sub, log = await _fake_stream(nc, "fake.t", lambda msg, nth: None if nth == 1 else {})
    await nc.flush()

    async def run(idempotent: bool) -> jetstream.Publisher:
        async with js.publisher(timeout=0.3, idempotent=idempotent, retries=2, retry_wait=0.01) as pub:
            for i in range(5):
                await pub.publish("fake.t", b"%d" % i)
        return pub

    pub = await asyncio.wait_for(run(True), 10)
    assert pub.acked == 5 and pub.last_seq == 5
    assert sorted(n for _, n in log) == [1] * 5 + [2] * 5
    # without a Nats-Msg-Id a resend could store the message twice: the timeout is an error
    log.clear()
    with pytest.raises(E.JetStreamTimeoutError):
        await asyncio.wait_for(run(False), 10)
    assert all(n == 1 for _, n in log)
    await sub.unsubscribe()


async def test_unavailable_10008_retried(js: jetstream.JetStream, nc: protocol.Connection) -> None:
    unavailable = {"error": {"code": 503, "err_code": 10008, "description": "JetStream system temporarily unavailable"}}
    sub, log = await _fake_stream(nc, "fake.u", lambda msg, nth: unavailable if nth == 1 else {})
    await nc.flush()
    async with js.publisher(retry_wait=0.01) as pub:
        for i in range(5):
            await pub.publish("fake.u", b"%d" % i)
    assert pub.acked == 5
    assert len(log) == 10
    # an error that is not transient is reported as is, no retry
    log.clear()
    wrong = {"error": {"code": 400, "err_code": 10071, "description": "wrong last sequence: 7"}}
    sub2, log2 = await _fake_stream(nc, "fake.w", lambda msg, nth: wrong)
    await nc.flush()

    async def run() -> None:
        async with js.publisher(retry_wait=0.01) as p:
            await p.publish("fake.w", b"1")

    with pytest.raises(E.WrongLastSequenceError) as ei:
        await asyncio.wait_for(run(), 10)
    assert ei.value.last_seq == 7
    assert len(log2) == 1
    await sub.unsubscribe()
    await sub2.unsubscribe()


async def test_bad_ack_payload_is_an_error(js: jetstream.JetStream, nc: protocol.Connection) -> None:
    async def cb(msg: protocol.Msg) -> None:
        await msg.respond(b"definitely not json")

    sub = await nc.subscribe("fake.bad", cb=cb)
    await nc.flush()

    async def run() -> None:
        async with js.publisher() as pub:
            await pub.publish("fake.bad", b"1")

    with pytest.raises(E.APIError):
        await asyncio.wait_for(run(), 10)
    await sub.unsubscribe()


async def test_publisher_and_single_publish_share_connection(js: jetstream.JetStream) -> None:
    await js.add_stream(name="MIX", subjects=["mix"], storage="memory")
    async with js.publisher() as pub:
        for _ in range(100):
            await pub.publish("mix", b"p")
        ack = await js.publish("mix", b"single")
        assert ack.stream == "MIX"
    assert pub.acked == 100
    assert (await js.stream_info("MIX")).state.messages == 101
