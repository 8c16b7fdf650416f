"""Parallel chunk fetch (issue 14 point 3): a big object's chunks read with several batched direct
gets in flight, handed out in order, verified exactly as strictly as the ordered consumer path.

Small chunks (4 KiB) and small windows stand in for 128 KiB chunks and 8 MiB batches, so that many
batches, partial windows and edge cases run in well under a second against a real server.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import pytest

import objstore
from objstore import ChunkMissingError, DigestMismatchError
from objstore.parallel_fetch import ParallelPolicy
from objstore.reader import ObjectReader, write_all
from objstore.subjects import meta_subject

KIB = 1024
CHUNK = 4 * KIB
SIZES = [3 * CHUNK, 50 * CHUNK + 17, 257 * CHUNK]


def forced(batch: int, window: int) -> ParallelPolicy:
    """Parallel fetch on, for any size and round trip."""
    return ParallelPolicy(min_bytes=0, batch_bytes=batch, window_bytes=window, min_rtt=0, enabled=True)


POLICIES = {
    "one chunk per batch, one in flight": forced(CHUNK, CHUNK),
    "4 chunks per batch, 4 in flight": forced(4 * CHUNK, 16 * CHUNK),
    "16 chunks per batch, 2 in flight": forced(16 * CHUNK, 40 * CHUNK),
    "one batch for all": forced(1024 * CHUNK, 1024 * CHUNK),
}
ORDERED = ParallelPolicy(enabled=False)
SMALL = forced(4 * CHUNK, 8 * CHUNK)


async def read(store: objstore.ObjectStore, name: str, policy: ParallelPolicy) -> tuple[bytes, str]:
    """The object's bytes through an ObjectReader with ``policy``, and the strategy it used."""
    info = await store.get_info(name)
    chunks = []
    async with ObjectReader(store.handle, info, policy=policy) as reader:
        async for chunk in reader:
            chunks.append(chunk)
        assert reader.verified
        return b"".join(chunks), reader.strategy


@pytest.mark.parametrize("size", SIZES)
async def test_exact_bytes_for_every_window(store: objstore.ObjectStore, size: int) -> None:
    data = os.urandom(size)
    await store.put("obj", data, chunk_size=CHUNK)
    for label, policy in POLICIES.items():
        got, strategy = await read(store, "obj", policy)
        assert strategy == "ParallelChunks", label
        assert got == data, label


async def test_streamed_to_a_file(store: objstore.ObjectStore) -> None:
    data = os.urandom(300 * CHUNK + 5)
    await store.put("obj", data, chunk_size=CHUNK)
    info = await store.get_info("obj")
    buf = io.BytesIO()
    async with ObjectReader(store.handle, info, policy=SMALL) as reader:
        await write_all(reader, buf, None)
        assert reader.strategy == "ParallelChunks" and reader.verified
    assert buf.getvalue() == data


async def test_default_sizes_and_round_trip_rule(store: objstore.ObjectStore) -> None:
    big = os.urandom(9 * 1024 * KIB)  # above the default 8 MiB threshold
    await store.put("big", big)
    await store.put("mid", big[: 2 * 1024 * KIB + 1])
    assert await store.get("big") == big  # the default: off
    assert (await read(store, "big", ParallelPolicy())) == (big, "OrderedChunks")
    out = io.BytesIO()
    await store.get("big", writeinto=out)
    assert out.getvalue() == big
    assert (await read(store, "big", ParallelPolicy(min_rtt=0, enabled=True))) == (big, "ParallelChunks")
    assert (await read(store, "mid", ParallelPolicy(min_rtt=0, enabled=True))) == (big[: 2 * 1024 * KIB + 1], "DirectBatch")
    # a round trip no loopback server takes: the ordered consumer
    assert (await read(store, "big", ParallelPolicy(min_rtt=60.0, enabled=True))) == (big, "OrderedChunks")


async def test_concurrent_puts_interleaved_chunks(store: objstore.ObjectStore) -> None:
    """Two objects put at once: their chunks interleave in the stream (a scanned layout)."""
    import asyncio

    a, b = os.urandom(80 * CHUNK + 1), os.urandom(90 * CHUNK + 2)
    await asyncio.gather(store.put("a", a, chunk_size=CHUNK), store.put("b", b, chunk_size=CHUNK))
    for name, data in (("a", a), ("b", b)):
        got, strategy = await read(store, name, SMALL)
        assert (got, strategy) == (data, "ParallelChunks")


# Damage: the same error types as the ordered consumer ---------------------------------------------
async def rewrite_meta(js: Any, store: objstore.ObjectStore, name: str, **changes: Any) -> None:
    stored = await js.get_msg(store.stream_name, last_by_subj=meta_subject(store.bucket, name))
    doc = json.loads(stored.data)
    doc.update(changes)
    await js.publish(meta_subject(store.bucket, name), json.dumps(doc).encode(), headers={"Nats-Rollup": "sub"})


async def first_chunk_seq(js: Any, store: objstore.ObjectStore, name: str) -> int:
    info = await store.get_info(name)
    return (await js.get_msg(store.stream_name, next_by_subj=f"$O.{store.bucket}.C.{info.nuid}")).seq


async def both_fail(store: objstore.ObjectStore, name: str, error: type) -> None:
    """The parallel and the ordered path raise the same error type for ``name``."""
    for policy in (SMALL, ORDERED):
        with pytest.raises(error) as ei:
            await read(store, name, policy)
        assert type(ei.value) is error, (policy, ei.value)


@pytest.mark.parametrize(
    "change,error",
    [
        ({"digest": "SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="}, DigestMismatchError),
        ({"chunks": 101}, ChunkMissingError),
        ({"size": 100 * CHUNK - 1}, DigestMismatchError),
        ({"size": 100 * CHUNK + 1}, DigestMismatchError),
    ],
)
async def test_meta_mismatch_same_error(js: Any, store: objstore.ObjectStore, change: dict, error: type) -> None:
    await store.put("obj", os.urandom(100 * CHUNK), chunk_size=CHUNK)
    await rewrite_meta(js, store, "obj", **change)
    await both_fail(store, "obj", error)


@pytest.mark.parametrize("index", [0, 1, 37, 98, 99])
async def test_missing_chunk_same_error(js: Any, store: objstore.ObjectStore, index: int) -> None:
    await store.put("obj", os.urandom(100 * CHUNK), chunk_size=CHUNK)
    seq = await first_chunk_seq(js, store, "obj")
    assert await js.delete_msg(store.stream_name, seq + index)
    await both_fail(store, "obj", ChunkMissingError)


async def test_foreign_chunk_in_the_middle_is_caught(js: Any, store: objstore.ObjectStore) -> None:
    """A chunk deleted and a same-sized one appended on the chunk subject (a foreign writer):
    the chunk count still fits, but the order and the digest do not."""
    data = os.urandom(100 * CHUNK)
    await store.put("obj", data, chunk_size=CHUNK)
    info = await store.get_info("obj")
    seq = await first_chunk_seq(js, store, "obj")
    assert await js.delete_msg(store.stream_name, seq + 40)
    await js.publish(f"$O.{store.bucket}.C.{info.nuid}", os.urandom(CHUNK))
    with pytest.raises(DigestMismatchError):
        await read(store, "obj", SMALL)
    with pytest.raises(DigestMismatchError):
        await read(store, "obj", ORDERED)


# Fallbacks and replicas ---------------------------------------------------------------------------
async def test_bucket_without_direct_get_falls_back(js: Any, store: objstore.ObjectStore) -> None:
    data = os.urandom(60 * CHUNK + 3)
    await store.put("obj", data, chunk_size=CHUNK)
    cfg = (await js.stream_info(store.stream_name)).config
    cfg.allow_direct = False
    await js.update_stream(cfg)
    plain = await js.object_store(store.bucket)
    info = await plain.get_info("obj")
    async with ObjectReader(plain.handle, info, policy=SMALL) as reader:
        got = b"".join([chunk async for chunk in reader])
        assert reader.strategy == "OrderedChunks" and reader.verified
    assert got == data


async def test_policy_rejects_bad_values() -> None:
    for bad in ({"batch_bytes": 0}, {"window_bytes": -1}, {"min_bytes": 1.5}, {"batch_bytes": 8, "window_bytes": 4}, {"min_rtt": -1}):
        with pytest.raises(ValueError):
            ParallelPolicy(**bad)


async def test_r3_bucket(nats_cluster: Any) -> None:
    nc = await objstore.connect(nats_cluster.urls[0])
    try:
        js = nc.jetstream(timeout=10.0)
        store = await js.create_object_store(bucket="par3", replicas=3)
        data = os.urandom(200 * CHUNK + 9)
        await store.put("obj", data, chunk_size=CHUNK)
        for policy in POLICIES.values():
            got, strategy = await read(store, "obj", policy)
            assert (got, strategy) == (data, "ParallelChunks")
        # and from another server of the cluster, right after a put through the first
        other = await objstore.connect(nats_cluster.urls[2])
        try:
            store2 = await other.jetstream(timeout=10.0).object_store("par3")
            fresh = os.urandom(120 * CHUNK)
            await store.put("fresh", fresh, chunk_size=CHUNK)
            assert await read(store2, "fresh", SMALL) == (fresh, "ParallelChunks")
        finally:
            await other.close()
    finally:
        await nc.close()


def test_direct_origin_reads_the_raw_header_block() -> None:
    """Subject and sequence of a direct-get reply, without parsing the rest; another spelling or
    a missing header falls back to the full parse (and gets its answer)."""
    from jetstream import direct_origin
    from protocol import Msg

    raw = b"NATS/1.0\r\nNats-Stream: OBJ_b\r\nNats-Subject: $O.b.C.x\r\nNats-Sequence: 42\r\nNats-Time-Stamp: 2026-12-06T00:00:00Z\r\n\r\n"
    assert direct_origin(Msg("_INBOX.1", 1, "", b"data", raw)) == ("$O.b.C.x", 42)
    for other in (b"NATS/1.0\r\nnats-subject: $O.b.C.y\r\nnats-sequence: 7\r\n\r\n", b"NATS/1.0\r\nNats-Stream: OBJ_b\r\n\r\n"):
        msg = Msg("_INBOX.1", 1, "", b"data", other)
        hdrs = msg.headers
        assert hdrs is not None
        full = (hdrs.get("Nats-Subject", ""), int(hdrs.get("Nats-Sequence", "0") or 0))
        assert direct_origin(msg) == full  # the full parse's answer (then the chunk check fails)


async def test_the_bucket_handle_policy_reaches_get_stream_and_get_into(store: objstore.ObjectStore, monkeypatch: Any) -> None:
    """``store.handle.parallel``: the policy of every whole-object read of that store (get,
    stream, get_into), not only of an ObjectReader made by hand."""
    from objstore.parallel_fetch import ParallelChunks

    opened: list[str] = []
    real_open = ParallelChunks.open

    async def spy(self: ParallelChunks) -> bool:
        ok = await real_open(self)
        opened.append(self.info.name)
        return ok

    monkeypatch.setattr(ParallelChunks, "open", spy)
    data = os.urandom(100 * CHUNK + 3)
    await store.put("obj", data, chunk_size=CHUNK)
    assert await store.get("obj") == data and opened == []  # the default: off
    store.handle.parallel = SMALL
    try:
        assert await store.get("obj") == data
        assert b"".join([c async for c in store.stream("obj")]) == data
        buf = bytearray(len(data))
        assert await store.get_into("obj", buf) == len(data) and buf == data
        assert opened == ["obj"] * 3
        info = await store.get_info("obj")
        async with ObjectReader(store.handle, info, policy=ORDERED) as reader:  # a reader's own wins
            assert b"".join([c async for c in reader]) == data and reader.strategy == "OrderedChunks"
    finally:
        store.handle.parallel = None
