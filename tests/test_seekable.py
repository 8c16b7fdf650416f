"""Seekable reads (issue 12 point 2): ``store.open(name)`` as an async file (read, readinto, seek,
tell, iteration by chunk, prefetch bounded by its window) and ``store.open_sync`` /
``objstore.open_sync(url, bucket, name)`` (``SyncObjectFile``) as an ``io.RawIOBase`` that ``zipfile`` reads a member from in the
middle of a ~100 MiB archive while moving only a few of its chunks.
"""

from __future__ import annotations

import asyncio
import io
import os
import random
import tarfile
import zipfile
from typing import Any

import pytest

import objstore
from objstore import BadRangeError, ChunkMissingError, ObjectNotFoundError, SyncObjectFile

from harness import NatsServer

pytestmark = pytest.mark.timeout(90)

CS = 1000


@pytest.fixture
def nats_url(module_server: NatsServer) -> str:  # overrides conftest's: one server for the module
    return module_server.url


_names = iter(range(1, 10_000))


async def _store(js: Any) -> objstore.ObjectStore:
    return await js.create_object_store(bucket=f"s{next(_names)}")


async def test_read_seek_tell(js: Any) -> None:
    store = await _store(js)
    data = os.urandom(50 * CS + 17)
    await store.put("o", data, chunk_size=CS)
    async with store.open("o", window=8 * CS) as f:
        assert f.size == len(data) and f.info.name == "o" and f.tell() == 0
        assert await f.read(0) == b""
        assert await f.read(10) == data[:10]
        assert await f.read(CS) == data[10 : CS + 10]
        assert f.tell() == CS + 10
        assert f.seek(CS - 1) == CS - 1
        assert await f.read(2) == data[CS - 1 : CS + 1]
        assert f.seek(5, io.SEEK_CUR) == CS + 6
        assert await f.read(3) == data[CS + 6 : CS + 9]
        assert f.seek(-1, io.SEEK_END) == len(data) - 1
        assert await f.read(100) == data[-1:]
        assert await f.read() == b""
        assert f.seek(len(data) + 100) == len(data) + 100  # past the end: reads give b""
        assert await f.read(5) == b""
        buf = bytearray(3 * CS)
        f.seek(7 * CS - 5)
        assert await f.readinto(buf) == 3 * CS
        assert bytes(buf) == data[7 * CS - 5 : 10 * CS - 5]
        f.seek(len(data) - 10)
        assert await f.readinto(buf) == 10 and bytes(buf[:10]) == data[-10:]
        with pytest.raises(BadRangeError):
            f.seek(-1)
        with pytest.raises(BadRangeError):
            f.seek(1.5)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            f.seek(0, 7)
        f.seek(0)
        assert await f.read() == data
    with pytest.raises(ValueError):
        await f.read(1)


async def test_random_reads_exact(js: Any) -> None:
    store = await _store(js)
    data = os.urandom(80 * CS + 3)
    await store.put("o", data, chunk_size=CS)
    rnd = random.Random(12)
    f = await store.open("o", window=4 * CS)
    try:
        for _ in range(400):
            pos, n = rnd.randrange(0, len(data) + 5), rnd.randrange(0, 6 * CS)
            if rnd.random() < 0.3:
                f.seek(pos)
            else:
                pos = f.tell()
            assert await f.read(n) == data[pos : pos + n], (pos, n)
            assert len(f._cache) <= 4 + 2  # the window (4 chunks) + 2
    finally:
        await f.close()


async def test_iteration_by_chunk(js: Any) -> None:
    store = await _store(js)
    data = os.urandom(10 * CS + 1)
    await store.put("o", data, chunk_size=CS)
    async with store.open("o") as f:
        f.seek(CS // 2)
        pieces = [p async for p in f]
    assert b"".join(pieces) == data[CS // 2 :]
    assert [len(p) for p in pieces] == [CS // 2] + [CS] * 9 + [1]


async def test_sequential_prefetch_is_bounded(js: Any) -> None:
    store = await _store(js)
    data = os.urandom(200 * CS)
    await store.put("o", data, chunk_size=CS)
    store.fetch_stats.reset()
    async with store.open("o", window=16 * CS) as f:
        assert await f.read(100) == data[:100]
        await asyncio.sleep(0.2)  # let any prefetch land
        # the first chunk came with the layout; the prefetch looks 1 chunk ahead after one read
        assert store.fetch_stats.chunks <= 4
        got = bytearray()
        while len(got) < 100 * CS:
            got += await f.read(777)
        assert bytes(got) == data[100 : 100 + len(got)]
        await asyncio.sleep(0.2)
        # at most the window beyond what was read has been fetched
        assert store.fetch_stats.chunks <= 102 + 16 + 1
        assert len(f._cache) <= 16 + 2


async def test_open_errors(js: Any) -> None:
    store = await _store(js)
    with pytest.raises(ObjectNotFoundError):
        async with store.open("missing"):
            pass
    data = os.urandom(20 * CS)
    info = await store.put("o", data, chunk_size=CS)
    first = await js.get_msg(store.stream_name, next_by_subj=f"$O.{store.bucket}.C.{info.nuid}")
    assert await js.delete_msg(store.stream_name, first.seq + 12)
    async with store.open("o") as f:
        assert await f.read(CS) == data[:CS]  # chunks before the gap read fine
        f.seek(12 * CS + 5)
        with pytest.raises(ChunkMissingError):
            await f.read(10)
        f.seek(15 * CS)
        assert await f.read(10) == data[15 * CS : 15 * CS + 10]
    async with store.open("o", window=8 * CS) as f:
        # sequential reads up to the gap: the prefetch runs into it, the reads before it succeed
        got = bytearray()
        while len(got) < 12 * CS:
            got += await f.read(min(500, 12 * CS - len(got)))
        assert bytes(got) == data[: 12 * CS]
        with pytest.raises(ChunkMissingError):
            await f.read(1)


# The synchronous adapter ------------------------------------------------------------------------
def _archive(total: int) -> tuple[bytes, bytes]:
    """A stored (uncompressed) zip of ~``total`` bytes of random members, a small member in the middle."""
    small = b"the small member in the middle\n" * 30
    buf = io.BytesIO()
    member = 2 * 1024 * 1024
    block = os.urandom(member)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        count = total // member
        for i in range(count):
            zf.writestr(f"big/{i:03d}.bin", block[i:] + block[:i])
            if i == count // 2:
                zf.writestr("docs/small.txt", small)
    return buf.getvalue(), small


async def test_zipfile_reads_middle_member(js: Any) -> None:
    store = await _store(js)
    archive, small = _archive(100 * 1024 * 1024)
    info = await store.put("archive.zip", archive)  # 128 KiB chunks: ~800 of them
    del archive
    assert info.chunks > 700

    def read_member() -> tuple[bytes, objstore.FetchStats, list[str]]:
        with store.open_sync("archive.zip") as raw:
            assert raw.readable() and raw.seekable() and raw.size == info.size
            with zipfile.ZipFile(io.BufferedReader(raw)) as zf:
                names = zf.namelist()
                got = zf.read("docs/small.txt")
            return got, raw.fetch_stats, names

    got, stats, names = await asyncio.get_running_loop().run_in_executor(None, read_member)
    assert got == small
    assert "docs/small.txt" in names and len(names) == 51
    # the central directory at the end, the member's chunk(s), the first chunk to locate
    assert stats.chunks <= 8, stats
    assert stats.payload_bytes < 0.01 * info.size
    assert stats.scans == 0


async def test_sync_file_by_url_and_tarfile(js: Any, nats_url: str) -> None:
    store = await _store(js)
    buf = io.BytesIO()
    payload = os.urandom(300_000)
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, body in (("a.bin", payload), ("b.txt", b"bee")):
            ti = tarfile.TarInfo(name)
            ti.size = len(body)
            tf.addfile(ti, io.BytesIO(body))
    await store.put("t.tar", buf.getvalue(), chunk_size=16 * 1024)

    def read_tar() -> tuple[bytes, bytes]:
        with objstore.open_sync(nats_url, store.bucket, "t.tar") as raw:
            assert isinstance(raw, SyncObjectFile)
            with tarfile.open(fileobj=io.BufferedReader(raw), mode="r:") as tf:
                return tf.extractfile("b.txt").read(), tf.extractfile("a.bin").read()  # type: ignore[union-attr]

    b, a = await asyncio.get_running_loop().run_in_executor(None, read_tar)
    assert (a, b) == (payload, b"bee")

    def missing() -> None:
        objstore.open_sync(nats_url, store.bucket, "nope")

    with pytest.raises(ObjectNotFoundError):
        await asyncio.get_running_loop().run_in_executor(None, missing)
