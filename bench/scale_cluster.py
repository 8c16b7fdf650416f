"""Scale suites (issue 14 point 6), group ``scale``: an R3 bucket on the 3-node test cluster
(``tests/harness.py`` ``NatsCluster``, started on first use, stopped at exit) against an R1 bucket
on the single-node bench server, for put and get of 64 MiB, file storage, ours vs nats-py.

- ``scale put 64 MiB R1 [single node, file]`` / ``scale put 64 MiB R3 [3-node cluster, file]``:
  MB/s, ``put(name, bytes)`` into a fresh bucket per run (deleted after).
- ``scale get 64 MiB R1 ...`` / ``... R3 ...``: MB/s, ``get(name, writeinto=sink)`` of an object
  put once by our client, where ``sink.write`` only counts bytes: both clients stream chunk by
  chunk and verify the digest, and nats-py's get to bytes (``bytes +=``, quadratic) stays out of
  the comparison.

The R1 rows run first; each R3 row's note gives R3 / R1 for the same client in this run (what the
replication costs). The cluster runs three nats-server processes on the same 2 cores as the
client, so an R3 figure is a lower bound of what three machines would do.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import sys
import time
from typing import Any, Optional

from .common import MB, ROOT, Context, Deadline, Sample, register

MIB = 1024 * 1024
SIZE = 64 * MIB
_cluster: Any = None
_payload: Optional[bytes] = None
_fixtures: dict[tuple[str, int], str] = {}  # (url, replicas) -> bucket holding "obj"
_best: dict[tuple[str, str, int], float] = {}  # (op, side, replicas) -> best MB/s this process
_count = iter(range(1, 1_000_000))


async def _url(ctx: Context, replicas: int) -> str:
    global _cluster
    if replicas == 1:
        return ctx.url
    if _cluster is None:
        tests_dir = str(ROOT / "tests")
        if tests_dir not in sys.path:
            sys.path.insert(0, tests_dir)
        from harness import NatsCluster  # type: ignore[import-not-found]

        cluster = NatsCluster(3)
        atexit.register(cluster.close)  # stops only the servers it started
        await asyncio.to_thread(cluster.start)
        _cluster = cluster
    return str(_cluster.url)


def _data() -> bytes:
    global _payload
    if _payload is None:
        block = os.urandom(MIB)
        _payload = block * (SIZE // MIB)
    return _payload


async def _connect(side: str, url: str) -> tuple[Any, Any]:
    if side == "ours":
        import objstore

        nc = await objstore.connect(url, allow_reconnect=False)
    else:
        import nats

        nc = await nats.connect(servers=url.split(","), allow_reconnect=False)
    return nc, nc.jetstream(timeout=30.0)


async def _create(side: str, js: Any, bucket: str, replicas: int) -> Any:
    if side == "ours":
        return await js.create_object_store(bucket=bucket, storage="file", replicas=replicas)
    from nats.js.api import ObjectStoreConfig, StorageType

    return await js.create_object_store(bucket, config=ObjectStoreConfig(storage=StorageType.FILE, replicas=replicas))


class _Sink:
    """A write-only file that keeps nothing."""

    def __init__(self) -> None:
        self.n = 0

    def write(self, data: Any) -> int:
        n = len(data)
        self.n += n
        return n

    def flush(self) -> None:
        pass


async def _put(ctx: Context, side: str, replicas: int) -> Sample:
    url = await _url(ctx, replicas)
    data = _data()
    bucket = f"BENCH_R{replicas}_PUT_{os.getpid()}_{next(_count)}"
    nc, js = await _connect(side, url)
    try:
        store = await _create(side, js, bucket, replicas)
        t0 = time.perf_counter()
        await store.put("obj", data)
        dt = time.perf_counter() - t0
        info = await store.get_info("obj")
        if info.size != SIZE:
            raise RuntimeError(f"put stored {info.size} bytes")
    finally:
        try:
            await js.delete_object_store(bucket)
        finally:
            await nc.close()
    return _sample("put", side, replicas, dt)


async def _fixture(ctx: Context, url: str, replicas: int) -> str:
    key = (url, replicas)
    if key not in _fixtures:
        bucket = f"BENCH_R{replicas}_GET_{os.getpid()}"
        nc, js = await _connect("ours", url)
        try:
            store = await _create("ours", js, bucket, replicas)
            await store.put("obj", _data())
        finally:
            await nc.close()
        _fixtures[key] = bucket
    return _fixtures[key]


async def _get(ctx: Context, side: str, replicas: int) -> Sample:
    url = await _url(ctx, replicas)
    bucket = await _fixture(ctx, url, replicas)
    deadline = Deadline(ctx.run_timeout, "R3 get")
    nc, js = await _connect(side, url)
    try:
        store = await js.object_store(bucket)
        sink = _Sink()
        t0 = time.perf_counter()
        await asyncio.wait_for(store.get("obj", writeinto=sink), deadline.remaining())
        dt = time.perf_counter() - t0
        if sink.n != SIZE:
            raise RuntimeError(f"get wrote {sink.n} bytes")
    finally:
        await nc.close()
    return _sample("get", side, replicas, dt)


def _sample(op: str, side: str, replicas: int, dt: float) -> Sample:
    rate = SIZE / MB / dt
    key = (op, side, replicas)
    _best[key] = max(_best.get(key, 0.0), rate)
    note = f"{rate:,.0f} MB/s"
    r1 = _best.get((op, side, 1))
    if replicas == 3 and r1:
        note += f"; R3 / R1 for this client in this run: {_best[key] / r1:.2f} (best {_best[key]:,.0f} / {r1:,.0f} MB/s)"
    return Sample(SIZE / MB, dt, note)


def _pair(op: str, replicas: int) -> tuple[Any, Any]:
    fn = _put if op == "put" else _get
    return (lambda ctx, n: fn(ctx, "ours", replicas)), (lambda ctx, n: fn(ctx, "theirs", replicas))


for _op in ("put", "get"):
    for _replicas, _where in ((1, "single node"), (3, "3-node cluster")):
        register(
            f"scale {_op} 64 MiB R{_replicas} [{_where}, file]",
            *_pair(_op, _replicas),
            "MB/s",
            target=None,
            n=1,
            quick_n=1,
            max_n=1,
            run_timeout=120.0,  # the first R3 run starts the cluster
            group="scale",
            description="R3 on the 3-node test cluster against R1 on one node; get streams into a counting sink",
        )
