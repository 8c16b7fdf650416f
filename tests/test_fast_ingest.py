"""ADR-50 fast-ingest puts against a real nats-server (2.14+): the jetstream ``FastBatch`` alone,
and object puts into a bucket created with ``fast_ingest=True`` (the path used, the stored
chunks, the fallback to pipelined on a bucket without the flag, the cleanup after a failure,
and nats-py reading an object written by fast ingest)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import AsyncIterator

import pytest

import objstore
from jetstream import BatchPublishDisabledError, FastBatch, StreamConfig
from cli_util import js_out, ok  # tests/ is on sys.path via conftest
from objstore import DEFAULT_CHUNK_SIZE as CS

pytestmark = pytest.mark.timeout(60)


async def test_fast_batch_stores_every_message_in_order(js: objstore.JetStreamContext) -> None:
    await js.add_stream(StreamConfig(name="FB", subjects=["fb.>"], allow_batched=True))
    async with FastBatch(js, flow=8, outstanding=2) as batch:
        for i in range(100):
            await batch.add("fb.x", b"m%d" % i)
        ack = await batch.commit()
    assert ack.stream == "FB" and ack.seq == 100
    assert ack.count == 100 and ack.batch and batch.sent == 100
    info = await js.stream_info("FB")
    assert info.state.messages == 100  # the end-of-batch commit stored nothing
    assert (await js.get_msg("FB", seq=37)).data == b"m36"


async def test_fast_batch_refused_without_allow_batched(js: objstore.JetStreamContext) -> None:
    await js.add_stream(StreamConfig(name="NOFB", subjects=["nofb.>"]))
    async with FastBatch(js) as batch:
        with pytest.raises(BatchPublishDisabledError):
            await batch.add("nofb.x", b"x")
    assert (await js.stream_info("NOFB")).state.messages == 0


async def test_fast_ingest_put_roundtrip(js: objstore.JetStreamContext) -> None:
    store = await js.create_object_store(bucket="fast", fast_ingest=True)
    assert (await store.status()).fast_ingest
    data = os.urandom(5 * CS + 123)
    seen: list[int] = []
    info = await store.put("big", data, progress=lambda done, total: seen.append(done))
    assert info.put_path == "fast_ingest"
    assert info.chunks == 6 and info.size == len(data)
    assert await store.get("big") == data
    assert seen and seen[-1] == len(data)
    # Exactly the chunks and one meta are stored: the end-of-batch commit stores nothing.
    assert (await store.handle.info()).state.messages == 7
    small = await store.put("small", b"tiny")
    assert small.put_path == "single"
    # Replacing the object purges the old version's chunks, as on the pipelined path.
    again = await store.put("big", data[::-1])
    assert again.put_path == "fast_ingest" and await store.get("big") == data[::-1]
    assert (await store.handle.info()).state.messages == 6 + 1 + 1 + 1


async def test_bucket_without_the_flag_puts_pipelined(js: objstore.JetStreamContext) -> None:
    store = await js.create_object_store(bucket="plain")
    assert not (await store.status()).fast_ingest
    info = await store.put("o", os.urandom(3 * CS))
    assert info.put_path == "pipelined"


async def test_failed_fast_put_leaves_nothing(js: objstore.JetStreamContext) -> None:
    store = await js.create_object_store(bucket="fastfail", fast_ingest=True)
    await store.put("o", b"v1" * CS)

    async def gen() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield os.urandom(CS)
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError, match="source broke"):
        await store.put("o", gen())
    assert await store.get("o") == b"v1" * CS  # the previous version is intact
    assert await store.orphans() == []
    assert (await store.handle.info()).state.messages == 2 + 1


async def test_nats_py_reads_a_fast_ingest_object(nats_url: str) -> None:
    nats = pytest.importorskip("nats")
    ours = await objstore.connect(nats_url)
    theirs = await nats.connect(nats_url)
    try:
        store = await ours.jetstream().create_object_store(bucket="fastinterop", fast_ingest=True)
        data = os.urandom(3 * 1024 * 1024 + 3)
        info = await store.put("f", data, description="fast")
        assert info.put_path == "fast_ingest"
        tstore = await theirs.jetstream().object_store("fastinterop")
        result = await tstore.get("f")
        assert result.data == data
        assert result.info.digest == info.digest and result.info.chunks == info.chunks
        assert hashlib.sha256(result.data).digest() == hashlib.sha256(data).digest()
    finally:
        await theirs.close()
        await ours.close()




def test_cli_add_fast_ingest_and_put_path(nats_url: str, tmp_path: Path) -> None:
    ok("add", "clifast", "--fast-ingest", url=nats_url)
    status = js_out("status", "clifast", url=nats_url)
    assert status["fast_ingest"] is True
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 * CS + 1))
    doc = js_out("put", "clifast", str(src), url=nats_url)
    assert doc["put_path"] == "fast_ingest" and doc["chunks"] == 4
    ok("add", "cliplain", url=nats_url)
    assert js_out("status", "cliplain", url=nats_url)["fast_ingest"] is False
    doc = js_out("put", "cliplain", str(src), url=nats_url)
    assert doc["put_path"] == "pipelined"
