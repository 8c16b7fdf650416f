"""Per-object TTL (issue 12 point 4, ADR-43 ``Nats-TTL``) against a real nats-server 2.11+.

Buckets created with ``allow_msg_ttl=True``; ``put(..., ttl=...)`` stamps every chunk and the
meta; the meta expires first (chunks carry a grace), so a reader polling across the expiry sees
the whole object or ObjectNotFoundError, never a half object; nats-py reads the object until
then. Refusals come before any upload. The sans-I/O rules of ``objstore.ttl`` are unit-tested.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import objstore
from jetstream import HDR_TTL, StreamConfig
from objstore import InvalidTTLError, ObjectNotFoundError, TTLNotAllowedError
from objstore.subjects import encode_name
from objstore.ttl import GRACE_BASE, MARGIN, ObjectTTL, parse_ttl, remaining_headers, seconds_of_value, ttl_of_headers

pytestmark = pytest.mark.timeout(60)

CS = 64 * 1024


async def stream_msgs(js: Any, bucket: str) -> int:
    return (await js.stream_info(f"OBJ_{bucket}")).state.messages


async def until(pred: Any, timeout: float = 20.0, step: float = 0.1) -> None:
    """Poll ``pred()`` (async) until true; fails after ``timeout`` (a bound, not a timing claim)."""
    deadline = time.monotonic() + timeout
    while not await pred():
        assert time.monotonic() < deadline, "condition not reached within the bound"
        await asyncio.sleep(step)


# Sans-I/O ---------------------------------------------------------------------------------------
def test_parse_ttl() -> None:
    assert parse_ttl(2) == 2 and parse_ttl(2.1) == 3 and parse_ttl(timedelta(minutes=1)) == 60
    assert parse_ttl("never") is None
    for bad in (0, 0.5, -3, float("nan"), float("inf"), "30s", True, [1], timedelta(milliseconds=500)):
        with pytest.raises(InvalidTTLError):
            parse_ttl(bad)  # type: ignore[arg-type]
    assert issubclass(InvalidTTLError, ValueError) and issubclass(InvalidTTLError, objstore.ObjectStoreError)


def test_meta_never_outlives_chunks() -> None:
    t = ObjectTTL.plan(30, size=0)
    assert t.chunk_seconds == 30 + GRACE_BASE and t.chunk_headers()[HDR_TTL] == f"{30 + GRACE_BASE}s"
    assert t.meta_seconds(0.2) == 30  # a quick upload: the requested TTL
    # A slow upload shortens the meta's life to what the oldest chunk has left, minus the margin.
    assert t.meta_seconds(GRACE_BASE + 5.5) == 30 + GRACE_BASE - (GRACE_BASE + 6) - MARGIN
    with pytest.raises(InvalidTTLError):
        t.meta_seconds(30 + GRACE_BASE)
    assert ObjectTTL.plan(10, size=64 * 1024 * 1024).chunk_seconds > ObjectTTL.plan(10, size=0).chunk_seconds
    floored = ObjectTTL.plan(2, size=0, floor=60)
    assert floored.seconds == 60 and floored.chunk_seconds == 60 + GRACE_BASE
    assert ObjectTTL.plan("never", None).never and ObjectTTL.plan("never", None).chunk_headers()[HDR_TTL] == "never"


def test_stored_values() -> None:
    assert seconds_of_value("30s") == 30 and seconds_of_value("30") == 30 and seconds_of_value("1m0s") == 60
    assert seconds_of_value("1h2m3.5s") == 3723.5 and seconds_of_value("1500ms") == 1.5
    assert seconds_of_value("never") is None and seconds_of_value("bogus") is None
    assert ttl_of_headers(b"NATS/1.0\r\nNats-TTL: 5s\r\n\r\n") == "5s" and ttl_of_headers(b"") is None
    info = objstore.ObjectInfo(name="x", expires=datetime.now(timezone.utc) + timedelta(seconds=10.5))
    assert remaining_headers(info) in ({HDR_TTL: "10s"}, {HDR_TTL: "9s"})
    info.expires = datetime.now(timezone.utc)
    with pytest.raises(ObjectNotFoundError):
        remaining_headers(info)


# Real server ------------------------------------------------------------------------------------
async def test_bucket_flag_and_status(js: Any) -> None:
    store = await js.create_object_store("ttlflag", allow_msg_ttl=True)
    assert (await store.status()).allow_msg_ttl is True
    assert (await js.stream_info("OBJ_ttlflag")).config.allow_msg_ttl is True
    store = await js.create_object_store(config=objstore.ObjectStoreConfig(bucket="ttlflag2", allow_msg_ttl=True))
    assert (await store.status()).allow_msg_ttl is True
    plain = await js.create_object_store("ttlplain")
    assert (await plain.status()).allow_msg_ttl is False


async def test_refusals_come_before_any_upload(js: Any) -> None:
    plain = await js.create_object_store("ttlno")
    with pytest.raises(TTLNotAllowedError, match="allow_msg_ttl"):
        await plain.put("a", os.urandom(3 * CS), ttl=5, chunk_size=CS)
    assert await stream_msgs(js, "ttlno") == 0
    store = await js.create_object_store("ttlbad", allow_msg_ttl=True)
    for bad in (0, 0.4, -1, "soon"):
        with pytest.raises(InvalidTTLError):
            await store.put("a", os.urandom(3 * CS), ttl=bad, chunk_size=CS)
    assert await stream_msgs(js, "ttlbad") == 0
    # The flag can be turned on later (never off): the cached "no" is read again before refusing.
    cfg = (await js.stream_info("OBJ_ttlno")).config
    cfg.allow_msg_ttl = True
    await js.update_stream(cfg)
    info = await plain.put("a", b"late", ttl=60)
    assert info.ttl == timedelta(seconds=60)


async def test_chunks_and_meta_carry_ttl(js: Any) -> None:
    store = await js.create_object_store("ttlhdr", allow_msg_ttl=True)
    data = os.urandom(3 * CS + 5)
    info = await store.put("obj", data, ttl=timedelta(seconds=30), chunk_size=CS)
    assert info.ttl == timedelta(seconds=30) and info.expires is not None
    got = await store.get_info("obj")
    assert got.ttl == timedelta(seconds=30) and got.expires is not None
    meta = await js.get_msg("OBJ_ttlhdr", last_by_subj=f"$O.ttlhdr.M.{encode_name('obj')}")
    assert ttl_of_headers(meta.headers) == "30s" and b"Nats-Rollup: sub" in meta.headers
    first = await js.get_msg("OBJ_ttlhdr", seq=1)
    chunk_ttl = seconds_of_value(ttl_of_headers(first.headers) or "")
    assert first.subject == f"$O.ttlhdr.C.{info.nuid}" and chunk_ttl is not None and chunk_ttl >= 30 + GRACE_BASE
    assert await store.get("obj") == data
    # update_meta keeps the expiry (a new meta without Nats-TTL would outlive the chunks).
    await store.update_meta("obj", objstore.ObjectMeta(name="obj", description="d"))
    again = await store.get_info("obj")
    assert again.description == "d" and again.ttl is not None and again.ttl <= timedelta(seconds=30)
    assert again.expires is not None and got.expires is not None and again.expires <= got.expires + timedelta(seconds=1)


async def test_object_expires_whole(js: Any, nats_url: str) -> None:
    """Across the expiry: readable (by nats-py too), then ObjectNotFoundError; a reader polling
    all along only ever sees the whole object or not-found."""
    store = await js.create_object_store("ttlexp", allow_msg_ttl=True)
    data = os.urandom(5 * CS + 17)
    keep = await store.put("keep", b"stays")  # no TTL of its own
    await store.put("short", data, ttl=2, chunk_size=CS)
    assert await store.get("short") == data
    nats = pytest.importorskip("nats")
    their = await nats.connect(nats_url)
    try:
        res = await (await their.jetstream().object_store("ttlexp")).get("short")
        assert res.data == data and res.info.digest == (await store.get_info("short")).digest
    finally:
        await their.close()

    seen: dict[str, int] = {"whole": 0, "gone": 0}

    async def gone() -> bool:
        try:
            got = await store.get("short")
        except ObjectNotFoundError:
            seen["gone"] += 1
            return True
        assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()  # never a half object
        seen["whole"] += 1
        return False

    await until(gone, timeout=20, step=0.05)
    assert seen["gone"] == 1
    with pytest.raises(ObjectNotFoundError):
        await store.get_info("short")
    assert [i.name for i in await store.list()] == ["keep"]
    assert await store.get("keep") == b"stays" and keep.ttl is None
    # The chunks outlive the meta by their grace, then go by themselves (bounded poll).
    subjects = (await js.stream_info("OBJ_ttlexp", subjects_filter="$O.ttlexp.C.>")).state.subjects or {}
    assert len(subjects) <= 2


async def test_never_outlives_the_bucket_max_age(js: Any) -> None:
    store = await js.create_object_store("ttlage", allow_msg_ttl=True, ttl=2)
    await store.put("forever", os.urandom(2 * CS), ttl="never", chunk_size=CS)
    await store.put("aged", os.urandom(2 * CS), chunk_size=CS)

    async def aged_gone() -> bool:
        return [i.name for i in await store.list()] == ["forever"]

    await until(aged_gone, timeout=20)
    assert len(await store.get("forever")) == 2 * CS


async def test_replacing_a_ttl_object(js: Any) -> None:
    """The rollup replaces a TTL meta with a plain one (and back); the old chunks are purged."""
    store = await js.create_object_store("ttlroll", allow_msg_ttl=True)
    first = await store.put("x", os.urandom(2 * CS), ttl=2, chunk_size=CS)
    second = await store.put("x", b"plain now")
    subjects = (await js.stream_info("OBJ_ttlroll", subjects_filter="$O.ttlroll.C.>")).state.subjects or {}
    assert set(subjects) == {f"$O.ttlroll.C.{second.nuid}"} and first.nuid != second.nuid
    assert (await store.get_info("x")).ttl is None
    await asyncio.sleep(2.5)  # past the first version's TTL: the replacement stays
    assert await store.get("x") == b"plain now"


async def test_ttl_on_fast_ingest_bucket(js: Any) -> None:
    store = await js.create_object_store("ttlfast", allow_msg_ttl=True, fast_ingest=True)
    data = os.urandom(4 * CS)
    info = await store.put("f", data, ttl=30, chunk_size=CS)
    assert info.put_path == "fast_ingest" and await store.get("f") == data
    first = await js.get_msg("OBJ_ttlfast", seq=1)
    assert (seconds_of_value(ttl_of_headers(first.headers) or "") or 0) >= 30 + GRACE_BASE


async def test_stream_config_unknown_to_old_servers_is_checked(js: Any) -> None:
    """A plain stream (as an old server would create) refuses TTL puts with the typed error."""
    await js.add_stream(StreamConfig(name="OBJ_ttlold", subjects=["$O.ttlold.C.>", "$O.ttlold.M.>"], allow_rollup_hdrs=True))
    store = await js.object_store("ttlold")
    with pytest.raises(TTLNotAllowedError):
        await store.put("a", b"x", ttl=3)


def test_cli_add_allow_msg_ttl_and_put_ttl(nats_url: str, tmp_path: Any) -> None:
    from cli_util import fails, js_out, ok  # tests/ is on sys.path via conftest

    ok("add", "clittl", "--allow-msg-ttl", url=nats_url)
    assert js_out("status", "clittl", url=nats_url)["allow_msg_ttl"] is True
    src = tmp_path / "f.bin"
    src.write_bytes(os.urandom(2 * CS))
    doc = js_out("put", "clittl", str(src), "--ttl", "1h", url=nats_url)
    assert doc["expires"] is not None and doc["size"] == 2 * CS
    ok("add", "clinottl", url=nats_url)
    assert js_out("status", "clinottl", url=nats_url)["allow_msg_ttl"] is False
    assert "allow_msg_ttl" in fails("put", "clinottl", str(src), "--ttl", "30s", url=nats_url)


async def test_expiry_markers_read_as_gone(js: Any) -> None:
    """A bucket whose stream also places ADR-43 delete markers (subject_delete_marker_ttl): the
    marker left on an expired object's meta subject reads as not found, not as a bad meta."""
    store = await js.create_object_store("ttlmark", allow_msg_ttl=True)
    cfg = (await js.stream_info("OBJ_ttlmark")).config
    cfg.subject_delete_marker_ttl = 3.0  # also the least TTL the server lets a message have
    await js.update_stream(cfg)
    store = await js.object_store("ttlmark")
    await store.put("keep", b"k")
    brief = await store.put("brief", os.urandom(2 * CS), ttl=1, chunk_size=CS)
    assert brief.ttl == timedelta(seconds=3)  # raised to the stream's floor, chunks above it
    first = await js.get_msg("OBJ_ttlmark", last_by_subj=f"$O.ttlmark.C.{brief.nuid}")
    assert (seconds_of_value(ttl_of_headers(first.headers) or "") or 0) >= 3 + GRACE_BASE
    meta_subject = f"$O.ttlmark.M.{encode_name('brief')}"

    async def marked() -> bool:
        msg = await js.get_msg("OBJ_ttlmark", last_by_subj=meta_subject)
        return b"Nats-Marker-Reason" in (msg.headers or b"")

    await until(marked, timeout=20)
    with pytest.raises(ObjectNotFoundError):
        await store.get_info("brief")
    assert [i.name for i in await store.list()] == ["keep"]
    st = await store.status()
    assert st.count == 1 and st.bad_metas == 0
    again = await store.put("brief", b"back")  # the name can be used again over the marker
    assert await store.get("brief") == b"back" and again.ttl is None
