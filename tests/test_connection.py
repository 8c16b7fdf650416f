"""``protocol.Connection`` against a real nats-server: the core client behaviours.

Every wait is bounded (``asyncio.wait_for``); servers are reaped by the fixtures. Keepalive, stale
connections and malformed server input are in ``test_connection_faults.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time

import pytest

import jetstream
import protocol
from events_util import eventually, take
from harness import free_port
from protocol import (
    BadHeaderError,
    BadSubjectError,
    ConnectionClosedError,
    Headers,
    NatsError,
    NatsTimeoutError,
    NoRespondersError,
    NoServersError,
    SlowConsumerError,
    encode_headers,
)

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def nc(nats_url):
    conn = await protocol.connect(nats_url)
    try:
        yield conn
    finally:
        await conn.close()


# Connecting ------------------------------------------------------------------------------------


async def test_connect_handshake(nats_url):
    nc = await protocol.connect(nats_url, name="handshake-test")
    try:
        assert nc.is_connected and not nc.is_closed
        info = nc.server_info
        assert info["server_id"] and info["headers"] is True and info["jetstream"] is True
        assert info["max_payload"] == 1048576 == nc.max_payload
        assert nc.connected_url == nats_url
        await nc.flush(timeout=2)
    finally:
        await nc.close()
    assert nc.is_closed and not nc.is_connected


async def test_connect_verbose_and_pedantic(nats_url):
    # +OK after every op must be skipped; pedantic makes the server check subjects strictly.
    nc = await protocol.connect(nats_url, verbose=True, pedantic=True)
    try:
        sub = await nc.subscribe("v.x")
        await nc.publish("v.x", b"1")
        await nc.flush(timeout=2)
        assert (await sub.next_msg(2)).data == b"1"
    finally:
        await nc.close()


async def test_connect_refused_raises_no_servers():
    t0 = time.monotonic()
    with pytest.raises(NoServersError):
        await protocol.connect(f"nats://127.0.0.1:{free_port()}", connect_timeout=1)
    assert time.monotonic() - t0 < 5


async def test_async_context_manager(nats_url):
    async with await protocol.connect(nats_url) as nc:
        sub = await nc.subscribe("cm")
        await nc.publish("cm", b"in")
        assert (await sub.next_msg(2)).data == b"in"
    assert nc.is_closed
    with pytest.raises(ConnectionClosedError):
        await nc.publish("cm", b"after")


# Publish / subscribe ---------------------------------------------------------------------------


async def test_publish_subscribe_with_multi_value_headers(nc):
    sub = await nc.subscribe("hdr.test")
    h = Headers([("A", "1"), ("B", "2"), ("A", "3"), ("a", "lower")])
    await nc.publish("hdr.test", b"body", headers=h)
    await nc.publish("hdr.test", b"dict", headers={"X-One": "1", "X-Many": ["p", "q"]})
    await nc.publish("hdr.test", b"plain")
    m1, m2, m3 = await take(sub, 3)
    assert m1.data == b"body" and m1.raw_headers == encode_headers(h)
    assert m1.headers.get_all("A") == ["1", "3"] and m1.headers["a"] == "lower"
    assert list(m1.headers.multi_items()) == list(h.multi_items())
    assert m2.headers.get_all("X-Many") == ["p", "q"] and m2.headers["X-One"] == "1"
    assert m3.headers is None and m3.raw_headers is None and m3.status == ""


async def test_async_iterator_subscription(nc):
    sub = await nc.subscribe("iter.x")
    for i in range(50):
        await nc.publish("iter.x", str(i).encode(), reply=f"r.{i}")
    msgs = await take(sub, 50)
    assert [m.data for m in msgs] == [str(i).encode() for i in range(50)]
    assert [m.reply for m in msgs] == [f"r.{i}" for i in range(50)]
    assert all(m.subject == "iter.x" and m.sid == sub.sid for m in msgs)


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_callback_subscription(nc, kind):
    got: list[bytes] = []
    done = asyncio.Event()

    def sync_cb(msg):
        got.append(msg.data)
        if len(got) == 20:
            done.set()

    async def async_cb(msg):
        await asyncio.sleep(0)
        sync_cb(msg)

    await nc.subscribe("cb.x", cb=sync_cb if kind == "sync" else async_cb)
    for i in range(20):
        await nc.publish("cb.x", b"%d" % i)
    await asyncio.wait_for(done.wait(), 5)
    assert got == [b"%d" % i for i in range(20)]


async def test_callback_errors_are_reported_and_delivery_continues(nats_url):
    errors: list = []
    nc = await protocol.connect(nats_url, error_cb=errors.append)
    try:
        got = []

        def cb(msg):
            if msg.data == b"boom":
                raise RuntimeError("user bug")
            got.append(msg.data)

        await nc.subscribe("cberr", cb=cb)
        for data in (b"a", b"boom", b"b"):
            await nc.publish("cberr", data)
        await nc.flush()
        await eventually(lambda: len(got) == 2, what="both good messages delivered")
        assert got == [b"a", b"b"]
        assert any(isinstance(e, RuntimeError) for e in errors)
    finally:
        await nc.close()


async def test_queue_groups_share_without_duplicates(nats_url, nc):
    nc2 = await protocol.connect(nats_url)
    try:
        q1 = await nc.subscribe("work", queue="workers")
        q2 = await nc2.subscribe("work", queue="workers")
        everyone = await nc2.subscribe("work")
        await nc.flush()
        await nc2.flush()
        for i in range(200):
            await nc.publish("work", b"%d" % i)
        await nc.flush()
        await nc2.flush()
        seen_all = await take(everyone, 200)
        assert len(seen_all) == 200
        a = [m.data for m in await take(q1, q1.pending_msgs)] if q1.pending_msgs else []
        b = [m.data for m in await take(q2, q2.pending_msgs)] if q2.pending_msgs else []
        assert len(a) + len(b) == 200
        assert sorted(a + b, key=int) == [b"%d" % i for i in range(200)]
        assert not set(a) & set(b)
        assert a and b  # 2**-199 chance of a false failure
    finally:
        await nc2.close()


async def test_wildcard_subscriptions(nc):
    star = await nc.subscribe("w.*")
    full = await nc.subscribe("w.>")
    mid = await nc.subscribe("w.*.z")
    for subj in ("w.a", "w.a.b", "w.a.z", "w", "x.a"):
        await nc.publish(subj, subj.encode())
    await nc.flush()
    assert [m.subject for m in await take(star, 1)] == ["w.a"]
    assert [m.subject for m in await take(full, 3)] == ["w.a", "w.a.b", "w.a.z"]
    assert [m.subject for m in await take(mid, 1)] == ["w.a.z"]
    assert star.pending_msgs == full.pending_msgs == mid.pending_msgs == 0


async def test_unsubscribe(nc):
    sub = await nc.subscribe("un.x")
    await nc.publish("un.x", b"1")
    await nc.flush()
    await sub.unsubscribe()
    await nc.publish("un.x", b"2")
    await nc.flush()
    assert [m.data for m in await take(sub, 5)] == [b"1"]  # queued message, then the end
    assert sub.closed
    other = await nc.subscribe("un.x")
    async with other:
        await nc.publish("un.x", b"3")
        assert (await other.next_msg(2)).data == b"3"
    assert other.closed


async def test_auto_unsubscribe_max_msgs(nc):
    sub = await nc.subscribe("auto.x", max_msgs=3)
    for i in range(10):
        await nc.publish("auto.x", b"%d" % i)
    await nc.flush()
    msgs = await take(sub, 100)  # iteration ends by itself
    assert [m.data for m in msgs] == [b"0", b"1", b"2"]
    assert sub.closed and sub.delivered == 3
    later = await nc.subscribe("auto.y")
    await later.unsubscribe(limit=2)
    for i in range(5):
        await nc.publish("auto.y", b"%d" % i)
    assert [m.data for m in await take(later, 100)] == [b"0", b"1"]


async def test_bad_subjects_rejected_before_sending(nc):
    for bad in ("a b", "a\r\nPUB x 1", "", "a..b", "a.*", "a.>"):
        with pytest.raises(BadSubjectError):
            await nc.publish(bad, b"x")
    with pytest.raises(BadSubjectError):
        await nc.publish("ok", b"x", reply="r r")
    for bad in ("a b", "a.>.b", "", "x\ny"):
        with pytest.raises(BadSubjectError):
            await nc.subscribe(bad)
    with pytest.raises(BadSubjectError):
        await nc.subscribe("ok", queue="q q")
    with pytest.raises(BadHeaderError):
        await nc.publish("ok", b"x", headers={"Bad Name": "v"})
    with pytest.raises(BadHeaderError):
        await nc.publish("ok", b"x", headers={"K": "v\r\nInjected: 1"})
    sub = await nc.subscribe("ok")
    await nc.publish("ok", b"still fine")
    assert (await sub.next_msg(2)).data == b"still fine"
    assert nc.is_connected


# Request / reply -------------------------------------------------------------------------------


async def test_request_reply(nc):
    async def handler(msg):
        await msg.respond(b"re:" + msg.data, headers={"Echo": msg.subject})

    await nc.subscribe("svc.echo", cb=handler)
    resp = await nc.request("svc.echo", b"hello", timeout=2)
    assert resp.data == b"re:hello" and resp.headers["Echo"] == "svc.echo"
    results = await asyncio.gather(*(nc.request("svc.echo", b"%d" % i, timeout=5) for i in range(50)))
    assert [r.data for r in results] == [b"re:%d" % i for i in range(50)]


async def test_late_reply_is_not_given_to_another_request(nc):
    async def slow_handler(msg):
        await asyncio.sleep(0.3)
        await msg.respond(b"late:" + msg.data)

    await nc.subscribe("svc.slow", cb=slow_handler)
    with pytest.raises(NatsTimeoutError):
        await nc.request("svc.slow", b"A", timeout=0.1)
    # B is the only pending request when A's reply arrives (at ~0.3 s): it must not take it.
    resp = await nc.request("svc.slow", b"B", timeout=3)
    assert resp.data == b"late:B"


async def test_no_responders(nc):
    t0 = time.monotonic()
    with pytest.raises(NoRespondersError) as info:
        await nc.request("nobody.listens", b"?", timeout=30)
    assert isinstance(info.value, NatsError)
    assert time.monotonic() - t0 < 10  # the 503 arrives at once, long before the 30 s timeout
    assert nc.is_connected


async def test_request_timeout(nc):
    await nc.subscribe("svc.silent")  # a subscriber that never answers
    t0 = time.monotonic()
    with pytest.raises(NatsTimeoutError) as info:
        await nc.request("svc.silent", b"?", timeout=0.3)
    elapsed = time.monotonic() - t0
    assert 0.25 <= elapsed < 2
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, NatsError)
    with pytest.raises(asyncio.TimeoutError):  # the builtin, as asyncio code catches it
        await nc.request("svc.silent", b"?", timeout=0.1)
    sub = await nc.subscribe("nothing.here")
    with pytest.raises(NatsTimeoutError):
        await sub.next_msg(timeout=0.1)


async def test_msg_respond_without_reply(nc):
    sub = await nc.subscribe("noreply")
    await nc.publish("noreply", b"x")
    msg = await sub.next_msg(2)
    with pytest.raises(NatsError):
        await msg.respond(b"y")


# Flush, limits, slow consumers ------------------------------------------------------------------


async def test_flush(nc):
    sub = await nc.subscribe("fl")
    for i in range(100):
        await nc.publish("fl", b"x")
    await nc.flush(timeout=2)
    assert sub.pending_msgs == 100  # every message was delivered before the PONG


async def test_concurrent_flushes_resolve_in_order(nc):
    order: list[int] = []

    async def one(i):
        await nc.flush(timeout=5)
        order.append(i)

    await asyncio.gather(*(one(i) for i in range(20)))
    assert order == list(range(20))  # PONGs answer PINGs in order: each flush resolves in turn


async def test_no_echo(nats_url):
    nc = await protocol.connect(nats_url, echo=False)
    try:
        sub = await nc.subscribe("echo.x")
        await nc.publish("echo.x", b"self")
        await nc.flush()
        assert sub.pending_msgs == 0
    finally:
        await nc.close()


async def test_slow_consumer_reports_drops_then_continues(nc):
    sub = await nc.subscribe("slow", pending_msgs_limit=5)
    for i in range(50):
        await nc.publish("slow", b"%d" % i)
    await nc.flush(timeout=2)
    assert sub.pending_msgs == 5 and sub.dropped == 45
    with pytest.raises(SlowConsumerError) as info:
        await sub.next_msg(1)
    assert info.value.dropped == 45 and info.value.sid == sub.sid
    assert [m.data for m in await take(sub, 5)] == [b"%d" % i for i in range(5)]
    await nc.publish("slow", b"next")
    assert (await sub.next_msg(2)).data == b"next"  # no second error: nothing new was dropped
    assert nc.is_connected


async def test_slow_consumer_by_bytes_and_callback(nats_url):
    errors: list = []
    nc = await protocol.connect(nats_url, error_cb=errors.append)
    try:
        sub = await nc.subscribe("slowb", pending_bytes_limit=1000)
        await nc.publish("slowb", b"a" * 600)
        await nc.publish("slowb", b"b" * 600)  # over the byte limit: dropped
        await nc.publish("slowb", b"c" * 300)
        await nc.flush()
        with pytest.raises(SlowConsumerError) as info:
            await sub.next_msg(1)
        assert info.value.dropped == 1
        assert [m.data[:1] for m in await take(sub, 2)] == [b"a", b"c"]

        gate = asyncio.Event()
        got = []

        async def cb(msg):
            await gate.wait()
            got.append(msg.data)

        slow = await nc.subscribe("slowc", cb=cb, pending_msgs_limit=2)
        for i in range(10):
            await nc.publish("slowc", b"%d" % i)
        await nc.flush()
        gate.set()
        await nc.publish("slowc", b"last")
        await eventually(lambda: got and got[-1] == b"last", what="the last message delivered")
        assert [e.dropped for e in errors if isinstance(e, SlowConsumerError)] == [slow.dropped]
        # The callback may hold one message while two more wait: the rest were dropped.
        kept = got[:-1]
        assert kept == [b"%d" % i for i in range(len(kept))] and 2 <= len(kept) <= 3
        assert slow.dropped == 10 - len(kept) and got[-1] == b"last"
    finally:
        await nc.close()


# Drain and close -------------------------------------------------------------------------------


async def test_drain_consumes_queued_messages_then_closes(nats_url):
    nc = await protocol.connect(nats_url)
    other = await protocol.connect(nats_url)
    try:
        sub = await nc.subscribe("dr.it")
        got_cb = []

        async def cb(msg):
            await asyncio.sleep(0.001)
            got_cb.append(msg.data)

        await nc.subscribe("dr.cb", cb=cb)
        await nc.flush()  # the SUBs reach the server before the other connection publishes
        for i in range(20):
            await other.publish("dr.it", b"%d" % i)
            await other.publish("dr.cb", b"%d" % i)
        await other.flush()
        await nc.flush()
        drain = asyncio.get_running_loop().create_task(nc.drain(timeout=10))
        msgs = await take(sub, 1000)  # ends when the subscription is drained
        await asyncio.wait_for(drain, 10)
        assert [m.data for m in msgs] == [b"%d" % i for i in range(20)]
        assert got_cb == [b"%d" % i for i in range(20)]
        assert nc.is_closed
        with pytest.raises(ConnectionClosedError):
            await nc.publish("dr.it", b"late")
    finally:
        await nc.close()
        await other.close()


async def test_subscription_drain_keeps_messages_in_flight(nc):
    sub = await nc.subscribe("sdr")
    keep = await nc.subscribe("sdr")
    for i in range(100):  # queued, not yet on the wire when drain starts
        await nc.publish("sdr", b"%d" % i)
    await asyncio.wait_for(sub.drain(), 5)
    assert [m.data for m in await take(sub, 1000)] == [b"%d" % i for i in range(100)]
    await nc.publish("sdr", b"after")
    await nc.flush()
    assert keep.pending_msgs == 101 and sub.pending_msgs == 0 and nc.is_connected


async def test_drain_rejects_new_subscriptions(nc):
    sub = await nc.subscribe("dr2")
    await nc.publish("dr2", b"x")
    await nc.flush()
    drain = asyncio.get_running_loop().create_task(nc.drain(timeout=5))
    await asyncio.sleep(0)
    with pytest.raises(ConnectionClosedError):
        await nc.subscribe("dr2.new")
    assert [m.data for m in await take(sub, 10)] == [b"x"]
    await asyncio.wait_for(drain, 5)
    assert nc.is_closed


async def test_close_ends_iteration_and_refuses_operations(nats_url):
    nc = await protocol.connect(nats_url)
    sub = await nc.subscribe("cl")
    await nc.publish("cl", b"1")
    await nc.flush()

    async def consume():
        return [m.data async for m in sub]

    task = asyncio.get_running_loop().create_task(consume())
    await asyncio.sleep(0.05)
    await nc.close()
    assert await asyncio.wait_for(task, 2) == [b"1"]
    assert nc.is_closed and sub.closed
    with pytest.raises(ConnectionClosedError):
        await nc.publish("cl", b"2")
    with pytest.raises(ConnectionClosedError):
        await nc.subscribe("cl")
    with pytest.raises(ConnectionClosedError):
        await nc.request("cl", b"", timeout=1)
    with pytest.raises(ConnectionClosedError):
        await nc.flush()
    await nc.close()  # idempotent
    assert issubclass(ConnectionClosedError, NatsError)


async def test_close_flushes_queued_publishes(nats_url):
    receiver = await protocol.connect(nats_url)
    try:
        sub = await receiver.subscribe("cl.flush")
        await receiver.flush()
        nc = await protocol.connect(nats_url)
        for i in range(100):
            await nc.publish("cl.flush", b"%d" % i)
        await nc.close()  # no flush: close itself must write what is queued
        msgs = await take(sub, 100)
        assert [m.data for m in msgs] == [b"%d" % i for i in range(100)]
    finally:
        await receiver.close()


async def test_close_fails_pending_request(nc):
    await nc.subscribe("never.answers")
    req = asyncio.get_running_loop().create_task(nc.request("never.answers", b"", timeout=10))
    await asyncio.sleep(0.05)
    await nc.close()
    with pytest.raises(ConnectionClosedError):
        await asyncio.wait_for(req, 2)


# Volume ----------------------------------------------------------------------------------------


async def test_publish_loop_that_never_yields_delivers_everything(nats_url):
    pub = await protocol.connect(nats_url)
    sub_conn = await protocol.connect(nats_url)
    n = 200_000
    count = 0
    done = asyncio.Event()

    def cb(msg):
        nonlocal count
        count += 1
        if count == n:
            done.set()

    try:
        sub = await sub_conn.subscribe("bulk", cb=cb)
        await sub_conn.flush()
        payload = os.urandom(1024)
        for _ in range(n):  # nothing here awaits a network round trip
            await pub.publish("bulk", payload)
        await pub.flush(timeout=30)
        await asyncio.wait_for(done.wait(), 60)
        assert count == n and sub.dropped == 0
        assert pub.is_connected and sub_conn.is_connected
    finally:
        await pub.close()
        await sub_conn.close()


async def test_large_messages_round_trip(nats_url, nc):
    other = await protocol.connect(nats_url)
    try:
        sub = await other.subscribe("large.>")
        await other.flush()
        payloads = [os.urandom(512 * 1024) for _ in range(6)]
        for i, p in enumerate(payloads):
            if i % 2:
                await nc.publish(f"large.{i}", p, headers={"Digest": hashlib.sha256(p).hexdigest()})
            else:
                await nc.publish(f"large.{i}", p)
        msgs = await take(sub, len(payloads), timeout=20)
        for i, (m, p) in enumerate(zip(msgs, payloads)):
            assert m.subject == f"large.{i}" and len(m.data) == len(p) and m.data == p
            if i % 2:
                assert m.headers["Digest"] == hashlib.sha256(m.data).hexdigest()

        async def echo(msg):
            await msg.respond(msg.data[::-1])

        await other.subscribe("large.echo", cb=echo)
        await other.flush()
        big = payloads[0]
        resp = await nc.request("large.echo", big, timeout=10)
        assert resp.data == big[::-1]
    finally:
        await other.close()


async def test_status_only_headers_and_empty_queue(nats_url):
    nc = await protocol.connect(nats_url)
    async with nc:
        sub = await nc.subscribe("st.x", queue="")  # "" means no queue group (nats-py)
        assert sub.queue is None
        await nc.publish("st.x", b"", headers=protocol.Headers(status="503"))
        msg = await sub.next_msg(timeout=2)
        assert msg.status == "503"


async def test_next_msg_timeout_and_cancel_are_prompt(nats_url):
    nc = await protocol.connect(nats_url)
    async with nc:
        sub = await nc.subscribe("nm.x")
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(protocol.NatsTimeoutError):
            await sub.next_msg(timeout=0.2)
        assert loop.time() - t0 < 1.0
        task = asyncio.ensure_future(sub.next_msg(timeout=30))
        await asyncio.sleep(0.05)
        await nc.publish("nm.x", b"1")  # a message racing with the cancellation
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2)
        assert task in done  # cancelled or completed, never stuck
        got = await sub.next_msg(timeout=2) if task.cancelled() else task.result()
        assert got.data == b"1"


async def test_server_replies_larger_than_max_payload_are_accepted(server_factory):
    # max_payload limits what clients publish; the server's own API replies may be larger.
    srv = server_factory("max_payload: 4096")
    nc = await protocol.connect(srv.url, allow_reconnect=False)
    async with nc:
        assert nc.max_payload == 4096
        js = jetstream.JetStream(nc)
        for i in range(10):
            await js.add_stream(name=f"S{i}", subjects=[f"s{i}"], storage="memory")
        infos = await js.streams_info()  # a reply of several KiB
        assert len(infos) == 10
        with pytest.raises(protocol.MaxPayloadError):
            await nc.publish("x", b"y" * 5000)  # still enforced outbound


async def test_publish_with_a_pre_encoded_header_block(nats_url):
    nc = await protocol.connect(nats_url)
    async with nc:
        sub = await nc.subscribe("pre.x")
        block = protocol.encode_headers({"A": ["1", "2"]})
        await nc.publish("pre.x", b"data", headers=block)
        msg = await sub.next_msg(timeout=2)
        assert msg.raw_headers == block and msg.headers.get_all("A") == ["1", "2"]
        with pytest.raises(protocol.BadHeaderError):
            await nc.publish("pre.x", b"", headers=b"not a header block")


async def test_next_nowait_returns_queued_messages_or_none(nats_url):
    import protocol

    nc = await protocol.connect(nats_url)
    async with nc:
        sub = await nc.subscribe("nw.x")
        assert sub.next_nowait() is None
        await nc.publish("nw.x", b"1")
        await nc.publish("nw.x", b"2")
        await nc.flush()
        assert [sub.next_nowait().data, sub.next_nowait().data] == [b"1", b"2"]
        assert sub.next_nowait() is None and sub.pending_bytes == 0
