"""``JsMsg`` ack verbs against a real server with a pull consumer (ADR-15): ``nak`` redelivers
(at once or after a delay), ``term`` never redelivers, ``in_progress`` extends the ack wait."""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator

import pytest

import jetstream
import protocol

pytestmark = pytest.mark.timeout(60)

ACK_WAIT = 1.0  # seconds: short, so that a missing ack is redelivered within the test


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[jetstream.JetStream]:
    nc = await protocol.connect(nats_url, allow_reconnect=False)
    try:
        yield jetstream.JetStream(nc)
    finally:
        await nc.close()


async def _consumer(js: jetstream.JetStream, name: str, n: int = 1) -> jetstream.PullConsumer:
    await js.add_stream(name=name, subjects=[f"{name.lower()}.>"], storage="memory")
    for i in range(n):
        await js.publish(f"{name.lower()}.x", b"m%d" % i)
    return await js.pull_consumer(name, durable_name="c", ack_wait=ACK_WAIT)


async def _one(pc: jetstream.PullConsumer, expires: float) -> list[jetstream.JsMsg]:
    return await asyncio.wait_for(pc.fetch(1, expires=expires), expires + 5)


async def test_nak_redelivers_at_once(js: jetstream.JetStream) -> None:
    pc = await _consumer(js, "NAK")
    (first,) = await _one(pc, 1.0)
    assert first.metadata.num_delivered == 1
    t0 = time.monotonic()
    await first.nak()
    (again,) = await _one(pc, 2.0)
    assert time.monotonic() - t0 < ACK_WAIT  # redelivered because of the nak, not the ack wait
    assert again.seq == first.seq and again.data == first.data
    assert again.metadata.num_delivered == 2
    await again.ack()


async def test_nak_with_delay(js: jetstream.JetStream) -> None:
    pc = await _consumer(js, "NAKD")
    (first,) = await _one(pc, 1.0)
    t0 = time.monotonic()
    await first.nak(delay=0.7)
    assert await _one(pc, 0.3) == []  # not before the delay
    (again,) = await _one(pc, 3.0)
    assert time.monotonic() - t0 >= 0.6
    assert again.seq == first.seq and again.metadata.num_delivered == 2
    await again.ack()


@pytest.mark.parametrize("reason", [None, "bad data"])
async def test_term_is_never_redelivered(js: jetstream.JetStream, reason: str | None) -> None:
    pc = await _consumer(js, "TERM", n=2)
    (first,) = await _one(pc, 1.0)
    await first.term(reason)
    (second,) = await _one(pc, 1.0)
    assert second.seq == first.seq + 1  # the next message, not the terminated one
    await second.ack()
    assert await _one(pc, ACK_WAIT + 0.8) == []  # past the ack wait: still not redelivered
    info = await js.consumer_info("TERM", "c")
    assert info.num_ack_pending == 0 and info.num_redelivered == 0


async def test_without_ack_it_is_redelivered_after_ack_wait(js: jetstream.JetStream) -> None:
    """The control for the in_progress test: no verb at all, so the ack wait runs out."""
    pc = await _consumer(js, "NOACK")
    (first,) = await _one(pc, 1.0)
    (again,) = await _one(pc, ACK_WAIT + 2.0)
    assert again.seq == first.seq and again.metadata.num_delivered == 2


async def test_in_progress_extends_ack_wait(js: jetstream.JetStream) -> None:
    pc = await _consumer(js, "WPI")
    (first,) = await _one(pc, 1.0)
    t0 = time.monotonic()
    for _ in range(3):  # three ack-wait resets 0.6 s apart: 1.8 s in all, well past ACK_WAIT
        await asyncio.sleep(0.6 * ACK_WAIT)
        await first.in_progress()
    await js.connection.flush()
    assert time.monotonic() - t0 > ACK_WAIT
    assert await _one(pc, 0.4 * ACK_WAIT) == []  # no redelivery while it is being worked on
    await first.ack()
    await js.connection.flush()
    info = await js.consumer_info("WPI", "c")
    assert info.num_ack_pending == 0 and info.num_redelivered == 0
