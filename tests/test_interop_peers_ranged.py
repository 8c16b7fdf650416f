"""Interop matrix, part 3: ranged and seekable reads (``store.get(name, offset=, length=)``,
``store.stream(name, offset, length)``, ``store.open(name)`` with seek) of objects that the
nats.go and nats.js peers wrote (see ``test_interop_peers.py`` for the peers and part 1).

Only our client reads ranges: neither nats.go 1.22.1 nor @nats-io/obj 3.4.0 has a ranged get in
its object store API, so the peers only write here. Each test records that as a junit property
(``ranged``) which ``interop/summary.py`` prints once under the matrix.

Objects are put by the peer (its default 128 KiB chunks, a 7000-byte chunk size, a bucket the
peer created, two peer puts at once whose chunks may interleave) and read here at offsets 0, 1,
chunk-1, chunk, chunk+1 and the last byte, with several lengths, each read with a cold chunk
layout cache so that every read locates the chunks again.
"""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path
from typing import Any, Callable

import pytest

import objstore
from peer_util import Peer
from peer_util import counter, nats_url, peer, peer_put, store  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]

CS = objstore.DEFAULT_CHUNK_SIZE
SIZES = [1, CS - 1, CS, CS + 1, 2 * CS, 3 * CS + 5]
LENGTHS = [None, 1, 2, CS, CS + 2]
NOTE = "only ours reads ranges: {label} has no ranged get of its own; the peer wrote the objects, ours read them"


def offsets_for(size: int, chunk: int) -> list[int]:
    """0, 1, chunk-1, chunk, chunk+1, the last byte and the end, those inside ``[0, size]``."""
    return sorted({o for o in (0, 1, chunk - 1, chunk, chunk + 1, size - 1, size) if 0 <= o <= size})


async def check_ranges(store: objstore.ObjectStore, name: str, data: bytes, chunk: int) -> int:
    """Every (offset, length) pair through get() and stream(), cold layout each time; returns the
    number of reads checked."""
    reads = 0
    for offset in offsets_for(len(data), chunk):
        for length in LENGTHS:
            want = data[offset:] if length is None else data[offset : offset + length]
            store.layouts.clear()
            got = await store.get(name, offset=offset, length=length)
            assert got == want, f"get({name!r}, offset={offset}, length={length}): {len(got)} bytes, want {len(want)}"
            store.layouts.clear()
            pieces = [bytes(p) async for p in store.stream(name, offset, length)]
            assert b"".join(pieces) == want, f"stream({name!r}, {offset}, {length})"
            reads += 2
    return reads


@pytest.mark.parametrize("size", SIZES)
async def test_ranged_get_of_peer_object(
    peer: Peer, store: objstore.ObjectStore, tmp_path: Path, size: int, record_property: Callable[[str, Any], None]
) -> None:
    data = os.urandom(size)
    await peer_put(peer, store.bucket, "obj", data, tmp_path)
    reads = await check_ranges(store, "obj", data, CS)
    assert reads > 0
    record_property("ranged", NOTE.format(label=peer.label))


async def test_ranged_get_moves_only_covering_chunks(
    peer: Peer, store: objstore.ObjectStore, tmp_path: Path, record_property: Callable[[str, Any], None]
) -> None:
    """The last byte of a 64-chunk peer object: the first and last chunk locate it, nothing else
    is read (the peer's chunks are contiguous in the stream)."""
    data = os.urandom(64 * CS - 7)
    await peer_put(peer, store.bucket, "big", data, tmp_path)
    store.layouts.clear()
    store.fetch_stats.reset()
    assert await store.get("big", offset=len(data) - 1) == data[-1:]
    assert await store.get("big", offset=40 * CS + 3, length=10) == data[40 * CS + 3 : 40 * CS + 13]
    stats = store.fetch_stats
    assert stats.scans == 0, "a peer's contiguous chunks must be located without a scan"
    assert stats.chunks <= 4 and stats.payload_bytes <= 4 * CS, (stats.chunks, stats.payload_bytes)
    record_property("ranged", NOTE.format(label=peer.label))


async def test_ranged_get_of_peer_object_custom_chunk(
    peer: Peer, store: objstore.ObjectStore, tmp_path: Path, record_property: Callable[[str, Any], None]
) -> None:
    data = os.urandom(100_000)  # 15 chunks of 7000 bytes, the last 2000
    theirs = await peer_put(peer, store.bucket, "small-chunks", data, tmp_path, "--chunk-size", 7000)
    assert theirs["chunks"] == 15
    assert await check_ranges(store, "small-chunks", data, 7000) > 0
    record_property("ranged", NOTE.format(label=peer.label))


async def test_ranged_get_in_peer_created_bucket(
    peer: Peer, js: Any, tmp_path: Path, record_property: Callable[[str, Any], None]
) -> None:
    """A bucket the peer created (its own stream config: direct get or not), read here."""
    name = f"ipr{next(counter)}"
    await peer.ok(name, "create")
    try:
        data = os.urandom(5 * CS + 17)
        await peer_put(peer, name, "o", data, tmp_path)
        ours = await js.object_store(name)
        assert await check_ranges(ours, "o", data, CS) > 0
        record_property("ranged", NOTE.format(label=peer.label))
    finally:
        await js.delete_object_store(name)


async def test_ranged_get_of_concurrent_peer_puts(
    peer: Peer, store: objstore.ObjectStore, tmp_path: Path, record_property: Callable[[str, Any], None]
) -> None:
    """Two peer puts at once: their chunks may interleave in the stream, and then the layout
    needs the scan fallback. Either way every range must come back right."""
    blobs = {f"c{i}": os.urandom(24 * CS + 99 * i) for i in range(2)}
    paths = {}
    for name, data in blobs.items():
        paths[name] = tmp_path / f"{name}.bin"
        paths[name].write_bytes(data)
    results = await asyncio.gather(*(peer.ok(store.bucket, "put", n, "--file", p) for n, p in paths.items()))
    assert all(r.ok for r in results)
    store.fetch_stats.reset()
    for name, data in blobs.items():
        for offset in (0, 1, CS - 1, CS, CS + 1, 13 * CS + 5, len(data) - 1):
            store.layouts.clear()
            assert await store.get(name, offset=offset, length=CS + 2) == data[offset : offset + CS + 2]
    record_property("ranged", NOTE.format(label=peer.label) + f"; concurrent puts: {store.fetch_stats.scans} layout scan(s)")


async def test_seekable_open_of_peer_object(
    peer: Peer, store: objstore.ObjectStore, tmp_path: Path, record_property: Callable[[str, Any], None]
) -> None:
    data = os.urandom(4 * CS + 321)
    await peer_put(peer, store.bucket, "seek", data, tmp_path)
    async with store.open("seek") as f:
        assert f.size == len(data)
        for pos in offsets_for(len(data), CS):
            f.seek(pos)
            assert await f.read(CS + 2) == data[pos : pos + CS + 2]
        f.seek(-1, io.SEEK_END)
        assert await f.read() == data[-1:]
        f.seek(CS - 3)
        buf = bytearray(7)
        assert await f.readinto(buf) == 7 and bytes(buf) == data[CS - 3 : CS + 4]
        assert f.tell() == CS + 4
        f.seek(0)
        parts = []
        for _ in range(len(data) // 50_000 + 2):  # odd-sized sequential reads to the end (prefetch path)
            part = await f.read(50_000)
            if not part:
                break
            parts.append(part)
        assert b"".join(parts) == data
        f.seek(len(data) + 10)
        assert await f.read() == b""
    record_property("ranged", NOTE.format(label=peer.label))
