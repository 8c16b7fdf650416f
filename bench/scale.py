"""Scale suites (issue 14 point 6), group ``scale``: big objects streamed through a fresh process,
and 100,000 small objects. The R3 cluster rows are in ``bench/scale_cluster.py``.

- ``scale stream put 1 GiB [file]`` / ``scale stream get 1 GiB [file]``: a file streamed into an
  object (``put(name, open(path, "rb"))``) and the object streamed into a file
  (``get(name, writeinto=f)``), by each client, each transfer in a fresh process
  (``bench/rss_child.py``), MB/s. The note gives the child's peak RSS over its baseline (target:
  ours <= 64 MiB); the ``... peak RSS+`` rows report it (MiB, LOWER is better; worst of the runs).
  nats-py can do both here: its ``get(writeinto=f)`` writes each chunk as it comes (only its get
  to bytes holds the whole object, ``bytes +=``, which is not measured here). A transfer past its
  time limit (``LIMITS``) is stopped and its rate is the bytes moved so far (PARTIAL in the note).
- ``scale stream ... 4 GiB [file]``: the same at 4 GiB, off by default (``BENCH_4GIB=1`` or
  ``--only "*4 GiB*"``): it needs a 4 GiB source file, 4 GiB in the server's store (8 GiB while a
  put replaces the object) and a 4 GiB output file at a time, and several minutes.
- ``scale 100k x 1 KiB objects: put`` / ``list`` / ``delete`` [file]: one fresh process per client
  (``bench/scale_child.py``) puts 100,000 objects of 1 KiB (16 in flight), lists them, deletes
  them, objects/s per phase; the ``... client peak RSS+`` row is the highest peak of the three
  phases over the child's baseline (MiB, lower is better). The three rows share one child per
  side and run (the first row to run starts it).

Every run has its own bound (``run_timeout``) above the children's limits; at most two runs per
side (one for the 100k rows). A size's source file and bucket are removed when a row of another
size (or the 100k rows) starts, and the temp dir at exit (the server's store goes with the server).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from typing import Any, Optional

from .common import MB, Context, Sample, Suite, register, run_child

MIB = 1024 * 1024
GIB = 1024 * MIB
RSS_BUDGET_MIB = 64
LIMITS = {GIB: 60.0, 4 * GIB: 150.0}  # seconds one streamed transfer may take
SMALL_COUNT, SMALL_SIZE, SMALL_CONCURRENCY, SMALL_LIMIT = 100_000, 1024, 16, 150.0
RUNS = 2
_suites: dict[str, Suite] = {}


class _Big:
    """Per size: the temp dir with the source file, and the bucket holding ``obj``."""

    def __init__(self) -> None:
        self.dir: Optional[str] = None
        self.sources: dict[int, str] = {}
        self.buckets: dict[tuple[str, int], str] = {}
        self.runs: dict[tuple[str, str, int], list[dict]] = {}  # (op, side, size) -> child results
        atexit.register(self.remove_files)

    def tmpdir(self) -> str:
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="bench-scale-")
        return self.dir

    def source(self, size: int) -> str:
        """``size`` bytes: a random 1 MiB block repeated (stored uncompressed, so as good as random)."""
        path = self.sources.get(size)
        if path is None:
            path = os.path.join(self.tmpdir(), f"src-{size // MIB}M.bin")
            block = os.urandom(MIB)
            with open(path, "wb") as f:
                for _ in range(size // MIB):
                    f.write(block)
            self.sources[size] = path
        return path

    def remove_files(self, size: Optional[int] = None) -> None:
        if size is not None:
            path = self.sources.pop(size, None)
            if path and os.path.exists(path):
                os.unlink(path)
            return
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
            self.sources.clear()


_big = _Big()


async def _ours_js(url: str) -> tuple[Any, Any]:
    import objstore

    nc = await objstore.connect(url, allow_reconnect=False)
    return nc, nc.jetstream(timeout=30.0)


async def _bucket(ctx: Context, size: int, need_object: bool) -> str:
    """The file bucket for ``size``; with ``need_object``, holding ``obj`` (put by our client
    here if missing: the get rows read it; the put rows replace it)."""
    key = (ctx.url, size)
    bucket = _big.buckets.get(key) or f"BENCH_SCALE_{os.getpid()}_{size // MIB}M"
    nc, js = await _ours_js(ctx.url)
    try:
        store = await js.create_object_store(bucket=bucket, storage="file")
        _big.buckets[key] = bucket
        if not need_object:
            return bucket
        try:
            info = await store.get_info("obj")
            if info.size == size:
                return bucket
        except Exception:  # noqa: BLE001 - not there yet: put it
            pass
        with open(_big.source(size), "rb") as f:
            await store.put("obj", f)
    finally:
        await nc.close()
    return bucket


async def _drop_others(ctx: Context, keep: Optional[int]) -> None:
    """When a row of another size (or the small-object rows) starts: delete the buckets and the
    source files of every other size, so that at most one big object is on disk at a time."""
    for size in [s for s in set(_big.sources) | {k[1] for k in _big.buckets} if s != keep]:
        _big.remove_files(size)
        bucket = _big.buckets.pop((ctx.url, size), None)
        if bucket:
            nc, js = await _ours_js(ctx.url)
            try:
                await js.delete_object_store(bucket)
            finally:
                await nc.close()


async def _transfer(ctx: Context, side: str, op: str, size: int) -> dict:
    await _drop_others(ctx, size)
    bucket = await _bucket(ctx, size, need_object=op == "get")
    path = _big.source(size) if op == "put" else os.path.join(_big.tmpdir(), f"out-{side}.bin")
    limit = LIMITS[size]
    args = ["--client", "ours" if side == "ours" else "nats-py", "--op", op, "--url", ctx.url, "--bucket", bucket,
            "--name", "obj", "--file", path, "--limit", f"{limit:.0f}"]  # fmt: skip
    try:
        r = await run_child("bench.rss_child", args, limit + 60)
    finally:
        if op == "get" and os.path.exists(path):
            os.unlink(path)
    if r["complete"] and r["bytes"] != size:
        raise RuntimeError(f"rss_child moved {r['bytes']} bytes, expected {size}")
    _big.runs.setdefault((op, side, size), []).append(r)
    return r


def _rss_text(r: dict, side: str) -> str:
    text = f"peak RSS +{r['growth_kb'] / 1024:.1f} MiB over a {r['baseline_kb'] / 1024:.1f} MiB baseline"
    if side == "ours":
        text += f"; target <= {RSS_BUDGET_MIB} MiB: {'ok' if r['growth_kb'] <= RSS_BUDGET_MIB * 1024 else 'MISS'}"
    return text


def _stream_pair(op: str, size: int) -> tuple[Any, Any]:
    async def run(ctx: Context, side: str) -> Sample:
        r = await _transfer(ctx, side, op, size)
        note = _rss_text(r, side)
        if not r["complete"]:
            note += f"; PARTIAL: stopped after {r['seconds']:.0f} s, {r['bytes'] / MIB:.0f} of {size / MIB:.0f} MiB"
        return Sample(r["bytes"] / MB, r["seconds"], note)

    return (lambda ctx, n: run(ctx, "ours")), (lambda ctx, n: run(ctx, "theirs"))


def _stream_rss_pair(op: str, size: int) -> tuple[Any, Any]:
    async def run(ctx: Context, side: str) -> Sample:
        runs = _big.runs.get((op, side, size)) or [await _transfer(ctx, side, op, size)]
        worst = max(runs, key=lambda r: r["growth_kb"])
        return Sample(worst["growth_kb"] / 1024, 1.0, _rss_text(worst, side) + f"; worst of {len(runs)} transfer(s)")

    return (lambda ctx, n: run(ctx, "ours")), (lambda ctx, n: run(ctx, "theirs"))


# --- 100,000 small objects -------------------------------------------------------------------------

_small: dict[str, list[dict]] = {}  # side -> child results, in order
_small_used: dict[tuple[str, str], int] = {}  # (phase, side) -> results consumed by that row


async def _small_result(ctx: Context, side: str, phase: str) -> dict:
    """The next child result this row has not reported yet (running a child when there is none)."""
    results = _small.setdefault(side, [])
    used = _small_used.get((phase, side), 0)
    if used >= len(results):
        await _drop_others(ctx, None)
        bucket = f"BENCH_SMALL_{os.getpid()}_{side.replace('-', '')}_{len(results)}"
        args = ["--client", "ours" if side == "ours" else "nats-py", "--url", ctx.url, "--bucket", bucket,
                "--count", str(SMALL_COUNT), "--size", str(SMALL_SIZE), "--concurrency", str(SMALL_CONCURRENCY),
                "--limit", f"{SMALL_LIMIT:.0f}"]  # fmt: skip
        results.append(await run_child("bench.scale_child", args, 3 * SMALL_LIMIT + 60))
    _small_used[(phase, side)] = used + 1
    return results[used]


def _small_pair(phase: str) -> tuple[Any, Any]:
    async def run(ctx: Context, side: str) -> Sample:
        r = await _small_result(ctx, side, phase)
        p = r[phase]
        note = f"{p['count']:,} objects in {p['seconds']:.2f} s; peak RSS +{p['growth_kb'] / 1024:.1f} MiB over a {r['baseline_kb'] / 1024:.1f} MiB baseline"
        if not p["complete"]:
            note += f"; PARTIAL: stopped after {p['seconds']:.0f} s"
        return Sample(p["count"], p["seconds"], note)

    return (lambda ctx, n: run(ctx, "ours")), (lambda ctx, n: run(ctx, "nats-py"))


def _small_rss_pair() -> tuple[Any, Any]:
    async def run(ctx: Context, side: str) -> Sample:
        results = _small.get(side) or [await _small_result(ctx, side, "rss")]
        worst = max((r[p]["growth_kb"], p, r) for r in results for p in ("put", "list", "delete"))
        growth, phase, r = worst
        note = f"highest phase peak: {phase}, +{growth / 1024:.1f} MiB over {r['baseline_kb'] / 1024:.1f} MiB; " + ", ".join(
            f"{p} +{r[p]['growth_kb'] / 1024:.1f}" for p in ("put", "list", "delete")
        )
        return Sample(growth / 1024, 1.0, note)

    return (lambda ctx, n: run(ctx, "ours")), (lambda ctx, n: run(ctx, "nats-py"))


# --- registration ----------------------------------------------------------------------------------

_common = dict(n=1, quick_n=1, max_n=1, runs=RUNS, group="scale")
for _size, _label in ((GIB, "1 GiB"), (4 * GIB, "4 GiB")):
    _opt = {"opt_in": "BENCH_4GIB"} if _size > GIB else {}
    _bound = LIMITS[_size] + 120  # the child's limit, its start, and the first run's fixture put
    for _op in ("put", "get"):
        register(f"scale stream {_op} {_label} [file]", *_stream_pair(_op, _size), "MB/s", target=None,
                 run_timeout=_bound, description="fresh process per transfer; the note has its peak RSS",
                 **_common, **_opt)  # fmt: skip
        register(f"scale stream {_op} {_label} [file] peak RSS+", *_stream_rss_pair(_op, _size), "MiB", target=None,
                 run_timeout=_bound, description=f"LOWER is better; ours <= {RSS_BUDGET_MIB} MiB", **_common, **_opt)  # fmt: skip
_common["runs"] = 1  # one child per side: put, list and delete of 100,000 objects take minutes
for _phase in ("put", "list", "delete"):
    register(f"scale 100k x 1 KiB objects: {_phase} [file]", *_small_pair(_phase), "objs/s", target=None,
             run_timeout=3 * SMALL_LIMIT + 90, description="one fresh process per side: put, list, delete",
             **_common)  # fmt: skip
register("scale 100k x 1 KiB objects: client peak RSS+", *_small_rss_pair(), "MiB", target=None,
         run_timeout=3 * SMALL_LIMIT + 90, description="highest peak of the three phases; LOWER is better", **_common)  # fmt: skip
