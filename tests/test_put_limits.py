"""An oversized meta is refused before a single chunk is published (issue "Trust under failure",
point 3): the meta that will be written is sized up front against the server's max_payload and
the bucket stream's max_msg_size."""

from __future__ import annotations

import os
from typing import Any

import pytest

import objstore
from objstore.store import CHUNK_HEADER_ROOM
from objstore import MetaTooLargeError


async def stream_messages(js: Any, bucket: str) -> int:
    return (await js.stream_info(f"OBJ_{bucket}")).state.messages


@pytest.mark.parametrize("field", ["description", "metadata", "headers"])
async def test_meta_over_max_payload_is_refused_before_upload(server_factory: Any, field: str) -> None:
    srv = server_factory("max_payload: 65536\n")
    nc = await objstore.connect(srv.url)
    try:
        js = nc.jetstream()
        store = await js.create_object_store(bucket="limits")
        big = "x" * 70_000
        kwargs: dict[str, Any] = {
            "description": {"description": big},
            "metadata": {"metadata": {"k": big}},
            "headers": {"headers": {"X-Big": big}},
        }[field]
        with pytest.raises(MetaTooLargeError) as ei:
            await store.put("obj", os.urandom(4 * 1024 * 1024), **kwargs)
        assert "nothing was uploaded" in str(ei.value) and "max_payload" in str(ei.value)
        assert await stream_messages(js, "limits") == 0  # not one chunk was sent
        # A meta just under the limit still goes through.
        info = await store.put("ok", b"data", description="y" * 60_000)
        assert (await store.get_info("ok")).description == info.description
    finally:
        await nc.close()


async def test_meta_over_the_buckets_max_msg_size_is_refused(js: Any) -> None:
    store = await js.create_object_store(bucket="msgsize")
    cfg = (await js.stream_info(store.stream_name)).config
    cfg.max_msg_size = 4096
    await js.update_stream(cfg)
    store = await js.object_store("msgsize")
    with pytest.raises(MetaTooLargeError) as ei:
        await store.put("obj", os.urandom(64 * 1024), description="d" * 5000)
    assert "max_msg_size" in str(ei.value)
    assert await stream_messages(js, "msgsize") == 0
    # With a small meta the object goes in, in chunks no larger than max_msg_size.
    info = await store.put("obj", os.urandom(64 * 1024))
    assert info.chunks == -(-64 * 1024 // (4096 - CHUNK_HEADER_ROOM))  # room for the chunks' headers


async def test_name_too_long_for_a_control_line_is_refused_before_upload(js: Any) -> None:
    store = await js.create_object_store(bucket="longname")
    with pytest.raises(MetaTooLargeError) as ei:
        await store.put("n" * 3000, os.urandom(1024 * 1024))  # base64: 4000 bytes of subject
    assert "control line" in str(ei.value) and "nothing was uploaded" in str(ei.value)
    assert await stream_messages(js, "longname") == 0
    long_ok = "n" * 2000
    await store.put(long_ok, b"fits")
    assert await store.get(long_ok) == b"fits"
