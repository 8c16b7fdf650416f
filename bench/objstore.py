"""Object-store suites: ours (``objstore``) vs nats-py's object store, same process, same server,
for both storage types (``[file]`` and ``[memory]`` rows).

- ``obj put 1 KiB`` / ``obj get 1 KiB``: puts/s with distinct names into a fresh bucket per run;
  gets/s round-robin over 1000 objects put once (by our client) into a fixture bucket (nats-py's
  gets rotate over several identical fixture buckets: see CONSUMER_BUDGET).
- ``obj put 1 MiB`` / ``obj get 1 MiB``: MB/s, same scheme (16 fixture objects).
- ``obj put 64 MiB`` / ``obj get 64 MiB``: MB/s. nats-py's in-memory get reassembles with
  ``bytes +=`` (quadratic): one 64 MiB get takes ~7-10 s, so the runner's per-side time budget
  (``SIDE_BUDGET_S`` = 8 s) leaves that side one run (two when the first took under 8 s); the
  run count is in the progress lines and the JSON samples.
- ``... ceiling: ...`` reference rows (no nats-py side; the ratio is against the nats-py side of
  the row above): ``obj put 1 KiB ceiling: 2 acked pubs`` = the chunk then the meta as two acked
  requests on a bare connection (the floor of an ADR-20 put: the meta may only follow the stored
  chunk); ``obj put 64 MiB ceiling: raw pipelined`` = 512 publishes of 128 KiB with our put's 8 MiB
  window, acks counted, no hashing: the server's ingest rate here, i.e. the best ratio any
  client could show on this machine.
- ``obj stream put 512 MiB [file]`` / ``obj stream get 512 MiB [file]``: a 512 MiB file streamed
  into an object (``put(name, open(path, "rb"))``) and an object streamed into a file
  (``get(name, writeinto=f)``), each transfer in a FRESH PROCESS (``bench/rss_child.py``) so its peak
  RSS means something. ``... peak RSS+`` rows report that peak above the child's baseline (RSS
  after imports + connect) in MiB: LOWER is better there, and our target is <= 64 MiB (see the
  note in the JSON samples; the peak is the child's ``VmHWM`` after a reset, since its
  ``ru_maxrss`` also counts the forked benchmark process it was exec'ed from). The table's own
  RSS+ column is the parent's and means nothing for these rows. Every transfer is bounded by time
  (``_stream_limit``: 21 s full, 10.5 s quick, under the runner's per-run bound): past it the child
  stops it and reports the rate of the bytes moved so far, marked PARTIAL in the note (only
  nats-py's get could get there: ~64 MB/s, ~8 s for 512 MiB here). With ``--quick`` the object is
  64 MiB and the rows are renamed accordingly.

Every run is bounded in count and in time (the runner's ``wait_for``; children get a limit below
it and are killed if the run is cancelled). Buckets made for put runs are deleted after the run;
fixture buckets live until the server stops; the temp dir holding the big file is removed at exit.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import itertools
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from .common import MB, Context, Deadline, Sample, Suite, drop_object_store, raw_pipelined_publish, register, run_child

perf = time.perf_counter
KIB = 1024
MIB = 1024 * 1024
STORAGES = ("file", "memory")
GET_FIXTURE_COUNT = {KIB: 1000, MIB: 16, 64 * MIB: 1}
STREAM_SIZE = 512 * MIB
STREAM_SIZE_QUICK = 64 * MIB
RSS_BUDGET_MIB = 64
_names = itertools.count(1)


def _bucket_name(tag: str) -> str:
    return f"BENCH_{tag}_{os.getpid()}_{next(_names)}"


def _make_payload(size: int) -> bytes:
    return os.urandom(size) if size <= MIB else os.urandom(MIB) * (size // MIB)


# Random bytes (nothing compresses), made at import so that no run's RSS+ counts them.
_payloads: dict[int, bytes] = {size: _make_payload(size) for size in (KIB, MIB, 64 * MIB)}


def _payload(size: int) -> bytes:
    if size not in _payloads:
        _payloads[size] = _make_payload(size)
    return _payloads[size]


def _rate_sample(n: int, size: int, dt: float) -> Sample:
    if size < MIB:
        return Sample(n, dt, f"{n * size / MB / dt:,.1f} MB/s")
    return Sample(n * size / MB, dt, f"{n / dt:,.2f} objects/s")


# --------------------------------------------------------------------------------------------------
# Connections and buckets


async def _ours(ctx: Context) -> tuple[Any, Any]:
    import objstore

    nc = await objstore.connect(ctx.url, allow_reconnect=False)
    return nc, nc.jetstream(timeout=10.0)


async def _theirs(ctx: Context) -> tuple[Any, Any]:
    nc = await ctx.theirs_connect()
    return nc, nc.jetstream(timeout=10.0)


async def _ours_bucket(js: Any, bucket: str, storage: str, fast_ingest: bool = False) -> Any:
    return await js.create_object_store(bucket=bucket, storage=storage, fast_ingest=fast_ingest)


async def _theirs_bucket(js: Any, bucket: str, storage: str) -> Any:
    from nats.js.api import ObjectStoreConfig, StorageType

    kind = StorageType.FILE if storage == "file" else StorageType.MEMORY
    return await js.create_object_store(bucket, config=ObjectStoreConfig(bucket=bucket, storage=kind))


async def _check_object(ctx: Context, bucket: str, name: str, size: int) -> None:
    """After a put run: the last object is there with the right size (read with our client)."""
    nc, js = await _ours(ctx)
    try:
        store = await js.object_store(bucket)
        info = await store.get_info(name)
        if info.size != size:
            raise RuntimeError(f"{bucket}/{name}: size {info.size}, expected {size}")
    finally:
        await nc.close()


# --------------------------------------------------------------------------------------------------
# 1-3. Puts and gets of in-memory payloads


async def _put_run(ctx: Context, n: int, size: int, storage: str, side: str, fast_ingest: bool = False) -> Sample:
    bucket = _bucket_name("PUT")
    payload = _payload(size)
    deadline = Deadline(ctx.run_timeout * 0.8, f"put {size} B loop")
    nc, js = await (_ours(ctx) if side == "ours" else _theirs(ctx))
    try:
        if side == "ours":
            store = await _ours_bucket(js, bucket, storage, fast_ingest)
        else:
            store = await _theirs_bucket(js, bucket, storage)
        names = [f"obj-{i}" for i in range(n)]
        put = store.put
        t0 = perf()
        for name in names:
            await put(name, payload)
            deadline.check()
        dt = perf() - t0
    finally:
        await nc.close()
    try:
        await _check_object(ctx, bucket, names[-1], size)
    finally:
        await drop_object_store(ctx, bucket)
    return _rate_sample(n, size, dt)


# nats-py's get subscribes an ordered consumer per object (even a one-chunk one) and never
# deletes it: the server drops it ~5 s after its interest is gone, and refuses a stream's 1001st
# consumer ("maximum consumers limit reached", err_code 10026). So a nats-py run spreads its gets
# over fixture buckets (one per CONSUMER_BUDGET gets) that have not been used for COOL_DOWN_S. Ours
# reads one-chunk objects with a direct get and deletes its consumer after a multi-chunk get, so
# one fixture bucket serves all its runs.
CONSUMER_BUDGET = 800
COOL_DOWN_S = 8.0


@dataclass
class _Fixture:
    bucket: str
    names: list[str] = field(default_factory=list)
    ready_at: float = 0.0  # time.monotonic() after which nats-py's leftover consumers are gone


_fixtures: dict[tuple[str, int, str], list[_Fixture]] = {}


async def _make_fixture(ctx: Context, size: int, storage: str) -> _Fixture:
    """A bucket holding ``GET_FIXTURE_COUNT[size]`` objects of ``size`` bytes, put by our client."""
    fx = _Fixture(_bucket_name("GET"))
    payload = _payload(size)
    nc, js = await _ours(ctx)
    try:
        store = await _ours_bucket(js, fx.bucket, storage)
        names = [f"obj-{i}" for i in range(GET_FIXTURE_COUNT[size])]
        step = 50 if size < MIB else 1  # concurrent small puts; big ones one by one (RSS+)
        for i in range(0, len(names), step):
            await asyncio.gather(*(store.put(name, payload) for name in names[i : i + step]))
        fx.names = names
    finally:
        await nc.close()
    return fx


async def _get_fixtures(ctx: Context, size: int, storage: str, n: int, side: str) -> list[_Fixture]:
    pool = _fixtures.setdefault((ctx.url, size, storage), [])
    if side == "ours":
        if not pool:
            pool.append(await _make_fixture(ctx, size, storage))
        return pool[:1]
    need = -(-n // CONSUMER_BUDGET)
    now = time.monotonic()
    chosen = [fx for fx in pool if fx.ready_at <= now][:need]
    while len(chosen) < need:
        fx = await _make_fixture(ctx, size, storage)
        pool.append(fx)
        chosen.append(fx)
    return chosen


async def _get_run(ctx: Context, n: int, size: int, storage: str, side: str) -> Sample:
    fixtures = await _get_fixtures(ctx, size, storage, n, side)
    deadline = Deadline(ctx.run_timeout * 0.8, f"get {size} B loop")
    nc, js = await (_ours(ctx) if side == "ours" else _theirs(ctx))
    try:
        stores = [await js.object_store(fx.bucket) for fx in fixtures]
        names = fixtures[0].names
        k = len(names)
        per_store = n if side == "ours" else CONSUMER_BUDGET
        got = 0
        last: Any = None
        t0 = perf()
        for i in range(n):
            last = None  # not held across the next get (RSS+)
            last = await stores[i // per_store].get(names[i % k])
            if side != "ours":
                last = last.data
            got += len(last)
            deadline.check()
        dt = perf() - t0
    finally:
        if side != "ours":
            ready_at = time.monotonic() + COOL_DOWN_S
            for fx in fixtures:
                fx.ready_at = ready_at
        await nc.close()
    if got != n * size or last != _payload(size):
        raise RuntimeError(f"got {got} bytes in {n} gets of {size} B (last one {'ok' if last == _payload(size) else 'WRONG'})")
    return _rate_sample(n, size, dt)


def _pair(op: str, size: int, storage: str) -> tuple[Any, Any]:
    run = _put_run if op == "put" else _get_run

    async def ours(ctx: Context, n: int) -> Sample:
        return await run(ctx, n, size, storage, "ours")

    async def theirs(ctx: Context, n: int) -> Sample:
        return await run(ctx, n, size, storage, "theirs")

    ours.__name__ = f"ours_{op}_{size}_{storage}"
    theirs.__name__ = f"theirs_{op}_{size}_{storage}"
    return ours, theirs


# --------------------------------------------------------------------------------------------------
# Reference rows (no nats-py side; ratio against the nats-py side of the row they compare to):
# what the server allows on this machine, i.e. the best ratio any client could show.

PUT_WINDOW_BYTES = 8 * MIB  # our put's in-flight window for 128 KiB chunks: max(16 * chunk, 8 MiB)
CHUNK = 128 * KIB
_META = (
    b'{"name":"%s","bucket":"%s","nuid":"%s","size":1024,"chunks":1,'
    b'"mtime":"2024-01-01T00:00:00Z","digest":"SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="}'
)


async def _raw_setup(ctx: Context, storage: str) -> tuple[Any, str]:
    bucket = _bucket_name("RAW")
    nc, js = await _ours(ctx)
    try:
        await _ours_bucket(js, bucket, storage)
    except BaseException:
        await nc.close()
        raise
    return nc, bucket


async def _raw_small_put(ctx: Context, n: int, storage: str) -> Sample:
    """The floor of an ADR-20 put of a one-chunk object: the chunk and then the meta (rollup
    header), each an acknowledged publish, on our bare protocol connection: no previous-version
    lookup, no hashing, acks checked for an error only."""
    nc, bucket = await _raw_setup(ctx, storage)
    deadline = Deadline(ctx.run_timeout * 0.8, "raw put loop")
    payload = _payload(KIB)
    rollup = {"Nats-Rollup": "sub"}
    request = nc.request
    try:
        t0 = perf()
        for i in range(n):
            nuid = f"nuid{i:018d}"
            ack = await request(f"$O.{bucket}.C.{nuid}", payload, timeout=5.0)
            if b'"error"' in ack.data:
                raise RuntimeError(f"chunk publish failed: {ack.data[:200]!r}")
            name = f"obj-{i}"
            meta = _META % (name.encode(), bucket.encode(), nuid.encode())
            ack = await request(f"$O.{bucket}.M.b2JqLS{i}", meta, headers=rollup, timeout=5.0)
            if b'"error"' in ack.data:
                raise RuntimeError(f"meta publish failed: {ack.data[:200]!r}")
            deadline.check()
        dt = perf() - t0
    finally:
        await nc.close()
        await drop_object_store(ctx, bucket)
    return _rate_sample(n, KIB, dt)


async def _raw_big_put(ctx: Context, n: int, storage: str, hashed: bool = False) -> Sample:
    """The ingest ceiling for a 64 MiB object: its 512 chunks of 128 KiB published with reply
    subjects on one wildcard inbox, at most ``PUT_WINDOW_BYTES`` in flight (our put's window),
    acks counted but not parsed; no meta. ``hashed``: each chunk is also fed to the object's
    SHA-256 right before it is sent (``hashlib``, as any ADR-20 writer must), so the row shows
    what the machine allows a client that computes the digest: on 2 cores shared with the
    server, the hashing's CPU is taken from the server's."""
    size = 64 * MIB
    window = PUT_WINDOW_BYTES // CHUNK
    nc, bucket = await _raw_setup(ctx, storage)
    deadline = Deadline(ctx.run_timeout * 0.8, "raw pipelined put loop")
    view = memoryview(_payload(size))
    chunks = [view[i : i + CHUNK] for i in range(0, size, CHUNK)]  # no copies (RSS+)
    total = n * len(chunks)

    def hashing(obj: int) -> Any:
        update = hashlib.sha256().update
        for chunk in chunks:
            update(chunk)
            yield f"$O.{bucket}.C.raw{obj}", chunk

    if hashed:
        messages: Any = (message for obj in range(n) for message in hashing(obj))
    else:
        messages = ((f"$O.{bucket}.C.raw{obj}", chunk) for obj in range(n) for chunk in chunks)
    try:
        dt = await raw_pipelined_publish(nc, messages, total, window, deadline)
    finally:
        await nc.close()
        await drop_object_store(ctx, bucket)
    return Sample(n * size / MB, dt, f"{n / dt:,.2f} objects/s")


async def _raw_big_put_hashed(ctx: Context, n: int, storage: str) -> Sample:
    return await _raw_big_put(ctx, n, storage, hashed=True)


async def _fast_big_put(ctx: Context, n: int, storage: str) -> Sample:
    """Our put of a 64 MiB object into a bucket with ADR-50 fast ingest (``fast_ingest=True``):
    one flow-controlled batch, no ack per chunk."""
    return await _put_run(ctx, n, 64 * MIB, storage, "ours", fast_ingest=True)


def _raw_fn(fn: Any, storage: str) -> Any:
    async def run(ctx: Context, n: int) -> Sample:
        return await fn(ctx, n, storage)

    run.__name__ = f"{fn.__name__}_{storage}"
    return run


# --------------------------------------------------------------------------------------------------
# 4. Streaming a big file in and out, one fresh process per transfer


class _StreamFiles:
    """The temp dir with the source file (made once) and the fixture bucket for gets."""

    def __init__(self) -> None:
        self.dir: Optional[str] = None
        self.sources: dict[int, str] = {}
        self.buckets: dict[tuple[str, int], str] = {}  # (url, size) -> bucket holding "get-src"

    def tmpdir(self) -> str:
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="bench-objstore-")
            atexit.register(self.cleanup)
        return self.dir

    def source(self, size: int) -> str:
        """A file of ``size`` random-ish bytes (a random 1 MiB block repeated; the bucket stores it
        uncompressed, so this is as good as fully random and much faster to make)."""
        path = self.sources.get(size)
        if path is None:
            path = os.path.join(self.tmpdir(), f"src-{size}.bin")
            block = os.urandom(MIB)
            with open(path, "wb") as f:
                for _ in range(size // MIB):
                    f.write(block)
            self.sources[size] = path
        return path

    def cleanup(self) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
            self.sources.clear()


_files = _StreamFiles()
_stream_runs: dict[tuple[str, str], list[dict]] = {}  # (op, side) -> child results this process
_stream_suites: dict[str, Suite] = {}


def _stream_size(ctx: Context) -> int:
    return STREAM_SIZE_QUICK if ctx.quick else STREAM_SIZE


def _stream_limit(ctx: Context) -> float:
    """Seconds a child may spend on its transfer: below the runner's bound on the whole run
    (startup, imports, connect and teardown need the rest); never above 60 s."""
    return min(60.0, ctx.run_timeout * 0.7)


def _label(ctx: Context, key: str) -> None:
    """With --quick the streamed object is 64 MiB: say so in the row's name."""
    suite = _stream_suites[key]
    size_text = f"{_stream_size(ctx) // MIB} MiB"
    suite.name = suite.name.replace("512 MiB", size_text) if size_text != "512 MiB" else suite.name


async def _stream_bucket(ctx: Context) -> str:
    """The file-storage bucket for the streaming suites, holding "get-src" (put by our client,
    in this process) for the get rows; the put rows write "put-dst" (replaced each run)."""
    size = _stream_size(ctx)
    key = (ctx.url, size)
    bucket = _files.buckets.get(key)
    if bucket is None:
        bucket = _bucket_name("STREAM")
        src = _files.source(size)
        nc, js = await _ours(ctx)
        try:
            store = await _ours_bucket(js, bucket, "file")
            with open(src, "rb") as f:
                await store.put("get-src", f)
        finally:
            await nc.close()
        _files.buckets[key] = bucket
    return bucket


async def _run_child(ctx: Context, side: str, op: str) -> dict:
    size = _stream_size(ctx)
    bucket = await _stream_bucket(ctx)
    if op == "put":
        name, path = "put-dst", _files.source(size)
    else:
        name, path = "get-src", os.path.join(_files.tmpdir(), f"out-{side}.bin")
    limit = _stream_limit(ctx)
    args = [
        "--client", "ours" if side == "ours" else "nats-py",
        "--op", op, "--url", ctx.url, "--bucket", bucket, "--name", name, "--file", path,
        "--limit", f"{limit:.1f}",
    ]  # fmt: skip
    try:
        result = await run_child("bench.rss_child", args)
    finally:
        if op == "get" and os.path.exists(path):
            os.unlink(path)
    if result["complete"] and result["bytes"] != size:
        raise RuntimeError(f"rss_child moved {result['bytes']} bytes, expected {size}")
    result["size"] = size
    _stream_runs.setdefault((op, side), []).append(result)
    return result


def _rss_note(result: dict) -> str:
    growth_mib = result["growth_kb"] / 1024
    return (
        f"peak RSS +{growth_mib:.1f} MiB over a {result['baseline_kb'] / 1024:.1f} MiB baseline "
        f"(VmHWM {result['peak_kb'] / 1024:.1f} MiB)"
    )


def _stream_pair(op: str) -> tuple[Any, Any]:
    key = f"stream {op}"

    async def run(ctx: Context, side: str) -> Sample:
        _label(ctx, key)
        r = await _run_child(ctx, side, op)
        note = _rss_note(r)
        if side == "ours":
            note += f"; target <= {RSS_BUDGET_MIB} MiB: {'ok' if r['growth_kb'] <= RSS_BUDGET_MIB * 1024 else 'MISS'}"
        if not r["complete"]:
            note += f"; PARTIAL: stopped after {r['seconds']:.0f} s, {r['bytes'] / MIB:.0f} of {r['size'] / MIB:.0f} MiB written"
        sample = Sample(r["bytes"] / MB, r["seconds"], note)
        # The child's peak, for a runner that prefers it to the parent's (whose RSS+ column
        # shows ~0 for these rows: the transfer ran in the child).
        sample.rss_kb = r["growth_kb"]  # type: ignore[attr-defined]
        return sample

    async def ours(ctx: Context, n: int) -> Sample:
        return await run(ctx, "ours")

    async def theirs(ctx: Context, n: int) -> Sample:
        return await run(ctx, "theirs")

    return ours, theirs


def _rss_pair(op: str) -> tuple[Any, Any]:
    """Peak RSS growth (MiB) of the children of the throughput row (the worst of its runs); runs
    a child itself when that row did not run (e.g. ``--only '*RSS*'``)."""
    key = f"stream {op} rss"

    async def run(ctx: Context, side: str) -> Sample:
        _label(ctx, key)
        runs = _stream_runs.get((op, side)) or [await _run_child(ctx, side, op)]
        worst = max(runs, key=lambda r: r["growth_kb"])
        note = _rss_note(worst) + f"; worst of {len(runs)} transfer(s)"
        if side == "ours":
            note += f"; target <= {RSS_BUDGET_MIB} MiB: {'ok' if worst['growth_kb'] <= RSS_BUDGET_MIB * 1024 else 'MISS'}"
        return Sample(worst["growth_kb"] / 1024, 1.0, note)

    async def ours(ctx: Context, n: int) -> Sample:
        return await run(ctx, "ours")

    async def theirs(ctx: Context, n: int) -> Sample:
        return await run(ctx, "theirs")

    return ours, theirs


# --------------------------------------------------------------------------------------------------
# Registration (table order: each ceiling row right after the row it bounds)

for _storage in STORAGES:
    register(f"obj put 1 KiB [{_storage}]", *_pair("put", KIB, _storage), "puts/s", target=2.0, n=1_000, quick_n=500, max_n=20_000)
    register(
        f"obj put 1 KiB ceiling: 2 acked pubs [{_storage}]",
        _raw_fn(_raw_small_put, _storage),
        None,
        "puts/s",
        n=1_000,
        quick_n=500,
        max_n=20_000,
        compare_to=f"obj put 1 KiB [{_storage}]",
        description="the chunk then the meta, each an acked request on a bare connection: an ADR-20 put's floor",
    )
    register(f"obj get 1 KiB [{_storage}]", *_pair("get", KIB, _storage), "gets/s", target=3.0, n=1_000, quick_n=500, max_n=20_000)
for _storage in STORAGES:
    register(f"obj put 1 MiB [{_storage}]", *_pair("put", MIB, _storage), "MB/s", target=None, n=64, quick_n=32, max_n=1_024)
    register(f"obj get 1 MiB [{_storage}]", *_pair("get", MIB, _storage), "MB/s", target=None, n=64, quick_n=32, max_n=1_024)
for _storage in STORAGES:
    register(f"obj put 64 MiB [{_storage}]", *_pair("put", 64 * MIB, _storage), "MB/s", target=2.5, n=2, quick_n=1, max_n=16)
    register(
        f"obj put 64 MiB ceiling: raw pipelined [{_storage}]",
        _raw_fn(_raw_big_put, _storage),
        None,
        "MB/s",
        n=2,
        quick_n=1,
        max_n=16,
        compare_to=f"obj put 64 MiB [{_storage}]",
        description="512 x 128 KiB publishes, 8 MiB window, acks counted: the server's ingest ceiling",
    )
    register(
        f"obj put 64 MiB ceiling: raw pipelined + SHA-256 [{_storage}]",
        _raw_fn(_raw_big_put_hashed, _storage),
        None,
        "MB/s",
        n=2,
        quick_n=1,
        max_n=16,
        compare_to=f"obj put 64 MiB [{_storage}]",
        description="the raw pipelined row hashing each chunk as it is sent: the ceiling of a client that must compute the digest",
    )
    register(
        f"obj put 64 MiB fast ingest [{_storage}]",
        _raw_fn(_fast_big_put, _storage),
        None,
        "MB/s",
        n=2,
        quick_n=1,
        max_n=16,
        compare_to=f"obj put 64 MiB [{_storage}]",
        description="ADR-50 fast-ingest batch (bucket fast_ingest=True): compare with the pipelined row above",
    )
    register(
        f"obj get 64 MiB [{_storage}]",
        *_pair("get", 64 * MIB, _storage),
        "MB/s",
        target=40.0,
        n=1,
        quick_n=1,
        max_n=16,
        description="nats-py: ~7-10 s per 64 MiB get (bytes += reassembly): the side budget allows it 1-2 runs",
    )
for _op, _target in (("put", None), ("get", 3.0)):
    _stream_suites[f"stream {_op}"] = register(
        f"obj stream {_op} 512 MiB [file]",
        *_stream_pair(_op),
        "MB/s",
        target=_target,
        n=1,
        quick_n=1,
        max_n=1,
        description="fresh process per transfer; nats-py's get bounded by time (partial rate past the limit)",
    )
    _stream_suites[f"stream {_op} rss"] = register(
        f"obj stream {_op} 512 MiB [file] peak RSS+",
        *_rss_pair(_op),
        "MiB",
        target=None,
        n=1,
        quick_n=1,
        max_n=1,
        description=f"peak RSS above the child's baseline, LOWER is better; ours <= {RSS_BUDGET_MIB} MiB",
    )
