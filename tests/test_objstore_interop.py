"""Interop with nats-py (the reference Python client) on the same real nats-server.

Objects written here are read by nats-py and theirs here (sizes around the chunk size, several
MiB, awkward names), with equal digests, sizes, chunk counts, descriptions and headers; buckets
created by either client are opened by the other; list, watch and delete see the other client's
writes. nats-py is only a peer here: its known bugs (wire.md 3.x: list() includes deleted objects
and raises when empty, delete of a deleted object raises, update_meta rename is broken, tombstones
carry ``"mtime": ""``) are not used against our code, but we do read what those bugs write.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import timedelta
from typing import Any, AsyncIterator

import pytest

nats = pytest.importorskip("nats")
from nats.js import api as napi  # noqa: E402
from nats.js import errors as nerrors  # noqa: E402

import objstore  # noqa: E402
from jetstream import StreamSealedError  # noqa: E402
from objstore import ObjectDeletedError, ObjectMeta, digest_of  # noqa: E402
from objstore.subjects import meta_subject  # noqa: E402
from protocol import Headers  # noqa: E402

pytestmark = pytest.mark.timeout(30)

CS = objstore.DEFAULT_CHUNK_SIZE
SIZES = [0, 1, CS - 1, CS, CS + 1, 3 * 1024 * 1024 + 3]
NAMES = [
    "ünïcødé 名前 🎉",
    "with spaces in it",
    "a/b/c/file.pdf",
    "dots.in.the.name",
    "*",
    ">",
    "star*and>gt",
    "mixed/ü .*> x",
]


class Peers:
    def __init__(self, ours: objstore.JetStreamContext, theirs: Any) -> None:
        self.ours = ours
        self.theirs = theirs


@pytest.fixture
async def peers(nats_url: str) -> AsyncIterator[Peers]:
    our_nc = await objstore.connect(nats_url)
    their_nc = await nats.connect(nats_url)
    try:
        yield Peers(our_nc.jetstream(), their_nc.jetstream())
    finally:
        await their_nc.close()
        await our_nc.close()


@pytest.fixture
async def pair(peers: Peers) -> tuple[objstore.ObjectStore, Any]:
    """The same bucket "b", created here, bound by nats-py."""
    ours = await peers.ours.create_object_store(bucket="b")
    theirs = await peers.theirs.object_store("b")
    return ours, theirs


def data_of(size: int, seed: int = 0) -> bytes:
    rnd = hashlib.sha256(f"{seed}".encode()).digest()
    return (rnd * (size // 32 + 1))[:size] if size < 4096 else os.urandom(size)


def expected_chunks(size: int) -> int:
    return -(-size // CS)


# --- objects both ways, by size ----------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
async def test_ours_read_by_nats_py(pair, size: int) -> None:
    ours, theirs = pair
    data = data_of(size, seed=size)
    hdrs = Headers()
    hdrs.add("X-Multi", "1")
    hdrs.add("X-Multi", "2")
    hdrs["Content-Type"] = "application/octet-stream"
    info = await ours.put("obj", data, description=f"size {size}", headers=hdrs)
    res = await theirs.get("obj")
    assert res.data == data
    ti = res.info
    assert ti.name == "obj" and ti.bucket == "b"
    assert ti.size == size == info.size
    assert ti.chunks == expected_chunks(size) == info.chunks
    assert ti.digest == info.digest == digest_of(data)
    assert ti.description == f"size {size}"
    assert ti.nuid == info.nuid
    # nats-py hands our (nats.go-shaped) headers through as lists
    assert ti.headers == {"X-Multi": ["1", "2"], "Content-Type": ["application/octet-stream"]}
    assert ti.deleted is False
    assert isinstance(ti.mtime, str) and ti.mtime  # a real RFC 3339 time, never ""
    assert (await theirs.get_info("obj")).digest == info.digest


@pytest.mark.parametrize("size", SIZES)
async def test_nats_py_read_by_ours(pair, size: int) -> None:
    ours, theirs = pair
    data = data_of(size, seed=size + 1)
    meta = napi.ObjectMeta(
        name="obj",
        description=f"from nats-py {size}",
        headers={"Content-Type": "application/pdf", "Author": "Alice"},
    )
    ti = await theirs.put("obj", data, meta=meta)
    assert await ours.get("obj") == data
    info = await ours.get_info("obj")
    assert info.size == size == ti.size
    assert info.chunks == expected_chunks(size) == ti.chunks
    assert info.digest == ti.digest == digest_of(data)
    assert info.nuid == ti.nuid
    assert info.description == f"from nats-py {size}"
    assert info.headers is not None  # nats-py's flat header map
    assert info.headers["Content-Type"] == "application/pdf" and info.headers.get_all("Author") == ["Alice"]
    assert info.mtime is not None
    assert info.verify(data)
    assert b"".join([c async for c in ours.stream("obj")]) == data


async def test_nats_py_custom_chunk_size_read_by_ours(pair) -> None:
    ours, theirs = pair
    data = os.urandom(100_000)
    meta = napi.ObjectMeta(name="obj", options=napi.ObjectMetaOptions(max_chunk_size=7_000))
    ti = await theirs.put("obj", data, meta=meta)
    assert ti.chunks == 15
    assert await ours.get("obj") == data
    assert (await ours.get_info("obj")).chunk_size == 7_000


async def test_ours_custom_chunk_size_read_by_nats_py(pair) -> None:
    ours, theirs = pair
    data = os.urandom(100_000)
    info = await ours.put("obj", data, chunk_size=7_000)
    assert info.chunks == 15
    res = await theirs.get("obj")
    assert res.data == data and res.info.options.max_chunk_size == 7_000


# --- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
async def test_names_ours_to_nats_py(pair, name: str) -> None:
    ours, theirs = pair
    await ours.put(name, name.encode() * 3)
    res = await theirs.get(name)
    assert res.data == name.encode() * 3 and res.info.name == name


@pytest.mark.parametrize("name", NAMES)
async def test_names_nats_py_to_ours(pair, name: str) -> None:
    ours, theirs = pair
    await theirs.put(name, name.encode() * 2)
    assert await ours.get(name) == name.encode() * 2
    assert (await ours.get_info(name)).name == name


async def test_same_meta_subject_for_every_name(pair, peers) -> None:
    """Both clients address one object by the same meta subject: a re-put by the other replaces it."""
    ours, theirs = pair
    for name in NAMES:
        await ours.put(name, b"ours")
        await theirs.put(name, b"theirs")
    si = await peers.ours.stream_info("OBJ_b", subjects_filter="$O.b.M.>")
    subjects = si.state.subjects or {}
    assert sorted(subjects) == sorted(meta_subject("b", n) for n in NAMES)
    assert all(count == 1 for count in subjects.values())
    for name in NAMES:
        assert await ours.get(name) == b"theirs"


# --- buckets -----------------------------------------------------------------------------------


async def test_bucket_created_by_ours_opened_by_nats_py(peers) -> None:
    ours = await peers.ours.create_object_store(
        bucket="mine",
        description="made here",
        ttl=timedelta(minutes=5),
        compression=True,
        metadata={"team": "x"},
        max_bytes=64 * 1024 * 1024,
    )
    await ours.put("o", b"hello")
    theirs = await peers.theirs.object_store("mine")
    assert (await theirs.get("o")).data == b"hello"
    st = await theirs.status()
    assert st.bucket == "mine"
    assert st.description == "made here"
    assert st.ttl == pytest.approx(300.0)
    assert st.sealed is False
    assert st.size > 0


async def test_bucket_created_by_nats_py_opened_by_ours(peers) -> None:
    theirs = await peers.theirs.create_object_store("theirs", description="made by nats-py", ttl=60.0)
    await theirs.put("o", b"hi")
    ours = await peers.ours.object_store("theirs")
    assert await ours.get("o") == b"hi"
    assert "theirs" in await peers.ours.object_store_names()
    st = await ours.status()
    assert (st.bucket, st.description, st.ttl, st.storage, st.replicas, st.sealed) == (
        "theirs",
        "made by nats-py",
        timedelta(seconds=60),
        "file",
        1,
        False,
    )
    assert st.count == 1
    # creating it here with the settings nats-py was given is idempotent: the same bucket, kept
    # (a config that differed would raise BucketExistsError, never change it silently)
    again = await peers.ours.create_object_store(bucket="theirs", description="made by nats-py", ttl=60.0)
    assert await again.get("o") == b"hi"
    assert await ours.get("o") == b"hi"


async def test_bucket_deleted_by_either(peers) -> None:
    await peers.ours.create_object_store(bucket="x")
    assert await peers.theirs.delete_object_store("x") is True
    with pytest.raises(objstore.BucketNotFoundError):
        await peers.ours.object_store("x")
    await peers.theirs.create_object_store("y")
    assert await peers.ours.delete_object_store("y") is True
    with pytest.raises(nerrors.BucketNotFoundError):
        await peers.theirs.object_store("y")


async def test_seal_by_nats_py(pair) -> None:
    ours, theirs = pair
    await ours.put("o", b"1")
    await theirs.seal()
    assert (await ours.status()).sealed is True
    with pytest.raises(StreamSealedError):
        await ours.put("p", b"2")
    assert await ours.get("o") == b"1"


# --- list / watch ------------------------------------------------------------------------------


async def test_list_sees_both_clients(pair) -> None:
    ours, theirs = pair
    assert await ours.list() == []
    await ours.put("mine", b"1", description="ours")
    await theirs.put("yours", b"22", meta=napi.ObjectMeta(name="yours", description="theirs"))
    infos = {i.name: i for i in await ours.list()}
    assert sorted(infos) == ["mine", "yours"]
    assert infos["yours"].description == "theirs" and infos["yours"].size == 2
    their_list = {i.name: i for i in await theirs.list(ignore_deletes=True)}
    assert sorted(their_list) == ["mine", "yours"]
    assert their_list["mine"].description == "ours" and their_list["mine"].size == 1


async def test_our_watch_sees_nats_py_writes(pair) -> None:
    ours, theirs = pair
    await theirs.put("before", b"0")
    async with ours.watch() as w:
        first = await w.updates(5)
        assert first is not None and first.name == "before"
        assert await w.updates(5) is None
        await theirs.put("after", b"1")
        got = await w.updates(5)
        assert got is not None and got.name == "after" and got.size == 1
        await theirs.delete("after")
        got = await w.updates(5)
        assert got is not None and got.name == "after" and got.deleted is True
        assert got.mtime is not None  # nats-py's tombstone says "mtime": ""; we use the message time


async def test_nats_py_watch_sees_our_writes(pair) -> None:
    ours, theirs = pair
    await ours.put("before", b"0", description="d")
    w = await theirs.watch()
    try:
        first = await w.updates(5)
        assert first is not None and first.name == "before" and first.description == "d"
        assert await w.updates(5) is None
        await ours.put("after", b"12")
        got = await w.updates(5)
        assert got is not None and got.name == "after" and got.size == 2
        await ours.delete("after")
        got = await w.updates(5)
        assert got is not None and got.name == "after" and got.deleted is True
    finally:
        await w.stop()


# --- deletes -----------------------------------------------------------------------------------


async def test_delete_by_nats_py_seen_here(pair, peers) -> None:
    ours, theirs = pair
    await ours.put("o", os.urandom(3 * CS), description="keep me")
    await theirs.delete("o")
    with pytest.raises(ObjectDeletedError):
        await ours.get("o")
    with pytest.raises(ObjectDeletedError):
        await ours.get_info("o")
    raw = json.loads((await peers.ours.get_msg("OBJ_b", last_by_subj=meta_subject("b", "o"))).data)
    assert raw["mtime"] == ""  # what nats-py writes; we must read it
    tomb = await ours.get_info("o", show_deleted=True)
    assert tomb.deleted is True and tomb.size == 0 and tomb.mtime is not None
    assert tomb.description == "keep me"
    assert await ours.list() == []
    assert [i.name for i in await ours.list(show_deleted=True)] == ["o"]
    st = (await peers.ours.stream_info("OBJ_b")).state
    assert st.messages == 1  # nats-py purged the chunks
    # we can delete it again, re-put it, and nats-py reads that
    assert await ours.delete("o") is True
    await ours.put("o", b"back")
    assert (await theirs.get("o")).data == b"back"


async def test_delete_by_ours_seen_by_nats_py(pair, peers) -> None:
    ours, theirs = pair
    await theirs.put("o", os.urandom(2 * CS))
    assert await ours.delete("o") is True
    with pytest.raises(nerrors.ObjectNotFoundError):
        await theirs.get_info("o")
    with pytest.raises(nerrors.ObjectNotFoundError):
        await theirs.get("o")
    ti = await theirs.get_info("o", show_deleted=True)
    assert ti.deleted is True and ti.size == 0
    raw = json.loads((await peers.ours.get_msg("OBJ_b", last_by_subj=meta_subject("b", "o"))).data)
    assert raw["mtime"] != "" and raw["deleted"] is True
    st = (await peers.ours.stream_info("OBJ_b")).state
    assert st.messages == 1  # our delete purged nats-py's chunks


# --- replace, update, links ---------------------------------------------------------------------


async def test_replace_across_clients_purges_old_chunks(pair, peers) -> None:
    ours, theirs = pair
    await ours.put("o", os.urandom(3 * CS))
    await theirs.put("o", b"theirs")
    assert await ours.get("o") == b"theirs"
    assert (await peers.ours.stream_info("OBJ_b")).state.messages == 2
    await ours.put("o", os.urandom(2 * CS) + b"ours")
    assert (await theirs.get("o")).data.endswith(b"ours")
    assert (await peers.ours.stream_info("OBJ_b")).state.messages == 4  # 3 chunks + meta


async def test_update_meta_across_clients(pair) -> None:
    ours, theirs = pair
    await theirs.put("o", b"data", meta=napi.ObjectMeta(name="o", description="v1", headers={"A": "1"}))
    await ours.update_meta("o", ObjectMeta(description="v2", metadata={"k": "v"}))
    res = await theirs.get("o")
    assert res.data == b"data"
    assert res.info.description == "v2"
    assert res.info.headers == {"A": ["1"]}  # rewritten in nats.go's shape, nats-py passes it through
    # nats-py's update_meta (same name: its rename is broken) is read here
    await theirs.update_meta("o", napi.ObjectMeta(name="o", description="v3", headers={"B": "2"}))
    info = await ours.get_info("o")
    assert info.description == "v3" and info.headers["B"] == "2"
    assert await ours.get("o") == b"data"


async def test_our_links_followed_by_nats_py(pair, peers) -> None:
    ours, theirs = pair
    target = await ours.put("target", os.urandom(2 * CS + 1))
    await ours.add_link("link", target)
    assert (await theirs.get("link")).data == await ours.get("target")
    other = await peers.ours.create_object_store(bucket="other")
    await ours.add_bucket_link("blink", other)
    with pytest.raises(nerrors.LinkIsABucketError):
        await theirs.get("blink")
    # a link to an object in another bucket
    t2 = await other.put("t2", b"over there")
    await ours.add_link("far", t2)
    assert (await theirs.get("far")).data == b"over there"
