"""Many small objects in a fresh process: put, list, delete, with the peak RSS of each phase.

``python -m bench.scale_child --client ours|nats-py --url URL --bucket B --count N --size BYTES
[--concurrency C] [--limit SECONDS]``

Creates the file-storage bucket ``B`` (it must not exist), then three phases, each timed:

- ``put``: ``N`` objects ``o-000000``... of ``BYTES`` bytes each (one shared payload), ``C`` puts
  in flight (``C`` worker tasks over one name iterator);
- ``list``: ``store.list()`` once; it must return ``N`` objects (the result is dropped after);
- ``delete``: every object, ``C`` deletes in flight.

The bucket is deleted at the end. The baseline is the RSS after the imports, the connection, the
bucket and the payload; before each phase the kernel's peak mark is reset (``/proc/self/clear_refs``)
and the phase's peak is ``VmHWM`` after it (see ``bench/rss_child.py`` on why not ``ru_maxrss``).
``--limit`` bounds each phase: past it the phase stops and reports what it did (``complete: false``).

Prints one JSON line: ``baseline_kb`` and, per phase, ``{"count", "seconds", "complete",
"peak_kb", "growth_kb", "end_kb"}`` under ``put``/``list``/``delete``; ``error`` on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from typing import Any, Awaitable, Callable, Iterator, Optional


def status_kb(key: str) -> Optional[int]:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


async def connect(client: str, url: str, bucket: str) -> tuple[Any, Any, Any]:
    if client == "ours":
        import objstore

        nc = await objstore.connect(url, allow_reconnect=False)
        js = nc.jetstream(timeout=30.0)
        return nc, js, await js.create_object_store(bucket=bucket, storage="file")
    import nats
    from nats.js.api import ObjectStoreConfig, StorageType

    nc = await nats.connect(url, allow_reconnect=False)
    js = nc.jetstream(timeout=30.0)
    return nc, js, await js.create_object_store(bucket, config=ObjectStoreConfig(storage=StorageType.FILE))


async def each(fn: Callable[[str], Awaitable[Any]], names: Iterator[str], concurrency: int, limit: float) -> tuple[int, bool]:
    """``fn(name)`` for every name, ``concurrency`` at a time, until done or ``limit`` seconds."""
    done = 0
    stop_at = time.perf_counter() + limit

    async def worker() -> bool:
        nonlocal done
        for name in names:
            await fn(name)
            done += 1
            if time.perf_counter() > stop_at:
                return False
        return True

    finished = await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, all(finished)


async def phase(out: dict, key: str, baseline: int, body: Callable[[], Awaitable[tuple[int, bool]]]) -> None:
    gc.collect()
    ok = reset_hwm()
    t0 = time.perf_counter()
    count, complete = await body()
    dt = time.perf_counter() - t0
    peak = (status_kb("VmHWM:") if ok else None) or 0
    gc.collect()
    out[key] = {
        "count": count,
        "seconds": dt,
        "complete": complete,
        "peak_kb": peak,
        "growth_kb": max(0, peak - baseline),
        "end_kb": status_kb("VmRSS:"),
    }


async def main(args: argparse.Namespace) -> dict:
    nc, js, store = await connect(args.client, args.url, args.bucket)
    out: dict[str, Any] = {"client": args.client, "count": args.count, "size": args.size}
    payload = bytes(range(256)) * (args.size // 256) + b"x" * (args.size % 256)
    names = [f"o-{i:06d}" for i in range(args.count)]
    try:
        gc.collect()
        baseline = status_kb("VmRSS:") or 0
        out["baseline_kb"] = baseline

        async def put_all() -> tuple[int, bool]:
            return await each(lambda n: store.put(n, payload), iter(names), args.concurrency, args.limit)

        async def list_all() -> tuple[int, bool]:
            infos = await asyncio.wait_for(store.list(), args.limit)
            n = len(infos)
            del infos
            return n, True

        async def delete_all() -> tuple[int, bool]:
            return await each(store.delete, iter(names), args.concurrency, args.limit)

        await phase(out, "put", baseline, put_all)
        await phase(out, "list", baseline, list_all)
        await phase(out, "delete", baseline, delete_all)
    finally:
        try:
            await js.delete_object_store(args.bucket)
        finally:
            await nc.close()
    return out


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.scale_child")
    ap.add_argument("--client", choices=("ours", "nats-py"), required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--limit", type=float, default=120.0, help="seconds per phase")
    return ap.parse_args(argv)


if __name__ == "__main__":
    ns = parse_args()
    try:
        result = asyncio.run(main(ns))
    except Exception as err:  # reported to the parent as data
        result = {"client": ns.client, "error": f"{type(err).__name__}: {err}"}
    print(json.dumps(result), flush=True)
    sys.exit(0)
