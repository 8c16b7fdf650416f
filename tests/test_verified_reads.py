"""Nothing unverified is handed over as good (issue "Trust under failure", point 2).

``get(writeinto=f)`` cuts a seekable ``f`` back to where it started when the read fails (digest,
size or chunk-count mismatch, missing chunk, server killed mid-read); a non-seekable one gets the
error with ``bytes_written``. ``stream(verified=True)`` yields nothing before the whole object
was verified, in memory or spooled to a temporary file. Real servers; objects are damaged the
way another client or an operator could: a meta rewritten with another digest or chunk count.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
from typing import Any

import pytest

import objstore
from objstore import ChunkMissingError, DigestMismatchError
from objstore.subjects import meta_subject

CHUNK = 128 * 1024


async def damage(js: Any, store: objstore.ObjectStore, name: str, **changes: Any) -> None:
    """Rewrite ``name``'s meta with ``changes`` (as a foreign client could)."""
    stored = await js.get_msg(store.stream_name, last_by_subj=meta_subject(store.bucket, name))
    doc = json.loads(stored.data)
    doc.update(changes)
    await js.publish(meta_subject(store.bucket, name), json.dumps(doc).encode(), headers={"Nats-Rollup": "sub"})


@pytest.fixture
async def damaged(js: Any, store: objstore.ObjectStore) -> dict[str, bytes]:
    """Objects whose data disagree with their metas, and one intact."""
    data = os.urandom(3 * CHUNK + 100)
    other = os.urandom(len(data))
    for name in ("digest", "count", "size", "good"):
        await store.put(name, data)
    wrong = await store.put("wrong", other)
    await damage(js, store, "digest", digest=wrong.digest)
    await damage(js, store, "count", chunks=5)
    await damage(js, store, "size", size=len(data) - 1)
    return {"data": data}


CASES = [("digest", DigestMismatchError), ("count", ChunkMissingError), ("size", DigestMismatchError)]


@pytest.mark.parametrize("name,error", CASES)
async def test_get_into_seekable_file_is_cut_back(store: objstore.ObjectStore, damaged: dict, name: str, error: type) -> None:
    buf = io.BytesIO()
    buf.write(b"kept before the get")
    with pytest.raises(error) as ei:
        await store.get(name, writeinto=buf)
    assert buf.getvalue() == b"kept before the get" and buf.tell() == len(b"kept before the get")
    assert ei.value.bytes_written == 0


@pytest.mark.parametrize("name,error", CASES)
async def test_get_into_file_on_disk_is_cut_back(store: objstore.ObjectStore, damaged: dict, tmp_path: Any, name: str, error: type) -> None:
    path = tmp_path / "out.bin"
    with open(path, "wb") as fh:
        fh.write(b"header")
        with pytest.raises(error):
            await store.get(name, writeinto=fh)
    assert path.read_bytes() == b"header"
    # And the intact object still lands whole in the same kind of file.
    with open(path, "ab") as fh:
        await store.get("good", writeinto=fh)
    assert path.read_bytes() == b"header" + damaged["data"]


async def test_get_into_pipe_reports_what_was_written(store: objstore.ObjectStore, damaged: dict) -> None:
    read_fd, write_fd = os.pipe()
    received = bytearray()

    def drain() -> None:
        with open(read_fd, "rb") as r:
            while True:
                piece = r.read(65536)
                if not piece:
                    return
                received.extend(piece)

    reader = asyncio.get_running_loop().run_in_executor(None, drain)
    with open(write_fd, "wb") as w:
        assert not w.seekable()
        with pytest.raises(DigestMismatchError) as ei:
            await store.get("digest", writeinto=w)
    await reader
    # A pipe cannot be taken back: the error says how much went through (never the last chunk,
    # whose arrival shows the mismatch, nor a batch not yet handed to the file).
    assert ei.value.bytes_written == len(received)
    assert bytes(received) == damaged["data"][: len(received)] and len(received) < len(damaged["data"])


async def test_get_into_file_cut_back_when_server_dies(server_factory: Any, tmp_path: Any) -> None:
    srv = server_factory()
    nc = await objstore.connect(srv.url, max_reconnect_attempts=0)
    try:
        store = await nc.jetstream().create_object_store(bucket="dies")
        await store.put("big", os.urandom(48 * 1024 * 1024))
        path = tmp_path / "big.bin"
        started = asyncio.Event()

        def progress(done: int, total: Any) -> None:
            if done >= 4 * 1024 * 1024:
                started.set()

        with open(path, "wb") as fh:
            task = asyncio.ensure_future(store.get("big", writeinto=fh, progress=progress))
            await asyncio.wait_for(started.wait(), 30)
            srv.kill()
            done, _ = await asyncio.wait({task}, timeout=60)
            assert done and task.exception() is not None
        assert path.read_bytes() == b""
    finally:
        await nc.close()


@pytest.mark.parametrize("spool_over", [64 * 1024 * 1024, 100 * 1024], ids=["memory", "spooled"])
@pytest.mark.parametrize("name,error", CASES)
async def test_verified_stream_yields_nothing_unverified(
    store: objstore.ObjectStore, damaged: dict, spool_over: int, name: str, error: type
) -> None:
    got: list[bytes] = []
    with pytest.raises(error):
        async for chunk in store.stream(name, verified=True, spool_over=spool_over):
            got.append(chunk)
    assert got == []


@pytest.mark.parametrize("spool_over", [64 * 1024 * 1024, 100 * 1024], ids=["memory", "spooled"])
async def test_verified_stream_of_a_good_object(store: objstore.ObjectStore, damaged: dict, spool_over: int) -> None:
    got = [chunk async for chunk in store.stream("good", verified=True, spool_over=spool_over)]
    assert b"".join(got) == damaged["data"]


async def test_plain_stream_yields_before_it_can_verify(store: objstore.ObjectStore, damaged: dict) -> None:
    """The documented difference: a plain stream hands chunks over as they come and raises at
    the last one; only its clean end means the bytes were good."""
    got: list[bytes] = []
    with pytest.raises(DigestMismatchError):
        async for chunk in store.stream("digest"):
            got.append(chunk)
    assert len(got) == 3 and b"".join(got) == damaged["data"][: 3 * CHUNK]
