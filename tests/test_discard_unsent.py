"""``Connection.discard_unsent``: publishes still held by the connection (the reconnect buffer)
can be withdrawn by reply prefix, and only those: the others are delivered after the reconnect."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import protocol


async def test_withdraws_only_the_given_prefix_from_the_reconnect_buffer(server_factory: Any) -> None:
    srv = server_factory(jetstream=False)
    nc = await protocol.connect(srv.url, reconnect_time_wait=0.1, max_reconnect_attempts=-1)
    try:
        # Subscriptions are restored inside the reconnect handshake, before the buffer is flushed.
        sub = await nc.subscribe("data.>")
        await nc.flush()
        srv.kill()
        deadline = asyncio.get_running_loop().time() + 10
        while not nc.is_reconnecting:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.02)
        for i in range(5):
            await nc.publish("data.a", b"withdraw me %d" % i, reply=f"_INBOX.mine.{i}")
            await nc.publish("data.b", b"keep me %d" % i, reply=f"_INBOX.other.{i}", headers={"K": "v"})
            await nc.publish("data.c", b"no reply %d" % i)
        dropped = nc.discard_unsent("_INBOX.mine.")
        assert dropped == [f"_INBOX.mine.{i}" for i in range(5)]
        assert nc.discard_unsent("_INBOX.mine.") == []
        await asyncio.to_thread(srv.restart)
        await asyncio.wait_for(nc.flush(), 10)
        got = []
        while len(got) < 10:
            msg = await sub.next_msg(timeout=5)
            got.append((msg.subject, msg.data))
        assert [s for s, _ in got] == ["data.b", "data.c"] * 5
        assert all(not d.startswith(b"withdraw") for _, d in got)
        with pytest.raises(protocol.NatsTimeoutError):  # and nothing withdrawn arrives later
            await sub.next_msg(timeout=0.3)
    finally:
        await nc.close()
