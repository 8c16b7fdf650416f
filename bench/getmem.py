"""Memory rows of gets into memory (issue 14, point 2): the peak RSS of ``get()`` to bytes and of
``get_into(bytearray)``, each in a FRESH PROCESS per sample (``bench/rss_child.py``), as the growth
over the child's baseline divided by the object's size (``x size``: LOWER is better; targets:
get() <= 2.1x, get_into <= 1.1x, the buffer included: it is allocated after the baseline).

- ``obj get 64 MiB to bytes peak RSS [file]``: ours vs nats-py (``(await store.get(n)).data``;
  its reassembly is ``bytes +=``, so it may hit the time limit: then PARTIAL, and its figure is
  the peak until then).
- ``obj get 512 MiB to bytes peak RSS [file]``, ``obj get_into 64 MiB / 512 MiB peak RSS [file]``:
  ours only (nats-py has no get_into and needs minutes for 512 MiB to bytes).

The fixture bucket (file storage, objects put once by our client, streamed from a generator of
1 MiB blocks) lives until the server stops. Every child is bounded by ``--limit`` and killed if
the run is cancelled.
"""

from __future__ import annotations

import os
from typing import Any

from .common import Context, Sample, register, run_child

MIB = 1024 * 1024
TARGET = {"get-bytes": 2.1, "get-into": 1.1}
_buckets: dict[str, str] = {}
_made: set[tuple[str, int]] = set()


async def _fixture(ctx: Context, size: int) -> tuple[str, str]:
    """The bucket and the name of a ``size``-byte object in it (put on first use)."""
    import objstore

    bucket = _buckets.get(ctx.url)
    name = f"obj-{size // MIB}m"
    if bucket is not None and (ctx.url, size) in _made:
        return bucket, name
    nc = await objstore.connect(ctx.url, allow_reconnect=False)
    try:
        js = nc.jetstream(timeout=30.0)
        if bucket is None:
            bucket = _buckets[ctx.url] = f"BENCH_GETMEM_{os.getpid()}"
            store = await js.create_object_store(bucket=bucket, storage="file")
        else:
            store = await js.object_store(bucket)
        block = os.urandom(MIB)
        await store.put(name, (block for _ in range(size // MIB)))
        _made.add((ctx.url, size))
    finally:
        await nc.close()
    return bucket, name


async def _child(ctx: Context, side: str, op: str, size: int) -> dict:
    bucket, name = await _fixture(ctx, size)
    limit = min(60.0, ctx.run_timeout * 0.7)
    args = [
        "--client", "ours" if side == "ours" else "nats-py",
        "--op", op, "--url", ctx.url, "--bucket", bucket, "--name", name, "--file", os.devnull,
        "--limit", f"{limit:.1f}",
    ]  # fmt: skip
    result = await run_child("bench.rss_child", args)
    if result["complete"] and result["bytes"] != size:
        raise RuntimeError(f"rss_child read {result['bytes']} bytes, expected {size}")
    return result


def _side(op: str, size: int, side: str) -> Any:
    async def run(ctx: Context, n: int) -> Sample:
        r = await _child(ctx, side, op, size)
        factor = r["growth_kb"] * 1024 / size
        note = f"peak RSS +{r['growth_kb'] / 1024:.1f} MiB = {factor:.3f}x the object, in {r['seconds']:.2f} s"
        if side == "ours":
            note += f"; target <= {TARGET[op]}x: {'ok' if factor <= TARGET[op] else 'MISS'}"
        if not r["complete"]:
            note += f"; PARTIAL: stopped after {r['seconds']:.0f} s"
        sample = Sample(factor, 1.0, note)
        sample.rss_kb = r["growth_kb"]  # type: ignore[attr-defined]
        return sample

    run.__name__ = f"{side}_{op.replace('-', '_')}_{size // MIB}m"
    return run


for _op, _size, _theirs in (("get-bytes", 64 * MIB, True), ("get-bytes", 512 * MIB, False),
                            ("get-into", 64 * MIB, False), ("get-into", 512 * MIB, False)):
    _what = "get" if _op == "get-bytes" else "get_into"
    _tail = " to bytes" if _op == "get-bytes" else ""
    register(
        f"obj {_what} {_size // MIB} MiB{_tail} peak RSS [file]",
        _side(_op, _size, "ours"),
        _side(_op, _size, "theirs") if _theirs else None,
        "x size",
        target=None,
        n=1,
        quick_n=1,
        max_n=1,
        description=f"fresh process per sample; peak RSS over baseline / object size, LOWER is better; ours <= {TARGET[_op]}x",
    )
