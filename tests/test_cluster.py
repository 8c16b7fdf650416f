"""A client in a 3-node cluster: discovery from INFO ``connect_urls``, failover to another node with
its subscriptions, no loss of messages published after the reconnect, lame duck eviction, and
credentials carried over to discovered nodes.

The module-scoped ``nats_cluster`` is shared by the tests here; a test that kills a node restarts
it before returning (routes come back within ~0.1 s; these tests need no JetStream).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import pytest

from events_util import eventually, wait_event
from harness import NatsCluster
from protocol import NatsTimeoutError, NoRespondersError, connect

pytestmark = pytest.mark.timeout(60)

FAST = {"reconnect_time_wait": 0.1, "reconnect_jitter": 0.02, "connect_timeout": 0.5, "max_reconnect_attempts": -1}


async def request_eventually(nc, subject: str, data: bytes, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = await nc.request(subject, data, timeout=0.5)
            assert reply.data == data
            return
        except (NoRespondersError, NatsTimeoutError):
            assert time.monotonic() < deadline, f"no reply on {subject!r} within {timeout}s"
            await asyncio.sleep(0.02)


@pytest.fixture
def cluster(nats_cluster):
    """The shared cluster, with every node running before and after the test."""
    for srv in nats_cluster.servers:
        if not srv.running:
            srv.start()
    yield nats_cluster
    for srv in nats_cluster.servers:
        if not srv.running:
            srv.start()


def _other_urls(cluster, index: int) -> set[str]:
    return {u for i, u in enumerate(cluster.urls) if i != index}


async def test_discovers_other_nodes(cluster):
    nc = await connect(cluster.urls[0], **FAST)
    try:
        await eventually(lambda: set(nc.discovered_servers) == _other_urls(cluster, 0), what="discovery")
        assert set(nc.servers) == set(cluster.urls)
        assert nc.connected_url == cluster.urls[0]
    finally:
        await nc.close()


async def test_discovery_follows_topology_changes(cluster):
    nc = await connect(cluster.urls[0], **FAST)
    try:
        await eventually(lambda: len(nc.discovered_servers) == 2, what="discovery")
        cluster.servers[2].kill()
        await eventually(lambda: set(nc.discovered_servers) == {cluster.urls[1]}, what="node 3 dropped")
        cluster.servers[2].start()
        await eventually(lambda: set(nc.discovered_servers) == _other_urls(cluster, 0), what="node 3 back")
    finally:
        await nc.close()


async def test_failover_keeps_subscriptions_and_loses_nothing_after_reconnect(cluster):
    """Connected to node 1 only (the rest discovered). Node 1 dies: the client moves to another
    node with its subscriptions; every message published after ``reconnected`` arrives once."""
    nc = await connect(cluster.urls[0], **FAST)
    events = nc.events()
    pubs: list[Any] = []
    try:
        await eventually(lambda: len(nc.discovered_servers) == 2, what="discovery")
        plain = await nc.subscribe("cl.count")
        queue = await nc.subscribe("cl.queue", queue="q")
        limited = await nc.subscribe("cl.limited", max_msgs=3)
        await nc.publish("cl.limited", b"before")
        await nc.flush()
        assert (await limited.next_msg(timeout=2)).data == b"before"

        cluster.servers[0].kill()
        seen = await wait_event(events, "reconnected", timeout=10)
        assert [e.kind for e in seen] == ["disconnected", "reconnected"]
        new_url = nc.connected_url
        assert new_url in _other_urls(cluster, 0)
        assert seen[-1].server == new_url

        # A publisher on the node the client moved to: strict count, no probing.
        same = await connect(new_url)
        pubs.append(same)
        n = 200
        for i in range(n):
            await same.publish("cl.count", str(i).encode())
            await same.publish("cl.queue", str(i).encode())
        await same.flush()
        got = [int((await plain.next_msg(timeout=2)).data) for _ in range(n)]
        assert got == list(range(n))
        got_q = [int((await queue.next_msg(timeout=2)).data) for _ in range(n)]
        assert got_q == list(range(n))

        # A publisher on the remaining node: interest crosses a route. Once one probe got
        # through, nothing that follows may be lost.
        (far_url,) = _other_urls(cluster, 0) - {new_url}
        far = await connect(far_url)
        pubs.append(far)
        probe_seen = False
        for _ in range(100):
            await far.publish("cl.count", b"probe")
            await far.flush()
            try:
                probe_seen = (await plain.next_msg(timeout=0.05)).data == b"probe"
                break
            except NatsTimeoutError:
                continue
        assert probe_seen
        for i in range(n):
            await far.publish("cl.count", str(i).encode())
        await far.flush()
        got = []
        while len(got) < n:
            data = (await plain.next_msg(timeout=2)).data
            if data != b"probe":  # a late probe from the loop above
                got.append(int(data))
        assert got == list(range(n))

        # The auto-unsubscribe kept its remaining count (2 of 3) across the failover.
        for _ in range(5):
            await same.publish("cl.limited", b"after")
        await same.flush()
        assert [m.data async for m in limited] == [b"after", b"after"]
        await nc.flush()  # a duplicate from `same`'s node would have arrived before this PONG
        await asyncio.sleep(0.05)
        assert plain.pending_msgs == 0 and queue.pending_msgs == 0  # exactly once
    finally:
        for p in pubs:
            await p.close()
        await nc.close()


async def test_requests_work_after_failover(cluster):
    responder = await connect(cluster.urls[1], **FAST)
    nc = await connect(cluster.urls[0], **FAST)
    events = nc.events()
    try:
        async def echo(msg) -> None:
            await responder.publish(msg.reply, msg.data)

        await responder.subscribe("cl.svc", cb=echo)
        await responder.flush()
        # The responder's interest reaches node 1 over a route: allow it a moment, both times.
        await request_eventually(nc, "cl.svc", b"one")
        cluster.servers[0].kill()
        await wait_event(events, "reconnected", timeout=10)
        # The request inbox subscription was restored too (maybe on a node that needs a route).
        await request_eventually(nc, "cl.svc", b"two")
    finally:
        await nc.close()
        await responder.close()


async def test_user_given_server_list_fails_over(cluster):
    nc = await connect(cluster.url, dont_randomize=True, **FAST)
    events = nc.events()
    try:
        assert nc.connected_url == cluster.urls[0]
        sub = await nc.subscribe("cl.list")
        cluster.servers[0].kill()
        await wait_event(events, "reconnected", timeout=10)
        assert nc.connected_url == cluster.urls[1]  # the next in the given order
        await nc.publish("cl.list", b"x")
        assert (await sub.next_msg(timeout=2)).data == b"x"
        assert cluster.urls[0] in nc.servers  # user-given servers are never dropped
    finally:
        await nc.close()


async def test_lame_duck_node_moves_client_to_another_node():
    """A node in lame duck mode tells its clients (INFO ldm), then evicts them; the client goes
    to another node and keeps its subscriptions."""
    ldm_conf = 'lame_duck_duration: "30s"\nlame_duck_grace_period: "0.2s"'
    with NatsCluster(3, config=ldm_conf) as cl:
        nc = await connect(cl.urls[0], **FAST)
        events = nc.events()
        try:
            await eventually(lambda: len(nc.discovered_servers) == 2, what="discovery")
            sub = await nc.subscribe("ldm.c")
            os.kill(cl.servers[0].pid, signal.SIGUSR2)
            seen = await wait_event(events, "reconnected", timeout=10)
            assert [e.kind for e in seen] == ["lame_duck", "disconnected", "reconnected"]
            assert nc.connected_url in _other_urls(cl, 0)
            pub = await connect(nc.connected_url)
            await pub.publish("ldm.c", b"moved")
            await pub.close()
            assert (await sub.next_msg(timeout=2)).data == b"moved"
        finally:
            await nc.close()


async def test_discovered_nodes_reuse_url_credentials():
    """Credentials given in the URL of node 1 are used for the nodes discovered from it."""
    conf = 'authorization { users: [ { user: carol, password: "c-pass" } ] }'
    with NatsCluster(2, config=conf) as cl:
        url = cl.urls[0].replace("nats://", "nats://carol:c-pass@")
        nc = await connect(url, **FAST)
        events = nc.events()
        try:
            await eventually(lambda: nc.discovered_servers == [cl.urls[1]], what="discovery")
            assert "c-pass" not in repr(nc._pool.servers)
            sub = await nc.subscribe("auth.c")
            cl.servers[0].kill()
            seen = await wait_event(events, "reconnected", timeout=10)
            assert "error" not in [e.kind for e in seen]  # no Authorization Violation on node 2
            assert nc.connected_url == cl.urls[1]
            await nc.publish("auth.c", b"ok")
            assert (await sub.next_msg(timeout=2)).data == b"ok"
        finally:
            await nc.close()


# ------------------------------------------------------------------------ server pool (no server)


def test_pool_adds_and_drops_discovered_servers():
    from protocol.options import ServerPool

    pool = ServerPool(["nats://127.0.0.1:4222"], randomize=False)
    pool.current = pool.servers[0]
    added = pool.add_discovered(["127.0.0.1:4222", "127.0.0.1:5222", "127.0.0.1:6222"])
    assert sorted(a.url for a in added) == ["nats://127.0.0.1:5222", "nats://127.0.0.1:6222"]
    assert all(a.implicit for a in added)
    # 6222 left the cluster: dropped; the user-given one always stays, even when unlisted.
    pool.add_discovered(["127.0.0.1:5222"])
    assert [s.url for s in pool.servers] == ["nats://127.0.0.1:4222", "nats://127.0.0.1:5222"]
    # The current server is never dropped even if implicit and unlisted.
    pool.current = pool.servers[1]
    pool.add_discovered(["127.0.0.1:7222"])
    assert {s.url for s in pool.servers} == {"nats://127.0.0.1:4222", "nats://127.0.0.1:5222", "nats://127.0.0.1:7222"}
    assert pool.next_candidates()[-1] is pool.current


def test_pool_discovered_servers_take_scheme_and_credentials_of_the_given_ones():
    from protocol.options import ServerPool

    pool = ServerPool(["tls://u:p@10.0.0.1:4222"], randomize=False)
    pool.current = pool.servers[0]
    (added,) = pool.add_discovered(["10.0.0.2:4222"])
    assert added.url == "tls://10.0.0.2:4222"
    assert (added.user, added.password) == ("u", "p")
    assert "p@" not in repr(added)


async def test_lame_duck_client_leaves_before_eviction():
    """With a long grace period the server would evict its clients only after 30 s: the client
    leaves on its own (after a flush), for another node, and the node is still serving."""
    ldm_conf = 'lame_duck_duration: "60s"\nlame_duck_grace_period: "30s"'
    with NatsCluster(3, config=ldm_conf) as cl:
        nc = await connect(cl.urls[0], **FAST)
        events = nc.events()
        try:
            await eventually(lambda: len(nc.discovered_servers) == 2, what="discovery")
            sub = await nc.subscribe("ldm.early")
            await nc.publish("ldm.early", b"before")
            os.kill(cl.servers[0].pid, signal.SIGUSR2)
            seen = await wait_event(events, "reconnected", timeout=10)
            assert [e.kind for e in seen] == ["lame_duck", "disconnected", "reconnected"]
            assert "lame duck" in str(seen[1].error)
            assert nc.connected_url in _other_urls(cl, 0)
            assert cl.servers[0].running  # it left; it was not evicted (the grace period is 30 s)
            assert (await sub.next_msg(timeout=2)).data == b"before"
            await nc.publish("ldm.early", b"after")
            assert (await sub.next_msg(timeout=2)).data == b"after"
        finally:
            await nc.close()


async def test_lame_duck_leave_can_be_turned_off():
    """``lame_duck_leave=False``: the client reports lame duck mode and stays until evicted."""
    ldm_conf = 'lame_duck_duration: "30s"\nlame_duck_grace_period: "3s"'
    with NatsCluster(2, config=ldm_conf) as cl:
        nc = await connect(cl.urls[0], lame_duck_leave=False, **FAST)
        events = nc.events()
        try:
            await eventually(lambda: len(nc.discovered_servers) == 1, what="discovery")
            os.kill(cl.servers[0].pid, signal.SIGUSR2)
            assert [e.kind for e in await wait_event(events, "lame_duck", timeout=5)] == ["lame_duck"]
            await asyncio.sleep(1.5)  # the client would have left by now (1 s jitter + flush)
            assert nc.connected_url == cl.urls[0]
            await wait_event(events, "reconnected", timeout=10)  # evicted after the grace period
            assert nc.connected_url in _other_urls(cl, 0)
        finally:
            await nc.close()


async def test_async_info_keeps_the_nonce():
    """An asynchronous INFO (here: a node leaves the cluster, so ``connect_urls`` changes)
    carries no nonce; ``server_info`` keeps the handshake's nonce and takes the new URLs."""
    from jwt_util import NKey

    user = NKey.new("user")
    with NatsCluster(3, config=f"authorization {{ users: [ {{ nkey: {user.public} }} ] }}") as cl:
        nc = await connect(cl.urls[0], nkey_seed=user.seed, **FAST)
        try:
            urls = lambda: set(nc.server_info.get("connect_urls") or [])  # noqa: E731
            await eventually(lambda: len(urls()) >= 2 and nc.server_info.get("nonce"), what="discovery")
            nonce, before = nc.server_info["nonce"], urls()
            cl.servers[2].stop()
            await eventually(lambda: urls() and urls() < before, what="async INFO")
            assert nc.server_info.get("nonce") == nonce
        finally:
            await nc.close()


async def test_fresh_cluster_places_r3_streams_at_once():
    """The cluster fixture returns only once an R3 stream can be placed: creating one right after
    start never answers 10005 (no suitable peers), so no test retries a create."""
    import objstore

    for _ in range(2):
        with NatsCluster(3) as cl:
            nc = await objstore.connect(cl.url)
            try:
                js = nc.jetstream(timeout=10.0)
                store = await js.create_object_store(bucket="fresh", replicas=3)
                assert (await store.status()).replicas == 3
            finally:
                await nc.close()


@pytest.mark.soak
@pytest.mark.timeout(1800)
async def test_soak_lame_duck_leave():
    """SOAK_ROUNDS rounds of the early lame-duck leave, each on a fresh cluster. Prints the count."""
    rounds = int(os.environ.get("SOAK_ROUNDS", "10"))
    passed = 0
    for _ in range(rounds):
        await test_lame_duck_client_leaves_before_eviction()
        passed += 1
    print(f"\nsoak lame duck leave: {passed}/{rounds} rounds moved before eviction")
    assert passed == rounds
