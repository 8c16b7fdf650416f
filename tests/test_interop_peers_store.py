"""Interop matrix, part 2: damaged objects, compressed buckets and fast ingest, with the nats.go
and nats.js peers (see ``test_interop_peers.py`` for the peers, the fixtures and part 1).

Damaged objects: a chunk replaced by other bytes of the same length, a chunk deleted from the
middle, every chunk purged under an intact meta. Every reader (each peer, and ours on the
peer's objects) must fail rather than hand the bytes over as good; what each peer does (its
error kind, how many unverified bytes its streaming API delivered first) is recorded as a
junit property (``peer_reader``) that ``interop/summary.py`` prints in the matrix.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import pytest

import objstore
from jetstream import MessageNotFoundError
from objstore import DigestMismatchError
from objstore.subjects import chunk_subject
from peer_util import Peer
from peer_util import counter, nats_url, peer, peer_get, peer_put, store  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]

CS = objstore.DEFAULT_CHUNK_SIZE
DAMAGED_SIZE = 3 * CS + 100  # four chunks
DAMAGE = ["tampered_last_chunk", "missing_middle_chunk", "all_chunks_missing"]
PEER_TIMEOUT = 4  # seconds a peer reader may wait for chunks that will never come


async def chunk_seqs(js: Any, store: objstore.ObjectStore, nuid: str) -> list[int]:
    subject, seqs, seq = chunk_subject(store.bucket, nuid), [], 1
    for _ in range(64):  # bounded: the objects here have four chunks
        try:
            msg = await js.get_msg(store.stream_name, seq=seq, next_by_subj=subject)
        except MessageNotFoundError:
            break
        seqs.append(msg.seq)
        seq = msg.seq + 1
    return seqs


async def damage(js: Any, store: objstore.ObjectStore, name: str, how: str) -> None:
    """Damage ``name``'s chunks the way an operator or a broken client could; the meta stays."""
    info = await store.get_info(name)
    seqs = await chunk_seqs(js, store, info.nuid)
    assert len(seqs) == 4, seqs
    if how == "tampered_last_chunk":
        await js.delete_msg(store.stream_name, seqs[-1])
        await js.publish(chunk_subject(store.bucket, info.nuid), os.urandom(DAMAGED_SIZE - 3 * CS))
    elif how == "missing_middle_chunk":
        await js.delete_msg(store.stream_name, seqs[1])
    else:
        await js.purge_stream(store.stream_name, subject=chunk_subject(store.bucket, info.nuid))


@pytest.mark.parametrize("how", DAMAGE)
async def test_damaged_object_refused_by_peer(
    peer: Peer, store: objstore.ObjectStore, js: Any, tmp_path: Path, how: str, record_property: Callable[[str, Any], None]
) -> None:
    data = os.urandom(DAMAGED_SIZE)
    await store.put("o", data)
    await damage(js, store, "o", how)
    res = await peer.run(store.bucket, "get", "o", "--out", tmp_path / "o", "--timeout", PEER_TIMEOUT)
    delivered = res.doc.get("bytes_delivered", res.doc.get("bytes"))
    record_property("peer_reader", f"{peer.label}: {how}: ok={res.ok} kind={res.kind or '-'} unverified_bytes_delivered={delivered} error={res.doc.get('error', '')!r}")
    assert not res.ok, f"{peer.label} returned a damaged object as good: {res!r}"
    expected = "timeout" if how == "all_chunks_missing" else "digest_mismatch"
    assert res.kind == expected, res


@pytest.mark.parametrize("how", DAMAGE)
async def test_damaged_peer_object_refused_here(
    peer: Peer, store: objstore.ObjectStore, js: Any, tmp_path: Path, how: str, record_property: Callable[[str, Any], None]
) -> None:
    await peer_put(peer, store.bucket, "o", os.urandom(DAMAGED_SIZE), tmp_path)
    await damage(js, store, "o", how)
    with pytest.raises(DigestMismatchError) as ei:  # ChunkMissingError is a subclass
        await store.get("o", idle_timeout=5)
    record_property("our_reader", f"{how}: {type(ei.value).__name__}")
    with pytest.raises(DigestMismatchError):
        async for _ in store.stream("o", verified=True, idle_timeout=5):
            raise AssertionError("verified stream yielded bytes of a damaged object")


# --- compression -------------------------------------------------------------------------------


async def test_compressed_bucket_made_here(peer: Peer, js: Any, tmp_path: Path) -> None:
    name = f"ipz{next(counter)}"
    ours = await js.create_object_store(bucket=name, compression=True)
    try:
        data = b"compressible " * 40_000
        await ours.put("ours", data)
        assert await peer_get(peer, name, "ours", tmp_path) == data
        await peer_put(peer, name, "theirs", data[::-1], tmp_path)
        assert await ours.get("theirs") == data[::-1]
        st = (await peer.ok(name, "status")).doc
        if peer.kind == "node":
            assert st["compression"] is True
    finally:
        await js.delete_object_store(name)


async def test_compressed_bucket_made_by_peer(peer: Peer, js: Any, tmp_path: Path) -> None:
    name = f"ipz{next(counter)}"
    await peer.ok(name, "create", "--compression", feature="bucket compression")
    try:
        ours = await js.object_store(name)
        assert (await ours.status()).compression is True
        await ours.put("o", b"z" * 300_000)
        assert await peer_get(peer, name, "o", tmp_path) == b"z" * 300_000
    finally:
        await js.delete_object_store(name)


# --- fast ingest (ADR-50) ----------------------------------------------------------------------


@pytest.fixture
async def fast_store(js: Any) -> Any:
    name = f"ipf{next(counter)}"
    yield await js.create_object_store(bucket=name, fast_ingest=True)
    await js.delete_object_store(name)


@pytest.mark.parametrize("size", [0, CS + 1, 5 * CS + 3])
async def test_our_fast_ingest_objects_read_by_peer(peer: Peer, fast_store: Any, tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    info = await fast_store.put("o", data)
    assert info.put_path == ("fast_ingest" if info.chunks > 1 else "single" if info.chunks == 1 else info.put_path)
    assert await peer_get(peer, fast_store.bucket, "o", tmp_path) == data
    theirs = (await peer.ok(fast_store.bucket, "info", "o")).info
    assert (theirs["digest"], theirs["chunks"], theirs["size"]) == (info.digest, info.chunks, size)


async def test_peer_plain_put_into_fast_ingest_bucket(peer: Peer, fast_store: Any, tmp_path: Path) -> None:
    data = os.urandom(3 * CS + 9)
    await peer_put(peer, fast_store.bucket, "o", data, tmp_path)
    assert await fast_store.get("o") == data


async def test_peer_fast_ingest_put_read_here(peer: Peer, fast_store: Any, tmp_path: Path) -> None:
    data = os.urandom(4 * CS + 11)
    theirs = await peer_put(peer, fast_store.bucket, "o", data, tmp_path, "--fast-ingest")
    assert await fast_store.get("o") == data
    assert (await fast_store.get_info("o")).digest == theirs["digest"]


async def test_fast_ingest_bucket_made_by_peer(peer: Peer, js: Any, tmp_path: Path) -> None:
    name = f"ipf{next(counter)}"
    await peer.ok(name, "create", "--fast-ingest", feature="fast ingest")
    try:
        ours = await js.object_store(name)
        assert (await ours.status()).fast_ingest is True
        data = os.urandom(3 * CS)
        assert (await ours.put("o", data)).put_path == "fast_ingest"
        assert await peer_get(peer, name, "o", tmp_path) == data
    finally:
        await js.delete_object_store(name)
