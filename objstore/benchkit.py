"""Owns the measurements behind ``objstore bench``: put and get throughput per configuration
(storage x fast ingest x chunk size x object size), ops/s for small objects, and the put's hot
path measured in isolation (chunk planning + SHA-256, frame encoding, publish without acks).

Every figure is the median of ``repeat`` samples with its spread; nothing here prints or draws
(the CLI command renders the result, :mod:`objstore.benchplot` writes the SVG). Every loop is
bounded in count; the bucket it makes (``BENCH_<nuid>``) is deleted at the end, also when a
measurement fails or the task is cancelled (Ctrl-C). Uses only the public API of ``objstore``,
``jetstream`` and ``protocol`` plus the sans-I/O chunk arithmetic.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

from protocol import encode_pub, next_nuid

from .chunks import ChunkPlan, ChunkVerifier
from .errors import BadObjectMetaError
from .models import DEFAULT_CHUNK_SIZE
from .subjects import chunk_subject, stream_name

__all__ = ["BenchOptions", "run_bench", "summarize", "recommend", "DEFAULTS", "QUICK_DEFAULTS"]

KIB = 1024
MIB = 1024 * 1024
STAGES = ("chunk_sha256", "frame_encode", "publish_no_ack", "put")
DEFAULTS = {
    "sizes": [KIB, MIB, 64 * MIB],
    "chunk_sizes": [32 * KIB, 64 * KIB, 128 * KIB, 256 * KIB, MIB],
    "storages": ["file", "memory"],
    "fast_ingest": [False, True],
    "repeat": 3,
}
QUICK_DEFAULTS = {
    "sizes": [KIB, MIB],
    "chunk_sizes": [64 * KIB, 256 * KIB],
    "storages": ["file", "memory"],
    "fast_ingest": [False, True],
    "repeat": 2,
}
# Bytes one sample moves at least (several objects when they are small), and its count bound.
SAMPLE_BYTES, QUICK_SAMPLE_BYTES = 16 * MIB, 4 * MIB
MAX_OPS, QUICK_MAX_OPS = 400, 40
MAX_CONCURRENCY = 64


@dataclass
class BenchOptions:
    sizes: list[int] = field(default_factory=lambda: list(DEFAULTS["sizes"]))
    chunk_sizes: list[int] = field(default_factory=lambda: list(DEFAULTS["chunk_sizes"]))
    storages: list[str] = field(default_factory=lambda: list(DEFAULTS["storages"]))
    fast_ingest: list[bool] = field(default_factory=lambda: list(DEFAULTS["fast_ingest"]))
    window: Optional[int] = None
    concurrency: int = 1
    repeat: int = 3
    quick: bool = False

    def check(self) -> None:
        """Raises BadObjectMetaError on a value the bench cannot run with."""
        if not self.sizes or any(s < 1 for s in self.sizes):
            raise BadObjectMetaError("sizes must be positive")
        if not self.chunk_sizes or any(c < 1 for c in self.chunk_sizes):
            raise BadObjectMetaError("chunk sizes must be positive")
        if not self.storages or any(s not in ("file", "memory") for s in self.storages):
            raise BadObjectMetaError("storage must be file and/or memory")
        if not self.fast_ingest:
            raise BadObjectMetaError("fast ingest must be on and/or off")
        if self.window is not None and self.window < 1:
            raise BadObjectMetaError("window must be positive")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise BadObjectMetaError(f"concurrency must be between 1 and {MAX_CONCURRENCY}")
        if not 1 <= self.repeat <= 100:
            raise BadObjectMetaError("repeat must be between 1 and 100")

    def ops_per_sample(self, size: int) -> int:
        """Objects one sample puts (then gets): enough bytes to time, bounded in count."""
        floor, cap = (QUICK_SAMPLE_BYTES, QUICK_MAX_OPS) if self.quick else (SAMPLE_BYTES, MAX_OPS)
        return max(1, min(cap, floor // size), min(cap, self.concurrency))


def summarize(values: list[float]) -> dict[str, Any]:
    """Median, min, max and spread ((max - min) / median, in percent) of positive samples."""
    med = statistics.median(values)
    return {
        "median": med,
        "min": min(values),
        "max": max(values),
        "spread_pct": (max(values) - min(values)) / med * 100 if med > 0 else 0.0,
        "samples": list(values),
    }


def _payload(size: int) -> bytes:
    # Random bytes (a compressing server would flatter repeated ones); big sizes repeat 1 MiB.
    return os.urandom(size) if size <= MIB else os.urandom(MIB) * (size // MIB) + os.urandom(size % MIB)


async def _gather_limited(concurrency: int, jobs: list[Callable[[], Any]]) -> None:
    """Run the jobs with at most ``concurrency`` in flight (workers pulling from one list)."""
    it = iter(jobs)

    async def worker() -> None:
        for job in it:
            await job()

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(jobs)))))


class _Runner:
    """One bench run against one connection: owns its bucket names, payloads and results."""

    def __init__(self, js: Any, opts: BenchOptions, log: Callable[[str], None]) -> None:
        self.js = js
        self.nc = js.connection
        self.opts = opts
        self.log = log
        self.buckets: list[str] = []
        self.payloads = {size: _payload(size) for size in opts.sizes}

    async def cleanup(self) -> list[str]:
        """Delete every bucket this run made; returns the names that could not be deleted."""
        left = []
        for bucket in self.buckets:
            try:
                await asyncio.wait_for(self.js.delete_object_store(bucket), 10.0)
            except Exception:  # noqa: BLE001 - reported to the caller as a leftover bucket
                left.append(bucket)
        self.buckets.clear()
        return left

    async def bucket(self, storage: str, fast: bool) -> Any:
        name = f"BENCH_{next_nuid()}"
        self.buckets.append(name)
        return await self.js.create_object_store(bucket=name, storage=storage, fast_ingest=fast)

    async def config(self, store: Any, storage: str, fast: bool, cs: int, size: int) -> dict[str, Any]:
        opts = self.opts
        ops = opts.ops_per_sample(size)
        payload = self.payloads[size]
        names = [f"o{i}" for i in range(ops)]
        put_s: list[float] = []
        get_s: list[float] = []
        path = ""
        for _ in range(opts.repeat):
            infos: list[Any] = []

            def put_job(name: str) -> Callable[[], Any]:
                async def job() -> None:
                    infos.append(await store.put(name, payload, chunk_size=cs, window=opts.window))
                return job

            t0 = time.perf_counter()
            await _gather_limited(opts.concurrency, [put_job(n) for n in names])
            put_s.append(time.perf_counter() - t0)
            path = infos[-1].put_path or path
            got = 0

            def get_job(name: str) -> Callable[[], Any]:
                async def job() -> None:
                    nonlocal got
                    data = await store.get(name)
                    got += len(data)  # not `got += len(await ...)`: got would be read before the await
                return job

            t0 = time.perf_counter()
            await _gather_limited(opts.concurrency, [get_job(n) for n in names])
            get_s.append(time.perf_counter() - t0)
            if got != ops * size:
                raise BadObjectMetaError(f"bench read {got} bytes back, expected {ops * size}")
        await self.js.purge_stream(stream_name(store.bucket))  # bounded storage between configs
        return {
            "storage": storage, "fast_ingest": fast, "chunk_size": cs, "size": size,
            "objects_per_sample": ops, "put_path": path,
            "put_mib_s": summarize([ops * size / MIB / s for s in put_s]),
            "get_mib_s": summarize([ops * size / MIB / s for s in get_s]),
            "put_ops_s": summarize([ops / s for s in put_s]),
            "get_ops_s": summarize([ops / s for s in get_s]),
        }

    async def publish_no_ack(self, store: Any, cs: int, size: int) -> float:
        """Seconds to publish the object's chunks with no reply subject, then one flush: the
        client's and the server's raw ingest with no per-chunk ack (nothing is hashed)."""
        view = memoryview(self.payloads[size])
        subject = chunk_subject(store.bucket, next_nuid())
        publish = self.nc.publish
        t0 = time.perf_counter()
        for off in range(0, size, cs):
            await publish(subject, view[off : off + cs])
        await self.nc.flush(timeout=60.0)
        dt = time.perf_counter() - t0
        await self.js.purge_stream(stream_name(store.bucket), subject=subject)
        return dt

    def chunk_sha256(self, cs: int, size: int) -> float:
        view = memoryview(self.payloads[size])
        plan = ChunkPlan(cs, size)
        verifier = ChunkVerifier()
        t0 = time.perf_counter()
        for i in range(plan.chunks):
            off, n = plan.span(i)
            verifier.take(view[off : off + n])
        verifier.wire_digest()
        return time.perf_counter() - t0

    def frame_encode(self, cs: int, size: int) -> float:
        view = memoryview(self.payloads[size])
        subject, reply = chunk_subject("BENCH", next_nuid()), f"_INBOX.{next_nuid()}.1"
        t0 = time.perf_counter()
        for off in range(0, size, cs):
            encode_pub(subject, view[off : off + cs], reply)
        return time.perf_counter() - t0


async def run_bench(js: Any, opts: BenchOptions, log: Optional[Callable[[str], None]] = None) -> dict[str, Any]:
    """Run every configuration and the hot-path breakdown; return the results as plain data
    (see the README section "objstore bench" for the shape). Deletes its buckets at the end,
    whatever happens; raises BadObjectMetaError on bad options."""
    opts.check()
    runner = _Runner(js, opts, log or (lambda _m: None))
    configs: list[dict[str, Any]] = []
    hot: list[dict[str, Any]] = []
    big = max(opts.sizes)
    started = time.perf_counter()
    try:
        for storage in opts.storages:
            no_ack: dict[int, list[float]] = {}
            for fast in opts.fast_ingest:
                store = await runner.bucket(storage, fast)
                for cs in opts.chunk_sizes:
                    for size in opts.sizes:
                        runner.log(f"{storage} fast_ingest={'on' if fast else 'off'} chunk={cs} size={size}")
                        configs.append(await runner.config(store, storage, fast, cs, size))
                    if cs not in no_ack:
                        no_ack[cs] = [await runner.publish_no_ack(store, cs, big) for _ in range(opts.repeat)]
            for cs in opts.chunk_sizes:
                row: dict[str, Any] = {"storage": storage, "chunk_size": cs, "size": big, "unit": "MiB/s"}
                row["chunk_sha256"] = summarize([big / MIB / runner.chunk_sha256(cs, big) for _ in range(opts.repeat)])
                row["frame_encode"] = summarize([big / MIB / max(1e-9, runner.frame_encode(cs, big)) for _ in range(opts.repeat)])
                row["publish_no_ack"] = summarize([big / MIB / s for s in no_ack[cs]])
                for c in configs:
                    if c["storage"] == storage and c["chunk_size"] == cs and c["size"] == big:
                        row["put_fast_ingest" if c["fast_ingest"] else "put"] = c["put_mib_s"]
                hot.append(row)
    finally:
        left = await asyncio.shield(runner.cleanup())
        if left:
            runner.log(f"could not delete bench bucket(s): {', '.join(left)}")
    info = runner.nc.server_info or {}
    result = {
        "server": {"version": info.get("version"), "max_payload": info.get("max_payload")},
        "options": {k: v for k, v in asdict(opts).items()},
        "elapsed_s": round(time.perf_counter() - started, 3),
        "configurations": configs,
        "hot_path": hot,
    }
    result["recommendation"] = recommend(result)
    return result


def _label(cs: int) -> str:
    return f"{cs // MIB}M" if cs % MIB == 0 else f"{cs // KIB}K" if cs % KIB == 0 else f"{cs}B"


def recommend(result: dict[str, Any]) -> str:
    """One line: the fastest (chunk size, fast ingest) for the largest object's put on the first
    storage, against the 128K pipelined default (or the slowest measured when it was not)."""
    configs = result["configurations"]
    if not configs:
        return "nothing was measured"
    big = max(c["size"] for c in configs)
    storage = configs[0]["storage"]
    rows = [c for c in configs if c["size"] == big and c["storage"] == storage]
    best = max(rows, key=lambda c: c["put_mib_s"]["median"])
    default = [c for c in rows if c["chunk_size"] == DEFAULT_CHUNK_SIZE and not c["fast_ingest"]]
    base = default[0] if default else min(rows, key=lambda c: c["put_mib_s"]["median"])
    where = f"on this server ({storage} storage, {_size(big)} objects)"

    def what(c: dict[str, Any]) -> str:
        return f"{_label(c['chunk_size'])} chunks{' with fast ingest' if c['fast_ingest'] else ''}"

    if best is base:
        return f"{where}, {what(best)} put fastest{', the default: keep it' if default else ''}"
    ratio = best["put_mib_s"]["median"] / base["put_mib_s"]["median"]
    than = f"the {_label(base['chunk_size'])} default" if default else f"{what(base)}, the slowest setting measured"
    return f"{where}, {what(best)} put {ratio:.2f}x faster than {than}"


def _size(n: int) -> str:
    if n % MIB == 0:
        return f"{n // MIB} MiB"
    return f"{n // KIB} KiB" if n % KIB == 0 else f"{n} B"
