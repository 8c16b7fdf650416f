"""JetStream suites: pipelined publish, the server's ingest ceiling, ordered-consumer delivery and
direct gets. Ours (``jetstream``) and nats-py run in the same process against the same server.

- ``js publish 128 KiB`` / ``js publish 1 KiB``: ours = :class:`jetstream.Publisher` (default window:
  4096 messages / 16 MiB); nats-py = ``js.publish_async`` then ``js.publish_async_completed()``
  (default 4000 pending). File storage, a fresh stream per run, timed until every ack is in.
- ``js publish 128 KiB ceiling: raw pipelined``: our protocol connection publishing 128 KiB messages
  with reply subjects on one wildcard inbox subscription, counting (not parsing) acks, with the same
  16 MiB window: what the server can ingest; the Publisher should be within 20 % of it. A reference
  row: its ratio is against nats-py's publish_async.
- ``js ordered 1 KiB`` / ``js ordered 128 KiB``: delivery through an ordered consumer from a
  pre-filled stream (filled once, reused by both sides), timed from consumer creation to the
  n-th message. nats-py: ``js.subscribe(..., ordered_consumer=True)`` with a callback (its faster
  form: the ``sub.messages`` iterator adds a queue hop per message).
- ``js direct get``: sequential ``direct_get(stream, seq=i)`` vs ``js.get_msg(stream, seq, direct=True)``.

Every run is bounded in count (``n``, capped by ``max_n``) and time (``Deadline`` checks, plus the
runner's ``wait_for``); streams made for a run are deleted after it.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from typing import Any

from .common import MB, Context, Deadline, Sample, raw_pipelined_publish, register

perf = time.perf_counter
KIB = 1024
CHECK_EVERY = 256  # messages between deadline checks
PUB_WINDOW_BYTES = 16 * 1024 * 1024  # the Publisher's default byte window
_names = itertools.count(1)
_best_publisher: dict[int, float] = {}  # payload size -> best Publisher MB/s seen this process


def _stream_name(tag: str) -> str:
    return f"BENCH_{tag}_{os.getpid()}_{next(_names)}"


async def _ours(ctx: Context) -> tuple[Any, Any]:
    import jetstream

    nc = await ctx.ours_connect()
    return nc, jetstream.JetStream(nc, timeout=10.0)


async def _drop_stream(ctx: Context, name: str) -> None:
    nc, js = await _ours(ctx)
    try:
        await js.delete_stream(name)
    except Exception:  # noqa: BLE001 - cleanup only
        pass
    finally:
        await nc.close()


# --------------------------------------------------------------------------------------------------
# 1. Pipelined publish into a file-storage stream


async def _new_publish_stream(ctx: Context, tag: str) -> tuple[str, str]:
    name = _stream_name(tag)
    subject = f"bench.js.{name}"
    nc, js = await _ours(ctx)
    try:
        await js.add_stream(name=name, subjects=[subject], storage="file")
    finally:
        await nc.close()
    return name, subject


async def _check_count(ctx: Context, name: str, n: int) -> None:
    nc, js = await _ours(ctx)
    try:
        got = (await js.stream_info(name)).state.messages
    finally:
        await nc.close()
    if got != n:
        raise RuntimeError(f"stream {name} holds {got} messages, expected {n}")


def _pub_sample(n: int, size: int, dt: float, note: str = "") -> Sample:
    if size >= 64 * KIB:
        return Sample(n * size / MB, dt, note or f"{n / dt:,.0f} msgs/s")
    return Sample(n, dt, note or f"{n * size / MB / dt:,.1f} MB/s")


async def _ours_publish(ctx: Context, n: int, size: int) -> Sample:
    name, subject = await _new_publish_stream(ctx, "PUB")
    payload = b"j" * size
    deadline = Deadline(ctx.run_timeout * 0.8, "Publisher loop")
    nc, js = await _ours(ctx)
    try:
        t0 = perf()
        async with js.publisher() as pub:
            publish = pub.publish
            for i in range(n):
                await publish(subject, payload)
                if i % CHECK_EVERY == 0:
                    deadline.check()
        dt = perf() - t0
        if pub.acked != n or pub.last_seq != n:
            raise RuntimeError(f"Publisher acked {pub.acked} (last seq {pub.last_seq}) of {n}")
    finally:
        await nc.close()
    try:
        await _check_count(ctx, name, n)
    finally:
        await _drop_stream(ctx, name)
    rate = n * size / MB / dt
    _best_publisher[size] = max(_best_publisher.get(size, 0.0), rate)
    return _pub_sample(n, size, dt)


async def _theirs_publish(ctx: Context, n: int, size: int) -> Sample:
    name, subject = await _new_publish_stream(ctx, "PUB")
    payload = b"j" * size
    deadline = Deadline(ctx.run_timeout * 0.8, "publish_async loop")
    nc = await ctx.theirs_connect()
    try:
        js = nc.jetstream(timeout=10.0)
        publish_async = js.publish_async
        t0 = perf()
        for i in range(n):
            await publish_async(subject, payload)
            if i % CHECK_EVERY == 0:
                deadline.check()
        await asyncio.wait_for(js.publish_async_completed(), deadline.remaining())
        dt = perf() - t0
    finally:
        await nc.close()
    try:
        await _check_count(ctx, name, n)
    finally:
        await _drop_stream(ctx, name)
    return _pub_sample(n, size, dt)


async def ours_publish_128k(ctx: Context, n: int) -> Sample:
    return await _ours_publish(ctx, n, 128 * KIB)


async def theirs_publish_128k(ctx: Context, n: int) -> Sample:
    return await _theirs_publish(ctx, n, 128 * KIB)


async def ours_publish_1k(ctx: Context, n: int) -> Sample:
    return await _ours_publish(ctx, n, KIB)


async def theirs_publish_1k(ctx: Context, n: int) -> Sample:
    return await _theirs_publish(ctx, n, KIB)


async def raw_publish_128k(ctx: Context, n: int) -> Sample:
    """Server ingest ceiling: PUB with a reply subject per message, acks counted on one wildcard
    inbox subscription (payload not parsed), at most 16 MiB outstanding (the Publisher's window)."""
    size = 128 * KIB
    window = max(1, PUB_WINDOW_BYTES // size)
    name, subject = await _new_publish_stream(ctx, "RAW")
    payload = b"r" * size
    deadline = Deadline(ctx.run_timeout * 0.8, "raw pipelined publish loop")
    nc = await ctx.ours_connect()
    try:
        dt = await raw_pipelined_publish(nc, ((subject, payload) for _ in range(n)), n, window, deadline)
    finally:
        await nc.close()
    try:
        await _check_count(ctx, name, n)
    finally:
        await _drop_stream(ctx, name)
    rate = n * size / MB / dt
    best = _best_publisher.get(size)
    note = f"Publisher best {best:,.0f} MB/s = {best / rate:.0%} of this run" if best else ""
    return Sample(n * size / MB, dt, note)


register(
    "js publish 128 KiB",
    ours_publish_128k,
    theirs_publish_128k,
    "MB/s",
    target=1.5,
    n=1_500,
    quick_n=1_000,
    max_n=8_000,
    description="Publisher vs publish_async + publish_async_completed, file storage",
)
register(
    "js publish 128 KiB ceiling: raw pipelined",
    raw_publish_128k,
    None,
    "MB/s",
    n=1_500,
    quick_n=1_000,
    max_n=8_000,
    compare_to="js publish 128 KiB",
    description="protocol PUB+reply, acks counted not parsed, 16 MiB window: the server's ingest rate",
)
register(
    "js publish 1 KiB",
    ours_publish_1k,
    theirs_publish_1k,
    "msgs/s",
    target=None,
    n=30_000,
    quick_n=20_000,
    max_n=400_000,
    description="Publisher vs publish_async + publish_async_completed, file storage",
)


# --------------------------------------------------------------------------------------------------
# 2. Ordered-consumer delivery from a pre-filled stream (filled once per process, reused)

_filled: dict[str, int] = {}  # stream name -> messages in it


async def _filled_stream(ctx: Context, size: int, n: int, storage: str = "file") -> tuple[str, str]:
    """The stream for ``size`` messages holding at least ``n`` of them (topped up when needed)."""
    name = f"BENCH_OC_{size}_{os.getpid()}"
    subject = f"bench.oc.{size}"
    have = _filled.get(name)
    if have is not None and have >= n:
        return name, subject
    nc, js = await _ours(ctx)
    try:
        if have is None:
            await js.add_stream(name=name, subjects=[subject], storage=storage)
            have = 0
        payload = b"o" * size
        deadline = Deadline(ctx.run_timeout * 0.9, "fill stream")
        async with js.publisher() as pub:
            for i in range(n - have):
                await pub.publish(subject, payload)
                if i % CHECK_EVERY == 0:
                    deadline.check()
        _filled[name] = (await js.stream_info(name)).state.messages
    finally:
        await nc.close()
    return name, subject


def _oc_sample(n: int, size: int, dt: float) -> Sample:
    if size >= 64 * KIB:
        return Sample(n * size / MB, dt, f"{n / dt:,.0f} msgs/s")
    return Sample(n, dt, f"{n * size / MB / dt:,.1f} MB/s")


async def _ours_ordered(ctx: Context, n: int, size: int) -> Sample:
    name, _ = await _filled_stream(ctx, size, n)
    deadline = Deadline(ctx.run_timeout * 0.8, "ordered consumer loop")
    nc, js = await _ours(ctx)
    count = 0
    try:
        t0 = perf()
        oc = js.ordered_consumer(name)
        try:
            async for msg in oc:
                count += 1
                if count >= n:
                    break
                if count % 1000 == 0:
                    deadline.check()
            dt = perf() - t0
            if msg.seq != n or len(msg.data) != size:
                raise RuntimeError(f"last message seq {msg.seq} size {len(msg.data)}, expected {n} / {size}")
        finally:
            await oc.close()
    finally:
        await nc.close()
    return _oc_sample(n, size, dt)


async def _theirs_ordered(ctx: Context, n: int, size: int) -> Sample:
    name, subject = await _filled_stream(ctx, size, n)
    deadline = Deadline(ctx.run_timeout * 0.8, "nats-py ordered consumer")
    nc = await ctx.theirs_connect()
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    count = 0
    last: list[Any] = []

    async def cb(msg: Any) -> None:
        nonlocal count
        count += 1
        if count == n:
            last.append(msg)
            if not done.done():
                done.set_result(None)

    try:
        js = nc.jetstream(timeout=10.0)
        t0 = perf()
        sub = await js.subscribe(subject, stream=name, ordered_consumer=True, cb=cb)
        await asyncio.wait_for(asyncio.shield(done), deadline.remaining())
        dt = perf() - t0
        if last[0].metadata.sequence.stream != n or len(last[0].data) != size:
            raise RuntimeError("nats-py ordered consumer: wrong last message")
        await sub.unsubscribe()
    finally:
        await nc.close()
    return _oc_sample(n, size, dt)


async def _raw_push(ctx: Context, n: int, size: int) -> Sample:
    """Delivery ceiling: a plain push consumer (ack none, flow control, heartbeats) read with the
    bare protocol subscription, counting data messages and answering flow control: no sequence
    tracking, no metadata, no message objects. What the server delivers on this machine."""
    name, _ = await _filled_stream(ctx, size, n)
    deadline = Deadline(ctx.run_timeout * 0.8, "raw push consumer loop")
    nc, js = await _ours(ctx)
    consumer = f"raw{next(_names)}"
    try:
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox, pending_msgs_limit=1 << 30, pending_bytes_limit=1 << 40)
        publish = nc.publish
        count = 0
        t0 = perf()
        await js.add_consumer(
            name, name=consumer, deliver_subject=inbox, ack_policy="none", max_deliver=1,
            flow_control=True, idle_heartbeat=5.0, mem_storage=True, num_replicas=1,
        )
        async for msg in sub:
            if msg.data:
                count += 1
                if count >= n:
                    break
                if count % 1000 == 0:
                    deadline.check()
            elif msg.reply:  # flow control request
                await publish(msg.reply, b"")
        dt = perf() - t0
        await sub.unsubscribe()
        await js.delete_consumer(name, consumer)
    finally:
        await nc.close()
    return _oc_sample(n, size, dt)


async def raw_push_1k(ctx: Context, n: int) -> Sample:
    return await _raw_push(ctx, n, KIB)


async def raw_push_128k(ctx: Context, n: int) -> Sample:
    return await _raw_push(ctx, n, 128 * KIB)


async def ours_ordered_1k(ctx: Context, n: int) -> Sample:
    return await _ours_ordered(ctx, n, KIB)


async def theirs_ordered_1k(ctx: Context, n: int) -> Sample:
    return await _theirs_ordered(ctx, n, KIB)


async def ours_ordered_128k(ctx: Context, n: int) -> Sample:
    return await _ours_ordered(ctx, n, 128 * KIB)


async def theirs_ordered_128k(ctx: Context, n: int) -> Sample:
    return await _theirs_ordered(ctx, n, 128 * KIB)


register(
    "js ordered 1 KiB",
    ours_ordered_1k,
    theirs_ordered_1k,
    "msgs/s",
    target=1.9,  # issue 14 point 4 (the first bench's 3x was above the raw-push ceiling)
    n=50_000,
    quick_n=30_000,
    max_n=300_000,
    description="ordered push consumer over a pre-filled file stream, creation to n-th message",
)
register(
    "js ordered 128 KiB",
    ours_ordered_128k,
    theirs_ordered_128k,
    "MB/s",
    target=2.0,
    n=1_500,
    quick_n=1_000,
    max_n=6_000,
    description="ordered push consumer over a pre-filled file stream, creation to n-th message",
)

register(
    "js ordered 1 KiB ceiling: raw push",
    raw_push_1k,
    None,
    "msgs/s",
    n=50_000,
    quick_n=30_000,
    max_n=300_000,
    compare_to="js ordered 1 KiB",
    description="bare protocol subscription on a flow-controlled push consumer: the server's delivery rate",
)
register(
    "js ordered 128 KiB ceiling: raw push",
    raw_push_128k,
    None,
    "MB/s",
    n=1_500,
    quick_n=1_000,
    max_n=6_000,
    compare_to="js ordered 128 KiB",
    description="bare protocol subscription on a flow-controlled push consumer: the server's delivery rate",
)

# --------------------------------------------------------------------------------------------------
# 3. Direct gets, sequential

DIRECT_MSGS = 1_000


async def _direct_stream(ctx: Context) -> str:
    name = f"BENCH_DG_{os.getpid()}"
    if name in _filled:
        return name
    nc, js = await _ours(ctx)
    try:
        await js.add_stream(name=name, subjects=[f"bench.dg.{os.getpid()}.*"], storage="file", allow_direct=True)
        async with js.publisher() as pub:
            for i in range(DIRECT_MSGS):
                await pub.publish(f"bench.dg.{os.getpid()}.{i % 10}", b"d" * KIB)
    finally:
        await nc.close()
    _filled[name] = DIRECT_MSGS
    return name


async def ours_direct_get(ctx: Context, n: int) -> Sample:
    name = await _direct_stream(ctx)
    deadline = Deadline(ctx.run_timeout * 0.8, "direct get loop")
    nc, js = await _ours(ctx)
    try:
        direct_get = js.direct_get
        await direct_get(name, 1)
        t0 = perf()
        for i in range(n):
            m = await direct_get(name, i % DIRECT_MSGS + 1)
            if i % CHECK_EVERY == 0:
                deadline.check()
        dt = perf() - t0
        if m.seq != (n - 1) % DIRECT_MSGS + 1:
            raise RuntimeError("direct get returned the wrong message")
    finally:
        await nc.close()
    return Sample(n, dt)


async def theirs_direct_get(ctx: Context, n: int) -> Sample:
    name = await _direct_stream(ctx)
    deadline = Deadline(ctx.run_timeout * 0.8, "nats-py direct get loop")
    nc = await ctx.theirs_connect()
    try:
        js = nc.jetstream(timeout=10.0)
        get_msg = js.get_msg
        await get_msg(name, 1, direct=True)
        t0 = perf()
        for i in range(n):
            m = await get_msg(name, i % DIRECT_MSGS + 1, direct=True)
            if i % CHECK_EVERY == 0:
                deadline.check()
        dt = perf() - t0
        if m.seq != (n - 1) % DIRECT_MSGS + 1:
            raise RuntimeError("nats-py direct get returned the wrong message")
    finally:
        await nc.close()
    return Sample(n, dt)


register(
    "js direct get",
    ours_direct_get,
    theirs_direct_get,
    "req/s",
    target=None,
    n=5_000,
    quick_n=2_000,
    max_n=100_000,
    description="sequential direct_get(stream, seq=i) vs js.get_msg(stream, seq, direct=True), 1 KiB",
)
