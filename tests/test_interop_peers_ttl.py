"""Interop matrix, part 4: per-object TTL (ADR-43 ``Nats-TTL``, README "Per-object TTL") with the
nats.go and nats.js peers (see ``test_interop_peers.py`` for the peers and part 1).

Objects we write with ``put(..., ttl=...)`` into an ``allow_msg_ttl`` bucket (0 bytes, one chunk,
several chunks) are read by each peer byte-identical, with info and list, while they live; across
the expiry a peer polling ``get`` sees the whole object or not-found, never part of it; after it,
``info``/``get``/``list`` say not found or list nothing (what each peer prints is recorded). A
peer's own put into a TTL bucket carries no TTL and persists. Neither peer's library can put an
object with a TTL: an explicit xfail. A peer's ``update_meta``, rename and delete of a TTL object:
whether the meta it rewrites keeps the ``Nats-TTL`` is recorded; where it drops it, the object
outlives its chunks, and every reader's behaviour on that object is recorded before the xfail.

What each peer did goes into the junit property ``ttl``, printed by ``interop/summary.py``. Tests
that wait for chunks to expire shorten the chunks' grace (``objstore.ttl.GRACE_BASE``, 10 s) to
1 s with monkeypatch; the ordering rule (chunks outlive their meta) still holds.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest

import objstore
import objstore.ttl
from objstore import DigestMismatchError, ObjectDeletedError, ObjectNotFoundError, digest_of
from objstore.subjects import chunk_subject, meta_subject
from objstore.ttl import ttl_of_headers
from peer_util import Peer, Result, need
from peer_util import counter, nats_url, peer, peer_get, peer_put  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]

CS = objstore.DEFAULT_CHUNK_SIZE
SIZES = {"empty": 0, "one_chunk": CS, "four_chunks": 3 * CS + 5}
Record = Callable[[str, Any], None]


@pytest.fixture
async def ttl_store(js: Any) -> AsyncIterator[objstore.ObjectStore]:
    name = f"ipt{next(counter)}"
    yield await js.create_object_store(bucket=name, allow_msg_ttl=True)
    try:
        await js.delete_object_store(name)
    except objstore.BucketNotFoundError:
        pass


async def until(pred: Callable[[], Awaitable[bool]], bound: float = 30.0, step: float = 0.2) -> None:
    """Poll ``pred()`` until true; fails after ``bound`` seconds (a bound, not a timing claim)."""
    deadline = time.monotonic() + bound
    while not await pred():
        assert time.monotonic() < deadline, f"condition not reached within {bound}s"
        await asyncio.sleep(step)


def said(res: Result) -> str:
    """What a failed peer call printed, for the record."""
    return f"{res.kind or '-'} {res.doc.get('error', '')!r}"


async def meta_ttl(js: Any, store: objstore.ObjectStore, name: str) -> str:
    msg = await js.get_msg(store.stream_name, last_by_subj=meta_subject(store.bucket, name))
    return ttl_of_headers(msg.headers) or "none"


async def chunks_left(js: Any, store: objstore.ObjectStore, nuid: str) -> int:
    si = await js.stream_info(store.stream_name, subjects_filter=chunk_subject(store.bucket, nuid))
    return sum((si.state.subjects or {}).values())


# --- our TTL objects, read by the peer ----------------------------------------------------------


async def test_our_ttl_objects_read_by_peer(peer: Peer, ttl_store: objstore.ObjectStore, tmp_path: Path, record_property: Record) -> None:
    """While they live (a 60 s TTL: no race with the reads), byte-identical, info and list."""
    blobs = {name: os.urandom(size) for name, size in SIZES.items()}
    infos = {name: await ttl_store.put(name, data, ttl=60, description=name) for name, data in blobs.items()}
    for name, data in blobs.items():
        assert infos[name].ttl is not None and infos[name].expires is not None
        assert await peer_get(peer, ttl_store.bucket, name, tmp_path) == data
        theirs = (await peer.ok(ttl_store.bucket, "info", name)).info
        assert (theirs["nuid"], theirs["size"], theirs["chunks"]) == (infos[name].nuid, len(data), infos[name].chunks)
        assert theirs["digest"] == digest_of(data) and theirs["description"] == name and not theirs.get("deleted")
    listed = (await peer.ok(ttl_store.bucket, "list")).doc["objects"]
    assert sorted(o["name"] for o in listed) == sorted(blobs)
    record_property("ttl", f"{peer.label}: reads our TTL objects (0 bytes, 1 and 4 chunks) byte-identical, info and list as usual; it does not show the TTL (not in the meta's JSON)")


async def test_our_ttl_objects_expire_for_peer(
    peer: Peer, ttl_store: objstore.ObjectStore, js: Any, tmp_path: Path, record_property: Record
) -> None:
    """A 2 s TTL: the peer polls get across the expiry (whole or not found, never part), then
    info, get and list say the objects are gone; the peer's own put in the bucket stays."""
    theirs_data = os.urandom(2 * CS + 1)
    await peer_put(peer, ttl_store.bucket, "theirs", theirs_data, tmp_path)
    blobs = {name: os.urandom(size) for name, size in SIZES.items()}
    for name, data in blobs.items():
        await ttl_store.put(name, data, ttl=2)
    whole = dict.fromkeys(blobs, 0)
    gone: dict[str, str] = {}

    async def all_gone() -> bool:
        for name in [n for n in blobs if n not in gone]:
            out = tmp_path / f"poll-{name}"
            out.unlink(missing_ok=True)
            res = await peer.run(ttl_store.bucket, "get", name, "--out", out)
            if res.ok:
                got = out.read_bytes()
                assert hashlib.sha256(got).digest() == hashlib.sha256(blobs[name]).digest(), f"{peer.label}: part of {name!r}"
                whole[name] += 1
            else:
                assert res.kind == "not_found" and "bytes_delivered" not in res.doc, res
                gone[name] = said(res)
        return len(gone) == len(blobs)

    await until(all_gone)
    infos = {name: await peer.run(ttl_store.bucket, "info", name) for name in blobs}
    assert all(not r.ok and r.kind == "not_found" for r in infos.values()), infos
    listed = (await peer.ok(ttl_store.bucket, "list")).doc["objects"]
    assert [o["name"] for o in listed] == ["theirs"]
    # The peer's object carries no TTL: it stays, and ours reads it (after the others expired).
    assert await ttl_store.get("theirs") == theirs_data
    assert (await ttl_store.get_info("theirs")).ttl is None and await meta_ttl(js, ttl_store, "theirs") == "none"
    assert [i.name for i in await ttl_store.list()] == ["theirs"]
    assert await peer_get(peer, ttl_store.bucket, "theirs", tmp_path) == theirs_data
    reads = ", ".join(f"{n} {c}" for n, c in whole.items())
    record_property("ttl", f"{peer.label}: across the expiry get returned the whole object ({reads} times) then not found: get {gone['four_chunks']}, info {said(infos['four_chunks'])}; never part of one")
    record_property("ttl", f"{peer.label}: its own put into an allow_msg_ttl bucket carries no Nats-TTL and persists; ours reads it")


async def test_peer_list_of_expired_bucket(peer: Peer, ttl_store: objstore.ObjectStore, record_property: Record) -> None:
    """Every object expired: what the peer's list says (an empty list or an error)."""
    await ttl_store.put("brief", b"x", ttl=1)
    first = await peer.run(ttl_store.bucket, "list")  # already expired on a slow machine: [] or no_objects
    assert (first.ok and [o["name"] for o in first.doc["objects"]] in (["brief"], [])) or first.kind == "no_objects", first
    last: list[Result] = []

    async def emptied() -> bool:
        res = await peer.run(ttl_store.bucket, "list")
        last[:] = [res]
        return (res.ok and res.doc["objects"] == []) or res.kind == "no_objects"

    await until(emptied)
    res = last[0]
    record_property("ttl", f"{peer.label}: list() once every object expired: {'[]' if res.ok else 'error ' + repr(res.doc.get('error'))}")


async def test_peer_put_with_ttl(peer: Peer, ttl_store: objstore.ObjectStore, tmp_path: Path, record_property: Record) -> None:
    """Neither peer's object store API takes a per-object TTL: an explicit xfail naming it."""
    src = tmp_path / "in.bin"
    src.write_bytes(b"short-lived")
    res = await peer.run(ttl_store.bucket, "put", "o", "--file", src, "--ttl", 2)
    record_property("ttl", f"{peer.label}: put with a per-object TTL: {'unsupported (no such option)' if res.rc == 3 else res.doc}")
    if res.rc == 3:
        pytest.xfail(f"{peer.label} lacks per-object TTL on put (its object store API has no such option)")
    assert res.ok, res
    info = await ttl_store.get_info("o")
    assert info.ttl is not None


# --- a peer's meta rewrite or delete of our TTL object ---------------------------------------------


async def test_peer_update_meta_and_rename_of_ttl_object(
    peer: Peer, ttl_store: objstore.ObjectStore, js: Any, tmp_path: Path, record_property: Record, monkeypatch: Any
) -> None:
    """The peer rewrites the meta (update_meta; rename): does it keep the Nats-TTL? If not, the
    meta outlives the chunks: what every reader then does is recorded, and it is an xfail."""
    TTL = 6  # long enough for the peer's rewrites to come first on a busy machine
    monkeypatch.setattr(objstore.ttl, "GRACE_BASE", 1)  # chunks: ttl + 1 s + 1 s per 2 MiB
    data = os.urandom(2 * CS + 3)
    infos = {n: await ttl_store.put(n, data, ttl=TTL) for n in ("upd", "ren")}
    await asyncio.gather(  # both well before the TTL runs out
        peer.ok(ttl_store.bucket, "update-meta", "upd", "--description", "by peer"),
        peer.ok(ttl_store.bucket, "update-meta", "ren", "--name", "renamed"),
    )
    kept = {n: await meta_ttl(js, ttl_store, n) for n in ("upd", "renamed")}
    si = await js.stream_info(ttl_store.stream_name, subjects_filter=meta_subject(ttl_store.bucket, "upd"))
    metas_kept = sum((si.state.subjects or {}).values())
    record_property("ttl", f"{peer.label}: update_meta of a TTL object: the new meta's Nats-TTL is {kept['upd']} (ours stored {TTL}s); "
                    f"rename: {kept['renamed']}; meta messages on the subject after update_meta: {metas_kept}")
    if "none" not in kept.values():
        await until(lambda: _all_not_found(ttl_store, ("upd", "renamed")))  # kept: the object expires whole
        return

    # The meta lost its TTL: wait (bounded) until the chunks, which kept theirs, are gone.
    async def chunkless() -> bool:
        return all([await chunks_left(js, ttl_store, i.nuid) == 0 for i in infos.values()])

    await until(chunkless)
    for name in ("upd", "renamed"):
        info = await ttl_store.get_info(name)
        assert info.ttl is None and not info.deleted and info.size == len(data)
        with pytest.raises(DigestMismatchError) as ei:  # ChunkMissingError: typed, no bytes handed over
            await ttl_store.get(name, idle_timeout=5)
        with pytest.raises(DigestMismatchError):
            async for _ in ttl_store.stream(name, verified=True, idle_timeout=5):
                raise AssertionError("verified stream yielded bytes of an object without chunks")
    assert sorted(i.name for i in await ttl_store.list()) == ["renamed", "upd"]
    report = await ttl_store.check(older_than=0)
    assert sorted(m.name for m in report.missing_chunks) == ["renamed", "upd"], report.to_json()
    res = await peer.run(ttl_store.bucket, "get", "upd", "--out", tmp_path / "o", "--timeout", 4)
    assert not res.ok, f"{peer.label} returned an object without chunks as good: {res!r}"
    delivered = res.doc.get("bytes_delivered", res.doc.get("bytes"))
    listed = await peer.run(ttl_store.bucket, "list")
    record_property("ttl", f"{peer.label}: after its update_meta/rename dropped the TTL, the chunks expired under a live meta: "
                    f"ours get_info shows it (ttl None), get raises {type(ei.value).__name__} ({ei.value}), list shows it, "
                    f"check(): {len(report.missing_chunks)} object(s) with missing chunks; the peer's get: {said(res)} after {delivered} bytes, "
                    f"its list: {len(listed.doc.get('objects', []))} object(s)")
    pytest.xfail(f"{peer.label}'s update_meta rewrites the meta without the object's Nats-TTL: the meta outlives "
                 f"its chunks (a listed object no reader can read; ours raises ChunkMissingError)")


async def _all_not_found(store: objstore.ObjectStore, names: tuple[str, ...]) -> bool:
    for name in names:
        try:
            await store.get_info(name)
            return False
        except ObjectNotFoundError:
            pass
    return True


async def test_peer_delete_of_ttl_object(peer: Peer, ttl_store: objstore.ObjectStore, js: Any, record_property: Record) -> None:
    """The peer's delete: tombstone (no TTL, as ours) and the chunks purged at once."""
    info = await ttl_store.put("o", os.urandom(3 * CS), ttl=60)
    await peer.ok(ttl_store.bucket, "delete", "o")
    assert await chunks_left(js, ttl_store, info.nuid) == 0
    with pytest.raises(ObjectDeletedError):
        await ttl_store.get("o")
    tomb = await ttl_store.get_info("o", show_deleted=True)
    assert tomb.deleted and tomb.size == 0
    tomb_ttl = await meta_ttl(js, ttl_store, "o")
    assert [i.name for i in await ttl_store.list()] == []
    record_property("ttl", f"{peer.label}: delete of a TTL object: chunks purged, tombstone Nats-TTL {tomb_ttl} (ours writes none either)")


async def test_ttl_bucket_made_by_peer(peer: Peer, js: Any, tmp_path: Path, record_property: Record) -> None:
    """A bucket the peer creates with allow_msg_ttl: ours puts TTL objects in it, the peer reads."""
    name = f"ipt{next(counter)}"
    res = await peer.run(name, "create", "--allow-msg-ttl")
    record_property("ttl", f"{peer.label}: create an allow_msg_ttl bucket: {'unsupported' if res.rc == 3 else 'ok' if res.ok else said(res)}"
                    + (" (@nats-io/obj copies options it does not know into the stream config)" if peer.kind == "node" and res.ok else ""))
    try:
        need(peer, res, "allow_msg_ttl buckets")
        assert res.ok, res
        ours = await js.object_store(name)
        assert (await ours.status()).allow_msg_ttl is True
        assert (await peer.ok(name, "status")).doc.get("allow_msg_ttl", True) is True
        data = os.urandom(2 * CS + 9)
        info = await ours.put("o", data, ttl=60)
        assert info.ttl is not None and await meta_ttl(js, ours, "o") == "60s"
        assert await peer_get(peer, name, "o", tmp_path) == data
    finally:
        try:
            await js.delete_object_store(name)
        except objstore.BucketNotFoundError:
            pass
