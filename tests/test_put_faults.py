"""A failed or interrupted put leaves nothing behind (issue "Trust under failure", point 1).

Real faults on real ``nats-server`` processes: SIGKILL with the server down for a while, SIGSTOP
past the ack timeout (with and without the client declaring the connection stale), the stream
leader of an R3 bucket killed mid-put, and a server that stays down past the cleanup bound. After
each, the bucket's stream holds no chunk subject that no meta names: checked from the stream's
subject listing, and checked again after a quiet period, so that a chunk stored late (a paused
server reading its socket after it resumes) would be seen.

The single-round tests run in ``make test``; the ``soak`` ones repeat each scenario
``SOAK_ROUNDS`` times (``make soak``) and print the counts.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any, AsyncIterator, Optional

import pytest

import objstore
from jetstream import JetStreamTimeoutError, NoStreamResponseError, StreamUnavailableError, explain_no_responders
from objstore import CleanupFailedError

CHUNK = 128 * 1024
SOAK_ROUNDS = int(os.environ.get("SOAK_ROUNDS", "10"))


# Helpers --------------------------------------------------------------------------------------
async def chunk_subjects(js: Any, bucket: str) -> dict[str, int]:
    info = await js.stream_info(f"OBJ_{bucket}", subjects_filter=f"$O.{bucket}.C.>")
    return dict(info.state.subjects or {})


async def live_nuids(store: objstore.ObjectStore) -> set[str]:
    return {i.nuid for i in await store.list() if i.nuid}


async def orphan_subjects(js: Any, store: objstore.ObjectStore) -> dict[str, int]:
    """Chunk subjects that no live meta names, from the stream's subject listing."""
    subjects = await chunk_subjects(js, store.bucket)
    named = {f"$O.{store.bucket}.C.{n}" for n in await live_nuids(store)}
    return {s: n for s, n in subjects.items() if s not in named}


async def assert_no_orphans(js: Any, store: objstore.ObjectStore, quiet: float = 3.0) -> None:
    """No orphaned chunk now, nor after ``quiet`` seconds (a late store would show by then)."""
    assert await orphan_subjects(js, store) == {}
    await asyncio.sleep(quiet)
    assert await orphan_subjects(js, store) == {}


async def slow_source(total_chunks: int, pause: float = 0.004) -> AsyncIterator[bytes]:
    """A source that keeps the put running long enough for a fault to land in the middle."""
    block = os.urandom(CHUNK)
    for _ in range(total_chunks):
        yield block
        await asyncio.sleep(pause)


async def put_until(store: objstore.ObjectStore, name: str, chunks: int, acked_bytes: int) -> tuple[asyncio.Task, asyncio.Event]:
    """Start a put in a task; the event is set once ``acked_bytes`` were acknowledged."""
    reached = asyncio.Event()

    def progress(done: int, total: Optional[int]) -> None:
        if done >= acked_bytes:
            reached.set()

    task = asyncio.get_running_loop().create_task(store.put(name, slow_source(chunks), progress=progress))
    return task, reached


async def wait_either(task: asyncio.Task, event: asyncio.Event, timeout: float) -> None:
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({task, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    assert event.is_set() or task.done(), "the put neither progressed nor ended"


async def outcome(task: asyncio.Task, timeout: float) -> Optional[BaseException]:
    """The put's error (None if it succeeded); fails the test if it has not ended in ``timeout``."""
    done, _ = await asyncio.wait({task}, timeout=timeout)
    assert done, f"the put did not end within {timeout}s"
    return task.exception()


# Server killed and down for a while -------------------------------------------------------------
async def _killed_and_down(server_factory: Any, down: float) -> dict[str, Any]:
    srv = server_factory()
    nc = await objstore.connect(srv.url, reconnect_time_wait=0.25, max_reconnect_attempts=-1)
    try:
        js = nc.jetstream(timeout=2.0)
        store = await js.create_object_store(bucket="killed")
        store.reconnect_wait = 0  # the failure path: no carrying on after a reconnect (test_put_resume.py)
        task, reached = await put_until(store, "big", chunks=400, acked_bytes=2 * 1024 * 1024)
        await wait_either(task, reached, 20)
        srv.kill()
        killed_at = time.monotonic()
        await asyncio.sleep(down)
        await asyncio.to_thread(srv.restart)
        err = await outcome(task, 60)
        assert err is not None, "a put whose server died mid-way cannot have succeeded"
        assert not isinstance(err, CleanupFailedError), err
        await assert_no_orphans(js, store)
        with pytest.raises(objstore.ObjectNotFoundError):
            await store.get_info("big")
        return {"error": type(err).__name__, "seconds": round(time.monotonic() - killed_at, 1)}
    finally:
        await nc.close()


async def test_put_with_server_killed_and_down_leaves_nothing(server_factory: Any) -> None:
    await _killed_and_down(server_factory, down=4.0)


@pytest.mark.soak
async def test_soak_server_killed_and_down(server_factory: Any) -> None:
    results = [await _killed_and_down(server_factory, down=20.0) for _ in range(SOAK_ROUNDS)]
    print(f"\nsoak killed+down 20s: {len(results)} rounds, 0 orphans, {results}")


# Server paused past the ack timeout -------------------------------------------------------------
async def _paused(server_factory: Any, pause: float, stale: bool) -> dict[str, Any]:
    srv = server_factory()
    opts: dict[str, Any] = {"reconnect_time_wait": 0.25, "max_reconnect_attempts": -1}
    if stale:  # the client gives the frozen server up and reconnects once it resumes
        opts.update(ping_interval=0.5, max_pings_outstanding=2)
    nc = await objstore.connect(srv.url, **opts)
    try:
        js = nc.jetstream(timeout=1.5)
        store = await js.create_object_store(bucket="paused")
        store.reconnect_wait = 0  # the failure path: no carrying on after a reconnect (test_put_resume.py)
        task, reached = await put_until(store, "big", chunks=400, acked_bytes=2 * 1024 * 1024)
        await wait_either(task, reached, 20)
        os.kill(srv.pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(pause)
        finally:
            os.kill(srv.pid, signal.SIGCONT)
        err = await outcome(task, 60)
        # It may have recovered (acks arrived once the server resumed, within the ack timeout of
        # the window's oldest message) or failed; either way nothing is orphaned.
        if err is None:
            assert (await store.get("big")) and (await store.get_info("big")).size == 400 * CHUNK
        else:
            assert not isinstance(err, CleanupFailedError), err
        await assert_no_orphans(js, store)
        return {"error": type(err).__name__ if err else None, "reconnects": nc.reconnects}
    finally:
        await nc.close()


async def test_put_with_server_paused_past_ack_timeout_leaves_nothing(server_factory: Any) -> None:
    result = await _paused(server_factory, pause=4.0, stale=False)
    assert result["error"] is not None  # 4 s paused against a 1.5 s ack timeout


async def test_put_with_server_paused_and_connection_dropped_leaves_nothing(server_factory: Any) -> None:
    result = await _paused(server_factory, pause=4.0, stale=True)
    assert result["error"] is not None and result["reconnects"] >= 1


@pytest.mark.soak
async def test_soak_server_paused(server_factory: Any) -> None:
    results = []
    for i in range(SOAK_ROUNDS):
        results.append(await _paused(server_factory, pause=4.0 + i % 3, stale=bool(i % 2)))
    print(f"\nsoak paused: {len(results)} rounds, 0 orphans, {results}")


# The cleanup bound runs out -------------------------------------------------------------------
async def test_cleanup_that_cannot_run_names_the_nuid(server_factory: Any) -> None:
    srv = server_factory()
    nc = await objstore.connect(srv.url, reconnect_time_wait=0.25, max_reconnect_attempts=-1)
    try:
        js = nc.jetstream(timeout=1.0)
        store = await js.create_object_store(bucket="bound")
        store.reconnect_wait = 0  # the failure path: no carrying on after a reconnect (test_put_resume.py)
        store.cleanup_timeout = 1.5
        task, reached = await put_until(store, "big", chunks=400, acked_bytes=1024 * 1024)
        await wait_either(task, reached, 20)
        srv.kill()
        t0 = time.monotonic()
        err = await outcome(task, 30)
        assert isinstance(err, CleanupFailedError), err
        assert err.nuid and err.nuid in str(err) and err.bucket == "bound"
        assert err.put_error is not None and err.__cause__ is err.put_error
        # The put gave up within its bounds: ack timeout (1 s) + settle + the 1.5 s cleanup bound.
        assert time.monotonic() - t0 < 15
        await asyncio.to_thread(srv.restart)
        await asyncio.wait_for(nc.flush(), 10)
        # What it left is exactly that nuid (if the server kept any chunk across the kill).
        left = await chunk_subjects(js, "bound")
        assert set(left) <= {f"$O.bound.C.{err.nuid}"}
        # ... and the orphan tools remove it.
        swept = await store.sweep(older_than=0)
        assert {o.nuid for o in swept} == ({err.nuid} if left else set())
        assert await chunk_subjects(js, "bound") == {}
    finally:
        await nc.close()


# Unsent chunks are withdrawn, never sent after the cleanup --------------------------------------
async def test_chunks_in_the_reconnect_buffer_are_withdrawn(server_factory: Any) -> None:
    """The server dies mid-put; the chunks the client still buffers for the next connection are
    dropped from that buffer (they would otherwise be stored after the purge, forever)."""
    srv = server_factory()
    nc = await objstore.connect(srv.url, reconnect_time_wait=0.25, max_reconnect_attempts=-1)
    try:
        js = nc.jetstream(timeout=1.0)
        store = await js.create_object_store(bucket="buffered")
        store.reconnect_wait = 0  # the failure path: no carrying on after a reconnect (test_put_resume.py)
        task, reached = await put_until(store, "big", chunks=400, acked_bytes=1024 * 1024)
        await wait_either(task, reached, 20)
        marker = b"PUB $O.buffered.C."
        queued = lambda: sum(1 for p in nc._outbox.parts if type(p) is bytes and p.startswith(marker))  # noqa: E731 (white-box: the outbox)
        srv.kill()
        # The source keeps producing: chunks pile up in the reconnect buffer. (A chunk whose ack
        # was awaited at the moment of the kill fails the put at once, with the connection: then
        # nothing may be buffered either. Which of the two happens depends on that moment.)
        deadline = time.monotonic() + 5
        while not queued() and not task.done() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert nc.is_reconnecting
        assert queued() > 0 or task.done(), "neither buffered chunks nor a failed put"
        # The put fails (1 s ack timeout) and settles while the server is still down: its unsent
        # chunks leave the reconnect buffer before any purge is tried.
        deadline = time.monotonic() + 10
        while queued() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert queued() == 0 and not task.done()  # withdrawn; the purge waits for the server
        await asyncio.to_thread(srv.restart)
        err = await outcome(task, 60)
        assert err is not None and not isinstance(err, CleanupFailedError), err
        await assert_no_orphans(js, store)
    finally:
        await nc.close()


# R3: the stream leader is killed mid-put --------------------------------------------------------
async def _create_r3(js: Any, bucket: str) -> objstore.ObjectStore:
    return await js.create_object_store(bucket=bucket, replicas=3)


async def _stream_leader(js: Any, stream: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            info = await js.stream_info(stream)
            if info.cluster is not None and info.cluster.leader:
                return info.cluster.leader
        except Exception:  # noqa: BLE001 - no leader yet
            pass
        assert time.monotonic() < deadline, "no stream leader"
        await asyncio.sleep(0.2)


async def _leader_killed(cluster: Any, bucket: str) -> dict[str, Any]:
    nc = await objstore.connect(cluster.urls, reconnect_time_wait=0.25, max_reconnect_attempts=-1)
    try:
        js = nc.jetstream(timeout=3.0)
        store = await _create_r3(js, bucket)
        leader = await _stream_leader(js, store.stream_name)
        victim = next(s for s in cluster.servers if s.server_name == leader)
        task, reached = await put_until(store, "big", chunks=160, acked_bytes=2 * 1024 * 1024)
        await wait_either(task, reached, 30)
        victim.kill()
        try:
            err = await outcome(task, 90)
            if err is None:  # survived the election: the object is whole
                info = await store.get_info("big")
                assert info.size == 160 * CHUNK and len(await store.get("big")) == info.size
            else:
                assert not isinstance(err, CleanupFailedError), err
                assert "no stream matches" not in str(err), err  # the real cause is named
            await _stream_leader(js, store.stream_name)
            # The victim may have led the meta group too: the orphan scan creates a consumer,
            # which needs a meta leader among the nodes left.
            await asyncio.to_thread(cluster.wait_meta_leader)
            await assert_no_orphans(js, store)
        finally:
            if not victim.running:  # also when the checks failed: the next tests share the cluster
                await asyncio.to_thread(victim.restart)
            await asyncio.to_thread(cluster.wait_meta_leader)
        await js.delete_object_store(bucket)
        return {"error": type(err).__name__ if err else None, "killed": leader}
    finally:
        await nc.close()


async def test_put_with_r3_stream_leader_killed_leaves_nothing(nats_cluster: Any) -> None:
    await _leader_killed(nats_cluster, "leaderkill")


@pytest.mark.soak
async def test_soak_r3_stream_leader_killed(nats_cluster: Any) -> None:
    results = [await _leader_killed(nats_cluster, f"leaderkill{i}") for i in range(SOAK_ROUNDS)]
    print(f"\nsoak R3 leader killed: {len(results)} rounds, 0 orphans, {results}")


# The 503 "no responders" error names its real cause ---------------------------------------------
async def test_no_responders_is_explained(js: Any) -> None:
    await js.add_stream(name="LISTENS", subjects=["listens.>"], storage="memory")
    err = await explain_no_responders(js, "listens.x")
    assert isinstance(err, StreamUnavailableError) and err.stream == "LISTENS"
    assert "no leader" in str(err) and "no stream matches" not in str(err)
    err = await explain_no_responders(js, "nobody.home")
    assert type(err) is NoStreamResponseError and "no stream matches" in str(err)


async def test_publish_rides_out_a_stream_leader_election(nats_cluster: Any) -> None:
    """Publishes through the election that follows the stream leader's death go through once a
    leader is elected, and no error on the way says 'no stream matches'."""
    nc = await objstore.connect(nats_cluster.urls, reconnect_time_wait=0.25, max_reconnect_attempts=-1)
    try:
        js = nc.jetstream(timeout=10.0)
        await js.add_stream(name="ELECT", subjects=["elect.>"], num_replicas=3)
        await js.publish("elect.a", b"before")
        leader = await _stream_leader(js, "ELECT")
        victim = next(s for s in nats_cluster.servers if s.server_name == leader)
        # Publish from a node that survives: the connection itself is not what is tested.
        survivor = await objstore.connect(next(s.url for s in nats_cluster.servers if s is not victim))
        victim.kill()
        errors: list[str] = []
        try:
            # While no leader is elected a publish gets no answer (a timeout) or a 503; a 503 is
            # retried since a stream listens. No error along the way blames a missing stream.
            deadline = time.monotonic() + 30
            while True:
                try:
                    ack = await survivor.jetstream().publish("elect.a", b"during", timeout=1.0, msg_id="during-1")
                    break
                except (NoStreamResponseError, JetStreamTimeoutError) as err:  # never "no stream matches"
                    errors.append(str(err))
                    assert time.monotonic() < deadline, errors
            assert ack.stream == "ELECT"
            assert not any("no stream matches" in e for e in errors), errors
        finally:
            await survivor.close()
            await asyncio.to_thread(victim.restart)
            nats_cluster.wait_meta_leader()
        await js.delete_stream("ELECT")
    finally:
        await nc.close()


# A put cancelled mid-way --------------------------------------------------------------------------
async def test_cancelled_put_leaves_nothing(js: Any) -> None:
    """Cancelling the task of a put (a timeout around it, Ctrl-C in an application) settles its
    window and purges its chunks before the cancellation goes on."""
    store = await js.create_object_store(bucket="cancelled")
    await store.put("big", b"previous version")
    task, reached = await put_until(store, "big", chunks=400, acked_bytes=2 * 1024 * 1024)
    await wait_either(task, reached, 20)
    assert not task.done()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=30)
    assert done and task.cancelled()
    await assert_no_orphans(js, store)
    assert await store.get("big") == b"previous version"  # the old version is untouched
