"""``jetstream.JetStream`` against a real nats-server: every admin/API call and the error mapping.

Streams (add/update/info/delete/purge/names/list with paging), message get (leader and direct,
single and batch), message delete, account info, the typed errors chosen by ``err_code``, publish
with expectations, a JetStream-disabled server and a JetStream domain.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

import jetstream
import protocol
from events_util import eventually
from jetstream import errors as E
from jetstream.models import StreamConfig

pytestmark = pytest.mark.timeout(60)

# "No responders, not a timeout": calls that must fail at once get a long timeout and must fail
# in a fraction of it (generous, so a slow machine does not matter; waiting for it would).
LONG_TIMEOUT = 30.0
FAIL_WITHIN = 10.0


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[protocol.Connection]:
    conn = await protocol.connect(nats_url, allow_reconnect=False)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
def js(nc: protocol.Connection) -> jetstream.JetStream:
    return jetstream.JetStream(nc)


async def _fill(js: jetstream.JetStream, subjects: list[str]) -> list[int]:
    seqs = []
    for i, s in enumerate(subjects):
        ack = await js.publish(s, b"m%d" % (i + 1))
        seqs.append(ack.seq)
    return seqs


# --------------------------------------------------------------------------------------------------
# Stream add / update / info / delete


async def test_add_stream_returns_info_and_is_idempotent(js: jetstream.JetStream) -> None:
    info = await js.add_stream(name="ORDERS", subjects=["orders.>"], storage="memory", description="d1")
    assert info.config.name == "ORDERS"
    assert info.config.subjects == ["orders.>"]
    assert info.config.storage == jetstream.StorageType.MEMORY
    assert info.config.max_msgs == -1  # server normalization 0 -> -1
    assert info.state.messages == 0 and info.state.last_seq == 0
    assert info.created is not None and info.created.tzinfo is not None
    # the same config again: the existing stream, no error
    again = await js.add_stream(name="ORDERS", subjects=["orders.>"], storage="memory", description="d1")
    assert again.config.name == "ORDERS"
    assert again.created == info.created
    # a StreamConfig object works the same way
    again2 = await js.add_stream(StreamConfig(name="ORDERS", subjects=["orders.>"], storage="memory", description="d1"))
    assert again2.created == info.created


async def test_add_stream_different_config_is_name_in_use(js: jetstream.JetStream) -> None:
    await js.add_stream(name="S", subjects=["s.>"], storage="memory")
    with pytest.raises(E.StreamNameInUseError) as ei:
        await js.add_stream(name="S", subjects=["s.>"], storage="memory", max_msgs=10)
    assert ei.value.err_code == 10058
    assert ei.value.code == 400


async def test_add_stream_invalid_name_fails_locally(js: jetstream.JetStream) -> None:
    with pytest.raises(E.InvalidNameError):
        await js.add_stream(name="a.b", subjects=["x"])


async def test_update_stream_keeps_unknown_fields(js: jetstream.JetStream) -> None:
    await js.add_stream(name="U", subjects=["u.>"], storage="memory", max_msgs=50, max_age=3600.0, allow_direct=True)
    info = await js.stream_info("U")
    cfg = info.config
    # a read config writes back exactly what the server sent (nothing dropped or renamed)
    raw = await js.request_json("$JS.API.STREAM.INFO.U")
    assert cfg.to_json() == raw["config"]
    cfg.description = "updated description"
    updated = await js.update_stream(cfg)
    assert updated.config.description == "updated description"
    assert updated.config.max_msgs == 50
    assert updated.config.max_age == 3600.0
    assert updated.config.allow_direct is True
    assert updated.config.metadata and "_nats.ver" in updated.config.metadata
    assert (await js.stream_info("U")).config.description == "updated description"
    # a key our model does not know (from a newer server) rides along in _extra and is sent back:
    # this server does not know it either, so its strict decoder rejects it (proof it was sent)
    newer = StreamConfig.from_json({**raw["config"], "feature_from_the_future": True})
    assert newer._extra == {"feature_from_the_future": True}
    assert newer.to_json()["feature_from_the_future"] is True
    with pytest.raises(E.InvalidJSONError) as ei:
        await js.update_stream(newer)
    assert ei.value.err_code == 10025


async def test_update_missing_stream_is_not_found(js: jetstream.JetStream) -> None:
    with pytest.raises(E.StreamNotFoundError):
        await js.update_stream(name="NOPE", subjects=["nope"])


async def test_stream_info_with_subjects_filter(js: jetstream.JetStream) -> None:
    await js.add_stream(name="I", subjects=["i.>"], storage="memory")
    await _fill(js, ["i.a", "i.a", "i.b", "i.c.d"])
    plain = await js.stream_info("I")
    assert plain.state.messages == 4
    assert plain.state.first_seq == 1 and plain.state.last_seq == 4
    assert plain.state.num_subjects == 3
    assert plain.state.subjects is None
    all_subjects = await js.stream_info("I", subjects_filter=">")
    assert all_subjects.state.subjects == {"i.a": 2, "i.b": 1, "i.c.d": 1}
    only_a = await js.stream_info("I", subjects_filter="i.a")
    assert only_a.state.subjects == {"i.a": 2}
    some = await js.stream_info("I", subjects_filter="i.*")
    assert some.state.subjects == {"i.a": 2, "i.b": 1}


async def test_stream_info_subjects_paging(
    js: jetstream.JetStream, nc: protocol.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """state.subjects is paged by the server (100,000 per reply): stream_info merges the pages."""
    await js.add_stream(name="SP", subjects=["sp.>"], storage="memory")
    n = 100_005  # one subject each: two pages
    for i in range(n):
        await nc.publish(f"sp.{i}", b"")  # core publishes: no ack round trip each
    await nc.flush()

    async def stored_all() -> bool:
        return (await js.stream_info("SP")).state.messages == n

    await eventually(stored_all, 20, what=f"{n} messages stored")
    real = js.request_json
    pages: list[tuple[int, int]] = []

    async def spy(subject: str, body: Any = None, timeout: Any = None) -> dict[str, Any]:
        resp = await real(subject, body, timeout)  # the server's own reply, only recorded
        if body and "subjects_filter" in body:
            pages.append((body.get("offset", 0), len(resp["state"].get("subjects") or {})))
        return resp

    monkeypatch.setattr(js, "request_json", spy)
    info = await js.stream_info("SP", subjects_filter=">")
    assert info.state.subjects == {f"sp.{i}": 1 for i in range(n)}
    assert pages == [(0, 100_000), (100_000, 5)]
    assert (await js.stream_info("SP")).state.subjects is None
    assert len(pages) == 2


async def test_stream_info_deleted_details(js: jetstream.JetStream) -> None:
    await js.add_stream(name="DD", subjects=["dd"], storage="memory")
    await _fill(js, ["dd"] * 5)
    await js.delete_msg("DD", 2)
    await js.delete_msg("DD", 4)
    info = await js.stream_info("DD", deleted_details=True)
    assert info.state.num_deleted == 2
    assert info.state.deleted == [2, 4]


async def test_delete_stream(js: jetstream.JetStream) -> None:
    await js.add_stream(name="D", subjects=["d"], storage="memory")
    assert await js.delete_stream("D") is True
    with pytest.raises(E.StreamNotFoundError) as ei:
        await js.stream_info("D")
    assert ei.value.err_code == 10059 and ei.value.code == 404
    assert isinstance(ei.value, E.NotFoundError)
    with pytest.raises(E.StreamNotFoundError):
        await js.delete_stream("D")


# --------------------------------------------------------------------------------------------------
# Purge


async def test_purge_whole_stream(js: jetstream.JetStream) -> None:
    await js.add_stream(name="P", subjects=["p.>"], storage="memory")
    await _fill(js, ["p.a", "p.b", "p.a", "p.c"])
    assert await js.purge_stream("P") == 4
    info = await js.stream_info("P")
    assert info.state.messages == 0
    assert info.state.first_seq == 5 and info.state.last_seq == 4
    assert await js.purge_stream("P") == 0


async def test_purge_by_subject_filter(js: jetstream.JetStream) -> None:
    await js.add_stream(name="P", subjects=["p.>"], storage="memory")
    await _fill(js, ["p.a", "p.b", "p.a", "p.c.x", "p.c.y"])
    assert await js.purge_stream("P", subject="p.a") == 2
    assert await js.purge_stream("P", subject="p.c.*") == 2
    info = await js.stream_info("P", subjects_filter=">")
    assert info.state.subjects == {"p.b": 1}


async def test_purge_keep(js: jetstream.JetStream) -> None:
    await js.add_stream(name="P", subjects=["p.>"], storage="memory")
    await _fill(js, ["p.a"] * 6 + ["p.b"] * 3)
    assert await js.purge_stream("P", keep=4) == 5
    info = await js.stream_info("P")
    assert info.state.messages == 4 and info.state.first_seq == 6
    # keep with a filter applies per that subject
    assert await js.purge_stream("P", subject="p.b", keep=1) == 2
    assert (await js.stream_info("P", subjects_filter=">")).state.subjects == {"p.a": 1, "p.b": 1}


async def test_purge_below_seq(js: jetstream.JetStream) -> None:
    await js.add_stream(name="P", subjects=["p.>"], storage="memory")
    await _fill(js, ["p.a", "p.b"] * 5)  # seqs 1..10
    assert await js.purge_stream("P", seq=4) == 3  # purges 1, 2, 3
    info = await js.stream_info("P")
    assert info.state.first_seq == 4 and info.state.messages == 7
    # seq with a subject filter: only that subject below seq
    assert await js.purge_stream("P", subject="p.a", seq=8) == 2  # 5, 7
    info = await js.stream_info("P", subjects_filter=">")
    assert (info.state.first_seq, info.state.last_seq, info.state.messages) == (4, 10, 5)  # 4 6 8 9 10
    assert info.state.subjects == {"p.a": 1, "p.b": 4}


async def test_purge_seq_and_keep_rejected_locally(js: jetstream.JetStream) -> None:
    with pytest.raises(E.InvalidArgumentError):
        await js.purge_stream("P", seq=1, keep=1)


async def test_purge_denied(js: jetstream.JetStream) -> None:
    await js.add_stream(name="NP", subjects=["np"], storage="memory", deny_purge=True)
    with pytest.raises(E.APIError) as ei:
        await js.purge_stream("NP")
    assert ei.value.err_code != 0


# --------------------------------------------------------------------------------------------------
# Names / list with paging


async def test_stream_names_and_list(js: jetstream.JetStream) -> None:
    for i in range(30):
        await js.add_stream(name=f"N{i:02d}", subjects=[f"n.{i}.>" if i % 2 else f"m.{i}"], storage="memory")
    names = await js.stream_names()
    assert sorted(names) == [f"N{i:02d}" for i in range(30)]
    infos = await js.streams_info()
    assert sorted(i.config.name for i in infos) == sorted(names)
    assert all(isinstance(i, jetstream.StreamInfo) for i in infos)
    # subject filter: streams listening on a subject
    assert await js.stream_names(subject="n.3.x") == ["N03"]
    assert await js.stream_names(subject="m.4") == ["N04"]
    assert await js.stream_names(subject="zzz") == []
    assert [i.config.name for i in await js.streams_info(subject="n.5.q")] == ["N05"]


async def test_stream_names_and_list_empty(js: jetstream.JetStream) -> None:
    assert await js.stream_names() == []
    assert await js.streams_info() == []


async def test_paging_over_server_limits(js: jetstream.JetStream, monkeypatch: pytest.MonkeyPatch) -> None:
    """LIST pages at 256 and NAMES at 1024 (wire.md 2.2): both walk every page, the offset
    advancing by the page length and the subject filter sent with every page."""
    count = 1030
    for start in range(0, count, 200):
        await asyncio.gather(
            *(js.add_stream(name=f"Q{i:04d}", subjects=[f"q.{i}"], storage="memory") for i in range(start, min(count, start + 200)))
        )
    first = await js.request_json("$JS.API.STREAM.NAMES", {"offset": 0})
    assert first["total"] == count and len(first["streams"]) == first["limit"] < count
    real = js.request_json
    calls: list[tuple[str, dict[str, Any]]] = []

    async def spy(subject: str, body: Any = None, timeout: Any = None) -> dict[str, Any]:
        calls.append((subject, dict(body or {})))
        return await real(subject, body, timeout)  # the server's own reply

    monkeypatch.setattr(js, "request_json", spy)
    names = await js.stream_names()
    assert len(names) == count and len(set(names)) == count
    assert [(s, b["offset"]) for s, b in calls] == [("$JS.API.STREAM.NAMES", 0), ("$JS.API.STREAM.NAMES", 1024)]
    calls.clear()
    infos = await js.streams_info()
    assert len(infos) == count
    assert {i.config.name for i in infos} == set(names)
    assert [(s, b["offset"]) for s, b in calls] == [("$JS.API.STREAM.LIST", o) for o in (0, 256, 512, 768, 1024)]
    calls.clear()
    assert sorted(await js.stream_names(subject="q.>")) == sorted(names)
    assert [b for _, b in calls] == [{"offset": 0, "subject": "q.>"}, {"offset": 1024, "subject": "q.>"}]


@pytest.mark.parametrize("last_page", [[], None], ids=["empty", "null"])
async def test_paging_stops_on_an_empty_page(
    js: jetstream.JetStream, monkeypatch: pytest.MonkeyPatch, last_page: Any
) -> None:
    """A reply whose total keeps growing while paging (a real server cannot be made to do that on
    demand: the replies are scripted) must not page forever: an empty or ``null`` page ends it."""
    calls: list[dict[str, Any]] = []
    universe = [f"S{i}" for i in range(7)]

    async def growing(subject: str, body: Any = None, timeout: Any = None) -> dict[str, Any]:
        calls.append(dict(body))
        off = body["offset"]
        return {"total": 10_000, "offset": off, "limit": 3, "streams": universe[off : off + 3] or last_page}

    monkeypatch.setattr(js, "request_json", growing)
    assert await js.stream_names() == universe
    assert [c["offset"] for c in calls] == [0, 3, 6, 7]


# --------------------------------------------------------------------------------------------------
# Message get (leader), direct get, batch direct get, delete


async def test_get_msg_by_seq_last_and_next(js: jetstream.JetStream) -> None:
    await js.add_stream(name="G", subjects=["g.>"], storage="memory")
    await js.publish("g.a", b"one", headers={"X-Test": "1"})
    await _fill(js, ["g.b", "g.a", "g.b", "g.c"])  # seqs 2..5, payload m1..m4
    m = await js.get_msg("G", 1)
    assert (m.seq, m.subject, m.data) == (1, "g.a", b"one")
    assert m.headers.startswith(b"NATS/1.0") and b"X-Test: 1" in m.headers
    assert m.time is not None and abs((datetime.now(timezone.utc) - m.time).total_seconds()) < 60
    last_a = await js.get_msg("G", last_by_subj="g.a")
    assert (last_a.seq, last_a.data) == (3, b"m2")
    assert (await js.get_msg("G", last_by_subj="g.*")).seq == 5  # wildcards allowed
    nxt = await js.get_msg("G", 2, next_by_subj="g.b")
    assert nxt.seq == 2
    assert (await js.get_msg("G", 3, next_by_subj="g.b")).seq == 4
    assert (await js.get_msg("G", 1, next_by_subj="g.c")).seq == 5
    with pytest.raises(E.MessageNotFoundError) as ei:
        await js.get_msg("G", 99)
    assert ei.value.err_code == 10037
    with pytest.raises(E.MessageNotFoundError):
        await js.get_msg("G", last_by_subj="g.zzz")
    with pytest.raises(E.MessageNotFoundError):
        await js.get_msg("G", 6, next_by_subj="g.a")
    with pytest.raises(E.StreamNotFoundError):
        await js.get_msg("NOPE", 1)
    with pytest.raises(E.InvalidArgumentError):
        await js.get_msg("G")


async def test_direct_get_single_last_and_next(js: jetstream.JetStream) -> None:
    await js.add_stream(name="DG", subjects=["dg.>"], storage="memory", allow_direct=True)
    await js.publish("dg.a", b"one", headers={"X-Test": "1"})
    await _fill(js, ["dg.b", "dg.a", "dg.x.y", "dg.b"])  # 2..5
    m = await js.direct_get("DG", 1)
    assert (m.seq, m.subject, m.data) == (1, "dg.a", b"one")
    assert b"X-Test: 1" in m.headers and b"Nats-Stream: DG" in m.headers
    assert m.time is not None and m.time.tzinfo is not None
    # last by subject uses the subject-appended form (multi-token subject too)
    last_a = await js.direct_get("DG", last_by_subj="dg.a")
    assert (last_a.seq, last_a.subject, last_a.data) == (3, "dg.a", b"m2")
    assert (await js.direct_get("DG", last_by_subj="dg.x.y")).seq == 4
    # a wildcard cannot be appended to a subject we publish to: it goes in the JSON body
    assert (await js.direct_get("DG", last_by_subj="dg.*")).seq == 5
    assert (await js.direct_get("DG", last_by_subj="dg.>")).seq == 5
    assert (await js.direct_get("DG", last_by_subj="dg.x.*")).seq == 4
    nxt = await js.direct_get("DG", 3, next_by_subj="dg.b")
    assert (nxt.seq, nxt.subject) == (5, "dg.b")
    with pytest.raises(E.MessageNotFoundError):
        await js.direct_get("DG", 42)
    with pytest.raises(E.MessageNotFoundError):
        await js.direct_get("DG", last_by_subj="dg.none")
    with pytest.raises(E.MessageNotFoundError):
        await js.direct_get("DG", 6, next_by_subj="dg.a")
    # the same data through the leader
    leader = await js.get_msg("DG", 3)
    assert (leader.seq, leader.subject, leader.data) == (last_a.seq, last_a.subject, last_a.data)


async def test_direct_get_without_allow_direct(nc: protocol.Connection) -> None:
    js = jetstream.JetStream(nc, timeout=LONG_TIMEOUT)
    await js.add_stream(name="ND", subjects=["nd"], storage="memory")
    await js.publish("nd", b"x")
    t0 = time.monotonic()
    with pytest.raises(E.JetStreamNotEnabledError):
        await js.direct_get("ND", 1)
    assert time.monotonic() - t0 < FAIL_WITHIN  # no responders, not the timeout


async def test_direct_get_batch(js: jetstream.JetStream) -> None:
    await js.add_stream(name="DB", subjects=["db.>"], storage="memory", allow_direct=True)
    subjects = ["db.a", "db.b"] * 10  # seqs 1..20, a = odd, b = even
    await _fill(js, subjects)
    got = [m async for m in js.direct_get_batch("DB", 5, seq=3)]
    assert [m.seq for m in got] == [3, 4, 5, 6, 7]
    assert [m.data for m in got] == [b"m3", b"m4", b"m5", b"m6", b"m7"]
    assert got[0].subject == "db.a" and got[1].subject == "db.b"
    # no seq: from the start
    assert [m.seq for m in await _collect(js.direct_get_batch("DB", 3))] == [1, 2, 3]
    # batch larger than what is left stops at the end
    assert [m.seq for m in await _collect(js.direct_get_batch("DB", 100, seq=18))] == [18, 19, 20]
    # filtered by subject
    only_b = await _collect(js.direct_get_batch("DB", 4, seq=5, next_by_subj="db.b"))
    assert [m.seq for m in only_b] == [6, 8, 10, 12]
    assert all(m.subject == "db.b" for m in only_b)
    # a subject filter and no seq: from the first message on that subject
    assert [m.seq for m in await _collect(js.direct_get_batch("DB", 2, next_by_subj="db.b"))] == [2, 4]
    # max_bytes bounds the batch (at least one message is always sent)
    small = await _collect(js.direct_get_batch("DB", 20, seq=1, max_bytes=1))
    assert 1 <= len(small) < 20
    # past the end: nothing
    assert await _collect(js.direct_get_batch("DB", 5, seq=1000)) == []
    # the subscription is gone afterwards: a later call still works
    assert len(await _collect(js.direct_get_batch("DB", 2, seq=1))) == 2
    # a stream without allow_direct has no responder
    await js.add_stream(name="DBN", subjects=["dbn"], storage="memory")
    with pytest.raises(E.JetStreamNotEnabledError):
        await _collect(js.direct_get_batch("DBN", 2, seq=1))


async def _collect(it: AsyncIterator[Any]) -> list[Any]:
    return [x async for x in it]


async def test_delete_msg(js: jetstream.JetStream) -> None:
    await js.add_stream(name="DM", subjects=["dm"], storage="memory")
    await _fill(js, ["dm"] * 5)
    assert await js.delete_msg("DM", 2) is True
    assert await js.delete_msg("DM", 3, erase=True) is True
    for seq in (2, 3):
        with pytest.raises(E.MessageNotFoundError):
            await js.get_msg("DM", seq)
    info = await js.stream_info("DM")
    assert info.state.messages == 3 and info.state.num_deleted == 2
    assert (await js.get_msg("DM", 4)).data == b"m4"
    with pytest.raises(E.APIError):
        await js.delete_msg("DM", 2)  # already gone
    with pytest.raises(E.StreamNotFoundError):
        await js.delete_msg("NOPE", 1)


async def test_account_info(js: jetstream.JetStream) -> None:
    before = await js.account_info()
    assert before.streams == 0 and before.consumers == 0
    assert before.limits is not None and before.limits.max_streams == -1
    assert before.api is not None and before.api.level is not None and before.api.level >= 1
    await js.add_stream(name="A1", subjects=["a1"], storage="memory")
    await js.add_stream(name="A2", subjects=["a2"], storage="file")
    await js.publish("a1", b"x" * 100)
    await js.publish("a2", b"y" * 100)
    await js.add_consumer("A1", durable_name="c", ack_policy="explicit")
    after = await js.account_info()
    assert after.streams == 2 and after.consumers == 1
    assert after.memory > 100 and after.storage > 100
    assert after.domain is None
    assert after.api is not None and after.api.total >= 3


# --------------------------------------------------------------------------------------------------
# Consumers (management only; delivery is tested in test_js_ordered / test_js_pull)


async def test_consumer_add_info_delete(js: jetstream.JetStream) -> None:
    await js.add_stream(name="C", subjects=["c.>"], storage="memory")
    await _fill(js, ["c.a", "c.b", "c.a"])
    ci = await js.add_consumer("C", durable_name="dur", ack_policy="explicit", filter_subject="c.a")
    assert ci.name == "dur" and ci.stream_name == "C"
    assert ci.num_pending == 2
    assert ci.config.filter_subject == "c.a"
    assert ci.config.ack_policy == jetstream.AckPolicy.EXPLICIT
    multi = await js.add_consumer("C", name="multi", ack_policy="none", filter_subjects=["c.a", "c.b"])
    assert multi.num_pending == 3
    eph = await js.add_consumer("C", ack_policy="none", inactive_threshold=5.0)  # legacy ephemeral form
    assert eph.name and eph.name not in ("dur", "multi")
    assert (await js.consumer_info("C", "dur")).num_pending == 2
    assert (await js.stream_info("C")).state.consumer_count == 3
    # action=create refuses to change an existing consumer
    with pytest.raises(E.APIError):
        await js.add_consumer("C", durable_name="dur", ack_policy="explicit", filter_subject="c.b", action="create")
    assert await js.delete_consumer("C", "dur") is True
    with pytest.raises(E.ConsumerNotFoundError) as ei:
        await js.consumer_info("C", "dur")
    assert ei.value.err_code == 10014
    with pytest.raises(E.ConsumerNotFoundError):
        await js.delete_consumer("C", "dur")
    with pytest.raises(E.ConsumerHeartbeatTooSmallError):
        await js.add_consumer("C", name="hb", deliver_subject="x.y", idle_heartbeat=0.01, ack_policy="none")
    with pytest.raises(E.ConsumerFlowControlNeedsHeartbeatError):
        await js.add_consumer("C", name="fc", deliver_subject="x.y", flow_control=True, ack_policy="none")


# --------------------------------------------------------------------------------------------------
# Publish and the error mapping


async def test_publish_acks(js: jetstream.JetStream) -> None:
    await js.add_stream(name="PUB", subjects=["pub.>"], storage="memory")
    ack = await js.publish("pub.a", b"hello")
    assert ack == jetstream.PubAck(stream="PUB", seq=1)
    assert ack.domain is None and not ack.duplicate
    ack2 = await js.publish("pub.b", b"", headers={"K": "v"})
    assert ack2.seq == 2
    assert (await js.get_msg("PUB", 2)).data == b""


async def test_publish_expected_last_seq(js: jetstream.JetStream) -> None:
    await js.add_stream(name="E", subjects=["e.>"], storage="memory")
    await js.publish("e.a", b"1", expected_last_seq=0)
    await js.publish("e.b", b"2", expected_last_seq=1)
    with pytest.raises(E.WrongLastSequenceError) as ei:
        await js.publish("e.a", b"3", expected_last_seq=5)
    err = ei.value
    assert err.err_code == 10071 and err.code == 400
    assert err.last_seq == 2
    assert err.stream == "E"
    assert (await js.stream_info("E")).state.messages == 2


async def test_publish_expected_last_subject_seq(js: jetstream.JetStream) -> None:
    await js.add_stream(name="E", subjects=["e.>"], storage="memory")
    await js.publish("e.a", b"1", expected_last_subject_seq=0)  # subject must be empty
    await js.publish("e.b", b"2")
    await js.publish("e.a", b"3", expected_last_subject_seq=1)
    with pytest.raises(E.WrongLastSequenceError) as ei:
        await js.publish("e.a", b"4", expected_last_subject_seq=1)
    assert ei.value.last_seq == 3
    with pytest.raises(E.WrongLastSequenceError):
        await js.publish("e.b", b"5", expected_last_subject_seq=0)


async def test_publish_expected_last_msg_id(js: jetstream.JetStream) -> None:
    await js.add_stream(name="E", subjects=["e.>"], storage="memory")
    await js.publish("e.a", b"1", msg_id="id-1")
    await js.publish("e.a", b"2", msg_id="id-2", expected_last_msg_id="id-1")
    with pytest.raises(E.WrongLastMsgIdError):
        await js.publish("e.a", b"3", expected_last_msg_id="id-1")


async def test_publish_expected_stream(js: jetstream.JetStream) -> None:
    await js.add_stream(name="E", subjects=["e.>"], storage="memory")
    assert (await js.publish("e.a", b"1", expected_stream="E")).seq == 1
    with pytest.raises(E.ExpectedStreamMismatchError) as ei:
        await js.publish("e.a", b"1", expected_stream="OTHER")
    assert ei.value.err_code == 10060


async def test_publish_duplicate_msg_id(js: jetstream.JetStream) -> None:
    await js.add_stream(name="DUP", subjects=["dup"], storage="memory", duplicate_window=30.0)
    first = await js.publish("dup", b"a", msg_id="m-1")
    again = await js.publish("dup", b"a", msg_id="m-1")
    assert not first.duplicate
    assert again.duplicate is True and again.seq == first.seq
    other = await js.publish("dup", b"b", msg_id="m-2")
    assert other.seq == 2 and not other.duplicate
    assert (await js.stream_info("DUP")).state.messages == 2


async def test_publish_rollup(js: jetstream.JetStream) -> None:
    await js.add_stream(name="R", subjects=["r.>"], storage="memory", allow_rollup_hdrs=True)
    await _fill(js, ["r.a", "r.a", "r.b"])
    await js.publish("r.a", b"rolled", rollup="sub")
    info = await js.stream_info("R", subjects_filter=">")
    assert info.state.subjects == {"r.a": 1, "r.b": 1}
    await js.add_stream(name="NR", subjects=["nr"], storage="memory")
    with pytest.raises(E.RollupFailedError):
        await js.publish("nr", b"x", rollup="sub")


async def test_sealed_stream(js: jetstream.JetStream) -> None:
    await js.add_stream(name="SEAL", subjects=["seal"], storage="memory")
    await js.publish("seal", b"x")
    cfg = (await js.stream_info("SEAL")).config
    cfg.sealed = True
    sealed = await js.update_stream(cfg)
    assert sealed.config.sealed is True
    assert sealed.config.deny_delete is True and sealed.config.deny_purge is True
    with pytest.raises(E.StreamSealedError) as ei:
        await js.publish("seal", b"y")
    assert ei.value.err_code == 10109
    with pytest.raises(E.StreamSealedError):
        await js.delete_msg("SEAL", 1)
    assert (await js.get_msg("SEAL", 1)).data == b"x"  # still readable


async def test_message_size_exceeds(js: jetstream.JetStream) -> None:
    await js.add_stream(name="MS", subjects=["ms"], storage="memory", max_msg_size=64)
    await js.publish("ms", b"x" * 64)
    with pytest.raises(E.MessageSizeExceedsError) as ei:
        await js.publish("ms", b"x" * 65)
    assert ei.value.err_code == 10054


async def test_store_failed_with_discard_new(js: jetstream.JetStream) -> None:
    await js.add_stream(name="L", subjects=["l"], storage="memory", max_msgs=2, discard="new")
    await _fill(js, ["l", "l"])
    with pytest.raises(E.StoreFailedError) as ei:
        await js.publish("l", b"x")
    assert ei.value.err_code == 10077 and "maximum messages" in ei.value.description


async def test_unknown_err_code_is_plain_api_error(js: jetstream.JetStream) -> None:
    await js.add_stream(name="OV", subjects=["ov.>"], storage="memory")
    # 10065 "subjects overlap with an existing stream" has no class of its own
    assert 10065 not in E.ERR_CODE_TO_CLASS
    with pytest.raises(E.APIError) as ei:
        await js.add_stream(name="OV2", subjects=["ov.x"], storage="memory")
    assert type(ei.value) is E.APIError
    assert ei.value.err_code == 10065 and ei.value.code == 400 and ei.value.description
    # 10052 invalid stream config: also plain
    with pytest.raises(E.APIError) as ei2:
        await js.add_stream(name="AGE", subjects=["age"], max_age=0.01)
    assert type(ei2.value) is E.APIError and ei2.value.err_code == 10052


async def test_publish_no_stream_fails_quickly(js: jetstream.JetStream) -> None:
    t0 = time.monotonic()
    with pytest.raises(E.NoStreamResponseError):
        await js.publish("no.stream.here", b"x", retries=0, timeout=LONG_TIMEOUT)
    assert time.monotonic() - t0 < FAIL_WITHIN  # no responders, not the ack timeout
    t0 = time.monotonic()
    with pytest.raises(E.NoStreamResponseError):
        await js.publish("no.stream.here", b"x", timeout=LONG_TIMEOUT)  # default: 2 retries 250 ms apart
    assert 0.45 <= time.monotonic() - t0 < FAIL_WITHIN


async def test_publish_retries_until_stream_exists(js: jetstream.JetStream) -> None:
    async def create_later() -> None:
        await asyncio.sleep(0.3)
        await js.add_stream(name="LATE", subjects=["late"], storage="memory")

    task = asyncio.get_running_loop().create_task(create_later())
    ack = await js.publish("late", b"x", retries=100, retry_wait=0.1)  # up to ~10 s for the stream
    await task
    assert ack.stream == "LATE" and ack.seq == 1


async def test_request_json_timeout_and_bad_reply(js: jetstream.JetStream, nc: protocol.Connection) -> None:
    # a responder that never answers -> JetStreamTimeoutError (also a builtin TimeoutError)
    sub = await nc.subscribe("$JS.API.SILENT")
    with pytest.raises(E.JetStreamTimeoutError):
        await js.request_json("$JS.API.SILENT", timeout=0.2)
    await sub.unsubscribe()

    async def bad(msg: protocol.Msg) -> None:
        await msg.respond(b"not json")

    await nc.subscribe("$JS.API.BAD", cb=bad)
    with pytest.raises(E.APIError):
        await js.request_json("$JS.API.BAD")


# --------------------------------------------------------------------------------------------------
# JetStream disabled, domain


async def test_jetstream_not_enabled(server_factory: Any) -> None:
    srv = server_factory(jetstream=False)
    nc = await protocol.connect(srv.url, allow_reconnect=False)
    try:
        js = jetstream.JetStream(nc, timeout=LONG_TIMEOUT)
        t0 = time.monotonic()
        with pytest.raises(E.JetStreamNotEnabledError):
            await js.account_info()
        with pytest.raises(E.JetStreamNotEnabledError):
            await js.add_stream(name="X", subjects=["x"])
        assert time.monotonic() - t0 < FAIL_WITHIN  # no-responders, not a timeout
        with pytest.raises(E.NoStreamResponseError):
            await js.publish("x", b"1", retries=0)
    finally:
        await nc.close()


async def test_domain(server_factory: Any, tmp_path: Path) -> None:
    store = tmp_path / "store"
    srv = server_factory(config=f'jetstream {{ store_dir: "{store}", domain: hub }}', jetstream=False)
    nc = await protocol.connect(srv.url, allow_reconnect=False)
    try:
        js = jetstream.JetStream(nc, domain="hub")
        assert js.prefix == "$JS.hub.API"
        ai = await js.account_info()
        assert ai.domain == "hub"
        info = await js.add_stream(name="HUB", subjects=["hub.>"], storage="memory", allow_direct=True)
        assert info.config.name == "HUB"  # (single servers leave StreamInfo.domain out)
        ack = await js.publish("hub.a", b"x")
        assert ack.domain == "hub" and ack.stream == "HUB"
        assert (await js.get_msg("HUB", 1)).data == b"x"
        assert (await js.direct_get("HUB", last_by_subj="hub.a")).seq == 1
        assert await js.stream_names() == ["HUB"]
        ci = await js.add_consumer("HUB", durable_name="c", ack_policy="explicit")
        assert ci.num_pending == 1
        # a domain nobody serves: no responders
        other = jetstream.JetStream(nc, domain="elsewhere", timeout=1.0)
        with pytest.raises(E.JetStreamNotEnabledError):
            await other.account_info()
        # a custom prefix that names the same API
        custom = jetstream.JetStream(nc, prefix="$JS.hub.API")
        assert (await custom.stream_info("HUB")).state.messages == 1
        with pytest.raises(E.InvalidArgumentError):
            jetstream.JetStream(nc, domain="hub", prefix="$JS.API")
    finally:
        await nc.close()
