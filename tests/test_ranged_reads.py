"""Ranged reads (issue 12 point 1): ``store.get(name, offset=, length=)`` and
``store.stream(name, offset, length)`` return exactly the bytes asked for, fetch only the chunks
that cover them (``store.fetch_stats``), and check the chunks they read against the meta.

Exactness runs over offsets and lengths around chunk boundaries on objects written by this
library and by nats-py, on a bucket with direct get (batched direct get) and without it (ordered
consumer). Non-contiguous chunks (two puts interleaved, or a hand-laid object) take the
headers-only scan path. A deleted middle chunk is a ChunkMissingError. The pure range arithmetic
(``objstore.ranges``) is unit-tested without a server.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any, AsyncIterator

import pytest

import objstore
from objstore import BadRangeError, ChunkMissingError, DigestMismatchError, ObjectInfo, ObjectMetaOptions, ObjectStoreError
from objstore.ranges import RangePlan, check_args, clip
from objstore.subjects import meta_subject

from harness import NatsServer

CS = 1000  # chunk size of the test objects
SIZE = 10 * CS + 37  # 11 chunks, the last one short


@pytest.fixture
def nats_url(module_server: NatsServer) -> str:  # overrides conftest's: one server for the module
    return module_server.url


_buckets = iter(range(1, 10_000))


async def _bucket(js: Any, direct: bool = True) -> objstore.ObjectStore:
    name = f"r{next(_buckets)}"
    store = await js.create_object_store(bucket=name)
    if not direct:
        si = await js.stream_info(store.stream_name)
        cfg = si.config
        cfg.allow_direct = False
        await js.update_stream(cfg)
        store = await js.object_store(name)
        assert not store.handle.direct
    return store


def _cases(size: int, cs: int) -> list[tuple[int, Any]]:
    offsets = sorted(o for o in {0, 1, cs - 1, cs, cs + 1, 2 * cs - 1, size - cs, size - 1, size} if 0 <= o <= size)
    lengths = [0, 1, cs - 1, cs, cs + 1, 2 * cs + 1, size, size * 3, None]
    return [(o, n) for o in offsets for n in lengths]


async def _exact(store: objstore.ObjectStore, name: str, data: bytes, cs: int) -> None:
    for off, n in _cases(len(data), cs):
        want = data[off:] if n is None else data[off : off + n]
        got = await store.get(name, offset=off, length=n)
        assert got == want, (off, n)
        streamed = b"".join([bytes(p) async for p in store.stream(name, off, n)])
        assert streamed == want, (off, n)


# Pure range arithmetic ------------------------------------------------------------------------------
def test_check_args() -> None:
    assert check_args(0, None) == (0, None)
    assert check_args(5, 0) == (5, 0)
    for bad in ((-1, None), (0, -1), (1.0, None), ("1", None), (True, None), (0, 2.5), (None, 1)):
        with pytest.raises(BadRangeError):
            check_args(*bad)
    assert issubclass(BadRangeError, ValueError) and issubclass(BadRangeError, ObjectStoreError)


def test_clip() -> None:
    assert clip(0, None, 10) == (0, 10)
    assert clip(3, 100, 10) == (3, 7)  # past the end: cut at the end
    assert clip(10, None, 10) == (10, 0)  # offset == size: empty
    assert clip(10, 5, 10) == (10, 0)
    assert clip(0, 0, 0) == (0, 0)
    with pytest.raises(BadRangeError):
        clip(11, None, 10)


def test_range_plan() -> None:
    p = RangePlan.of(999, 2, 1000)
    assert (p.first, p.last, p.head, p.tail, p.count) == (0, 1, 999, 1, 2)
    p = RangePlan.of(1000, 1000, 1000)
    assert (p.first, p.last, p.head, p.tail) == (1, 1, 0, 1000)
    assert bytes(p.cut(1, memoryview(bytes(range(256)) * 4)[:1000])) == (bytes(range(256)) * 4)[:1000]
    p = RangePlan.of(1500, 10, 1000)
    assert bytes(p.cut(1, memoryview(bytes(1000)))) == bytes(10)
    with pytest.raises(ValueError):
        RangePlan.of(0, 0, 1000)


# Exactness -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("direct", [True, False], ids=["direct", "no-direct"])
async def test_exact_ours(js: Any, direct: bool) -> None:
    store = await _bucket(js, direct)
    data = os.urandom(SIZE)
    await store.put("o", data, chunk_size=CS)
    await _exact(store, "o", data, CS)
    one = os.urandom(CS // 2)  # a one-chunk object
    await store.put("one", one, chunk_size=CS)
    await _exact(store, "one", one, CS)


async def test_exact_nats_py(js: Any, nats_url: str) -> None:
    nats = pytest.importorskip("nats")
    from nats.js import api as napi

    store = await _bucket(js)
    theirs_nc = await nats.connect(nats_url)
    try:
        theirs = await theirs_nc.jetstream().object_store(store.bucket)
        data = os.urandom(SIZE)
        await theirs.put("p", data, meta=napi.ObjectMeta(name="p", options=napi.ObjectMetaOptions(max_chunk_size=CS)))
        # an object whose meta does not say its chunk size: worked out from the first chunk
        raw = await js.get_msg(store.stream_name, last_by_subj=meta_subject(store.bucket, "p"))
        meta = json.loads(raw.data)
        meta.pop("options", None)
        await js.publish(meta_subject(store.bucket, "q"), json.dumps({**meta, "name": "q"}).encode(), headers={"Nats-Rollup": "sub"})
    finally:
        await theirs_nc.close()
    assert (await store.get_info("q")).chunk_size is None
    await _exact(store, "p", data, CS)
    await _exact(store, "q", data, CS)


async def test_bad_ranges(store: objstore.ObjectStore) -> None:
    await store.put("o", b"0123456789")
    for off, n in ((-1, None), (0, -1), (1.5, None), (11, None), (11, 0)):
        with pytest.raises(BadRangeError):
            await store.get("o", offset=off, length=n)
        with pytest.raises(BadRangeError):
            [p async for p in store.stream("o", off, n)]
    assert await store.get("o", offset=10) == b""
    assert await store.get("o", offset=4, length=10**12) == b"456789"
    await store.put("empty", b"")
    assert await store.get("empty", offset=0, length=5) == b""
    with pytest.raises(BadRangeError):
        await store.get("empty", offset=1)


async def test_ranged_get_into_file(store: objstore.ObjectStore, tmp_path: Any) -> None:
    data = os.urandom(SIZE)
    await store.put("o", data, chunk_size=CS)
    path = tmp_path / "part"
    with open(path, "wb") as fh:
        assert await store.get("o", fh, offset=CS - 3, length=2 * CS) == b""
    assert path.read_bytes() == data[CS - 3 : 3 * CS - 3]


# Bytes moved ------------------------------------------------------------------------------------
async def test_only_covering_chunks_move(js: Any) -> None:
    for direct in (True, False):
        store = await _bucket(js, direct)
        data = os.urandom(64 * CS)
        await store.put("big", data, chunk_size=CS)
        stats = store.fetch_stats
        stats.reset()
        assert await store.get("big", offset=30 * CS + 10, length=CS) == data[30 * CS + 10 : 31 * CS + 10]
        # locating: the first and the last chunk; the range: chunks 30 and 31
        assert (stats.chunks, stats.payload_bytes, stats.scans) == (4, 4 * CS, 0), (direct, stats)
        stats.reset()
        assert await store.get("big", offset=40 * CS, length=3 * CS) == data[40 * CS : 43 * CS]
        assert (stats.chunks, stats.payload_bytes) == (3, 3 * CS), (direct, stats)  # layout cached
        assert len(store.layouts) == 1
        stats.reset()
        assert await store.get("big", offset=63 * CS) == data[63 * CS :]
        assert stats.chunks == 1
        stats.reset()
        assert await store.get("big", offset=0, length=None) == data  # the whole object: verified path
        assert stats.chunks == 64


# Corruption ----------------------------------------------------------------------------------------
async def test_deleted_middle_chunk(js: Any) -> None:
    for direct in (True, False):
        store = await _bucket(js, direct)
        data = os.urandom(SIZE)
        info = await store.put("o", data, chunk_size=CS)
        first = await js.get_msg(store.stream_name, next_by_subj=f"$O.{store.bucket}.C.{info.nuid}")
        assert await js.delete_msg(store.stream_name, first.seq + 5)
        with pytest.raises(ChunkMissingError):
            await store.get("o", offset=5 * CS + 1, length=10)
        with pytest.raises(ChunkMissingError):
            await store.get("o", offset=3 * CS, length=4 * CS)
        # a range that does not need the chunk still reads
        assert await store.get("o", offset=7 * CS, length=5) == data[7 * CS : 7 * CS + 5]
        store.layouts.clear()
        with pytest.raises(ChunkMissingError):
            await store.get("o", offset=4 * CS, length=3 * CS)  # located again: the scan counts 10 chunks


async def test_meta_chunk_count_mismatch(js: Any) -> None:
    store = await _bucket(js)
    data = os.urandom(SIZE)
    await store.put("o", data, chunk_size=CS)
    raw = await js.get_msg(store.stream_name, last_by_subj=meta_subject(store.bucket, "o"))
    meta = json.loads(raw.data)
    meta["size"] = SIZE + CS  # says one chunk more than is stored
    meta["chunks"] = 12
    await js.publish(meta_subject(store.bucket, "o"), json.dumps(meta).encode(), headers={"Nats-Rollup": "sub"})
    with pytest.raises(DigestMismatchError):
        await store.get("o", offset=5, length=5)


# Non-contiguous chunks ------------------------------------------------------------------------------
async def test_hand_laid_interleaved_chunks(js: Any) -> None:
    """Chunks with other messages between them: the layout comes from a headers-only scan."""
    store = await _bucket(js)
    data = os.urandom(SIZE)
    nuid = objstore.ObjectInfo(name="x", bucket=store.bucket).nuid or "HANDLAIDNUID0000000001"
    subject = f"$O.{store.bucket}.C.{nuid}"
    for i in range(0, SIZE, CS):
        await js.publish(subject, data[i : i + CS])
        await js.publish(f"$O.{store.bucket}.C.OTHERNUID0000000000001", b"filler")
    info = ObjectInfo(name="x", bucket=store.bucket, nuid=nuid, size=SIZE, chunks=11, digest=objstore.digest_of(data),
                      options=ObjectMetaOptions(max_chunk_size=CS))
    await js.publish(meta_subject(store.bucket, "x"), json.dumps(info.to_json()).encode(), headers={"Nats-Rollup": "sub"})
    store.fetch_stats.reset()
    assert await store.get("x", offset=CS + 1, length=CS) == data[CS + 1 : 2 * CS + 1]
    assert store.fetch_stats.scans == 1
    assert not store.layouts.get(nuid).contiguous
    await _exact(store, "x", data, CS)
    assert store.fetch_stats.scans == 1  # cached


async def _lockstep(data: bytes, mine: asyncio.Event, theirs: asyncio.Event) -> AsyncIterator[bytes]:
    for i in range(0, len(data), CS):
        await asyncio.wait_for(mine.wait(), 10)
        mine.clear()
        yield data[i : i + CS]
        await asyncio.sleep(0.01)  # let the writer publish it
        theirs.set()


async def test_concurrent_puts_interleave(js: Any) -> None:
    store = await _bucket(js)
    a, b = os.urandom(SIZE), os.urandom(SIZE)
    ea, eb = asyncio.Event(), asyncio.Event()
    ea.set()
    ia, ib = await asyncio.gather(
        store.put("a", _lockstep(a, ea, eb), chunk_size=CS), store.put("b", _lockstep(b, eb, ea), chunk_size=CS)
    )
    await _exact(store, "a", a, CS)
    await _exact(store, "b", b, CS)
    assert not store.layouts.get(ia.nuid).contiguous and not store.layouts.get(ib.nuid).contiguous
    assert store.fetch_stats.scans == 2


# Replicated bucket: reads through the stream leader and ordered consumers -----------------------
async def test_replicated_bucket(nats_cluster: Any) -> None:
    from jetstream import APIError

    nc = await objstore.connect(nats_cluster.url)
    try:
        js = nc.jetstream(timeout=30.0)  # an R3 create can take over 10 s on a loaded 2-core machine
        for _ in range(100):  # right after the cluster forms the meta leader may not know every peer
            try:
                store = await js.create_object_store(bucket="ranged3", replicas=3)
                break
            except APIError as err:
                if err.err_code != 10005:
                    raise
                await asyncio.sleep(0.1)
        assert not store.handle.direct
        data = os.urandom(SIZE)
        await store.put("o", data, chunk_size=CS)
        for off, n in ((0, 1), (CS - 1, 2), (5 * CS, CS), (SIZE - 1, None), (3, SIZE)):
            want = data[off:] if n is None else data[off : off + n]
            assert await store.get("o", offset=off, length=n) == want
        async with store.open("o") as f:
            f.seek(4 * CS + 7)
            assert await f.read(2 * CS) == data[4 * CS + 7 : 6 * CS + 7]
        await js.delete_object_store("ranged3")
    finally:
        await nc.close()


async def test_ranges_follow_links(js: Any) -> None:
    store = await _bucket(js)
    other = await _bucket(js)
    data = os.urandom(SIZE)
    info = await other.put("target", data, chunk_size=CS)
    await store.add_link("l", info)
    assert await store.get("l", offset=CS + 5, length=CS) == data[CS + 5 : 2 * CS + 5]
    assert b"".join([bytes(p) async for p in store.stream("l", SIZE - 3)]) == data[-3:]
    async with store.open("l") as f:
        f.seek(SIZE - CS)
        assert await f.read() == data[-CS:]
