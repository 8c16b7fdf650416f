"""``store.get_into(name, buffer)`` and the leaner ``get()`` (issue 14, point 2): the object lands in
the caller's buffer verified, for every read path (one chunk, a batched direct get, an ordered
consumer); a buffer of the wrong kind or size is a typed error before anything is read; a failed
read leaves the buffer zeroed; ``get()`` returns the same bytes through its preallocated buffer.
Memory peaks are bench rows (fresh process per sample), not asserted here.
"""

from __future__ import annotations

import array
import json
import os

import pytest

import objstore
from objstore import BadBufferError, ChunkMissingError, DigestMismatchError, ObjectNotFoundError
from objstore.subjects import meta_subject

CS = objstore.DEFAULT_CHUNK_SIZE


@pytest.mark.parametrize("size", [0, 1, 1000, CS, 3 * CS + 5, 100 * CS + 1])  # single, batch, consumer
async def test_get_into_matches_get(store: objstore.ObjectStore, size: int) -> None:
    data = os.urandom(size)
    await store.put("o", data)
    buf = bytearray(size)
    seen: list[int] = []
    assert await store.get_into("o", buf, progress=lambda done, total: seen.append(done)) == size
    assert buf == data
    assert await store.get("o") == data and type(await store.get("o")) is bytes
    if size:
        assert seen and seen[-1] == size and seen == sorted(seen)


async def test_get_into_views_and_other_buffers(store: objstore.ObjectStore) -> None:
    data = os.urandom(2 * CS + 8)
    await store.put("o", data)
    big = bytearray(len(data) + 20)
    assert await store.get_into("o", memoryview(big)[10:-10]) == len(data)
    assert big[10:-10] == data and big[:10] == bytes(10) and big[-10:] == bytes(10)
    words = array.array("I", bytes(len(data)))  # a typed buffer of the right byte size
    await store.get_into("o", words)
    assert words.tobytes() == data


async def test_bad_buffers_are_refused_before_reading(store: objstore.ObjectStore) -> None:
    data = os.urandom(CS + 1)
    await store.put("o", data)
    cases = [
        bytearray(len(data) - 1),
        bytearray(len(data) + 1),
        bytes(len(data)),  # read-only
        memoryview(bytes(len(data))),
        memoryview(bytearray(2 * len(data)))[::2],  # not contiguous
        "x" * len(data),
        None,
    ]
    for buf in cases:
        with pytest.raises(BadBufferError) as ei:
            await store.get_into("o", buf)
        assert isinstance(ei.value, ValueError) and isinstance(ei.value, objstore.ObjectStoreError)
    with pytest.raises(ObjectNotFoundError):
        await store.get_into("missing", bytearray(1))


async def _tamper(js: objstore.JetStreamContext, name: str, **changes: object) -> None:
    stored = await js.get_msg("OBJ_b", last_by_subj=meta_subject("b", name))
    meta = json.loads(stored.data)
    meta.update(changes)
    await js.publish(meta_subject("b", name), json.dumps(meta).encode(), headers={"Nats-Rollup": "sub"})


@pytest.mark.parametrize("size", [10, 3 * CS + 5, 100 * CS + 1])
async def test_failed_read_leaves_the_buffer_zeroed(store: objstore.ObjectStore, js: objstore.JetStreamContext, size: int) -> None:
    data = os.urandom(size)
    await store.put("o", data)
    await _tamper(js, "o", digest=objstore.digest_of(b"something else"))
    buf = bytearray(size)
    with pytest.raises(DigestMismatchError):
        await store.get_into("o", buf)
    assert buf == bytes(size)
    with pytest.raises(DigestMismatchError):
        await store.get("o")


async def test_missing_chunks(store: objstore.ObjectStore, js: objstore.JetStreamContext) -> None:
    data = os.urandom(3 * CS)
    info = await store.put("o", data)
    await _tamper(js, "o", chunks=4, size=4 * CS)  # the meta claims one more chunk than stored
    buf = bytearray(4 * CS)
    with pytest.raises(ChunkMissingError):
        await store.get_into("o", buf, idle_timeout=5)
    assert buf == bytes(4 * CS)
    assert info.chunks == 3
