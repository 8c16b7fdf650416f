"""``jetstream.PullConsumer``: fetch bounded by batch, max_bytes and expires; ``messages(window)``."""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator

import pytest

import jetstream
import protocol
from jetstream import errors as E

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[jetstream.JetStream]:
    nc = await protocol.connect(nats_url, allow_reconnect=False)
    try:
        yield jetstream.JetStream(nc)
    finally:
        await nc.close()


async def _stream(js: jetstream.JetStream, name: str, n: int, size: int = 10) -> None:
    await js.add_stream(name=name, subjects=[f"{name.lower()}.>"], storage="memory")
    async with js.publisher() as pub:
        for i in range(n):
            await pub.publish(f"{name.lower()}.{i % 3}", (b"%08d" % i).ljust(size, b"."))


async def test_create_and_bind(js: jetstream.JetStream) -> None:
    await _stream(js, "PC", 3)
    pc = await js.pull_consumer("PC", durable_name="worker")
    assert pc.name == "worker" and pc.stream == "PC"
    assert pc.info.config.ack_policy == jetstream.AckPolicy.EXPLICIT
    assert pc.info.num_pending == 3
    again = await js.pull_consumer("PC", durable_name="worker")  # same config: binds
    assert again.name == "worker"
    assert await pc.delete() is True
    with pytest.raises(E.ConsumerNotFoundError):
        await js.consumer_info("PC", "worker")


async def test_fetch_batch(js: jetstream.JetStream) -> None:
    await _stream(js, "FB", 10)
    pc = await js.pull_consumer("FB", durable_name="c")
    first = await asyncio.wait_for(pc.fetch(4), 5)
    assert [m.seq for m in first] == [1, 2, 3, 4]
    assert [m.metadata.consumer_seq for m in first] == [1, 2, 3, 4]
    assert first[0].data.startswith(b"00000000") and first[0].subject == "fb.0"
    assert first[0].metadata.num_pending == 9 and first[-1].metadata.num_pending == 6
    assert all(m.metadata.num_delivered == 1 for m in first)
    for m in first:
        await m.ack()
    second = await asyncio.wait_for(pc.fetch(4), 5)
    assert [m.seq for m in second] == [5, 6, 7, 8]
    for m in second:
        await m.ack()
    # fewer available than asked: the rest arrives, then the request expires
    t0 = time.monotonic()
    rest = await asyncio.wait_for(pc.fetch(10, expires=0.5), 5)
    elapsed = time.monotonic() - t0
    assert [m.seq for m in rest] == [9, 10]
    assert 0.3 <= elapsed < 2.0
    for m in rest:
        await m.ack()
    await js.connection.flush()
    info = await js.consumer_info("FB", "c")
    assert info.num_pending == 0
    assert info.ack_floor is not None and info.ack_floor.stream_seq == 10


async def test_fetch_no_wait(js: jetstream.JetStream) -> None:
    await _stream(js, "NW", 3)
    pc = await js.pull_consumer("NW", durable_name="c", ack_policy="none")
    # no_wait ends on the server's 404 at once: not after expires (or its grace), here 30 s
    t0 = time.monotonic()
    got = await asyncio.wait_for(pc.fetch(10, no_wait=True, expires=30.0), 15)
    assert [m.seq for m in got] == [1, 2, 3]
    assert await asyncio.wait_for(pc.fetch(10, no_wait=True, expires=30.0), 15) == []
    assert time.monotonic() - t0 < 10


async def test_fetch_expires_empty(js: jetstream.JetStream) -> None:
    await js.add_stream(name="EMPTY", subjects=["empty"], storage="memory")
    pc = await js.pull_consumer("EMPTY", durable_name="c")
    t0 = time.monotonic()
    assert await asyncio.wait_for(pc.fetch(5, expires=0.5), 5) == []
    elapsed = time.monotonic() - t0
    assert 0.4 <= elapsed < 1.6
    # a message published while the request waits is delivered at once
    async def later() -> None:
        await asyncio.sleep(0.2)
        await js.publish("empty", b"late")

    task = asyncio.get_running_loop().create_task(later())
    t0 = time.monotonic()
    got = await asyncio.wait_for(pc.fetch(1, expires=30.0), 40)
    await task
    assert [m.data for m in got] == [b"late"]
    assert time.monotonic() - t0 < 10  # at once, not at the 30 s expiry


async def test_fetch_max_bytes(js: jetstream.JetStream) -> None:
    await _stream(js, "MB", 50, size=1000)
    pc = await js.pull_consumer("MB", durable_name="c", ack_policy="none")
    got = await asyncio.wait_for(pc.fetch(50, max_bytes=3500, expires=1.0), 5)
    assert 1 <= len(got) <= 3
    assert sum(len(m.data) for m in got) <= 3500
    assert [m.seq for m in got] == list(range(1, len(got) + 1))
    # the next fetch continues where that one stopped
    nxt = await asyncio.wait_for(pc.fetch(5, expires=1.0), 5)
    assert [m.seq for m in nxt] == list(range(len(got) + 1, len(got) + 6))


async def test_fetch_validates_batch(js: jetstream.JetStream) -> None:
    await _stream(js, "V", 1)
    pc = await js.pull_consumer("V", durable_name="c")
    with pytest.raises(ValueError):
        await pc.fetch(0)


async def test_redelivery_without_ack(js: jetstream.JetStream) -> None:
    await _stream(js, "RD", 2)
    pc = await js.pull_consumer("RD", durable_name="c", ack_wait=0.3)
    first = await pc.fetch(2, expires=1.0)
    assert [m.metadata.num_delivered for m in first] == [1, 1]
    await first[0].ack()
    await asyncio.sleep(0.5)
    again = await asyncio.wait_for(pc.fetch(1, expires=1.0), 5)
    assert [(m.seq, m.metadata.num_delivered) for m in again] == [(2, 2)]
    # not acked again within the same long request: delivered once more
    third = await asyncio.wait_for(pc.fetch(2, expires=1.0), 5)
    assert [(m.seq, m.metadata.num_delivered) for m in third][:1] == [(2, 3)]


async def test_messages_window(js: jetstream.JetStream, monkeypatch: pytest.MonkeyPatch) -> None:
    n, window = 250, 64
    await _stream(js, "IT", n)
    pc = await js.pull_consumer("IT", durable_name="c")
    sizes: list[int] = []
    asked: list[int] = []
    real_fetch = pc.fetch

    async def spy(batch: int = 1, **kw: Any) -> list[jetstream.JsMsg]:
        asked.append(batch)
        got = await real_fetch(batch, **kw)
        sizes.append(len(got))
        return got

    monkeypatch.setattr(pc, "fetch", spy)

    async def run() -> list[int]:
        seqs = []
        async for m in pc.messages(window, expires=0.3):
            seqs.append(m.seq)
            await m.ack()
        return seqs

    seqs = await asyncio.wait_for(run(), 20)
    assert seqs == list(range(1, n + 1))
    assert all(a == window for a in asked)
    assert all(s <= window for s in sizes)
    assert sizes[-1] == 0  # it ended on an empty fetch
    assert sum(sizes) == n


async def test_messages_with_filter_and_max_bytes(js: jetstream.JetStream) -> None:
    await _stream(js, "FM", 90, size=200)
    pc = await js.pull_consumer("FM", durable_name="c", ack_policy="none", filter_subject="fm.1")
    seqs = [m.seq async for m in pc.messages(16, max_bytes=2000, expires=0.3)]
    assert seqs == list(range(2, 91, 3))


async def test_fetch_on_deleted_consumer(js: jetstream.JetStream) -> None:
    await _stream(js, "DEL", 2)
    pc = await js.pull_consumer("DEL", durable_name="c")
    await pc.delete()
    t0 = time.monotonic()
    with pytest.raises(E.APIError):
        await asyncio.wait_for(pc.fetch(1, expires=30.0), 40)
    assert time.monotonic() - t0 < 10  # the error comes at once, not at the 30 s expiry
