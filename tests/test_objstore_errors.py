"""Object-store error paths against a real nats-server.

Every error the nats-py seed names (ObjectNotFoundError, ObjectDeletedError, ObjectAlreadyExists,
BadObjectMetaError, BucketNotFoundError, BadBucketError) plus the others (BucketExistsError,
LinkNotAllowedError, LinkIsABucketError, DigestMismatchError, ChunkMissingError); "nothing lost"
when a put fails half-way; corrupted or missing data detected quickly instead of a hang.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os

import pytest

import objstore
from events_util import eventually
from jetstream import StoreFailedError, StreamSealedError
from objstore import (
    BadBucketError,
    BadObjectMetaError,
    BucketExistsError,
    BucketNotFoundError,
    ChunkMissingError,
    DigestMismatchError,
    LinkIsABucketError,
    LinkNotAllowedError,
    ObjectAlreadyExists,
    ObjectDeletedError,
    ObjectInfo,
    ObjectLink,
    ObjectMeta,
    ObjectMetaOptions,
    ObjectNotFoundError,
    digest_of,
)
from objstore.subjects import chunk_subject, meta_subject
from protocol import NatsError

pytestmark = pytest.mark.timeout(30)

CS = objstore.DEFAULT_CHUNK_SIZE
QUICK = 5.0  # every detection below must be this fast (no hang on missing data)


async def state(js, bucket: str = "b") -> tuple[int, int]:
    st = (await js.stream_info(f"OBJ_{bucket}")).state
    return st.messages, st.bytes


async def settled_state(js, bucket: str = "b") -> tuple[int, int]:
    """The stream state once everything this connection sent to the stream before (chunks of a
    failed put still queued in the server) has landed: the server stores one connection's messages
    to a stream in order, so the ack of a barrier message published now comes after all of them.
    The barrier is then deleted, leaving messages and bytes as they were."""
    ack = await js.publish(chunk_subject(bucket, "settle-barrier"), b"")
    assert await js.delete_msg(f"OBJ_{bucket}", ack.seq)
    return await state(js, bucket)


async def raw_meta(js, name: str, bucket: str = "b") -> dict:
    stored = await js.get_msg(f"OBJ_{bucket}", last_by_subj=meta_subject(bucket, name))
    return json.loads(stored.data)


async def write_meta(js, meta: dict, bucket: str = "b") -> None:
    """Replace an object's meta directly on the wire (what another, buggy or hostile, writer could do)."""
    await js.publish(meta_subject(bucket, meta["name"]), json.dumps(meta).encode(), headers={"Nats-Rollup": "sub"})


async def chunk_seqs(js, info: ObjectInfo, bucket: str = "b") -> list[int]:
    seqs = []
    async with js.ordered_consumer(f"OBJ_{bucket}", filter_subject=chunk_subject(bucket, info.nuid)) as oc:
        while len(seqs) < info.chunks:
            seqs.append((await oc.next(timeout=5)).metadata.stream_seq)
    return seqs


async def quick(coro):
    return await asyncio.wait_for(coro, QUICK)


# --- the seed's errors -------------------------------------------------------------------------


async def test_object_not_found(store: objstore.ObjectStore) -> None:
    for call in (
        store.get("missing"),
        store.get_info("missing"),
        store.get_info("missing", show_deleted=True),
        store.delete("missing"),
        store.update_meta("missing", ObjectMeta(description="x")),
        store.reader("missing"),
    ):
        with pytest.raises(ObjectNotFoundError) as ei:
            await call
        assert not isinstance(ei.value, ObjectDeletedError)
        assert isinstance(ei.value, NatsError)
    with pytest.raises(ObjectNotFoundError):
        [c async for c in store.stream("missing")]


async def test_object_deleted(store: objstore.ObjectStore) -> None:
    await store.put("gone", b"data" * 1000)
    await store.delete("gone")
    for call in (
        store.get("gone"),
        store.get_info("gone"),
        store.update_meta("gone", ObjectMeta(description="x")),
        store.reader("gone"),
    ):
        with pytest.raises(ObjectDeletedError) as ei:
            await call
        assert isinstance(ei.value, ObjectNotFoundError)  # callers catching "not found" catch this too
    with pytest.raises(ObjectDeletedError):
        [c async for c in store.stream("gone")]
    # get(show_deleted=True) gives the empty tombstone's data, not an error
    assert await store.get("gone", show_deleted=True) == b""


async def test_object_already_exists(store: objstore.ObjectStore) -> None:
    await store.put("a", b"1")
    await store.put("b", b"2")
    with pytest.raises(ObjectAlreadyExists):
        await store.update_meta("a", ObjectMeta(name="b"))
    with pytest.raises(ObjectAlreadyExists):
        await store.add_link("a", await store.get_info("b"))
    with pytest.raises(ObjectAlreadyExists):
        await store.add_bucket_link("a", store)
    assert objstore.ObjectAlreadyExistsError is ObjectAlreadyExists
    assert await store.get("a") == b"1" and await store.get("b") == b"2"


async def test_bad_object_meta(store: objstore.ObjectStore, js) -> None:
    for call in (
        store.put("", b"x"),
        store.get(""),
        store.get_info(""),
        store.delete(""),
        store.update_meta("", ObjectMeta(description="x")),
        store.add_link("", ObjectInfo(name="t", bucket="b", nuid="N")),
        store.add_bucket_link("", store),
    ):
        with pytest.raises(BadObjectMetaError) as ei:
            await call
        assert isinstance(ei.value, ValueError)
    # a link cannot be put
    link_meta = ObjectMeta(name="l", options=ObjectMetaOptions(link=ObjectLink(bucket="b", name="t")))
    with pytest.raises(LinkNotAllowedError) as ei:
        await store.put("l", b"x", meta=link_meta)
    assert isinstance(ei.value, BadObjectMetaError)
    # unsupported data
    with pytest.raises(objstore.UnsupportedSourceError):
        await store.put("n", 12345)  # type: ignore[arg-type]
    with pytest.raises(objstore.UnsupportedSourceError):
        await store.put("t", io.StringIO("text mode"))
    # invalid chunk size
    with pytest.raises(BadObjectMetaError):
        await store.put("c", b"x", chunk_size=-1)
    with pytest.raises(ObjectNotFoundError):
        await store.get_info("l")
    assert await state(js) == (0, 0)  # nothing was written by any of these


async def test_corrupt_meta_on_the_wire(store: objstore.ObjectStore, js) -> None:
    await js.publish(meta_subject("b", "junk"), b"{not json", headers={"Nats-Rollup": "sub"})
    await js.publish(meta_subject("b", "list"), b"[1, 2]", headers={"Nats-Rollup": "sub"})
    await write_meta(js, {"name": "nonuid", "bucket": "b", "size": 3, "chunks": 1, "digest": digest_of(b"abc")})
    await store.put("good", b"fine")
    for name in ("junk", "list"):
        with pytest.raises(BadObjectMetaError):
            await store.get_info(name)
        with pytest.raises(BadObjectMetaError):
            await store.get(name)
    with pytest.raises(BadObjectMetaError):
        await store.get("nonuid")
    with pytest.raises(BadObjectMetaError):
        await store.delete("nonuid")
    # list and watch skip what they cannot parse
    assert sorted(i.name for i in await store.list()) == ["good", "nonuid"]
    # a put over unreadable meta replaces it
    await store.put("junk", b"repaired")
    assert await store.get("junk") == b"repaired"


async def test_bucket_not_found(js) -> None:
    with pytest.raises(BucketNotFoundError) as ei:
        await js.object_store("nope")
    assert isinstance(ei.value, NatsError)
    with pytest.raises(BucketNotFoundError):
        await js.delete_object_store("nope")
    store = await js.create_object_store(bucket="tmp")
    await store.put("o", b"1")
    await js.delete_object_store("tmp")
    for call in (store.get("o"), store.get_info("o"), store.status(), store.seal(), store.list(), store.put("p", b"x" * (3 * CS))):
        with pytest.raises((BucketNotFoundError, NatsError)) as ei:
            await call
        assert isinstance(ei.value, NatsError)
    with pytest.raises(BucketNotFoundError):
        await store.get("o")
    assert await js.object_store_names() == []  # no operation re-created it


async def test_bad_bucket(js) -> None:
    for bad in ("", "a.b", "a b", "a*", "a>", "ä", "x" * 300, "a\n"):
        for call in (js.create_object_store(bucket=bad), js.object_store(bad), js.delete_object_store(bad)):
            with pytest.raises(BadBucketError) as ei:
                await call
            assert isinstance(ei.value, ValueError) and isinstance(ei.value, NatsError)
    for params in ({"replicas": -1}, {"replicas": 9}, {"storage": "ssd"}, {"ttl": -5}, {"colour": "red"}):
        with pytest.raises(BadBucketError):
            await js.create_object_store(bucket="ok", **params)
    assert await js.object_store_names() == []


async def test_bucket_exists(js) -> None:
    await js.create_object_store(bucket="x", max_bytes=1 << 20)
    with pytest.raises(BucketExistsError) as ei:
        await js.create_object_store(bucket="x", max_bytes=2 << 20)
    assert isinstance(ei.value, NatsError)


async def test_link_errors(js) -> None:
    a = await js.create_object_store(bucket="a")
    other = await js.create_object_store(bucket="other")
    target = await a.put("t", b"1")
    link = await a.add_link("l", target)
    with pytest.raises(LinkNotAllowedError):
        await a.add_link("l2", link)
    bl = await a.add_bucket_link("bl", other)
    with pytest.raises(LinkNotAllowedError):
        await a.add_link("l3", bl)
    with pytest.raises(LinkIsABucketError) as ei:
        await a.get("bl")
    assert isinstance(ei.value, NatsError)
    with pytest.raises(LinkIsABucketError):
        await a.reader("bl")
    await a.delete("t")
    with pytest.raises(LinkNotAllowedError):
        await a.add_link("l4", await a.get_info("t", show_deleted=True))
    with pytest.raises(BadObjectMetaError):
        await a.add_link("l5", None)  # type: ignore[arg-type]
    with pytest.raises(BadObjectMetaError):
        await a.add_bucket_link("l6", None)  # type: ignore[arg-type]
    # a link that points to another link (written by a foreign client) is refused on get
    await write_meta(js, {"name": "l7", "bucket": "a", "nuid": "N7", "options": {"link": {"bucket": "a", "name": "l"}}}, bucket="a")
    with pytest.raises(BadObjectMetaError):
        await a.get("l7")


async def test_sealed_bucket(store: objstore.ObjectStore, js) -> None:
    await store.put("a", b"x" * (2 * CS))
    await store.seal()
    before = await state(js)
    with pytest.raises(StreamSealedError):
        await store.put("b", b"small")
    with pytest.raises(StreamSealedError):
        await store.put("c", b"y" * (3 * CS))
    with pytest.raises(StreamSealedError):
        await store.delete("a")
    with pytest.raises(StreamSealedError):
        await store.update_meta("a", ObjectMeta(description="nope"))
    assert await state(js) == before
    assert await store.get("a") == b"x" * (2 * CS)


async def test_closed_connection(nats_url: str) -> None:
    conn = await objstore.connect(nats_url)
    js = conn.jetstream()
    store = await js.create_object_store(bucket="b")
    await store.put("o", b"1")
    await conn.close()
    for call in (store.get("o"), store.put("p", b"2"), store.list(), js.object_store("b")):
        with pytest.raises(NatsError):
            await quick(call)


# --- nothing lost ------------------------------------------------------------------------------


async def test_put_over_max_bytes_purges_and_keeps_previous(js) -> None:
    store = await js.create_object_store(bucket="b", max_bytes=1024 * 1024)
    v1 = os.urandom(300 * 1024)
    await store.put("o", v1, description="v1")
    before = await state(js)
    for _ in range(3):
        with pytest.raises(StoreFailedError) as ei:
            await store.put("o", os.urandom(2 * 1024 * 1024))
        assert isinstance(ei.value, NatsError)
        assert await settled_state(js) == before  # every partial chunk purged
    info = await store.get_info("o")
    assert info.description == "v1" and info.size == len(v1)
    assert await store.get("o") == v1
    # a new object that does not fit leaves nothing behind either
    with pytest.raises(StoreFailedError):
        await store.put("new", os.urandom(900 * 1024), chunk_size=64 * 1024)
    assert await settled_state(js) == before
    with pytest.raises(ObjectNotFoundError):
        await store.get_info("new")
    # and the bucket is still usable
    await store.put("small", b"fits")
    assert await store.get("small") == b"fits"


class FailingFile:
    """A binary file whose read() fails after ``good`` reads of ``block`` bytes."""

    def __init__(self, good: int, block: int = 64 * 1024) -> None:
        self.good = good
        self.block = block
        self.reads = 0

    def read(self, n: int = -1) -> bytes:
        self.reads += 1
        if self.reads > self.good:
            raise OSError("disk went away")
        return os.urandom(min(n, self.block) if n and n > 0 else self.block)


async def test_put_from_failing_file_purges_and_keeps_previous(store: objstore.ObjectStore, js) -> None:
    v1 = os.urandom(3 * CS + 1)
    await store.put("o", v1)
    before = await state(js)
    src = FailingFile(good=10)
    with pytest.raises(OSError, match="disk went away"):
        await store.put("o", src)
    assert src.reads == 11
    assert await settled_state(js) == before
    assert await store.get("o") == v1


async def test_put_failing_async_iterable(store: objstore.ObjectStore, js) -> None:
    v1 = b"previous"
    await store.put("o", v1)
    before = await state(js)

    async def source():
        for _ in range(6):
            yield os.urandom(CS)
        raise RuntimeError("producer crashed")

    with pytest.raises(RuntimeError, match="producer crashed"):
        await store.put("o", source())
    assert await settled_state(js) == before
    assert await store.get("o") == v1


async def test_put_cancelled_mid_way(store: objstore.ObjectStore, js) -> None:
    v1 = os.urandom(2 * CS)
    await store.put("o", v1)
    before = await state(js)
    sent_some = asyncio.Event()
    never = asyncio.Event()

    async def slow_source():
        for _ in range(8):
            yield os.urandom(CS)
        sent_some.set()
        await never.wait()  # a producer that stalls forever
        yield b"never"

    task = asyncio.get_running_loop().create_task(store.put("o", slow_source()))
    await quick(sent_some.wait())

    async def chunks_stored() -> bool:
        return (await state(js))[0] > before[0]

    await eventually(chunks_stored, 10, what="chunks of the new version stored")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await quick(task)
    assert await settled_state(js) == before
    assert await store.get("o") == v1


async def test_put_meta_too_large_purges_chunks(store: objstore.ObjectStore, js, nc) -> None:
    v1 = b"v1"
    await store.put("o", v1)
    before = await state(js)
    huge = {"k": "x" * (nc.max_payload + 10)}
    with pytest.raises(NatsError):
        await store.put("o", os.urandom(3 * CS), metadata=huge)
    assert await settled_state(js) == before
    assert await store.get("o") == v1


async def test_progress_callback_error_purges(store: objstore.ObjectStore, js) -> None:
    before = await state(js)

    def progress(done: int, total: object) -> None:
        if done > 2 * CS:
            raise ValueError("stop")

    # bigger than the publisher's window, so acks (and progress calls) come during the put
    with pytest.raises(ValueError, match="stop"):
        await store.put("o", os.urandom(100 * CS), progress=progress)
    assert await settled_state(js) == before


async def test_progress_error_at_the_end_still_cleans_up(store: objstore.ObjectStore, js) -> None:
    old = await store.put("o", os.urandom(3 * CS))

    def progress(done: int, total: object) -> None:
        if done == total:
            raise ValueError("late")

    new = os.urandom(2 * CS)
    with pytest.raises(ValueError, match="late"):
        await store.put("o", new, progress=progress)
    # the new version is stored (the error came after), and the old chunks are not leaked
    assert await store.get("o") == new
    si = await js.stream_info("OBJ_b", subjects_filter="$O.b.C.>")
    assert chunk_subject("b", old.nuid) not in (si.state.subjects or {})
    assert (await state(js))[0] == 3


# --- corrupted and missing data ----------------------------------------------------------------


@pytest.mark.parametrize("size", [10, 3 * CS + 5])
async def test_tampered_digest(store: objstore.ObjectStore, js, size: int) -> None:
    data = os.urandom(size)
    await store.put("o", data)
    meta = await raw_meta(js, "o")
    meta["digest"] = digest_of(b"something else")
    await write_meta(js, meta)
    with pytest.raises(DigestMismatchError):
        await quick(store.get("o"))
    with pytest.raises(DigestMismatchError):
        await quick(_drain(store.stream("o")))
    with pytest.raises(DigestMismatchError):
        await quick(store.get("o", writeinto=io.BytesIO()))
    info = await store.get_info("o")  # the info itself is still readable
    assert not info.verify(data)


@pytest.mark.parametrize(
    "field, delta",
    [("size", +1), ("size", -1), ("chunks", +1), ("chunks", -1)],
)
async def test_tampered_size_or_chunks(store: objstore.ObjectStore, js, field: str, delta: int) -> None:
    await store.put("o", os.urandom(3 * CS + 5))
    meta = await raw_meta(js, "o")
    meta[field] += delta
    await write_meta(js, meta)
    with pytest.raises(DigestMismatchError):  # ChunkMissingError is a DigestMismatchError
        await quick(store.get("o"))


async def test_hex_and_unpadded_digests_are_accepted(store: objstore.ObjectStore, js) -> None:
    data = os.urandom(2 * CS + 1)
    await store.put("o", data)
    meta = await raw_meta(js, "o")
    for digest in (
        "SHA-256=" + hashlib.sha256(data).hexdigest(),
        "sha-256=" + meta["digest"][len("SHA-256=") :].rstrip("="),
    ):
        meta["digest"] = digest
        await write_meta(js, meta)
        assert await quick(store.get("o")) == data


async def test_extra_chunk_data_is_ignored(store: objstore.ObjectStore, js) -> None:
    data = os.urandom(2 * CS)
    info = await store.put("o", data)
    await js.publish(chunk_subject("b", info.nuid), b"injected")
    # reading stops after the object's chunk count: the stored object is returned intact
    assert await quick(store.get("o")) == data


async def test_chunk_content_replaced(store: objstore.ObjectStore, js) -> None:
    info = await store.put("o", b"A" * (2 * CS))
    seqs = await chunk_seqs(js, info)
    await js.delete_msg("OBJ_b", seqs[1])
    await js.publish(chunk_subject("b", info.nuid), b"B" * CS)  # same size, other bytes
    with pytest.raises(DigestMismatchError) as ei:
        await quick(store.get("o"))
    assert not isinstance(ei.value, ChunkMissingError)


@pytest.mark.parametrize("size", [10, 4 * CS])
async def test_all_chunks_purged(store: objstore.ObjectStore, js, size: int) -> None:
    info = await store.put("o", os.urandom(size))
    await js.purge_stream("OBJ_b", subject=chunk_subject("b", info.nuid))
    with pytest.raises(ChunkMissingError):
        await quick(store.get("o"))
    with pytest.raises(ChunkMissingError):
        await quick(_drain(store.stream("o", idle_timeout=0.5)))


@pytest.mark.parametrize("which", [0, 2, 4])
@pytest.mark.parametrize("idle_timeout", [30.0, 0.5])
async def test_one_chunk_deleted(store: objstore.ObjectStore, js, which: int, idle_timeout: float) -> None:
    info = await store.put("o", os.urandom(5 * CS))
    seqs = await chunk_seqs(js, info)
    assert await js.delete_msg("OBJ_b", seqs[which]) is True
    with pytest.raises(ChunkMissingError):
        await quick(store.get("o", idle_timeout=idle_timeout))
    with pytest.raises(ChunkMissingError):
        await quick(store.get("o", writeinto=io.BytesIO(), idle_timeout=idle_timeout))


async def _drain(agen) -> int:
    n = 0
    async for chunk in agen:
        n += len(chunk)
    return n
