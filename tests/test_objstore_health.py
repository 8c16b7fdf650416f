"""Orphaned chunks, ``sweep`` and the bucket health report (``objstore.health``), and the
``objstore doctor`` command, against real nats-servers.

Orphans are made the way they happen: chunks published straight to a fresh nuid's chunk subject
(what a killed writer leaves), and a real writer process SIGKILLed mid-put. Metas that disagree
with the stream and malformed metas are written raw to the meta subject with ``Nats-Rollup: sub``,
as another client could.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, AsyncIterator, Optional

import pytest

import objstore
from events_util import eventually
from objstore import HealthReport, ObjectInfo, Orphan
from objstore.subjects import chunk_subject, meta_subject
from protocol import Headers, next_nuid

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parent.parent
CS = objstore.DEFAULT_CHUNK_SIZE
MiB = 1024 * 1024
ROLLUP = Headers({"Nats-Rollup": "sub"})


def payload(n: int, seed: int = 0) -> bytes:
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
    return (block * (n // len(block) + 1))[:n]


async def chunk_counts(js: Any, bucket: str = "b") -> dict[str, int]:
    """nuid -> chunk messages, from the stream's subject listing."""
    si = await js.stream_info(f"OBJ_{bucket}", subjects_filter=f"$O.{bucket}.C.>")
    prefix = f"$O.{bucket}.C."
    return {s[len(prefix):]: n for s, n in (si.state.subjects or {}).items()}


async def make_orphan(js: Any, bucket: str = "b", chunks: int = 3, size: int = 1000) -> str:
    """What a killed writer leaves: chunks under a fresh nuid, no meta naming it."""
    nuid = next_nuid()
    for i in range(chunks):
        await js.publish(chunk_subject(bucket, nuid), payload(size, seed=i))
    return nuid


async def forge_meta(js: Any, bucket: str, name: str, doc: Any) -> None:
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    await js.publish(meta_subject(bucket, name), data, headers=ROLLUP)


# store.orphans() and store.sweep() -----------------------------------------------------------------------

async def test_orphans_found_from_listing_and_swept_with_age_guard(js, store) -> None:
    live = await store.put("live", payload(3 * CS + 5))
    small = await store.put("small", b"x")
    await store.put("empty", b"")
    nuid = await make_orphan(js, chunks=3)

    orphans = await store.orphans()
    assert [o.nuid for o in orphans] == [nuid]
    o = orphans[0]
    assert isinstance(o, Orphan)
    assert o.subject == chunk_subject("b", nuid) and o.messages == 3
    assert o.newest is not None and o.newest_seq > 0
    assert timedelta(0) <= o.age() < timedelta(minutes=5)

    # The age guard: a fresh orphan is kept by the default (1 h) and by any large older_than.
    assert await store.sweep() == []
    assert await store.sweep(older_than=timedelta(days=1)) == []
    dry = await store.sweep(older_than=0, dry_run=True)
    assert [x.nuid for x in dry] == [nuid] and dry[0].purged == 0
    assert (await chunk_counts(js)).get(nuid) == 3

    swept = await store.sweep(older_than=0)
    assert [x.nuid for x in swept] == [nuid] and swept[0].purged == 3
    counts = await chunk_counts(js)
    assert nuid not in counts
    assert counts == {live.nuid: 4, small.nuid: 1}
    assert await store.orphans() == []
    assert await store.get("live") == payload(3 * CS + 5)
    assert await store.get("small") == b"x" and await store.get("empty") == b""


async def test_deleted_metas_and_links_name_no_chunks(js, store) -> None:
    target = await store.put("target", payload(2 * CS))
    link = await store.add_link("alias", target)
    gone = await store.put("gone", payload(CS + 1))
    await store.delete("gone")
    # Chunks under a link's nuid or a deleted object's nuid are named by no live meta.
    await make_orphan(js, chunks=1, size=10)
    for nuid in (link.nuid, gone.nuid):
        await js.publish(chunk_subject("b", nuid), b"leftover")
    found = {o.nuid for o in await store.orphans()}
    assert link.nuid in found and gone.nuid in found and target.nuid not in found
    assert len(found) == 3
    await store.sweep(older_than=0)
    assert await store.orphans() == []
    assert await store.get("alias") == payload(2 * CS)
    report = await store.check(older_than=0)
    assert report.healthy, report.to_json()
    assert report.objects == 2 and report.deleted == 1


async def test_bucket_not_found(js) -> None:
    store = await js.create_object_store(bucket="gone")
    await js.delete_object_store("gone")
    with pytest.raises(objstore.BucketNotFoundError):
        await store.orphans()
    with pytest.raises(objstore.BucketNotFoundError):
        await store.check()


async def test_put_in_progress_is_not_swept_by_the_default_guard(js, store) -> None:
    gate = asyncio.Event()
    first = [payload(2 * CS, seed=i) for i in range(4)]
    rest = [payload(2 * CS, seed=10 + i) for i in range(4)]

    async def source() -> AsyncIterator[bytes]:
        for block in first:
            yield block
        await asyncio.wait_for(gate.wait(), 20)
        for block in rest:
            yield block

    task = asyncio.get_running_loop().create_task(store.put("slow", source()))
    try:
        async def stored() -> bool:
            return sum((await chunk_counts(js)).values()) >= 8

        await eventually(stored, timeout=10, what="the first 8 chunks of the put in progress stored")
        in_progress = await store.orphans()  # chunks stored, meta not written yet
        assert len(in_progress) == 1 and in_progress[0].messages >= 8
        assert await store.sweep() == []  # default guard: 1 hour
        assert await store.sweep(older_than=60) == []
        report = await store.check()
        assert report.healthy and len(report.recent_orphans) == 1 and report.stale_orphans == []
    finally:
        gate.set()
    info = await asyncio.wait_for(task, 20)
    assert info.nuid == in_progress[0].nuid and info.chunks == 16
    assert await store.get("slow") == b"".join(first + rest)
    assert await store.orphans() == []


async def test_sweep_and_check_during_concurrent_puts_keep_every_object(js, store) -> None:
    """Listing chunks first and re-listing metas: puts completing during a scan are never taken
    for orphans (with older_than=0 a put still in progress could be; the default guard keeps it)."""
    blobs = {f"o{i}": payload(CS * (1 + i % 4) + i, seed=i) for i in range(64)}

    async def writer() -> None:
        for name, data in blobs.items():
            await store.put(name, data)

    task = asyncio.get_running_loop().create_task(writer())
    swept: list[Orphan] = []
    rounds = 0
    while not task.done() and rounds < 200:
        swept += await store.sweep()
        await store.check()
        rounds += 1
    await asyncio.wait_for(task, 30)
    assert swept == [] and rounds >= 1
    print(f"scans during the puts: {rounds}")
    for name, data in blobs.items():
        assert await store.get(name) == data
    # Once quiet, nothing is orphaned and the report is exact.
    assert await store.orphans() == []
    report = await store.check(older_than=0)
    assert report.healthy and report.objects == len(blobs), report.to_json()


# A real writer, SIGKILLed mid-put -----------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import asyncio, os, sys
    import objstore

    async def main(url):
        nc = await objstore.connect(url)
        store = await nc.jetstream().object_store("b")
        block = os.urandom(1024 * 1024)

        async def source():
            for _ in range(32):  # 32 MiB, paced so the kill lands mid-put
                yield block
                await asyncio.sleep(0.05)

        await store.put("big", source())
        print("finished", flush=True)

    asyncio.run(main(sys.argv[1]))
    """
)


async def kill_writer_mid_put(js: Any, store: objstore.ObjectStore, url: str, script: Path, min_chunks: int) -> tuple[str, int]:
    """Run the writer, SIGKILL it once ``min_chunks`` of its chunks are stored, wait until the
    stream settles; return the nuid it left and its chunk count."""
    before = set(await chunk_counts(js))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, str(script), url], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        async def some_chunks() -> bool:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else proc.returncode
            counts = await chunk_counts(js)
            return sum(n for nuid, n in counts.items() if nuid not in before) >= min_chunks

        await eventually(some_chunks, timeout=20, what=f"the writer's first {min_chunks} chunks stored")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        out = proc.stdout.read() if proc.stdout else b""
        for f in (proc.stdout, proc.stderr):
            if f:
                f.close()
    assert proc.returncode == -signal.SIGKILL and b"finished" not in out

    # Bytes the killed process had already sent may still land: wait until the count settles.
    last: Optional[dict[str, int]] = None

    async def settled() -> bool:
        nonlocal last
        now = await chunk_counts(js)
        same, last = now == last, now
        if not same:
            await asyncio.sleep(0.2)
        return same

    await eventually(settled, timeout=10, what="the chunk count to settle after the kill")
    assert last is not None
    leftover = {nuid: n for nuid, n in last.items() if nuid not in before}
    assert len(leftover) == 1, leftover
    (nuid, count), = leftover.items()
    assert min_chunks <= count < 32 * MiB // CS  # stopped mid-put
    return nuid, count


async def _killed_writer_round(js: Any, store: objstore.ObjectStore, url: str, script: Path, min_chunks: int) -> int:
    nuid, count = await kill_writer_mid_put(js, store, url, script, min_chunks)
    orphans = await store.orphans()
    assert [(o.nuid, o.messages) for o in orphans] == [(nuid, count)]
    assert await store.sweep(older_than=timedelta(hours=1)) == []
    assert nuid in await chunk_counts(js)
    swept = await store.sweep(older_than=0)
    assert [(o.nuid, o.purged) for o in swept] == [(nuid, count)]
    assert nuid not in await chunk_counts(js)
    assert await store.orphans() == []
    with pytest.raises(objstore.ObjectNotFoundError):
        await store.get_info("big")
    return count


async def test_killed_writer_leaves_an_orphan_that_sweep_removes(js, store, nats_url, tmp_path) -> None:
    keep = await store.put("keep", payload(2 * CS))
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    await _killed_writer_round(js, store, nats_url, script, min_chunks=16)  # 2 MiB of 32
    assert await store.get("keep") == payload(2 * CS)
    assert set(await chunk_counts(js)) == {keep.nuid}


@pytest.mark.soak
@pytest.mark.timeout(1200)
async def test_soak_killed_writers_leave_no_orphan_after_sweep(js, store, nats_url, tmp_path) -> None:
    rounds = int(os.environ.get("SOAK_ROUNDS", "10"))
    keep = await store.put("keep", payload(2 * CS))
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    left: list[int] = []
    started = time.monotonic()
    for r in range(rounds):
        left.append(await _killed_writer_round(js, store, nats_url, script, min_chunks=8 + (r * 37) % 200))
    assert set(await chunk_counts(js)) == {keep.nuid}  # 0 orphaned chunks left
    print(f"\nkilled-writer soak: {rounds} rounds, {sum(left)} orphaned chunks "
          f"({sum(left) * CS / MiB:.1f} MiB) found and swept, 0 left, {time.monotonic() - started:.1f}s")


# store.check() --------------------------------------------------------------------------------------------

async def _damaged_bucket(js: Any, store: objstore.ObjectStore) -> dict[str, Any]:
    """A bucket with one of each problem; returns what was made."""
    await store.put("good", payload(2 * CS + 1))
    wc = await store.put("wrong-count", payload(2 * CS + 2))
    doc = wc.to_json()
    doc["chunks"] += 1
    await forge_meta(js, "b", "wrong-count", doc)
    ws = await store.put("wrong-size", payload(2 * CS + 3))
    doc = ws.to_json()
    doc["size"] += 5
    await forge_meta(js, "b", "wrong-size", doc)
    ghost = ObjectInfo(name="ghost", bucket="b", nuid=next_nuid(), size=100, chunks=1, digest="SHA-256=" + "A" * 43 + "=")
    await forge_meta(js, "b", "ghost", ghost.to_json())
    await forge_meta(js, "b", "not-json", b"{this is not json")
    protected = next_nuid()  # a malformed meta that still names a nuid keeps its chunks
    await forge_meta(js, "b", "huge", b'{"name":"huge","bucket":"b","nuid":"%s","size":1e400,"chunks":1}' % protected.encode())
    await js.publish(chunk_subject("b", protected), b"kept")
    orphan = await make_orphan(js, chunks=2)
    return {"wc": wc, "ws": ws, "ghost": ghost, "orphan": orphan, "protected": protected}


async def test_check_reports_every_kind_of_problem(js, store) -> None:
    made = await _damaged_bucket(js, store)
    report = await store.check(older_than=0)
    assert isinstance(report, HealthReport)
    assert report.size_checked, report.notes
    assert [o.nuid for o in report.orphans] == [made["orphan"]]
    assert [o.nuid for o in report.stale_orphans] == [made["orphan"]]
    assert [(m.name, m.expected, m.found) for m in report.chunk_mismatches] == [("wrong-count", 4, 3)]
    assert [(m.name, m.expected, m.found) for m in report.size_mismatches] == [("wrong-size", 2 * CS + 8, 2 * CS + 3)]
    assert [(m.name, m.nuid, m.kind) for m in report.missing_chunks] == [("ghost", made["ghost"].nuid, "missing")]
    assert sorted(m.name for m in report.malformed) == ["huge", "not-json"]
    assert all(m.error and m.seq > 0 for m in report.malformed)
    assert report.problems == 6 and not report.healthy
    assert report.objects == 4  # good, wrong-count, wrong-size, ghost
    doc = report.to_json()
    json.dumps(doc)
    assert doc["problems"] == 6 and doc["healthy"] is False

    # The default guard: a fresh orphan is listed but is not a problem.
    relaxed = await store.check()
    assert relaxed.stale_orphans == [] and len(relaxed.recent_orphans) == 1 and relaxed.problems == 5

    # The good object still reads; the sweep removes only the orphan, not the chunks a
    # malformed meta still names.
    assert await store.get("good") == payload(2 * CS + 1)
    assert [o.nuid for o in await store.sweep(older_than=0)] == [made["orphan"]]
    assert made["protected"] in await chunk_counts(js)


async def test_check_on_an_empty_bucket(store) -> None:
    report = await store.check(older_than=0)
    assert report.healthy and report.size_checked
    assert (report.objects, report.chunk_subjects, report.chunk_messages) == (0, 0, 0)


# objstore doctor -------------------------------------------------------------------------------------

def doctor(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NATS_") and k != "OBJSTORE_DEBUG"}
    env["PYTHONPATH"] = str(ROOT)
    env["OBJSTORE_DATA_DIR"] = "/dev/null/no-embedded-server-in-tests"
    res = subprocess.run([sys.executable, "-m", "objstore", "-s", url, "doctor", *args], capture_output=True,
                         timeout=30, env=env, cwd=ROOT, stdin=subprocess.DEVNULL)
    assert b"Traceback" not in res.stderr, res.stderr.decode()
    return res


async def test_doctor_shows_and_fixes_orphans(js, store, nats_url) -> None:
    await store.put("fine", payload(3 * CS))
    nuid = await make_orphan(js, chunks=2)

    res = doctor(nats_url, "b")  # default guard: a fresh orphan is kept, not a problem
    text = res.stdout.decode()
    assert res.returncode == 0, res.stderr.decode()
    assert nuid in text and "kept" in text and "healthy" in text.splitlines()[-1]

    res = doctor(nats_url, "b", "--older-than", "0")
    assert res.returncode == 1 and "1 problem(s) remain" in res.stdout.decode()

    res = doctor(nats_url, "b", "--fix", "--older-than", "0s", "--json")
    assert res.returncode == 0, res.stdout.decode() + res.stderr.decode()
    doc = json.loads(res.stdout)
    assert [o["nuid"] for o in doc["fixed"]] == [nuid] and doc["fixed"][0]["purged"] == 2
    assert doc["remaining_problems"] == 0
    assert nuid not in await chunk_counts(js)

    res = doctor(nats_url, "b")
    assert res.returncode == 0 and "orphans: 0" in res.stdout.decode()
    res = doctor(nats_url, "nope")
    assert res.returncode == 1 and "not found" in res.stderr.decode()


async def test_doctor_reports_metas_that_disagree_and_malformed(js, store, nats_url) -> None:
    made = await _damaged_bucket(js, store)
    res = doctor(nats_url, "b", "--json", "--older-than", "0")
    assert res.returncode == 1
    doc = json.loads(res.stdout)
    assert doc["problems"] == 6 and doc["fixed"] is None
    assert [m["name"] for m in doc["chunk_mismatches"]] == ["wrong-count"]
    assert [m["name"] for m in doc["size_mismatches"]] == ["wrong-size"]
    assert [m["name"] for m in doc["missing_chunks"]] == ["ghost"]
    assert sorted(m["name"] for m in doc["malformed_metas"]) == ["huge", "not-json"]

    res = doctor(nats_url, "b", "--fix", "--older-than", "0")
    text = res.stdout.decode()
    assert res.returncode == 1  # the orphan is fixed; the metas are not something a sweep fixes
    assert f"removed orphan {made['orphan']}" in text and "5 problem(s) remain" in text
    assert "wrong-count" in text and "ghost" in text and "not-json" in text
    assert made["orphan"] not in await chunk_counts(js)


# A replicated bucket -------------------------------------------------------------------------------------

async def test_replicated_bucket_orphans_and_check(nats_cluster) -> None:

    nc = await objstore.connect(nats_cluster.url)
    try:
        js = nc.jetstream(timeout=10.0)
        store = await js.create_object_store(bucket="health3", replicas=3)
        try:
            await store.put("obj", payload(3 * CS + 1))
            nuid = await make_orphan(js, "health3", chunks=2)
            report = await store.check(older_than=0)
            assert report.size_checked, report.notes
            assert [o.nuid for o in report.orphans] == [nuid] and report.problems == 1, report.to_json()
            assert [o.nuid for o in await store.sweep(older_than=0)] == [nuid]
            assert (await store.check(older_than=0)).healthy
            assert await store.get("obj") == payload(3 * CS + 1)
        finally:
            await js.delete_object_store("health3")
    finally:
        await nc.close()
