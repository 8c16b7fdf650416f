"""Permission violations (``-ERR 'Permissions Violation for ...'``) reach the caller as a typed
``PermissionViolationError`` and never close the connection: a refused subscription's iterator
raises it, a request to a refused subject fails with it, a refused plain publish is raised by the
next ``flush()``.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from events_util import eventually
from protocol import NatsTimeoutError, PermissionViolationError, ServerError, connect

pytestmark = pytest.mark.timeout(30)

# "At once, not by timeout": requests that must fail get a long timeout and must fail in a
# fraction of it (generous, so a slow machine does not matter; waiting for the timeout would).
LONG_TIMEOUT = 20.0
FAIL_WITHIN = 5.0

CONF = """
authorization {
  users: [
    { user: limited, password: pw, permissions: {
        publish: { allow: ["allowed.>", "svc.>", "_INBOX.>"], deny: ["allowed.secret", "svc.forbidden"] }
        subscribe: { allow: ["allowed.>", "_INBOX.>"], deny: ["allowed.hidden"] }
    } }
    { user: noinbox, password: pw, permissions: {
        publish: { allow: ["svc.>"] }
        subscribe: { allow: ["allowed.>"] }
    } }
    { user: admin, password: pw }
  ]
}
"""


@pytest.fixture
def server(server_factory):
    return server_factory(CONF, jetstream=False)


@pytest.fixture
async def admin(server):
    """A privileged connection with an echo responder on ``svc.>``."""
    nc = await connect(server.url, user="admin", password="pw")

    async def echo(msg) -> None:
        await nc.publish(msg.reply, b"re:" + msg.data)

    await nc.subscribe("svc.>", cb=echo)
    await nc.flush()
    yield nc
    await nc.close()


@pytest.fixture
async def limited(server):
    errors: list[BaseException] = []
    nc = await connect(server.url, user="limited", password="pw", error_cb=errors.append)
    nc.errors = errors  # type: ignore[attr-defined]
    events = nc.events()
    yield nc
    await nc.close()
    kinds = [e.kind async for e in events]
    assert "disconnected" not in kinds and "reconnected" not in kinds, kinds


async def test_publish_violation_raised_by_next_flush(limited, admin):
    sub = await admin.subscribe("allowed.secret")
    await admin.flush()
    await limited.publish("allowed.secret", b"x")  # publish itself does not wait for the server
    with pytest.raises(PermissionViolationError) as info:
        await limited.flush()
    assert 'Publish to "allowed.secret"' in str(info.value)
    assert isinstance(info.value, ServerError) and info.value.text == str(info.value)
    assert limited.is_connected
    await limited.flush()  # reported once
    await admin.flush()  # a delivery of the refused message would have reached admin by now
    assert sub.pending_msgs == 0
    assert any(isinstance(e, PermissionViolationError) for e in limited.errors)


async def test_connection_keeps_working_after_publish_violation(limited):
    sub = await limited.subscribe("allowed.ok")
    await limited.publish("not.allowed", b"x")
    await limited.publish("allowed.ok", b"fine")
    with pytest.raises(PermissionViolationError):
        await limited.flush()
    assert (await sub.next_msg(timeout=2)).data == b"fine"


async def test_subscription_violation_raised_by_iterator(limited, admin):
    ok = await limited.subscribe("allowed.open")
    bad = await limited.subscribe("allowed.hidden")
    other = await limited.subscribe("elsewhere.x")

    async def drain_bad() -> None:
        async for _ in bad:
            pass

    with pytest.raises(PermissionViolationError) as info:
        await asyncio.wait_for(drain_bad(), 10)
    assert 'Subscription to "allowed.hidden"' in str(info.value)
    assert bad.closed
    with pytest.raises(PermissionViolationError, match="elsewhere.x"):
        await other.next_msg(timeout=2)
    # The allowed subscription and the connection are untouched.
    await admin.publish("allowed.open", b"still here")
    assert (await ok.next_msg(timeout=2)).data == b"still here"
    await limited.flush()  # both errors were taken by their iterators, none left for flush
    assert limited.is_connected


async def test_queue_subscription_violation(limited):
    bad = await limited.subscribe("elsewhere.q", queue="workers")
    with pytest.raises(PermissionViolationError, match="using queue"):
        await bad.next_msg(timeout=2)


async def test_each_violation_ends_one_subscription(limited):
    """Two refused SUBs on one subject: one -ERR each, one subscription each."""
    a = await limited.subscribe("elsewhere.dup")
    b = await limited.subscribe("elsewhere.dup")
    for sub in (a, b):
        with pytest.raises(PermissionViolationError):
            await sub.next_msg(timeout=2)
    await limited.flush()  # nothing left over


async def test_callback_subscription_violation_goes_to_error_cb(limited):
    got: list = []
    await limited.subscribe("elsewhere.cb", cb=got.append)
    await limited.flush()
    await eventually(
        lambda: any(isinstance(e, PermissionViolationError) and "elsewhere.cb" in str(e) for e in limited.errors),
        what="the violation reported to error_cb",
    )
    assert got == []


async def test_request_to_forbidden_subject(limited, admin):
    start = time.monotonic()
    with pytest.raises(PermissionViolationError, match='Publish to "svc.forbidden"'):
        await limited.request("svc.forbidden", b"?", timeout=LONG_TIMEOUT)
    assert time.monotonic() - start < FAIL_WITHIN
    # Requests to allowed subjects still work, and nothing is left for flush.
    reply = await limited.request("svc.ok", b"hi", timeout=2)
    assert reply.data == b"re:hi"
    await limited.flush()


async def test_concurrent_requests_only_the_forbidden_fails(limited, admin):
    results = await asyncio.gather(
        limited.request("svc.a", b"1", timeout=2),
        limited.request("svc.forbidden", b"2", timeout=2),
        limited.request("svc.b", b"3", timeout=2),
        return_exceptions=True,
    )
    assert results[0].data == b"re:1" and results[2].data == b"re:3"
    assert isinstance(results[1], PermissionViolationError)


async def test_request_when_reply_inbox_is_forbidden(server, admin):
    """The user may not subscribe to _INBOX.>: the request fails at once, not by timeout."""
    nc = await connect(server.url, user="noinbox", password="pw")
    try:
        start = time.monotonic()
        with pytest.raises(PermissionViolationError, match="Subscription to \"_INBOX"):
            await nc.request("svc.x", b"?", timeout=LONG_TIMEOUT)
        assert time.monotonic() - start < FAIL_WITHIN
        start = time.monotonic()
        with pytest.raises(PermissionViolationError):  # and again, not a hang
            await nc.request("svc.x", b"?", timeout=LONG_TIMEOUT)
        assert time.monotonic() - start < FAIL_WITHIN
        assert nc.is_connected
    finally:
        await nc.close()


async def test_flush_without_violation_raises_nothing(limited):
    await limited.publish("allowed.x", b"")
    await limited.flush()
    sub = await limited.subscribe("allowed.quiet")
    with pytest.raises(NatsTimeoutError):  # an allowed subscription gets no error either
        await sub.next_msg(timeout=0.1)
