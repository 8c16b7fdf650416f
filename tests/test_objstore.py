"""Integration tests of the object store against a real nats-server (happy paths).

Buckets (create/bind/delete/list, the stream config of wire.md 3.3), put from every source kind,
chunking, get/stream/reader, metadata and headers, delete, list, watch, status, seal, update_meta,
links and large reads with bounded memory. Error paths live in ``test_objstore_errors.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import tracemalloc
from datetime import datetime, timedelta, timezone

import pytest

import objstore
from events_util import eventually
from objstore import (
    BadBucketError,
    BucketExistsError,
    BucketNotFoundError,
    LinkIsABucketError,
    LinkNotAllowedError,
    ObjectAlreadyExists,
    ObjectDeletedError,
    ObjectInfo,
    ObjectLink,
    ObjectMeta,
    ObjectMetaOptions,
    ObjectNotFoundError,
    ObjectStoreConfig,
    digest_of,
)
from objstore.store import CHUNK_HEADER_ROOM
from objstore.subjects import chunk_subject, encode_name, meta_subject
from protocol import Headers, NatsError, NatsTimeoutError

pytestmark = pytest.mark.timeout(30)

CS = objstore.DEFAULT_CHUNK_SIZE


def payload(n: int, seed: int = 0) -> bytes:
    """Deterministic non-repeating-ish bytes (cheap for several MiB)."""
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
    reps = n // len(block) + 1
    data = bytearray(block * reps)
    # make each 64 KiB block differ, so swapped chunks would change the digest
    for i in range(0, n, len(block)):
        data[i : i + 4] = i.to_bytes(4, "big")
    return bytes(data[:n])


async def stream_state(js: objstore.JetStreamContext, bucket: str = "b"):
    return (await js.stream_info(f"OBJ_{bucket}")).state


async def subject_counts(js: objstore.JetStreamContext, bucket: str = "b") -> dict[str, int]:
    si = await js.stream_info(f"OBJ_{bucket}", subjects_filter=f"$O.{bucket}.>")
    return dict(si.state.subjects or {})


async def chunk_sizes(js: objstore.JetStreamContext, bucket: str, info: ObjectInfo) -> list[int]:
    """Payload size of every chunk message of an object, in order."""
    sizes: list[int] = []
    if info.chunks == 0:
        return sizes
    async with js.ordered_consumer(f"OBJ_{bucket}", filter_subject=chunk_subject(bucket, info.nuid)) as oc:
        while len(sizes) < info.chunks:
            msg = await oc.next(timeout=5)
            sizes.append(len(msg.data))
    return sizes


async def raw_meta(js: objstore.JetStreamContext, bucket: str, name: str) -> dict:
    stored = await js.get_msg(f"OBJ_{bucket}", last_by_subj=meta_subject(bucket, name))
    return json.loads(stored.data)


# --- buckets -----------------------------------------------------------------------------------


async def test_create_with_params_writes_wire_3_3_config(js: objstore.JetStreamContext) -> None:
    store = await js.create_object_store(
        bucket="params",
        description="my bucket",
        ttl=timedelta(hours=2),
        max_bytes=10 * 1024 * 1024,
        storage="memory",
        compression=True,
        metadata={"team": "storage", "env": "test"},
    )
    assert isinstance(store, objstore.ObjectStore)
    assert store.bucket == "params"
    cfg = (await js.stream_info("OBJ_params")).config
    assert cfg.name == "OBJ_params"
    assert cfg.subjects == ["$O.params.C.>", "$O.params.M.>"]
    assert cfg.description == "my bucket"
    assert cfg.max_age == pytest.approx(7200.0)
    assert cfg.max_bytes == 10 * 1024 * 1024
    assert cfg.storage == "memory"
    assert cfg.compression == "s2"
    assert cfg.discard == "new"
    assert cfg.allow_rollup_hdrs is True
    assert cfg.allow_direct is True
    assert cfg.num_replicas == 1
    assert cfg.metadata is not None
    assert cfg.metadata["team"] == "storage" and cfg.metadata["env"] == "test"
    st = await store.status()
    assert st.bucket == "params"
    assert st.description == "my bucket"
    assert st.ttl == timedelta(hours=2)
    assert st.storage == "memory" and st.storage_type == "memory"
    assert st.replicas == 1
    assert st.sealed is False
    assert st.compression is True and st.is_compressed is True
    assert st.metadata is not None and st.metadata["team"] == "storage"
    assert st.backing_store == "JetStream"
    assert st.size == 0 and st.count == 0


async def test_create_with_config_object(js: objstore.JetStreamContext) -> None:
    cfg = ObjectStoreConfig(bucket="cfg", description="d", ttl=60, storage="file", replicas=1)
    store = await js.create_object_store(config=cfg)
    si = await js.stream_info("OBJ_cfg")
    assert si.config.description == "d"
    assert si.config.max_age == pytest.approx(60.0)
    assert si.config.storage == "file"
    assert si.config.max_bytes == -1  # unset -> -1
    assert si.config.compression in (None, "none")
    # params override the config's fields (nats-py's evolve)
    other = await js.create_object_store(config=cfg, bucket="cfg2", description="override")
    assert other.bucket == "cfg2"
    assert (await js.stream_info("OBJ_cfg2")).config.description == "override"
    assert cfg.bucket == "cfg"  # the caller's config is not mutated
    await store.put("x", b"1")
    assert await store.get("x") == b"1"


async def test_create_defaults(js: objstore.JetStreamContext) -> None:
    await js.create_object_store("plain")  # positional bucket, nats-py style
    cfg = (await js.stream_info("OBJ_plain")).config
    assert cfg.max_bytes == -1
    assert not cfg.max_age
    assert cfg.storage == "file"
    assert cfg.discard == "new" and cfg.allow_rollup_hdrs and cfg.allow_direct


async def test_create_is_idempotent_and_detects_conflicts(js: objstore.JetStreamContext) -> None:
    s1 = await js.create_object_store(bucket="idem", description="x", max_bytes=1 << 20)
    await s1.put("keep", b"data")
    s2 = await js.create_object_store(bucket="idem", description="x", max_bytes=1 << 20)
    assert await s2.get("keep") == b"data"  # re-create did not wipe anything
    with pytest.raises(BucketExistsError) as ei:
        await js.create_object_store(bucket="idem", description="different")
    assert isinstance(ei.value, NatsError)
    assert await s1.get("keep") == b"data"


async def test_create_rejects_bad_input(js: objstore.JetStreamContext) -> None:
    with pytest.raises(BadBucketError):
        await js.create_object_store(bucket="bad.name")
    with pytest.raises(BadBucketError):
        await js.create_object_store(bucket="b", no_such_option=1)
    with pytest.raises(BadBucketError):
        await js.create_object_store(bucket="b", storage="tape")
    with pytest.raises(BadBucketError):
        await js.create_object_store()  # no bucket at all
    assert await js.object_store_names() == []


async def test_bind_existing_and_missing(js: objstore.JetStreamContext) -> None:
    created = await js.create_object_store(bucket="bind")
    await created.put("o", b"hello")
    bound = await js.object_store("bind")
    assert bound.bucket == "bind"
    assert await bound.get("o") == b"hello"
    with pytest.raises(BucketNotFoundError):
        await js.object_store("missing")
    with pytest.raises(BadBucketError):
        await js.object_store("no good")
    assert "missing" not in await js.object_store_names()


async def test_delete_bucket(js: objstore.JetStreamContext) -> None:
    store = await js.create_object_store(bucket="gone")
    await store.put("o", b"x" * 1000)
    assert await js.delete_object_store("gone") is True
    with pytest.raises(BucketNotFoundError):
        await js.object_store("gone")
    with pytest.raises(BucketNotFoundError):
        await store.get_info("o")
    with pytest.raises(BucketNotFoundError):
        await store.status()
    with pytest.raises(BucketNotFoundError):
        await js.delete_object_store("gone")
    with pytest.raises(BadBucketError):
        await js.delete_object_store("a.b")


async def test_bucket_names_and_statuses(js: objstore.JetStreamContext) -> None:
    assert await js.object_store_names() == []
    assert await js.object_stores() == []
    # A plain stream is not a bucket, even one named like OBJ_ without object subjects.
    await js.add_stream(name="OTHER", subjects=["other.>"])
    await js.add_stream(name="OBJ_fake", subjects=["fake.>"])
    for name in ("one", "two", "three"):
        s = await js.create_object_store(bucket=name, description=f"d-{name}")
        await s.put("x", name.encode())
    assert await js.object_store_names() == ["one", "three", "two"]
    statuses = await js.object_stores()
    assert sorted(st.bucket for st in statuses) == ["one", "three", "two"]
    for st in statuses:
        assert st.description == f"d-{st.bucket}"
        assert st.count == 1
        assert st.size > 0


async def test_bind_mirror_stream(js: objstore.JetStreamContext) -> None:
    """A read-only copy made with a mirror whose subject transform maps the bucket's subjects."""
    src = await js.create_object_store(bucket="src")
    data = payload(3 * CS + 5)
    await src.put("big", data, description="mirrored")
    await src.put("small", b"tiny")
    from jetstream import StreamConfig, StreamSource

    await js.add_stream(
        StreamConfig(
            name="OBJ_mir",
            mirror=StreamSource(name="OBJ_src", subject_transforms=[_transform("$O.src.>", "$O.mir.>")]),
            storage="file",
        )
    )
    async def caught_up() -> bool:
        return (await stream_state(js, "mir")).messages == (await stream_state(js, "src")).messages

    await eventually(caught_up, 20, what="the mirror caught up")
    mirror = await js.object_store("mir")
    assert await mirror.get("small") == b"tiny"
    assert await mirror.get("big") == data
    info = await mirror.get_info("big")
    assert info.description == "mirrored" and info.size == len(data)
    assert sorted(i.name for i in await mirror.list()) == ["big", "small"]


def _transform(src: str, dest: str):
    from jetstream.models import SubjectTransform

    return SubjectTransform(src=src, dest=dest)


async def test_replicated_bucket(nats_cluster) -> None:
    nc = await objstore.connect(nats_cluster.url)
    try:
        js = nc.jetstream(timeout=10.0)
        store = await js.create_object_store(bucket="r3", replicas=3, description="replicated")
        try:
            st = await store.status()
            assert st.replicas == 3
            data = payload(2 * CS + 17, seed=3)
            info = await store.put("obj", data)
            # read-after-write through the leader
            assert (await store.get_info("obj")).digest == info.digest
            assert await store.get("obj") == data
            small = await store.put("small", b"s")
            assert await store.get("small") == b"s" and small.chunks == 1
            await store.delete("obj")
            with pytest.raises(ObjectDeletedError):
                await store.get("obj")
            assert [i.name for i in await store.list()] == ["small"]
            # The bucket's consumers may run on a follower that lags: reads and lists must
            # still see every acknowledged write.
            for i in range(8):
                blob = payload(CS + i, seed=i)
                await store.put(f"loop{i}", blob)
                assert await store.get(f"loop{i}") == blob
                assert sorted(x.name for x in await store.list()) == [f"loop{i}", "small"]
                await store.delete(f"loop{i}")
                assert [x.name for x in await store.list()] == ["small"]
            # A second client on another node sees it too.
            nc2 = await objstore.connect(nats_cluster.urls[-1])
            try:
                other = await nc2.jetstream(timeout=10.0).object_store("r3")
                assert await other.get("small") == b"s"
            finally:
                await nc2.close()
        finally:
            await js.delete_object_store("r3")
    finally:
        await nc.close()


# --- put / get ---------------------------------------------------------------------------------


def _sources(data: bytes, tmp_path):
    async def agen():
        for i in range(0, len(data), 1000):
            yield data[i : i + 1000]
            await asyncio.sleep(0)

    def gen():
        for i in range(0, len(data), 777):
            yield data[i : i + 777]

    path = tmp_path / "src.bin"
    path.write_bytes(data)
    return [
        ("bytes", lambda: data),
        ("bytearray", lambda: bytearray(data)),
        ("memoryview", lambda: memoryview(data)),
        ("file", lambda: open(path, "rb")),
        ("bytesio", lambda: io.BytesIO(data)),
        ("async-iterable", agen),
        ("sync-iterable", gen),
        ("list", lambda: [data[: len(data) // 2], data[len(data) // 2 :]]),
    ]


async def test_put_every_source_kind(store: objstore.ObjectStore, tmp_path) -> None:
    data = payload(CS * 2 + 333, seed=1)
    for kind, make in _sources(data, tmp_path):
        src = make()
        try:
            info = await store.put(f"src/{kind}", src)
        finally:
            if hasattr(src, "close") and not hasattr(src, "__anext__"):
                src.close()
        assert info.size == len(data), kind
        assert info.chunks == 3, kind
        assert info.digest == digest_of(data), kind
        assert await store.get(f"src/{kind}") == data, kind


async def test_put_str_is_utf8(store: objstore.ObjectStore) -> None:
    text = "héllo wörld ✓ " * 10
    info = await store.put("text", text)
    assert info.size == len(text.encode("utf-8"))
    assert await store.get("text") == text.encode("utf-8")


@pytest.mark.parametrize("size", [0, 1, CS - 1, CS, CS + 1, 3 * CS, 5 * 1024 * 1024 + 7])
async def test_sizes_round_trip(store: objstore.ObjectStore, js, size: int) -> None:
    data = payload(size, seed=size)
    info = await store.put("obj", data)
    assert info.size == size
    assert info.chunks == -(-size // CS)
    assert info.digest == digest_of(data)
    assert info.nuid and info.bucket == "b" and info.name == "obj"
    assert info.options is not None and info.options.max_chunk_size == CS
    assert info.mtime is not None and info.mtime.tzinfo is not None
    got = await store.get_info("obj")
    assert (got.size, got.chunks, got.digest, got.nuid) == (info.size, info.chunks, info.digest, info.nuid)
    assert got.mtime is not None and abs((got.mtime - datetime.now(timezone.utc)).total_seconds()) < 60
    assert await store.get("obj") == data
    assert got.verify(data)
    assert got.digest_hex == hashlib.sha256(data).hexdigest()
    counts = await subject_counts(js)
    assert counts.get(chunk_subject("b", info.nuid), 0) == info.chunks
    assert counts[meta_subject("b", "obj")] == 1


async def test_chunk_size_option(store: objstore.ObjectStore, js) -> None:
    data = payload(2500, seed=9)
    info = await store.put("small-chunks", data, chunk_size=1000)
    assert info.chunks == 3
    assert info.options is not None and info.options.max_chunk_size == 1000
    assert await chunk_sizes(js, "b", info) == [1000, 1000, 500]
    assert await store.get("small-chunks") == data
    assert (await raw_meta(js, "b", "small-chunks"))["options"] == {"max_chunk_size": 1000}
    # through ObjectMeta options too (nats-py style), also with the seed's chunk_size alias
    for opts in (ObjectMetaOptions(max_chunk_size=700), ObjectMetaOptions(chunk_size=700)):
        info = await store.put("meta-chunks", data, meta=ObjectMeta(name="meta-chunks", options=opts))
        assert info.chunks == 4
        assert await chunk_sizes(js, "b", info) == [700, 700, 700, 400]
    # exactly one chunk of the chunk size
    info = await store.put("exact", data[:1000], chunk_size=1000)
    assert info.chunks == 1 and await store.get("exact") == data[:1000]


async def test_chunk_size_capped_at_max_payload(server_factory) -> None:
    srv = server_factory("max_payload: 65536")
    nc = await objstore.connect(srv.url)
    try:
        assert nc.max_payload == 65536
        js = nc.jetstream()
        store = await js.create_object_store(bucket="b")
        data = payload(200 * 1024, seed=4)
        info = await store.put("capped", data, chunk_size=1024 * 1024)
        # Room is kept for the chunks' headers (Nats-Msg-Id: objstore.store.CHUNK_HEADER_ROOM).
        cap = 65536 - CHUNK_HEADER_ROOM
        assert info.options is not None and info.options.max_chunk_size == cap
        assert info.chunks == 4
        assert await chunk_sizes(js, "b", info) == [cap, cap, cap, 200 * 1024 - 3 * cap]
        assert await store.get("capped") == data
        info = await store.put("default", data)  # default 128 KiB is capped too
        assert info.chunks == 4
        assert await store.get("default") == data
    finally:
        await nc.close()


async def test_get_writeinto_file(store: objstore.ObjectStore, tmp_path) -> None:
    data = payload(3 * CS + 11, seed=5)
    await store.put("f", data)
    path = tmp_path / "out.bin"
    with open(path, "wb") as fh:
        assert await store.get("f", writeinto=fh) == b""
    assert path.read_bytes() == data
    buf = io.BytesIO()
    await store.get("f", writeinto=buf)
    assert buf.getvalue() == data
    # empty and single-chunk objects too
    await store.put("empty", b"")
    await store.put("one", b"1")
    for name, want in (("empty", b""), ("one", b"1")):
        buf = io.BytesIO()
        await store.get(name, writeinto=buf)
        assert buf.getvalue() == want


async def test_get_progress_callback(store: objstore.ObjectStore) -> None:
    data = payload(3 * CS, seed=6)
    seen_put: list[tuple[int, object]] = []
    await store.put("p", data, progress=lambda done, total: seen_put.append((done, total)))
    assert seen_put and seen_put[-1] == (len(data), len(data))
    seen_get: list[tuple[int, object]] = []
    await store.get("p", progress=lambda done, total: seen_get.append((done, total)))
    assert seen_get[-1] == (len(data), len(data))
    assert [d for d, _ in seen_get] == sorted(d for d, _ in seen_get)


async def test_stream_and_reader(store: objstore.ObjectStore) -> None:
    data = payload(4 * CS + 99, seed=7)
    await store.put("s", data)
    parts = [chunk async for chunk in store.stream("s")]
    assert b"".join(parts) == data
    assert len(parts) == 5
    reader = await store.reader("s")
    async with reader:
        assert reader.info.size == len(data)
        got = bytearray()
        async for chunk in reader:
            got += chunk
        assert reader.verified
        assert reader.bytes_read == len(data) and reader.chunks_read == 5
    assert bytes(got) == data
    # empty and one-chunk objects
    await store.put("e", b"")
    assert [c async for c in store.stream("e")] == []
    await store.put("o", b"one")
    assert [c async for c in store.stream("o")] == [b"one"]
    # leaving early closes the consumer cleanly
    agen = store.stream("s")
    first = await agen.__anext__()
    assert first == data[:CS]
    await agen.aclose()


async def test_description_headers_metadata_round_trip(store: objstore.ObjectStore, js) -> None:
    hdrs = Headers()
    hdrs.add("X-Multi", "one")
    hdrs.add("X-Multi", "two")
    hdrs["Content-Type"] = "application/pdf"
    info = await store.put(
        "documents/report-2024.pdf",
        b"%PDF-1.7 ...",
        description="Quarterly report 2024",
        filename="report-2024.pdf",
        headers=hdrs,
        metadata={"owner": "alice", "dept": "sales"},
    )
    assert info.description == "Quarterly report 2024"
    got = await store.get_info("documents/report-2024.pdf")
    assert got.description == "Quarterly report 2024"
    assert got.headers is not None
    assert got.headers["Content-Type"] == "application/pdf"
    assert got.headers.get_all("X-Multi") == ["one", "two"]
    assert "report-2024.pdf" in got.headers.get("Content-Disposition", "")
    assert got.metadata == {"owner": "alice", "dept": "sales"}
    raw = await raw_meta(js, "b", "documents/report-2024.pdf")
    assert raw["headers"]["X-Multi"] == ["one", "two"]  # map of lists on the wire
    assert raw["headers"]["Content-Type"] == ["application/pdf"]
    assert raw["metadata"] == {"owner": "alice", "dept": "sales"}
    assert raw["name"] == "documents/report-2024.pdf"
    assert raw["bucket"] == "b"
    assert raw["mtime"] and not raw["mtime"].startswith("0001")
    assert "deleted" not in raw or raw["deleted"] is False
    # a plain dict works as headers too (the seed's example)
    await store.put("d", b"x", headers={"Author": "Alice Johnson", "Department": "Sales"})
    got = await store.get_info("d")
    assert got.headers is not None and dict(got.headers) == {"Author": "Alice Johnson", "Department": "Sales"}
    # and an ObjectMeta
    await store.put("m", b"y", meta=ObjectMeta(name="m", description="via meta", headers={"K": "v"}, metadata={"a": "b"}))
    got = await store.get_info("m")
    assert (got.description, got.headers["K"], got.metadata) == ("via meta", "v", {"a": "b"})


async def test_names_are_encoded(store: objstore.ObjectStore, js) -> None:
    names = ["a", "hello.world", "with space", "a/b/c.pdf", "*", ">", "a.*.>", "ünï 名前 🎉", "=", "x" * 300]
    for i, name in enumerate(names):
        await store.put(name, f"v{i}".encode())
    for i, name in enumerate(names):
        assert await store.get(name) == f"v{i}".encode()
        assert (await store.get_info(name)).name == name
        counts = await subject_counts(js)
        assert counts[f"$O.b.M.{encode_name(name)}"] == 1
    assert sorted(i.name for i in await store.list()) == sorted(names)


async def test_reput_replaces_and_purges_old_chunks(store: objstore.ObjectStore, js) -> None:
    v1 = payload(3 * CS, seed=1)
    v2 = payload(CS + 1, seed=2)
    i1 = await store.put("obj", v1)
    i2 = await store.put("obj", v2)
    assert i1.nuid != i2.nuid
    assert await store.get("obj") == v2
    counts = await subject_counts(js)
    assert chunk_subject("b", i1.nuid) not in counts
    assert counts[chunk_subject("b", i2.nuid)] == 2
    st = await stream_state(js)
    assert st.messages == 3  # 2 chunks + 1 meta (rollup kept only the latest)


async def test_get_info_and_show_deleted(store: objstore.ObjectStore) -> None:
    await store.put("o", b"data", description="d")
    assert (await store.get_info("o")).description == "d"
    await store.delete("o")
    with pytest.raises(ObjectDeletedError):
        await store.get_info("o")
    info = await store.get_info("o", show_deleted=True)
    assert info.deleted is True and info.size == 0 and info.chunks == 0 and info.digest == ""
    assert info.description == "d"  # kept on the tombstone
    assert info.mtime is not None
    with pytest.raises(ObjectNotFoundError):
        await store.get_info("never", show_deleted=True)


# --- delete ------------------------------------------------------------------------------------


async def test_delete_purges_chunks(store: objstore.ObjectStore, js) -> None:
    await store.put("keep", b"k")
    before = await stream_state(js)
    info = await store.put("obj", payload(5 * CS, seed=8))
    assert (await stream_state(js)).messages == before.messages + 6
    assert await store.delete("obj") is True
    st = await stream_state(js)
    assert st.messages == before.messages + 1  # only the tombstone is left
    counts = await subject_counts(js)
    assert chunk_subject("b", info.nuid) not in counts
    with pytest.raises(ObjectDeletedError):
        await store.get("obj")
    with pytest.raises(ObjectNotFoundError):  # ObjectDeletedError is an ObjectNotFoundError
        await store.get("obj")
    assert await store.get("keep") == b"k"
    raw = await raw_meta(js, "b", "obj")
    assert raw["deleted"] is True and raw["size"] == 0 and raw["chunks"] == 0
    assert raw["mtime"]  # never "" (breaks nats.go readers)
    # deleting again is fine (nats.go re-tombstones) and re-put works
    assert await store.delete("obj") is True
    await store.put("obj", b"again")
    assert await store.get("obj") == b"again"
    assert (await store.get_info("obj")).deleted is False


async def test_delete_empty_object(store: objstore.ObjectStore) -> None:
    await store.put("empty", b"")
    assert await store.delete("empty") is True
    with pytest.raises(ObjectDeletedError):
        await store.get("empty")


# --- list --------------------------------------------------------------------------------------


async def test_list(store: objstore.ObjectStore) -> None:
    assert await store.list() == []
    assert await store.list(show_deleted=True) == []
    await store.put("a", b"1")
    await store.put("b", b"22")
    await store.put("c", b"333")
    await store.put("a", b"1111")  # a re-put shows once, latest version
    await store.delete("b")
    infos = await store.list()
    assert sorted(i.name for i in infos) == ["a", "c"]
    by_name = {i.name: i for i in infos}
    assert by_name["a"].size == 4
    assert all(i.mtime is not None for i in infos)
    with_deleted = await store.list(show_deleted=True)
    assert sorted((i.name, i.deleted) for i in with_deleted) == [("a", False), ("b", True), ("c", False)]
    assert sorted(i.name for i in await store.list(ignore_deletes=False)) == ["a", "b", "c"]
    await store.delete("a")
    await store.delete("c")
    assert await store.list() == []


# --- watch -------------------------------------------------------------------------------------


async def _next(watcher, timeout: float = 5.0):
    return await asyncio.wait_for(watcher.__anext__(), timeout)


async def test_watch_latest_then_updates(store: objstore.ObjectStore) -> None:
    await store.put("a", b"1")
    await store.put("b", b"2")
    await store.put("a", b"11")
    watcher = store.watch()
    async with watcher:
        first = [await watcher.updates(5), await watcher.updates(5)]
        assert sorted((i.name, i.size) for i in first) == [("a", 2), ("b", 1)]
        assert await watcher.updates(5) is None  # end of the initial entries, once
        await store.put("c", b"333")
        upd = await watcher.updates(5)
        assert upd is not None and upd.name == "c" and upd.size == 3
        assert upd.mtime is not None
        await store.delete("b")
        upd = await watcher.updates(5)
        assert upd.name == "b" and upd.deleted is True
        with pytest.raises(NatsTimeoutError):
            await watcher.updates(0.2)


async def test_watch_awaitable_like_nats_py(store: objstore.ObjectStore) -> None:
    await store.put("a", b"1")
    w = await store.watch()  # nats-py: `w = await obs.watch()`
    try:
        assert (await w.updates(5)).name == "a"
        assert await w.updates(5) is None
    finally:
        await w.stop()


async def test_watch_async_iteration(store: objstore.ObjectStore) -> None:
    await store.put("a", b"1")
    watcher = store.watch()
    async with watcher:
        info = await _next(watcher)
        assert info.name == "a"
        await store.put("b", b"2")
        info = await _next(watcher)
        assert info.name == "b"


async def test_watch_empty_bucket_marker(store: objstore.ObjectStore) -> None:
    async with store.watch() as w:
        assert await w.updates(2) is None
        with pytest.raises(NatsTimeoutError):
            await w.updates(0.2)
        await store.put("x", b"1")
        got = await w.updates(5)
        assert got is not None and got.name == "x"


async def test_watch_include_history(store: objstore.ObjectStore) -> None:
    await store.put("a", b"1")
    await store.put("a", b"22")  # rollup keeps only the latest meta per object
    await store.put("b", b"3")
    await store.update_meta("b", ObjectMeta(description="x"))
    async with store.watch(include_history=True) as w:
        seen = []
        while True:
            info = await w.updates(5)
            if info is None:
                break
            seen.append((info.name, info.size, info.description))
    assert seen == [("a", 2, None), ("b", 1, "x")]


async def test_watch_ignore_deletes(store: objstore.ObjectStore) -> None:
    await store.put("a", b"1")
    await store.put("b", b"2")
    await store.delete("a")
    async with store.watch(ignore_deletes=True) as w:
        assert (await w.updates(5)).name == "b"
        assert await w.updates(5) is None
        await store.delete("b")
        await store.put("c", b"3")
        assert (await w.updates(5)).name == "c"  # b's delete is skipped


async def test_watch_updates_only(store: objstore.ObjectStore) -> None:
    await store.put("old", b"1")
    async with store.watch(updates_only=True) as w:
        with pytest.raises(NatsTimeoutError):
            await w.updates(0.3)  # no initial entries and no marker
        await store.put("new", b"2")
        got = await w.updates(5)
        assert got is not None and got.name == "new"
        with pytest.raises(NatsTimeoutError):
            await w.updates(0.2)


async def test_watch_timeouts_lose_nothing(store: objstore.ObjectStore) -> None:
    """A timed-out updates() never drops the entry that was being read (it is kept for the next call)."""
    async with store.watch(updates_only=True) as w:

        async def producer() -> None:
            for i in range(30):
                await store.put(f"o{i}", b"x")
                await asyncio.sleep(0)

        names: list[str] = []
        with pytest.raises(NatsTimeoutError):  # nothing is written yet: a timeout before the race
            await w.updates(0.01)
        task = asyncio.get_running_loop().create_task(producer())
        while len(names) < 30:  # (bounded by the module's pytest timeout)
            try:
                info = await w.updates(0.0005)  # times out between and while entries arrive
            except NatsTimeoutError:
                continue
            names.append(info.name)
        await task
    assert names == [f"o{i}" for i in range(30)]


async def test_list_in_a_watch_loop(store: objstore.ObjectStore) -> None:
    for i in range(5):
        await store.put(f"o{i}", b"x")
    async with store.watch() as w:
        seen = [i.name async for i in w.initial()]
        assert sorted(seen) == [f"o{i}" for i in range(5)]
        await store.put("late", b"y")
        assert (await w.updates(5)).name == "late"  # the marker was consumed by initial()


async def test_watch_stop(store: objstore.ObjectStore) -> None:
    w = store.watch()
    assert await w.updates(2) is None
    await w.stop()
    await w.stop()  # idempotent
    # stopping while a read is pending (after a timeout) is immediate
    w = store.watch(updates_only=True)
    with pytest.raises(NatsTimeoutError):
        await w.updates(0.05)
    await asyncio.wait_for(w.stop(), 3)
    # an `async for` ends when the watcher is stopped from elsewhere
    await store.put("x", b"1")
    w = store.watch()
    got_one = asyncio.Event()

    async def stopper() -> None:
        await asyncio.wait_for(got_one.wait(), 10)
        await asyncio.sleep(0.1)  # the loop is (again) waiting for the next entry
        await w.stop()

    async def consume() -> list[str]:
        seen = []
        async for info in w:
            seen.append(info.name)
            got_one.set()
        return seen

    task = asyncio.get_running_loop().create_task(stopper())
    seen = await asyncio.wait_for(consume(), 15)
    await task
    assert seen == ["x"]


# --- status / seal -----------------------------------------------------------------------------


async def test_status(store: objstore.ObjectStore, js) -> None:
    st = await store.status()
    assert (st.bucket, st.description, st.ttl, st.storage, st.replicas, st.sealed, st.size, st.count) == (
        "b",
        None,
        None,
        "file",
        1,
        False,
        0,
        0,
    )
    assert st.backing_store == "JetStream" and st.compression is False
    await store.put("a", payload(CS + 1))
    await store.put("b", b"x")
    await store.delete("b")
    st = await store.status()
    assert st.count == 1  # live objects
    assert st.size == (await stream_state(js)).bytes > CS
    assert st.stream_info is not None and st.stream_info.config.name == "OBJ_b"


async def test_seal(store: objstore.ObjectStore, js) -> None:
    data = payload(2 * CS, seed=11)
    await store.put("a", data)
    before = await stream_state(js)
    assert await store.seal() is True
    st = await store.status()
    assert st.sealed is True
    assert await store.get("a") == data  # reads still work
    assert [i.name for i in await store.list()] == ["a"]
    with pytest.raises(NatsError):
        await store.put("b", b"new")
    with pytest.raises(NatsError):
        await store.put("a", b"replace")
    with pytest.raises(NatsError):
        await store.delete("a")
    assert await store.get("a") == data
    after = await stream_state(js)
    assert (after.messages, after.bytes) == (before.messages, before.bytes)
    bound = await js.object_store("b")
    assert (await bound.status()).sealed is True


# --- update_meta -------------------------------------------------------------------------------


async def test_update_meta_fields(store: objstore.ObjectStore, js) -> None:
    data = payload(2 * CS + 1)
    await store.put("o", data, description="d1", headers={"A": "1"}, metadata={"m": "1"})
    info = await store.update_meta("o", ObjectMeta(description="d2"))
    assert info.description == "d2"
    got = await store.get_info("o")
    assert got.description == "d2"
    assert got.headers is not None and got.headers["A"] == "1"  # None keeps the value
    assert got.metadata == {"m": "1"}  # metadata survives an update
    await store.update_meta("o", ObjectMeta(name="o", headers={"B": ["x", "y"]}, metadata={"m": "2", "n": "3"}))
    got = await store.get_info("o")
    assert got.description == "d2"
    assert dict(got.headers) == {"B": "x"} and got.headers.get_all("B") == ["x", "y"]
    assert got.metadata == {"m": "2", "n": "3"}
    # clearing with empty values
    await store.update_meta("o", ObjectMeta(description="", headers={}, metadata={}))
    got = await store.get_info("o")
    assert got.description is None and got.headers is None and got.metadata is None
    # data, digest and nuid are untouched
    assert await store.get("o") == data
    assert got.size == len(data) and got.digest == digest_of(data)
    assert (await stream_state(js)).messages == 4  # 3 chunks + 1 meta


async def test_update_meta_keeps_unknown_keys(store: objstore.ObjectStore, js) -> None:
    await store.put("o", b"abc")
    raw = await raw_meta(js, "b", "o")
    raw["x-future"] = {"keep": True}
    await js.publish(meta_subject("b", "o"), json.dumps(raw).encode(), headers={"Nats-Rollup": "sub"})
    await store.update_meta("o", ObjectMeta(description="new"))
    raw2 = await raw_meta(js, "b", "o")
    assert raw2["x-future"] == {"keep": True}
    assert raw2["description"] == "new"


async def test_update_meta_seed_example(store: objstore.ObjectStore) -> None:
    await store.put("documents/report-2024.pdf", b"pdf", headers={"Content-Type": "application/pdf"})
    new_meta = ObjectMeta(
        name="documents/report-2024.pdf",
        description="Updated quarterly report 2024",
        headers={"Content-Type": "application/pdf", "Status": "Final", "Version": "2.0"},
    )
    updated = await store.update_meta("documents/report-2024.pdf", new_meta)
    assert updated.name == "documents/report-2024.pdf"
    got = await store.get_info("documents/report-2024.pdf")
    assert got.description == "Updated quarterly report 2024"
    assert got.headers["Version"] == "2.0"


async def test_update_meta_rename(store: objstore.ObjectStore, js) -> None:
    data = payload(CS + 10)
    await store.put("old", data, description="d", metadata={"k": "v"})
    info = await store.update_meta("old", ObjectMeta(name="new"))
    assert info.name == "new"
    assert await store.get("new") == data
    got = await store.get_info("new")
    assert got.description == "d" and got.metadata == {"k": "v"}
    # the old meta is purged, not tombstoned
    with pytest.raises(ObjectNotFoundError) as ei:
        await store.get_info("old", show_deleted=True)
    assert not isinstance(ei.value, ObjectDeletedError)
    counts = await subject_counts(js)
    assert meta_subject("b", "old") not in counts
    assert [i.name for i in await store.list(show_deleted=True)] == ["new"]
    # renaming onto an existing object is refused, onto a deleted one is allowed
    await store.put("other", b"o")
    with pytest.raises(ObjectAlreadyExists):
        await store.update_meta("new", ObjectMeta(name="other"))
    assert await store.get("new") == data and await store.get("other") == b"o"
    await store.delete("other")
    await store.update_meta("new", ObjectMeta(name="other"))
    assert await store.get("other") == data


async def test_update_meta_missing_and_deleted(store: objstore.ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        await store.update_meta("missing", ObjectMeta(description="x"))
    await store.put("o", b"1")
    await store.delete("o")
    with pytest.raises(ObjectDeletedError):
        await store.update_meta("o", ObjectMeta(description="x"))


# --- links -------------------------------------------------------------------------------------


async def test_add_link_and_follow(store: objstore.ObjectStore, js) -> None:
    data = payload(2 * CS + 3)
    target = await store.put("target", data)
    link = await store.add_link("current", target)
    assert link.is_link() and link.link == ObjectLink(bucket="b", name="target")
    assert await store.get("current") == data
    assert b"".join([c async for c in store.stream("current")]) == data
    info = await store.get_info("current")  # the link's own record
    assert info.is_link() and info.size == 0 and not info.is_bucket_link
    raw = await raw_meta(js, "b", "current")
    assert raw["options"]["link"] == {"bucket": "b", "name": "target"}
    assert raw["nuid"] and raw["mtime"] and raw["size"] == 0 and raw["chunks"] == 0
    # following a link after the target was replaced gives the new data
    await store.put("target", b"v2")
    assert await store.get("current") == b"v2"
    # an existing link can be overwritten, an existing object cannot
    other = await store.put("other", b"other")
    await store.add_link("current", other)
    assert await store.get("current") == b"other"
    with pytest.raises(ObjectAlreadyExists):
        await store.add_link("target", other)
    # deleting a link only tombstones the link
    await store.delete("current")
    with pytest.raises(ObjectDeletedError):
        await store.get("current")
    assert await store.get("other") == b"other"


async def test_link_across_buckets(js) -> None:
    a = await js.create_object_store(bucket="A")
    b = await js.create_object_store(bucket="B")
    data = payload(CS + 5)
    target = await b.put("t", data)
    await a.add_link("l", target)
    assert await a.get("l") == data
    raw = await raw_meta(js, "A", "l")
    assert raw["options"]["link"] == {"bucket": "B", "name": "t"}
    assert raw["bucket"] == "A"


async def test_link_refusals(store: objstore.ObjectStore) -> None:
    target = await store.put("t", b"1")
    link = await store.add_link("l", target)
    with pytest.raises(LinkNotAllowedError):
        await store.add_link("l2", link)  # link to a link
    with pytest.raises(LinkNotAllowedError):
        await store.add_link("l2", await store.get_info("l"))
    await store.delete("t")
    deleted = await store.get_info("t", show_deleted=True)
    with pytest.raises(LinkNotAllowedError):
        await store.add_link("l3", deleted)
    with pytest.raises(ObjectNotFoundError):
        await store.get("l")  # dangling link: target deleted
    with pytest.raises(ObjectNotFoundError):
        await store.get_info("l2")  # nothing was written


async def test_bucket_link(js) -> None:
    a = await js.create_object_store(bucket="A")
    other = await js.create_object_store(bucket="other")
    info = await a.add_bucket_link("bl", other)
    assert info.is_bucket_link and info.link == ObjectLink(bucket="other")
    with pytest.raises(LinkIsABucketError):
        await a.get("bl")
    got = await a.get_info("bl")
    assert got.is_bucket_link
    raw = await raw_meta(js, "A", "bl")
    assert raw["options"]["link"] == {"bucket": "other"}
    with pytest.raises(LinkNotAllowedError):
        await a.add_link("l", got)


async def test_seed_link_example_through_update_meta(js) -> None:
    os_ = await js.create_object_store(bucket="file-storage")
    await os_.put("documents/report-2024.pdf", b"%PDF report")
    link_meta = ObjectMeta(
        name="documents/current-report.pdf",
        description="Link to current quarterly report",
        options=ObjectMetaOptions(link=ObjectLink(bucket="file-storage", name="documents/report-2024.pdf")),
    )
    await os_.update_meta("documents/current-report.pdf", link_meta)
    assert await os_.get("documents/current-report.pdf") == b"%PDF report"
    info = await os_.get_info("documents/current-report.pdf")
    assert info.is_link() and info.description == "Link to current quarterly report"
    # a bucket link through update_meta
    await js.create_object_store(bucket="archive")
    await os_.update_meta("arch", ObjectMeta(name="arch", options=ObjectMetaOptions(link=ObjectLink(bucket="archive"))))
    with pytest.raises(LinkIsABucketError):
        await os_.get("arch")
    # re-pointing an existing link through update_meta
    await os_.put("documents/report-2025.pdf", b"%PDF new")
    await os_.update_meta(
        "documents/current-report.pdf",
        ObjectMeta(options=ObjectMetaOptions(link=ObjectLink(bucket="file-storage", name="documents/report-2025.pdf"))),
    )
    assert await os_.get("documents/current-report.pdf") == b"%PDF new"
    assert (await os_.get_info("documents/current-report.pdf")).description == "Link to current quarterly report"


async def test_link_to_missing_bucket_never_creates_it(js) -> None:
    store = await js.create_object_store(bucket="A")
    with pytest.raises(BucketNotFoundError):
        await store.update_meta("l", ObjectMeta(options=ObjectMetaOptions(link=ObjectLink(bucket="nope", name="x"))))
    with pytest.raises(BucketNotFoundError):
        await store.update_meta("bl", ObjectMeta(options=ObjectMetaOptions(link=ObjectLink(bucket="nope"))))
    with pytest.raises(ObjectNotFoundError):
        await store.update_meta("l", ObjectMeta(options=ObjectMetaOptions(link=ObjectLink(bucket="A", name="x"))))
    # a link whose target bucket is later deleted
    other = await js.create_object_store(bucket="tmp")
    target = await other.put("t", b"1")
    await store.add_link("l", target)
    await js.delete_object_store("tmp")
    with pytest.raises(BucketNotFoundError):
        await store.get("l")
    assert await js.object_store_names() == ["A"]
    with pytest.raises(ObjectNotFoundError):
        await store.get_info("bl", show_deleted=True)


# --- large objects, bounded memory -------------------------------------------------------------


LARGE = 20 * 1024 * 1024


async def _traced_peak(coro_fn) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        await coro_fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_large_object_streamed_with_bounded_memory(store: objstore.ObjectStore, tmp_path) -> None:
    data = os.urandom(LARGE)
    info = await store.put("large", data)
    assert info.chunks == LARGE // CS
    del data
    path = tmp_path / "large.bin"
    sha = hashlib.sha256()

    async def copy() -> None:
        with open(path, "wb") as fh:
            async for chunk in store.stream("large"):
                sha.update(chunk)
                fh.write(chunk)

    peak = await _traced_peak(copy)
    assert objstore.encode_digest(sha.digest()) == info.digest
    assert path.stat().st_size == LARGE
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while streaming a {LARGE / 1e6:.0f} MB object"


async def test_get_writeinto_large_object(store: objstore.ObjectStore, tmp_path) -> None:
    data = os.urandom(LARGE)
    info = await store.put("large", data)
    path = tmp_path / "large.bin"
    with open(path, "wb") as fh:
        assert await store.get("large", writeinto=fh) == b""
    assert path.stat().st_size == LARGE
    assert hashlib.sha256(path.read_bytes()).hexdigest() == info.digest_hex


async def test_get_writeinto_memory_is_bounded_whatever_the_size(store: objstore.ObjectStore, tmp_path) -> None:
    # Held in memory: at most two 1 MiB write batches plus what the server delivered ahead of
    # the reader, which its flow-control window caps at 32 MiB whatever the object size. An
    # implementation buffering the object would hold all 48 MiB.
    size = 48 * 1024 * 1024
    await store.put("huge", os.urandom(size))
    path = tmp_path / "huge.bin"

    async def copy() -> None:
        with open(path, "wb") as fh:
            await store.get("huge", writeinto=fh)

    peak = await _traced_peak(copy)
    assert path.stat().st_size == size
    assert peak < 40 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB in get(writeinto=) of a 48 MiB object"


# --- replacing versions: compare-and-set on the meta subject ------------------------------------


async def test_put_over_object_unknown_to_this_client_purges_its_chunks(js, nats_url) -> None:
    store = await js.create_object_store(bucket="b")
    await store.put("doc", payload(300_000, 1))  # 3 chunks, written by "another" client below
    other = await objstore.connect(nats_url)
    try:
        fresh = await other.jetstream().object_store("b")  # knows nothing about "doc"
        info = await fresh.put("doc", payload(10, 2))
        assert await fresh.get("doc") == payload(10, 2)
    finally:
        await other.close()
    counts = await subject_counts(js)
    assert counts == {meta_subject("b", "doc"): 1, chunk_subject("b", info.nuid): 1}


async def test_concurrent_puts_of_one_name_leave_no_orphaned_chunks(js, nats_url) -> None:
    await js.create_object_store(bucket="b")
    clients = [await objstore.connect(nats_url) for _ in range(3)]
    try:
        stores = [await c.jetstream().object_store("b") for c in clients]
        datas = [payload(200_000 + i, i) for i in range(6)]
        results = await asyncio.gather(*(stores[i % 3].put("same", d) for i, d in enumerate(datas)))
        final = await stores[0].get_info("same")
        assert final.nuid in {r.nuid for r in results}
        got = await stores[1].get("same")
        assert got == datas[[r.nuid for r in results].index(final.nuid)]
        counts = await subject_counts(js)
        chunk_subjects = [s for s in counts if s.startswith("$O.b.C.")]
        assert chunk_subjects == [chunk_subject("b", final.nuid)]  # every other version purged
    finally:
        for c in clients:
            await c.close()


async def test_small_objects_are_read_without_a_consumer(store, nc) -> None:
    # Consumer creation is a request on $JS.API.CONSUMER.CREATE.>: watch for it on the wire.
    creates = await nc.subscribe("$JS.API.CONSUMER.CREATE.>")
    small = payload(5 * 128 * 1024 + 7, 3)  # 6 chunks: one batched direct get
    big = payload(70 * 128 * 1024, 4)  # 70 chunks: an ordered consumer
    await store.put("small", small)
    await store.put("big", big)
    assert await store.get("small") == small
    await nc.flush()
    assert creates.next_nowait() is None
    assert await store.get("big") == big
    await nc.flush()
    assert creates.next_nowait() is not None


async def test_batched_read_reports_a_missing_chunk(js, store) -> None:
    info = await store.put("holey", payload(4 * 128 * 1024, 5))  # 4 chunks
    first = await js.get_msg("OBJ_b", 1, next_by_subj=chunk_subject("b", info.nuid))
    await js.delete_msg("OBJ_b", first.seq + 1)  # the second chunk
    with pytest.raises(objstore.ChunkMissingError):
        await store.get("holey")
