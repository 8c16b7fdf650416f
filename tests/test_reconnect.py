"""Reconnect against a real server that is killed, stopped, restarted, frozen or put in lame duck
mode: status events and callbacks, subscription restore (with remaining max counts), the bounded
reconnect buffer, flush and requests across an outage, attempt limits and backoff.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import pytest

from events_util import eventually, wait_event
from protocol import (
    ConnectionClosedError,
    ConnectionState,
    NoServersError,
    ReconnectBufferFullError,
    StaleConnectionError,
    connect,
)

pytestmark = pytest.mark.timeout(30)

FAST = {"reconnect_time_wait": 0.1, "reconnect_jitter": 0.02, "connect_timeout": 0.5}
LDM_CONF = 'lame_duck_duration: "30s"\nlame_duck_grace_period: "0.1s"'


@pytest.fixture
def server(server_factory):
    return server_factory(jetstream=False)


# -------------------------------------------------------------------------- restore after restart


@pytest.mark.parametrize("how", ["stop", "kill"])
async def test_restart_restores_subscriptions(server, how):
    nc = await connect(server.url, **FAST)
    events = nc.events()
    try:
        sub = await nc.subscribe("rc.a")
        qsub = await nc.subscribe("rc.q", queue="workers")
        await nc.flush()
        getattr(server, how)()
        seen = await wait_event(events, "disconnected")
        assert nc.state is ConnectionState.RECONNECTING
        server.start()
        seen += await wait_event(events, "reconnected")
        assert [e.kind for e in seen] == ["disconnected", "reconnected"]
        assert seen[-1].server == server.url
        assert nc.is_connected and nc.reconnects == 1
        await nc.publish("rc.a", b"1")
        await nc.publish("rc.q", b"2")
        assert (await sub.next_msg(timeout=2)).data == b"1"
        assert (await qsub.next_msg(timeout=2)).data == b"2"
    finally:
        await nc.close()


async def test_reconnected_means_subscriptions_are_live(server):
    """A publisher on another connection that starts right after ``reconnected`` loses nothing:
    the SUBs are applied by the server before the reconnect completes."""
    nc = await connect(server.url, **FAST)
    events = nc.events()
    try:
        subs = [await nc.subscribe(f"live.{i}") for i in range(20)]
        server.kill()
        await wait_event(events, "disconnected")
        server.start()
        await wait_event(events, "reconnected")
        pub = await connect(server.url)
        for i in range(20):
            await pub.publish(f"live.{i}", b"x")
        await pub.flush()
        await pub.close()
        for sub in subs:
            assert (await sub.next_msg(timeout=2)).data == b"x"
    finally:
        await nc.close()


async def test_auto_unsubscribe_remaining_count_survives_reconnect(server):
    nc = await connect(server.url, **FAST)
    events = nc.events()
    try:
        sub = await nc.subscribe("rc.max", max_msgs=5)
        done = await nc.subscribe("rc.done", max_msgs=1)
        for _ in range(2):
            await nc.publish("rc.max", b"before")
        await nc.publish("rc.done", b"only")
        await nc.flush()
        assert [(await sub.next_msg(timeout=2)).data for _ in range(2)] == [b"before"] * 2
        assert (await done.next_msg(timeout=2)).data == b"only"
        server.restart()
        await wait_event(events, "reconnected")
        for _ in range(10):
            await nc.publish("rc.max", b"after")
        await nc.flush()
        got = [m.data async for m in sub]  # ends by itself after the 3 remaining
        assert got == [b"after"] * 3
        assert sub.closed and done.closed
        # The exhausted subscription was not re-created on the server.
        await nc.publish("rc.done", b"again")
        await nc.flush()
        assert done.delivered == 1
    finally:
        await nc.close()


async def test_subscribe_while_reconnecting(server):
    nc = await connect(server.url, **FAST)
    events = nc.events()
    try:
        server.kill()
        await wait_event(events, "disconnected")
        sub = await nc.subscribe("rc.late")
        server.start()
        await wait_event(events, "reconnected")
        await nc.publish("rc.late", b"hello")
        assert (await sub.next_msg(timeout=2)).data == b"hello"
        await nc.flush()
        assert sub.pending_msgs == 0  # a duplicate SUB would have delivered it twice
    finally:
        await nc.close()


# ------------------------------------------------------------------------------ buffered publishes


async def test_publishes_buffered_during_outage_are_flushed(server):
    nc = await connect(server.url, **FAST)
    events = nc.events()
    try:
        sub = await nc.subscribe("buf.x")
        await nc.flush()
        server.kill()
        await wait_event(events, "disconnected")
        for i in range(100):
            await nc.publish("buf.x", str(i).encode())
        # A flush made while disconnected completes once the buffer reached the new server.
        flushed = asyncio.ensure_future(nc.flush(timeout=10))
        await asyncio.sleep(0.05)
        assert not flushed.done()
        server.start()
        await wait_event(events, "reconnected")
        await asyncio.wait_for(flushed, 5)
        got = [int((await sub.next_msg(timeout=2)).data) for _ in range(100)]
        assert got == list(range(100))
    finally:
        await nc.close()


async def test_flush_pending_at_disconnect_fails_and_later_flush_works(server):
    nc = await connect(server.url, **FAST)
    events = nc.events()
    try:
        await nc.flush()
        server.stop()  # graceful: the socket closes at once
        # Queued just before the loss is noticed, or just after: either way it must not hang.
        try:
            await nc.flush(timeout=5)
        except ConnectionClosedError:
            pass
        server.start()
        await wait_event(events, "reconnected")
        for _ in range(3):
            await nc.flush(timeout=2)
    finally:
        await nc.close()


async def test_reconnect_buffer_is_bounded(server):
    limit = 2048
    nc = await connect(server.url, reconnect_buf_size=limit, **FAST)
    events = nc.events()
    try:
        sub = await nc.subscribe("buf.limit")
        await nc.flush()
        server.kill()
        await wait_event(events, "disconnected")
        payload = b"x" * 100
        accepted = 0
        with pytest.raises(ReconnectBufferFullError):
            for _ in range(1000):
                await nc.publish("buf.limit", payload)
                accepted += 1
        assert 10 <= accepted <= limit // len(payload)
        # Still full: refused again, nothing grows.
        with pytest.raises(ReconnectBufferFullError):
            await nc.publish("buf.limit", payload)
        assert nc._outbox.nbytes <= limit
        server.start()
        await wait_event(events, "reconnected")
        await nc.flush()
        assert sub.pending_msgs == accepted
        # After the reconnect the buffer limit no longer applies.
        for _ in range(100):
            await nc.publish("buf.limit", payload)
        await nc.flush()
        assert sub.pending_msgs == accepted + 100
    finally:
        await nc.close()


# --------------------------------------------------------------------------- requests, giving up


async def test_request_in_flight_fails_when_connection_is_lost(server):
    nc = await connect(server.url, **FAST)
    silent = await connect(server.url, allow_reconnect=False)
    try:
        await silent.subscribe("svc.silent")  # a responder that never answers
        await silent.flush()
        req = asyncio.ensure_future(nc.request("svc.silent", b"?", timeout=20))
        await asyncio.sleep(0.1)
        server.kill()
        # "connection lost", well before the request's own 20 s timeout
        with pytest.raises(ConnectionClosedError, match="connection lost"):
            await asyncio.wait_for(req, 5)
    finally:
        await nc.close()
        await silent.close()


async def test_max_reconnect_attempts_then_closed(server):
    attempts = 3
    closed: list[Any] = []
    nc = await connect(server.url, max_reconnect_attempts=attempts, closed_cb=lambda: closed.append(1), **FAST)
    events = nc.events()
    sub = await nc.subscribe("gone")
    server.kill()
    start = time.monotonic()
    seen = await wait_event(events, "closed")
    assert time.monotonic() - start < 3
    assert [e.kind for e in seen] == ["disconnected", "closed"]
    assert isinstance(seen[-1].error, NoServersError)
    assert nc.is_closed and closed == [1]
    assert nc._pool.servers[0].reconnects == attempts
    with pytest.raises(NoServersError):  # the iterator ends with the reason
        await sub.next_msg(timeout=1)
    with pytest.raises(ConnectionClosedError):
        await nc.publish("gone", b"x")
    with pytest.raises(ConnectionClosedError):
        await nc.flush()
    with pytest.raises(ConnectionClosedError):
        await nc.request("gone", b"x")
    assert [e async for e in events] == []  # the stream ended with closed


async def test_backoff_between_attempts(server):
    """One server, down for a while: attempts are spaced by reconnect_time_wait (+ jitter), not a
    storm. The bound is computed from the time that really passed, so a slow machine (fewer
    attempts) cannot make it fail; more than one attempt per 0.2 s can."""
    wait = 0.2
    nc = await connect(server.url, reconnect_time_wait=wait, reconnect_jitter=0.1, connect_timeout=0.5,
                       max_reconnect_attempts=-1)
    events = nc.events()
    try:
        server.kill()
        start = time.monotonic()
        await wait_event(events, "disconnected")
        await eventually(lambda: nc._pool.servers[0].reconnects >= 3, what="3 reconnect attempts")
        await asyncio.sleep(0.5)
        attempts = nc._pool.servers[0].reconnects  # read before the clock: the bound only grows
        elapsed = time.monotonic() - start
        assert attempts <= 1 + elapsed / wait, (attempts, elapsed)
        server.start()
        await wait_event(events, "reconnected")
        assert nc._pool.servers[0].reconnects == 0  # reset after a success
    finally:
        await nc.close()


async def test_no_reconnect_when_disabled(server):
    nc = await connect(server.url, allow_reconnect=False)
    events = nc.events()
    server.kill()
    seen = await wait_event(events, "closed", timeout=5)
    assert [e.kind for e in seen] == ["disconnected", "closed"]
    assert nc.is_closed


async def test_close_while_reconnecting(server):
    # A 30 s wait between attempts: close() must interrupt it, not wait for the next attempt.
    nc = await connect(server.url, max_reconnect_attempts=-1, **{**FAST, "reconnect_time_wait": 30})
    events = nc.events()
    server.kill()
    await wait_event(events, "disconnected")
    await asyncio.sleep(0.3)
    await asyncio.wait_for(nc.close(), 10)
    seen = await wait_event(events, "closed")
    assert seen[-1].error is None
    assert nc._session.reconnector.task is None or nc._session.reconnector.task.done()


# ------------------------------------------------------------------------- callbacks and events


async def test_status_callbacks_sync_and_async(server):
    calls: list[str] = []

    async def on_reconnected() -> None:
        calls.append("reconnected")

    nc = await connect(
        server.url,
        disconnected_cb=lambda: calls.append("disconnected"),
        reconnected_cb=on_reconnected,
        closed_cb=lambda: calls.append("closed"),
        error_cb=lambda err: calls.append(f"error:{type(err).__name__}"),
        **FAST,
    )
    events = nc.events()
    server.restart()
    await wait_event(events, "reconnected")
    await nc.close()
    await asyncio.sleep(0)  # let the async callback task run
    assert calls == ["disconnected", "reconnected", "closed"]


async def test_failing_callback_does_not_break_connection(server):
    def boom() -> None:
        raise RuntimeError("callback bug")

    nc = await connect(server.url, disconnected_cb=boom, reconnected_cb=boom, **FAST)
    events = nc.events()
    try:
        sub = await nc.subscribe("cb.x")
        server.restart()
        await wait_event(events, "reconnected")
        await nc.publish("cb.x", b"ok")
        assert (await sub.next_msg(timeout=2)).data == b"ok"
    finally:
        await nc.close()


async def test_two_event_streams_see_the_same_events(server):
    nc = await connect(server.url, **FAST)
    a, b = nc.events(), nc.events()
    server.restart()
    await wait_event(a, "reconnected")
    await nc.close()
    rest_a = [e.kind async for e in a]
    kinds_b = [e.kind async for e in b]
    assert rest_a == ["closed"]
    assert kinds_b == ["disconnected", "reconnected", "closed"]
    assert [e.kind async for e in nc.events()] == ["closed"]  # a stream made after close


# ----------------------------------------------------------------------------- stale, lame duck


async def test_stale_connection_detected_by_client_pings(server):
    """A frozen server (SIGSTOP) keeps the TCP connection open but answers nothing: the client's
    PINGs go unanswered, it declares the connection stale and reconnects once the server thaws."""
    nc = await connect(server.url, ping_interval=0.1, max_pings_outstanding=2, max_reconnect_attempts=-1, **FAST)
    events = nc.events()
    try:
        sub = await nc.subscribe("stale.x")
        await nc.flush()
        os.kill(server.pid, signal.SIGSTOP)
        try:
            seen = await wait_event(events, "disconnected", timeout=5)
            assert isinstance(seen[-1].error, StaleConnectionError)
        finally:
            os.kill(server.pid, signal.SIGCONT)
        await wait_event(events, "reconnected", timeout=10)
        await nc.publish("stale.x", b"thawed")
        assert (await sub.next_msg(timeout=2)).data == b"thawed"
    finally:
        await nc.close()


async def test_lame_duck_mode(server_factory):
    srv = server_factory(LDM_CONF, jetstream=False)
    ldm_calls: list[int] = []
    nc = await connect(srv.url, lame_duck_cb=lambda: ldm_calls.append(1), max_reconnect_attempts=-1, **FAST)
    events = nc.events()
    try:
        sub = await nc.subscribe("ldm.x")
        os.kill(srv.pid, signal.SIGUSR2)
        seen = await wait_event(events, "lame_duck", timeout=5)
        assert [e.kind for e in seen] == ["lame_duck"]
        assert ldm_calls == [1]
        assert nc.server_info.get("ldm") is True
        # The server evicts the client after the grace period and exits.
        await wait_event(events, "disconnected", timeout=5)
        srv.restart()
        await wait_event(events, "reconnected")
        await nc.publish("ldm.x", b"back")
        assert (await sub.next_msg(timeout=2)).data == b"back"
    finally:
        await nc.close()
