"""``jetstream.OrderedConsumer`` against a real nats-server.

A module-scoped server holds one 100,000-message memory stream (published once with the
``Publisher``) for the volume tests; the others use small streams on their own server. Every
read loop is bounded with a timeout so a consumer bug fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Iterator

import pytest

import jetstream
import protocol
from events_util import take
from harness import NatsServer
from jetstream import errors as E

pytestmark = pytest.mark.timeout(60)

BIG_N = 100_000
BIG_SUBJECTS = 10


async def _publish_big(url: str) -> None:
    nc = await protocol.connect(url, allow_reconnect=False)
    try:
        js = jetstream.JetStream(nc)
        await js.add_stream(name="BIG", subjects=["big.>"], storage="memory")
        async with js.publisher(max_pending_msgs=8192) as pub:
            for i in range(BIG_N):
                await pub.publish(f"big.{i % BIG_SUBJECTS}", b"%016d" % i)
        assert pub.acked == BIG_N
    finally:
        await nc.close()


@pytest.fixture(scope="module")
def big_server() -> Iterator[NatsServer]:
    """A server with stream BIG: 100,000 16-byte messages on big.0 .. big.9 (seq i+1 -> big.{i%10})."""
    srv = NatsServer()
    try:
        srv.start()
        asyncio.run(asyncio.wait_for(_publish_big(srv.url), 30))
        yield srv
    finally:
        srv.close()


@pytest.fixture
async def big_js(big_server: NatsServer) -> AsyncIterator[jetstream.JetStream]:
    nc = await protocol.connect(big_server.url, allow_reconnect=False)
    try:
        yield jetstream.JetStream(nc)
    finally:
        await nc.close()


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[jetstream.JetStream]:
    nc = await protocol.connect(nats_url, allow_reconnect=False)
    try:
        yield jetstream.JetStream(nc)
    finally:
        await nc.close()


async def _nothing_for(oc: jetstream.OrderedConsumer, seconds: float) -> None:
    with pytest.raises(protocol.NatsTimeoutError):
        await oc.next(timeout=seconds)


# --------------------------------------------------------------------------------------------------
# Volume and gaps (the 100k stream)


async def test_100k_in_order(big_js: jetstream.JetStream) -> None:
    async def run() -> tuple[int, jetstream.OrderedConsumer]:
        count = 0
        async with big_js.ordered_consumer("BIG") as oc:
            assert oc.caught_up is False
            assert oc.num_pending == BIG_N
            async for m in oc:
                count += 1
                meta = m.metadata
                assert meta.stream_seq == count, f"stream seq {meta.stream_seq} at position {count}"
                assert meta.consumer_seq == count
                assert meta.num_pending == BIG_N - count
                assert oc.num_pending == BIG_N - count  # also inside a run (jetstream.delivery_run)
                if count < BIG_N:
                    assert not oc.caught_up
                if count == BIG_N:
                    assert m.data == b"%016d" % (BIG_N - 1)
                    assert m.subject == f"big.{(BIG_N - 1) % BIG_SUBJECTS}"
                    break
            assert oc.caught_up
            assert oc.resets == 0
        return count, oc

    count, oc = await asyncio.wait_for(run(), 40)
    assert count == BIG_N
    with pytest.raises(E.ConsumerNotFoundError):
        await big_js.consumer_info("BIG", oc.name)


async def test_dropped_deliveries_of_a_slow_reader_are_fetched_again(big_js: jetstream.JetStream) -> None:
    """A pending limit far below the backlog: the subscription drops deliveries while the reader
    sleeps, the consumer sees the slow-consumer report (or the gap) after the run it holds, and
    re-creates the consumer from the last message handed out: every message once, in order."""

    async def run() -> tuple[list[int], int]:
        seqs: list[int] = []
        async with big_js.ordered_consumer("BIG", pending_msgs_limit=300) as oc:
            async for m in oc:
                seqs.append(m.seq)
                if len(seqs) % 2_000 == 1:
                    await asyncio.sleep(0.05)  # the server goes on delivering: the queue overflows
                if len(seqs) == 20_000:
                    break
            return seqs, oc.resets

    seqs, resets = await asyncio.wait_for(run(), 40)
    assert seqs == list(range(1, 20_001))
    assert resets >= 1


async def test_gap_from_deleted_consumer_resumes(big_js: jetstream.JetStream) -> None:
    """Delete the consumer server-side mid-stream: the iterator re-creates it from the next
    sequence on its own; no duplicates, no losses."""
    # The whole stream: flow control keeps only a part of it buffered client-side when the
    # consumer is deleted, so the rest must come from a re-created consumer.
    expected = list(range(1, BIG_N + 1))

    async def run() -> tuple[list[int], jetstream.OrderedConsumer, list[str]]:
        seqs: list[int] = []
        names: list[str] = []
        async with big_js.ordered_consumer("BIG", idle_heartbeat=0.5) as oc:
            async for m in oc:
                seqs.append(m.seq)
                if len(seqs) == 500:
                    names.append(oc.name)
                    assert await big_js.delete_consumer("BIG", oc.name)
                if len(seqs) == len(expected):
                    break
            names.append(oc.name)
            # once the reset settled only the new consumer is left (the old one was deleted)
            assert (await big_js.stream_info("BIG")).state.consumer_count == 1
        return seqs, oc, names

    seqs, oc, names = await asyncio.wait_for(run(), 30)
    assert seqs == expected
    assert oc.resets >= 1
    assert names[0] != names[-1]
    assert (await big_js.stream_info("BIG")).state.consumer_count == 0


async def test_gap_while_caught_up(js: jetstream.JetStream) -> None:
    """The consumer vanishes while idle: the missed heartbeats trigger a reset and new messages
    still arrive, once each."""
    await js.add_stream(name="G", subjects=["g"], storage="memory")
    for i in range(5):
        await js.publish("g", b"%d" % i)
    async with js.ordered_consumer("G", idle_heartbeat=0.2, watch_deletion=False) as oc:
        first = await take(oc, 5)
        assert [m.seq for m in first] == [1, 2, 3, 4, 5]
        await js.delete_consumer("G", oc.name)
        for i in range(5, 8):
            await js.publish("g", b"%d" % i)
        more = await take(oc, 3, timeout=10)
        assert [m.seq for m in more] == [6, 7, 8]
        assert oc.resets >= 1
        await _nothing_for(oc, 0.5)


async def test_deleted_consumer_is_recreated_on_the_advisory(js: jetstream.JetStream) -> None:
    """With the default 5 s heartbeats, a consumer deleted while idle would be noticed after two
    missed heartbeats (10 s). The server's consumer-deleted advisory makes it at once: the new
    messages arrive well within 4 s, through a re-created consumer."""
    await js.add_stream(name="ADV", subjects=["adv"], storage="memory")
    await js.publish("adv", b"0")
    async with js.ordered_consumer("ADV") as oc:
        assert [m.seq for m in await take(oc, 1)] == [1]
        old = oc.name
        await js.delete_consumer("ADV", old)
        await js.publish("adv", b"1")
        assert [m.seq for m in await take(oc, 1, timeout=4)] == [2]
        assert oc.deletions_seen == 1 and oc.resets == 1 and oc.name != old
    assert (await js.stream_info("ADV")).state.consumer_count == 0


# --------------------------------------------------------------------------------------------------
# Flow control, heartbeats


async def test_slow_reader_flow_control(js: jetstream.JetStream) -> None:
    await js.add_stream(name="FC", subjects=["fc"], storage="memory")
    n, size = 64, 64 * 1024  # 4 MiB
    async with js.publisher() as pub:
        for i in range(n):
            await pub.publish("fc", bytes([i]) * size)
    nc = js.connection
    fc_replies: list[str] = []
    real_publish = nc.publish

    async def spy(subject: str, payload: Any = b"", reply: Any = None, headers: Any = None) -> None:
        if subject.startswith("$JS.FC."):
            fc_replies.append(subject)
        await real_publish(subject, payload, reply=reply, headers=headers)

    nc.publish = spy  # type: ignore[method-assign]
    try:

        async def run() -> list[int]:
            seqs = []
            async with js.ordered_consumer("FC", idle_heartbeat=1.0) as oc:
                async for m in oc:
                    assert m.data == bytes([m.seq - 1]) * size
                    seqs.append(m.seq)
                    if len(seqs) % 8 == 0:
                        await asyncio.sleep(0.05)
                    if len(seqs) == n:
                        break
                assert oc.resets == 0
            return seqs

        seqs = await asyncio.wait_for(run(), 30)
    finally:
        del nc.publish
    assert seqs == list(range(1, n + 1))
    assert fc_replies, "the server never asked for flow control"


async def test_idle_heartbeats_keep_consumer_alive(js: jetstream.JetStream) -> None:
    await js.add_stream(name="HB", subjects=["hb"], storage="memory")
    async with js.ordered_consumer("HB", idle_heartbeat=0.5) as oc:
        await oc.start()
        assert oc.caught_up  # empty stream: nothing to catch up on
        name = oc.name
        t0 = time.monotonic()
        await _nothing_for(oc, 3.0)
        assert time.monotonic() - t0 >= 2.9
        assert oc.resets == 0 and oc.name == name
        assert oc._sub is not None and oc._sub.delivered >= 4  # heartbeats did arrive
        await js.publish("hb", b"wake up")
        m = await oc.next(timeout=2.0)
        assert (m.seq, m.data) == (1, b"wake up")
        assert oc.resets == 0
        assert (await js.consumer_info("HB", name)).name == name


# --------------------------------------------------------------------------------------------------
# Deliver policies and filters


@pytest.fixture
async def dp(js: jetstream.JetStream) -> tuple[jetstream.JetStream, datetime]:
    """Stream DP: seqs 1..5 = a1 b1 a2 c1 b2, then (after a pause, at time t) 6..7 = a3 c2."""
    await js.add_stream(name="DP", subjects=["dp.>"], storage="memory")
    for s, d in [("dp.a", b"a1"), ("dp.b", b"b1"), ("dp.a", b"a2"), ("dp.c", b"c1"), ("dp.b", b"b2")]:
        await js.publish(s, d)
    await asyncio.sleep(0.1)
    t = datetime.now(timezone.utc)
    await asyncio.sleep(0.05)
    await js.publish("dp.a", b"a3")
    await js.publish("dp.c", b"c2")
    return js, t


async def test_deliver_all(dp: tuple[jetstream.JetStream, datetime]) -> None:
    js, _ = dp
    async with js.ordered_consumer("DP") as oc:
        got = await take(oc, 7)
    assert [m.data for m in got] == [b"a1", b"b1", b"a2", b"c1", b"b2", b"a3", b"c2"]


async def test_deliver_last(dp: tuple[jetstream.JetStream, datetime]) -> None:
    js, _ = dp
    async with js.ordered_consumer("DP", deliver_policy="last") as oc:
        got = await take(oc, 1)
        assert (got[0].seq, got[0].data) == (7, b"c2")
        assert oc.caught_up
        await _nothing_for(oc, 0.3)


async def test_deliver_last_per_subject(dp: tuple[jetstream.JetStream, datetime]) -> None:
    js, _ = dp
    # the server wants a filter with last_per_subject (10094 otherwise)
    with pytest.raises(E.APIError) as ei:
        await js.ordered_consumer("DP", deliver_policy="last_per_subject").start()
    assert ei.value.err_code == 10094
    async with js.ordered_consumer("DP", deliver_policy="last_per_subject", filter_subject="dp.>") as oc:
        got = await take(oc, 3)
        assert sorted((m.subject, m.data) for m in got) == [("dp.a", b"a3"), ("dp.b", b"b2"), ("dp.c", b"c2")]
        await _nothing_for(oc, 0.3)
        await js.publish("dp.b", b"b3")
        assert (await oc.next(timeout=2)).data == b"b3"


async def test_deliver_new(dp: tuple[jetstream.JetStream, datetime]) -> None:
    js, _ = dp
    async with js.ordered_consumer("DP", deliver_policy="new") as oc:
        await oc.start()
        await _nothing_for(oc, 0.3)
        await js.publish("dp.z", b"new one")
        m = await oc.next(timeout=2)
        assert (m.seq, m.data) == (8, b"new one")


async def test_deliver_by_start_sequence(dp: tuple[jetstream.JetStream, datetime]) -> None:
    js, _ = dp
    async with js.ordered_consumer("DP", deliver_policy="by_start_sequence", opt_start_seq=4) as oc:
        got = await take(oc, 4)
    assert [m.seq for m in got] == [4, 5, 6, 7]


async def test_deliver_by_start_time(dp: tuple[jetstream.JetStream, datetime]) -> None:
    js, t = dp
    async with js.ordered_consumer("DP", deliver_policy="by_start_time", opt_start_time=t) as oc:
        got = await take(oc, 2)
        assert [m.data for m in got] == [b"a3", b"c2"]
        await _nothing_for(oc, 0.3)
    with pytest.raises(E.OrderedConsumerError):
        await js.ordered_consumer("DP", deliver_policy="by_start_time").start()


async def test_filter_single(dp: tuple[jetstream.JetStream, datetime]) -> None:
    js, _ = dp
    async with js.ordered_consumer("DP", filter_subject="dp.a") as oc:
        got = await take(oc, 3)
        assert [(m.seq, m.data) for m in got] == [(1, b"a1"), (3, b"a2"), (6, b"a3")]
        assert [m.metadata.consumer_seq for m in got] == [1, 2, 3]
        assert oc.caught_up
        await _nothing_for(oc, 0.3)


async def test_filter_wildcard(dp: tuple[jetstream.JetStream, datetime]) -> None:
    js, _ = dp
    await js.publish("dp.x.y", b"deep")
    async with js.ordered_consumer("DP", filter_subject="dp.*") as oc:
        got = await take(oc, 7)
        assert all(m.subject != "dp.x.y" for m in got)
        await _nothing_for(oc, 0.3)
    async with js.ordered_consumer("DP", filter_subject="dp.x.>") as oc:
        assert [m.data for m in await take(oc, 1)] == [b"deep"]


async def test_filter_multiple(dp: tuple[jetstream.JetStream, datetime]) -> None:
    js, _ = dp
    async with js.ordered_consumer("DP", filter_subject=["dp.a", "dp.c"]) as oc:
        got = await take(oc, 5)
        assert [m.data for m in got] == [b"a1", b"a2", b"c1", b"a3", b"c2"]
        assert oc.caught_up
        await _nothing_for(oc, 0.3)


async def test_filter_with_policy_last_per_subject_and_multiple(dp: tuple[jetstream.JetStream, datetime]) -> None:
    js, _ = dp
    async with js.ordered_consumer("DP", filter_subject=["dp.a", "dp.b"], deliver_policy="last_per_subject") as oc:
        got = await take(oc, 2)
        assert sorted(m.data for m in got) == [b"a3", b"b2"]


# --------------------------------------------------------------------------------------------------
# caught_up, cleanup, headers_only


async def test_caught_up_at_end_of_backlog(js: jetstream.JetStream) -> None:
    await js.add_stream(name="CU", subjects=["cu"], storage="memory")
    for i in range(10):
        await js.publish("cu", b"%d" % i)
    async with js.ordered_consumer("CU") as oc:
        seen = []
        async for m in oc:
            seen.append((m.seq, oc.caught_up))
            if m.seq == 10:
                break
        assert seen == [(i, i == 10) for i in range(1, 11)]
        assert oc.num_pending == 0
        await js.publish("cu", b"later")
        m = await oc.next(timeout=2)
        assert m.seq == 11 and oc.caught_up


async def test_consumer_removed_on_exit(js: jetstream.JetStream) -> None:
    await js.add_stream(name="RM", subjects=["rm"], storage="memory")
    await js.publish("rm", b"x")
    async with js.ordered_consumer("RM") as oc:
        await take(oc, 1)
        name = oc.name
        info = await js.consumer_info("RM", name)
        assert info.config.ack_policy == jetstream.AckPolicy.NONE
        assert info.config.flow_control is True and info.config.mem_storage is True
        assert (await js.stream_info("RM")).state.consumer_count == 1
    with pytest.raises(E.ConsumerNotFoundError):
        await js.consumer_info("RM", name)
    assert (await js.stream_info("RM")).state.consumer_count == 0
    # iteration after close ends; close is idempotent
    with pytest.raises(StopAsyncIteration):
        await oc.__anext__()
    await oc.close()
    # leaving a plain `async for` early does not delete; close() does
    oc2 = js.ordered_consumer("RM")
    async for _ in oc2:
        break
    assert (await js.stream_info("RM")).state.consumer_count == 1
    await oc2.close()
    assert (await js.stream_info("RM")).state.consumer_count == 0


async def test_headers_only(js: jetstream.JetStream) -> None:
    await js.add_stream(name="HO", subjects=["ho"], storage="memory")
    await js.publish("ho", b"x" * 1000, headers={"K": "v"})
    async with js.ordered_consumer("HO", headers_only=True) as oc:
        m = (await take(oc, 1))[0]
    assert m.data == b""
    assert m.headers is not None and m.headers.get("K") == "v"
    assert m.headers.get("Nats-Msg-Size") == "1000"


async def test_missing_stream(js: jetstream.JetStream) -> None:
    with pytest.raises(E.StreamNotFoundError):
        async with js.ordered_consumer("NOPE"):
            pass


async def test_concurrent_ordered_consumers(js: jetstream.JetStream) -> None:
    """Several ordered consumers at once on one connection: distinct names, each gets everything."""
    await js.add_stream(name="CC", subjects=["cc.>"], storage="memory")
    for i in range(50):
        await js.publish(f"cc.{i % 2}", b"%d" % i)
    ocs = [js.ordered_consumer("CC", filter_subject=f) for f in (None, None, "cc.0", "cc.1")]
    try:
        for oc in ocs:
            await oc.start()
        assert len({oc.name for oc in ocs}) == 4
        got = await asyncio.gather(take(ocs[0], 50), take(ocs[1], 50), take(ocs[2], 25), take(ocs[3], 25))
    finally:
        for oc in ocs:
            await oc.close()
    assert [m.seq for m in got[0]] == [m.seq for m in got[1]] == list(range(1, 51))
    assert [m.seq for m in got[2]] == list(range(1, 51, 2))
    assert [m.seq for m in got[3]] == list(range(2, 51, 2))
    assert (await js.stream_info("CC")).state.consumer_count == 0


async def test_next_timeout_on_idle_stream_with_heartbeats(nats_url):
    # next(timeout) must return on time even when heartbeats arrive around the deadline.
    nc = await protocol.connect(nats_url)
    async with nc:
        js = jetstream.JetStream(nc)
        await js.add_stream(name="IDLEHB", subjects=["idlehb.>"], storage="memory")
        async with js.ordered_consumer("IDLEHB", filter_subject="idlehb.>", idle_heartbeat=0.1) as oc:
            loop = asyncio.get_running_loop()
            for _ in range(3):
                t0 = loop.time()
                with pytest.raises(protocol.NatsTimeoutError):
                    await oc.next(timeout=0.3)
                assert loop.time() - t0 < 1.5
            await js.publish("idlehb.a", b"x")
            assert (await oc.next(timeout=2)).data == b"x"
