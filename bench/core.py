"""Core NATS suites: publish, subscriber delivery, request/reply, and the MSG parser (no server).

Ours (``protocol``) and nats-py run side by side in the same process against the same server.
Every measured loop is bounded by its count ``n`` and by a ``Deadline`` checked once per batch
(our ``publish`` does not yield unless the transport pushes back, so ``wait_for`` alone could
not interrupt it).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .common import MB, Context, Deadline, Sample, register

BATCH = 1000  # messages between deadline checks / flow-control checks
SUB_WINDOW = 20_000  # max messages the publisher may run ahead of the consumer (bounds server/client buffers)
perf = time.perf_counter


# --------------------------------------------------------------------------------------------------
# 1. Publish throughput: N publishes to a subject nobody subscribes to, then one flush.


async def _publish_n(nc: Any, subject: str, payload: bytes, n: int, deadline: Deadline) -> None:
    """The same loop for both clients: ``await nc.publish(subject, payload)`` n times."""
    pub = nc.publish
    done = 0
    while done < n:
        k = min(BATCH, n - done)
        for _ in range(k):
            await pub(subject, payload)
        done += k
        deadline.check()


async def _pub_run(ctx: Context, nc: Any, n: int, size: int) -> Sample:
    payload = b"x" * size
    subject = ctx.unique("bench.pub.nosub")
    deadline = Deadline(ctx.run_timeout * 0.8, "publish loop")
    try:
        await nc.flush()
        t0 = perf()
        await _publish_n(nc, subject, payload, n, deadline)
        await nc.flush()
        dt = perf() - t0
    finally:
        await nc.close()
    return Sample(n if size < 1024 else n * size / MB, dt)


async def ours_pub_16(ctx: Context, n: int) -> Sample:
    return await _pub_run(ctx, await ctx.ours_connect(), n, 16)


async def theirs_pub_16(ctx: Context, n: int) -> Sample:
    return await _pub_run(ctx, await ctx.theirs_connect(), n, 16)


async def ours_pub_128k(ctx: Context, n: int) -> Sample:
    return await _pub_run(ctx, await ctx.ours_connect(), n, 128 * 1024)


async def theirs_pub_128k(ctx: Context, n: int) -> Sample:
    return await _pub_run(ctx, await ctx.theirs_connect(), n, 128 * 1024)


async def raw_pub_128k(ctx: Context, n: int) -> Sample:
    """No client at all: a blocking socket ``sendall``s prebuilt PUB frames, then PING/PONG.
    What the server and the kernel can absorb on this machine: the ceiling for any client."""
    import socket

    size = 128 * 1024
    srv = ctx.server()
    deadline = Deadline(ctx.run_timeout * 0.8, "raw publish loop")
    sock = socket.create_connection((srv.host, srv.port), timeout=5.0)
    try:
        buf = b""
        while b"\r\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                raise RuntimeError("server closed before INFO")
            buf += chunk
        sock.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')
        _await_pong(sock, deadline)
        subject = ctx.unique("bench.pub.nosub").encode()
        frame = b"PUB %s %d\r\n" % (subject, size) + b"x" * size + b"\r\n"
        per_batch = 2
        batch = frame * per_batch
        t0 = perf()
        sent = 0
        while sent < n:
            sock.sendall(batch)
            sent += per_batch
            deadline.check()
        sock.sendall(b"PING\r\n")
        _await_pong(sock, deadline)
        dt = perf() - t0
    finally:
        sock.close()
    return Sample(sent * size / MB, dt)


def _await_pong(sock: Any, deadline: Deadline) -> None:
    buf = b""
    while b"PONG\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("server closed the raw connection")
        buf = buf[-8:] + chunk
        deadline.check()


register("pub 16 B", ours_pub_16, theirs_pub_16, "msgs/s", target=1.5, n=200_000, quick_n=150_000, max_n=2_000_000)
register("pub 128 KiB", ours_pub_128k, theirs_pub_128k, "MB/s", target=2.0, n=4_000, quick_n=3_000, max_n=40_000)
register(
    "pub 128 KiB ceiling: raw socket",
    raw_pub_128k,
    None,
    "MB/s",
    n=4_000,
    quick_n=3_000,
    max_n=40_000,
    compare_to="pub 128 KiB",
    description="no client: sendall of prebuilt frames; ratio = the best any client could show vs nats-py",
)


# --------------------------------------------------------------------------------------------------
# 2. Subscriber delivery of 1 KiB messages. OUR client publishes for both sides (isolates the
#    subscriber); the publisher stays at most SUB_WINDOW messages ahead of what the consumer has
#    taken, so neither the server's per-client buffer nor the client's pending queue grows with n.

SUB_PAYLOAD = b"s" * 1024


class _Progress:
    __slots__ = ("received",)

    def __init__(self) -> None:
        self.received = 0


async def _feed(pub: Any, subject: str, n: int, progress: _Progress, deadline: Deadline) -> None:
    publish = pub.publish
    sent = 0
    while sent < n:
        k = min(BATCH, n - sent)
        for _ in range(k):
            await publish(subject, SUB_PAYLOAD)
        sent += k
        deadline.check()
        while sent - progress.received > SUB_WINDOW:
            await asyncio.sleep(0.0005)
            deadline.check()
    await pub.flush()


async def _sub_run(ctx: Context, n: int, kind: str, mode: str) -> Sample:
    """kind: 'ours' | 'theirs' (the subscriber); mode: 'iter' | 'cb'."""
    subject = ctx.unique("bench.sub")
    deadline = Deadline(ctx.run_timeout * 0.8, f"subscriber ({mode}) run")
    progress = _Progress()
    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    pub = await ctx.ours_connect()
    snc = await (ctx.ours_connect() if kind == "ours" else ctx.theirs_connect())
    limits = {"pending_msgs_limit": n + SUB_WINDOW * 2, "pending_bytes_limit": (n + SUB_WINDOW * 2) * 2048}
    consumer = None
    try:
        if mode == "cb":

            async def cb(msg: Any) -> None:
                progress.received += 1
                if progress.received == n:
                    finished.set_result(None)

            sub = await snc.subscribe(subject, cb=cb, **limits)
        else:
            sub = await snc.subscribe(subject, **limits)
            it = sub if kind == "ours" else sub.messages

            async def consume() -> None:
                try:
                    async for _msg in it:
                        progress.received += 1
                        if progress.received >= n:
                            break
                except Exception as err:  # e.g. a slow-consumer error: fail the run, do not hang
                    finished.set_exception(err)
                    return
                finished.set_result(None)

            consumer = loop.create_task(consume())
        await snc.flush()  # the SUB is registered before the first publish
        t0 = perf()
        await _feed(pub, subject, n, progress, deadline)
        await asyncio.wait_for(asyncio.shield(finished), deadline.remaining())
        dt = perf() - t0
        note = ""
        errors = getattr(snc, "_bench_errors", None)
        if errors:
            note = f"{len(errors)} async errors, first: {errors[0]!r}"
    finally:
        if consumer is not None and not consumer.done():
            consumer.cancel()
        await pub.close()
        await snc.close()
    if progress.received != n:
        raise RuntimeError(f"received {progress.received} of {n}")
    return Sample(n, dt, note)


async def ours_sub_iter(ctx: Context, n: int) -> Sample:
    return await _sub_run(ctx, n, "ours", "iter")


async def theirs_sub_iter(ctx: Context, n: int) -> Sample:
    return await _sub_run(ctx, n, "theirs", "iter")


async def ours_sub_cb(ctx: Context, n: int) -> Sample:
    return await _sub_run(ctx, n, "ours", "cb")


async def theirs_sub_cb(ctx: Context, n: int) -> Sample:
    return await _sub_run(ctx, n, "theirs", "cb")


register("sub 1 KiB async-iter", ours_sub_iter, theirs_sub_iter, "msgs/s", target=3.0, n=60_000, quick_n=40_000, max_n=1_000_000)
register("sub 1 KiB callback", ours_sub_cb, theirs_sub_cb, "msgs/s", target=None, n=60_000, quick_n=40_000, max_n=1_000_000)


# --------------------------------------------------------------------------------------------------
# 3. Request/reply: sequential round trips; the responder is a second connection of the same client.


async def _reqrep_run(ctx: Context, n: int, kind: str) -> Sample:
    subject = ctx.unique("bench.rr")
    deadline = Deadline(ctx.run_timeout * 0.8, "request loop")
    connect = ctx.ours_connect if kind == "ours" else ctx.theirs_connect
    rnc = await connect()
    qnc = await connect()
    try:

        async def handler(msg: Any) -> None:
            await msg.respond(b"pong")

        await rnc.subscribe(subject, cb=handler)
        await rnc.flush()
        await qnc.request(subject, b"ping", timeout=5.0)  # warm: the reply inbox subscription exists
        request = qnc.request
        t0 = perf()
        done = 0
        while done < n:
            k = min(100, n - done)
            for _ in range(k):
                await request(subject, b"ping", timeout=5.0)
            done += k
            deadline.check()
        dt = perf() - t0
    finally:
        await qnc.close()
        await rnc.close()
    return Sample(n, dt)


async def ours_reqrep(ctx: Context, n: int) -> Sample:
    return await _reqrep_run(ctx, n, "ours")


async def theirs_reqrep(ctx: Context, n: int) -> Sample:
    return await _reqrep_run(ctx, n, "theirs")


register("request/reply sequential", ours_reqrep, theirs_reqrep, "req/s", target=None, n=5_000, quick_n=2_000, max_n=200_000)


# --------------------------------------------------------------------------------------------------
# 4. Parser throughput (no server): MSG frames fed in 32 KiB chunks.

CHUNK = 32 * 1024
STREAM_TARGET_BYTES = 4 * 1024 * 1024  # one pass over the prebuilt stream; repeated to reach n


def _build_stream(size: int) -> tuple[list[bytes], int]:
    payload = b"p" * size
    frame = b"MSG foo.bar.baz 1 _INBOX.abcdef.123 %d\r\n%s\r\n" % (size, payload)
    per_pass = max(1, STREAM_TARGET_BYTES // len(frame))
    stream = frame * per_pass
    chunks = [stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK)]
    return chunks, per_pass


_streams: dict[int, tuple[list[bytes], int]] = {}


def _stream(size: int) -> tuple[list[bytes], int]:
    if size not in _streams:
        _streams[size] = _build_stream(size)
    return _streams[size]


class _StubClient:
    """What nats-py's Parser reads from ``nc``: the _process_* coroutines. Only counts."""

    def __init__(self) -> None:
        self.msgs = 0
        self.other = 0

    async def _process_msg(self, sid: int, subject: bytes, reply: bytes, payload: bytes, headers: Any) -> None:
        self.msgs += 1

    async def _process_err(self, err: str) -> None:
        self.other += 1

    async def _process_ping(self) -> None:
        self.other += 1

    async def _process_pong(self) -> None:
        self.other += 1

    async def _process_info(self, info: dict) -> None:
        self.other += 1


async def _ours_parse(ctx: Context, n: int, size: int) -> Sample:
    from protocol.parser import Parser

    chunks, per_pass = _stream(size)
    passes = max(1, -(-n // per_pass))
    deadline = Deadline(ctx.run_timeout * 0.8, "parse loop")
    parser = Parser()
    feed = parser.feed
    count = 0
    t0 = perf()
    for _ in range(passes):
        for chunk in chunks:
            count += len(feed(chunk))
        deadline.check()
    dt = perf() - t0
    if count != passes * per_pass:
        raise RuntimeError(f"parsed {count} frames, expected {passes * per_pass}")
    return Sample(count, dt)


async def _theirs_parse(ctx: Context, n: int, size: int) -> Sample:
    from nats.protocol.parser import Parser

    chunks, per_pass = _stream(size)
    passes = max(1, -(-n // per_pass))
    deadline = Deadline(ctx.run_timeout * 0.8, "parse loop")
    stub = _StubClient()
    parser = Parser(stub)
    parse = parser.parse
    t0 = perf()
    for _ in range(passes):
        for chunk in chunks:
            await parse(chunk)
        deadline.check()
    dt = perf() - t0
    if stub.msgs != passes * per_pass or stub.other:
        raise RuntimeError(f"parsed {stub.msgs} frames (+{stub.other} other), expected {passes * per_pass}")
    return Sample(stub.msgs, dt)


async def ours_parse_16(ctx: Context, n: int) -> Sample:
    return await _ours_parse(ctx, n, 16)


async def theirs_parse_16(ctx: Context, n: int) -> Sample:
    return await _theirs_parse(ctx, n, 16)


async def ours_parse_1k(ctx: Context, n: int) -> Sample:
    return await _ours_parse(ctx, n, 1024)


async def theirs_parse_1k(ctx: Context, n: int) -> Sample:
    return await _theirs_parse(ctx, n, 1024)


register("parse MSG 16 B", ours_parse_16, theirs_parse_16, "msgs/s", target=1.4, n=300_000, quick_n=200_000, max_n=5_000_000, needs_server=False)
register("parse MSG 1 KiB", ours_parse_1k, theirs_parse_1k, "msgs/s", target=1.4, n=200_000, quick_n=100_000, max_n=3_000_000, needs_server=False)


async def ours_parse_128k(ctx: Context, n: int) -> Sample:
    return await _ours_parse(ctx, n, 128 * 1024)


async def theirs_parse_128k(ctx: Context, n: int) -> Sample:
    return await _theirs_parse(ctx, n, 128 * 1024)


# Frames larger than one read: the parser's parked path (an object chunk's path).
register("parse MSG 128 KiB", ours_parse_128k, theirs_parse_128k, "msgs/s", target=None, n=2_000, quick_n=1_000, max_n=200_000, needs_server=False)
