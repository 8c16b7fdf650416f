"""``watch()``, ``list()`` and ``status()`` on a replicated bucket give one answer, the newest meta
per object by stream sequence, while a follower lags (paused with SIGSTOP) and the stream leader
changes (step-down). Real 3-node cluster; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from typing import Any

import pytest

import objstore
from jetstream import JetStreamTimeoutError
from protocol import NatsError

pytestmark = pytest.mark.timeout(180)

NAMES = [f"obj-{i}" for i in range(6)]
ROUNDS = 2
BULK = 128 * 1024 * 1024
WATCHERS = 8  # each consumer lands on a random replica: several, so that some run on the lagging one


async def _leader(js: Any, stream: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            info = await js.stream_info(stream)
            if info.cluster is not None and info.cluster.leader:
                return info.cluster.leader
        except NatsError:
            pass
        assert time.monotonic() < deadline, "no stream leader"
        await asyncio.sleep(0.1)


async def _put_version(store: Any, version: int) -> None:
    for name in NAMES:
        await store.put(name, b"v%d" % version, description=f"v{version}")


async def _bind_after_pause(nc: Any) -> Any:
    """Bind the bucket through the node that was just resumed. Its first API requests may go
    unanswered while it rejoins the cluster (a STREAM.INFO timed out after 10 s in one round of a
    10-round soak): that is the server's recovery, not what this test checks, so a timed-out bind is
    retried for up to 30 s; the watch and list checks below are never retried."""
    deadline = time.monotonic() + 30.0
    while True:
        try:
            return await nc.jetstream(timeout=10.0).object_store("w3")
        except JetStreamTimeoutError:
            if time.monotonic() >= deadline:
                raise


def _check_newest(infos: list[Any], version: int, what: str) -> None:
    names = [i.name for i in infos if not i.name.startswith("bulk-")]
    assert sorted(names) == sorted(NAMES), f"{what}: {names}"
    stale = {i.name: i.description for i in infos if i.name in NAMES and i.description != f"v{version}"}
    assert not stale, f"{what}: older versions shown {stale}"


async def test_newest_meta_per_name_under_lag_and_leader_change(nats_cluster) -> None:
    nc = await objstore.connect(nats_cluster.urls[0])
    try:
        store = await nc.jetstream(timeout=10.0).create_object_store(bucket="w3", replicas=3)
        await _put_version(store, 0)
    finally:
        await nc.close()
    for version in range(1, ROUNDS + 1):
        # A leader change first (every node up), then pause a node that leads neither the stream
        # nor the meta group, and write through another.
        nc = await objstore.connect(nats_cluster.urls[0])
        try:
            js = nc.jetstream(timeout=10.0)
            reply = await nc.request("$JS.API.STREAM.LEADER.STEPDOWN.OBJ_w3", b"", timeout=10)
            assert json.loads(reply.data).get("success"), reply.data
            leader = await _leader(js, "OBJ_w3")
        finally:
            await nc.close()
        busy = {leader, nats_cluster.wait_meta_leader()}
        follower = next(s for s in nats_cluster.servers if s.server_name not in busy)
        writer_url = next(s.url for s in nats_cluster.servers if s is not follower)
        nc = await objstore.connect(writer_url)
        try:
            store = await nc.jetstream(timeout=10.0).object_store("w3")
            os.kill(follower.pid, signal.SIGSTOP)
            try:
                # The paused follower misses these: a bulk object first, so that its catch-up
                # takes a while, then the new versions.
                await store.put(f"bulk-{version}", os.urandom(BULK))
                await _put_version(store, version)
            finally:
                os.kill(follower.pid, signal.SIGCONT)
        finally:
            await nc.close()
        # Read at once, through the node that lagged, with several watchers: each one's consumer is
        # placed on a random replica, and those on the lagging one see the old metas first.
        async def read_through_follower(attempt: int) -> None:
            reader = await objstore.connect(follower.url)
            try:
                rstore = await _bind_after_pause(reader)
                async with rstore.watch() as w:
                    seen = [info async for info in w.initial()]
                _check_newest(seen, version, f"watch round {version}.{attempt}")
                _check_newest(await rstore.list(), version, f"list round {version}.{attempt}")
                assert (await rstore.status()).count == len(NAMES) + version
            finally:
                await reader.close()

        await asyncio.gather(*(read_through_follower(a) for a in range(WATCHERS)))


@pytest.mark.soak
@pytest.mark.timeout(1800)
async def test_soak_newest_meta_under_lag_and_leader_change() -> None:
    """SOAK_ROUNDS rounds of the scenario above, each on a fresh 3-node cluster. Prints the count."""
    from harness import NatsCluster

    rounds = int(os.environ.get("SOAK_ROUNDS", "10"))
    passed = 0
    for _ in range(rounds):
        with NatsCluster(3) as cluster:
            await test_newest_meta_per_name_under_lag_and_leader_change(cluster)
        passed += 1
    print(f"\nsoak R3 watch/list under lag and step-down: {passed}/{rounds} rounds consistent")
    assert passed == rounds
