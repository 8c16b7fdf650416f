"""The ``jetstream`` conformance group (found by ``protocol.conformance.runner`` by module name).

Rule: this module owns the JetStream checks: API level, stream create/info/delete, publish acks,
the ACK reply subject layouts (9-token v1 and 12-token v2, both accepted, fields checked), direct
get and batch direct get (when the server announces API level 1+), and ordered push consumer
heartbeats and flow control. Requests are raw JSON over a traced connection, built with this
package's subject builders and read with its ACK parser, so the evidence shows every frame.
Every check works on a scratch memory stream it deletes again.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Optional

from protocol import Connection, Msg, NatsTimeoutError, NoRespondersError
from protocol.conformance import CheckFailed, Context, Group
from protocol.wire import STATUS_CONTROL, STATUS_EOB, STATUS_NO_MESSAGES

from . import subjects as subj
from .ack import AckMetadata
from .errors import InvalidAckSubjectError

__all__ = ["GROUP", "GROUPS", "api", "jetstream_available", "scratch_stream"]

PREFIX = subj.DEFAULT_API_PREFIX
STREAM_NOT_FOUND = 10059


NO_RESPONDERS_GRACE = 3.0  # seconds a fresh stream's subjects may take to be routed (cluster)

async def jetstream_available(ctx: Context) -> Optional[str]:
    nc = await ctx.connect()
    try:
        await nc.request(subj.account_info(PREFIX), b"", timeout=5.0)
    except NoRespondersError:
        return "JetStream is not enabled for this account (no responders on $JS.API.INFO)"
    return None


GROUP = Group("jetstream", "API level, streams, publish acks, ACK subjects, direct get, ordered consumers", jetstream_available)
GROUPS = [GROUP]
check = GROUP.check


async def api(nc: Connection, subject: str, body: Any = None, *, expect_error: bool = False) -> dict[str, Any]:
    """One API request; CheckFailed on no reply, bad JSON, or an error reply (unless expected)."""
    payload = b"" if body is None else json.dumps(body).encode()
    try:
        msg = await nc.request(subject, payload, timeout=5.0)
    except NoRespondersError:
        raise CheckFailed(f"no responders for {subject}") from None
    except NatsTimeoutError:
        raise CheckFailed(f"no reply to {subject} within 5s") from None
    try:
        doc = json.loads(msg.data)
    except ValueError:
        raise CheckFailed(f"reply to {subject} is not JSON: {msg.data[:60]!r}") from None
    if not isinstance(doc, dict):
        raise CheckFailed(f"reply to {subject} is not a JSON object")
    if "error" in doc and not expect_error:
        raise CheckFailed(f"{subject} answered error {doc['error']}")
    return doc


async def scratch_stream(ctx: Context, nc: Connection, **config: Any) -> tuple[str, str]:
    """A memory stream on ``<name>.>``, deleted after the check; returns (name, subject prefix)."""
    name = ctx.unique("CONFORMANCE")
    cfg = {"name": name, "subjects": [f"{name}.>"], "storage": "memory", "num_replicas": 1, **config}
    await api(nc, subj.stream_create(PREFIX, name), cfg)

    async def delete() -> None:
        await nc.request(subj.stream_delete(PREFIX, name), b"", timeout=5.0)

    ctx.on_cleanup(delete)
    return name, name


async def _publish(nc: Connection, subject: str, data: bytes, headers: Optional[dict] = None) -> dict[str, Any]:
    # In a cluster a stream just created may be placed on another node whose interest in its
    # subjects has not reached this one yet: a "no responders" stores nothing, so it is retried
    # for up to NO_RESPONDERS_GRACE seconds before it counts as a failure.
    deadline = time.monotonic() + NO_RESPONDERS_GRACE
    while True:
        try:
            msg = await nc.request(subject, data, timeout=5.0, headers=headers)
            break
        except NoRespondersError:
            if time.monotonic() >= deadline:
                raise CheckFailed(f"publish to {subject}: no stream answered (503)") from None
            await asyncio.sleep(0.05)
        except NatsTimeoutError:
            raise CheckFailed(f"publish to {subject}: no ack within 5s") from None
    try:
        return json.loads(msg.data)
    except ValueError:
        raise CheckFailed(f"publish ack is not JSON: {msg.data[:60]!r}") from None


@check("api-level", "$JS.API.INFO answers an account_info_response; its api.level matches INFO api_lvl")
async def api_level(ctx: Context) -> str:
    nc = await ctx.connect()
    doc = await api(nc, subj.account_info(PREFIX))
    ctx.expect(doc.get("type") == "io.nats.jetstream.api.v1.account_info_response", f"account info type is {doc.get('type')!r}")
    for key in ("memory", "storage", "streams", "consumers"):
        ctx.expect(type(doc.get(key)) is int, f"account info {key} is {doc.get(key)!r}, expected an integer")
    level = (doc.get("api") or {}).get("level")
    announced = ctx.info.get("api_lvl")
    if announced is not None:
        ctx.expect(level == announced, f"account info api.level {level!r} differs from INFO api_lvl {announced!r}")
    return f"API level {level}"


@check("stream-crud", "stream create, info and delete; info of a deleted stream is error 10059")
async def stream_crud(ctx: Context) -> None:
    nc = await ctx.connect()
    name = ctx.unique("CONFORMANCE")
    cfg = {"name": name, "subjects": [f"{name}.a"], "storage": "memory", "num_replicas": 1}
    created = await api(nc, subj.stream_create(PREFIX, name), cfg)
    ctx.expect(created.get("type") == "io.nats.jetstream.api.v1.stream_create_response", f"create reply type {created.get('type')!r}")
    ctx.expect(created.get("config", {}).get("name") == name, f"created stream is named {created.get('config', {}).get('name')!r}")
    ctx.expect(created.get("state", {}).get("messages") == 0, "a new stream does not report 0 messages")
    info = await api(nc, subj.stream_info(PREFIX, name))
    ctx.expect(info.get("config", {}).get("subjects") == [f"{name}.a"], f"stream info subjects {info.get('config', {}).get('subjects')}")
    deleted = await api(nc, subj.stream_delete(PREFIX, name))
    ctx.expect(deleted.get("success") is True, f"delete reply {deleted}")
    gone = await api(nc, subj.stream_info(PREFIX, name), expect_error=True)
    err = gone.get("error") or {}
    ctx.expect(err.get("err_code") == STREAM_NOT_FOUND and err.get("code") == 404,
               f"info of a deleted stream: expected code 404 err_code {STREAM_NOT_FOUND}, got {err or gone}")


@check("publish-ack", "a publish is acked with the stream name and the next sequence; Nats-Msg-Id dedupes")
async def publish_ack(ctx: Context) -> None:
    nc = await ctx.connect()
    name, base = await scratch_stream(ctx, nc)
    for seq in (1, 2, 3):
        ack = await _publish(nc, f"{base}.x", b"m%d" % seq, headers={"Nats-Msg-Id": f"id-{seq}"})
        ctx.expect("error" not in ack, f"publish answered error {ack.get('error')}")
        ctx.expect(ack.get("stream") == name, f"ack names stream {ack.get('stream')!r}, expected {name!r}")
        ctx.expect(ack.get("seq") == seq, f"ack seq {ack.get('seq')!r}, expected {seq}")
        ctx.expect(not ack.get("duplicate"), f"ack of a new message id says duplicate: {ack}")
    dup = await _publish(nc, f"{base}.x", b"again", headers={"Nats-Msg-Id": "id-2"})
    ctx.expect(dup.get("duplicate") is True and dup.get("seq") == 2, f"a repeated Nats-Msg-Id was acked as {dup}")
    ctx.expect(dup.get("stream") == name, f"duplicate ack names stream {dup.get('stream')!r}, expected {name!r}")


@check("ack-subjects", "delivered messages carry a $JS.ACK reply (v1 9 tokens or v2 12) with consistent fields")
async def ack_subjects(ctx: Context) -> str:
    nc = await ctx.connect()
    name, base = await scratch_stream(ctx, nc)
    for i in range(3):
        await _publish(nc, f"{base}.x", b"%d" % i)
    durable = "conf"
    await api(nc, subj.consumer_create(PREFIX, name, durable),
              {"stream_name": name, "config": {"durable_name": durable, "ack_policy": "explicit", "deliver_policy": "all"}})
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    await nc.publish(subj.consumer_msg_next(PREFIX, name, durable), json.dumps({"batch": 3, "expires": 2_000_000_000}).encode(), reply=inbox)
    layouts = set()
    for i in range(1, 4):
        try:
            msg = await sub.next_msg(timeout=5.0)
        except NatsTimeoutError:
            raise CheckFailed(f"pull of 3 delivered {i - 1}") from None
        try:
            meta = AckMetadata.from_reply(msg.reply)
        except InvalidAckSubjectError as err:
            raise CheckFailed(f"delivered message has no valid ACK reply: {err}") from None
        layouts.add("v2 (12 tokens)" if len(msg.reply.split(".")) >= 11 else "v1 (9 tokens)")
        got = (meta.stream, meta.consumer, meta.stream_seq, meta.consumer_seq, meta.num_delivered, meta.num_pending)
        ctx.expect(got == (name, durable, i, i, 1, 3 - i), f"ACK subject fields {got}, expected {(name, durable, i, i, 1, 3 - i)}")
        ctx.expect(meta.timestamp_ns > 0, "ACK subject timestamp is 0")
        await nc.publish(msg.reply, b"+ACK")
    await sub.unsubscribe()
    return ", ".join(sorted(layouts))


def _direct_headers(ctx: Context, msg: Msg, name: str, seq: int, subject: str) -> None:
    ctx.expect(not msg.status, f"direct get answered status {msg.status} {msg.description!r}")
    h = msg.headers
    ctx.expect(h is not None, "direct get reply has no headers")
    got = (h.get("Nats-Stream"), h.get("Nats-Sequence"), h.get("Nats-Subject"))  # type: ignore[union-attr]
    ctx.expect(got == (name, str(seq), subject), f"direct get headers Nats-Stream/Sequence/Subject {got}, expected {(name, str(seq), subject)}")
    ctx.expect(bool(h.get("Nats-Time-Stamp")), "direct get reply has no Nats-Time-Stamp")  # type: ignore[union-attr]


@check("direct-get", "direct get by sequence and by last subject returns the message with its Nats-* headers; 404 when absent")
async def direct_get(ctx: Context) -> None:
    nc = await ctx.connect()
    name, base = await scratch_stream(ctx, nc, allow_direct=True)
    await _publish(nc, f"{base}.a", b"one")
    await _publish(nc, f"{base}.b", b"two")
    msg = await nc.request(subj.direct_get(PREFIX, name), json.dumps({"seq": 2}).encode(), timeout=5.0)
    _direct_headers(ctx, msg, name, 2, f"{base}.b")
    ctx.expect(msg.data == b"two", f"direct get seq 2 payload {msg.data!r}")
    msg = await nc.request(subj.direct_get_last(PREFIX, name, f"{base}.a"), b"", timeout=5.0)
    _direct_headers(ctx, msg, name, 1, f"{base}.a")
    msg = await nc.request(subj.direct_get(PREFIX, name), json.dumps({"seq": 99}).encode(), timeout=5.0)
    ctx.expect(msg.status == STATUS_NO_MESSAGES, f"direct get of a missing sequence: status {msg.status!r}, expected 404")


@check("batch-direct-get", "batch direct get (API level 1+) returns the batch then a 204 EOB marker")
async def batch_direct_get(ctx: Context) -> str:
    nc = await ctx.connect()
    level = ctx.info.get("api_lvl")
    if not isinstance(level, int) or level < 1:
        ctx.skip("the server announces no API level >= 1 (batch direct get needs 2.11+)")
    name, base = await scratch_stream(ctx, nc, allow_direct=True)
    for i in range(5):
        await _publish(nc, f"{base}.x", b"%d" % i)
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    await nc.publish(subj.direct_get(PREFIX, name), json.dumps({"seq": 2, "batch": 3}).encode(), reply=inbox)
    got = []
    while True:
        try:
            msg = await sub.next_msg(timeout=5.0)
        except NatsTimeoutError:
            raise CheckFailed(f"batch of 3 from seq 2: {len(got)} messages and no EOB within 5s") from None
        if msg.status == STATUS_EOB:
            break
        _direct_headers(ctx, msg, name, 2 + len(got), f"{base}.x")
        got.append(msg.data)
        ctx.expect(len(got) <= 3, "batch direct get sent more than the batch size")
    ctx.expect(got == [b"1", b"2", b"3"], f"batch payloads {got}, expected [b'1', b'2', b'3']")
    return f"EOB after {len(got)}"


@check("ordered-consumer", "an ordered push consumer delivers in order, sends idle heartbeats and flow control requests", timeout=30.0)
async def ordered_consumer(ctx: Context) -> str:
    nc = await ctx.connect()
    name, base = await scratch_stream(ctx, nc)
    big = b"z" * (256 * 1024)
    count = 24  # 6 MiB: more than the server lets pend without a flow control request
    for i in range(count):
        await _publish(nc, f"{base}.x", big)
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    cfg = {"deliver_subject": inbox, "deliver_policy": "all", "ack_policy": "none", "max_deliver": 1,
           "flow_control": True, "idle_heartbeat": 500_000_000, "mem_storage": True, "num_replicas": 1}
    await api(nc, subj.consumer_create_legacy(PREFIX, name), {"stream_name": name, "config": cfg})
    seqs: list[int] = []
    fc = hb = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20.0
    while (len(seqs) < count or hb == 0) and loop.time() < deadline:
        try:
            msg = await sub.next_msg(timeout=max(0.1, deadline - loop.time()))
        except NatsTimeoutError:
            break
        if msg.status == STATUS_CONTROL:
            if msg.reply:
                ctx.expect(msg.reply.startswith(subj.FC_PREFIX), f"status 100 with reply {msg.reply!r} (flow control replies are $JS.FC.)")
                fc += 1
                await nc.publish(msg.reply, b"")
            else:
                ctx.expect(msg.description == "Idle Heartbeat", f"status 100 without reply: {msg.description!r}")
                h = msg.headers
                ctx.expect(h is not None and h.get("Nats-Last-Consumer") is not None, "idle heartbeat without Nats-Last-Consumer")
                hb += 1
            continue
        ctx.expect(not msg.status, f"unexpected status {msg.status} {msg.description!r}")
        meta = AckMetadata.from_reply(msg.reply)
        seqs.append(meta.stream_seq)
    ctx.expect(seqs == list(range(1, count + 1)), f"delivered stream sequences {seqs[:8]}... ({len(seqs)}), expected 1..{count} in order")
    ctx.expect(hb > 0, "no idle heartbeat within 20s (idle_heartbeat 0.5s)")
    ctx.expect(fc > 0, f"no flow control request for {count * len(big) >> 20} MiB pending")
    return f"{fc} flow control requests, {hb} heartbeats"
