"""jetstream.models against JSON shaped like real nats-server 2.15 replies.

The fixtures below were captured from nats-server v2.15.1 (object-store bucket ``b`` created with the
config nats.go sends), then given a few invented keys (``allow_future_widgets``, ``future_limit``,
``future_top``) that must survive read-modify-write.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from jetstream.errors import CodecError
from jetstream.models import (
    AccountInfo,
    AckPolicy,
    ConsumerConfig,
    ConsumerInfo,
    DeliverPolicy,
    DiscardPolicy,
    MsgGetRequest,
    Placement,
    PubAck,
    PurgeRequest,
    PurgeResponse,
    ReplayPolicy,
    RetentionPolicy,
    StorageType,
    StoreCompression,
    StoredMsg,
    StreamConfig,
    StreamInfo,
    StreamSource,
)

UTC = timezone.utc

STREAM_INFO_REPLY: dict[str, Any] = {
    "type": "io.nats.jetstream.api.v1.stream_info_response",
    "total": 0,
    "offset": 0,
    "limit": 0,
    "config": {
        "name": "OBJ_b",
        "description": "bucket b",
        "subjects": ["$O.b.C.>", "$O.b.M.>"],
        "retention": "limits",
        "max_consumers": -1,
        "max_msgs": -1,
        "max_bytes": -1,
        "max_age": 0,
        "max_msgs_per_subject": -1,
        "max_msg_size": -1,
        "discard": "new",
        "storage": "file",
        "num_replicas": 1,
        "duplicate_window": 120000000000,
        "compression": "none",
        "allow_direct": True,
        "mirror_direct": False,
        "sealed": False,
        "deny_delete": False,
        "deny_purge": False,
        "allow_rollup_hdrs": True,
        "consumer_limits": {"future_limit": 7},
        "allow_msg_ttl": False,
        "metadata": {
            "_nats.level": "5",
            "_nats.req.level": "0",
            "_nats.ver": "2.15.1",
            "owner": "team-a",
        },
        "allow_future_widgets": {"mode": "fast", "levels": [1, 2]},
    },
    "created": "2026-11-25T01:25:08.222461727Z",
    "state": {
        "messages": 2,
        "bytes": 164,
        "first_seq": 1,
        "first_ts": "2026-11-25T01:25:10.733363806Z",
        "last_seq": 2,
        "last_ts": "2026-11-25T01:25:10.734290556Z",
        "num_subjects": 2,
        "consumer_count": 0,
    },
    "cluster": {"leader": "NBTJJ3A2LPIVYX5ONRKY66D46K4C24SROJDTKDTMAJU4BLVYD7GXKDAA"},
    "ts": "2026-11-25T01:25:10.734717112Z",
    "future_top": True,
}

CONSUMER_CREATE_REPLY: dict[str, Any] = {
    "type": "io.nats.jetstream.api.v1.consumer_create_response",
    "stream_name": "OBJ_b",
    "name": "oc1",
    "created": "2026-11-25T01:25:10.736336617Z",
    "config": {
        "name": "oc1",
        "deliver_policy": "all",
        "ack_policy": "none",
        "ack_wait": 79200000000000,
        "max_deliver": 1,
        "filter_subject": "$O.b.C.>",
        "replay_policy": "instant",
        "flow_control": True,
        "deliver_subject": "_INBOX.y",
        "idle_heartbeat": 5000000000,
        "inactive_threshold": 5000000000,
        "num_replicas": 1,
        "mem_storage": True,
        "metadata": {"_nats.level": "5", "_nats.req.level": "0", "_nats.ver": "2.15.1"},
    },
    "delivered": {"consumer_seq": 0, "stream_seq": 0},
    "ack_floor": {"consumer_seq": 0, "stream_seq": 0},
    "num_ack_pending": 0,
    "num_redelivered": 0,
    "num_waiting": 0,
    "num_pending": 1,
    "ts": "2026-11-25T01:25:10.736519622Z",
}

MSG_GET_REPLY: dict[str, Any] = {
    "type": "io.nats.jetstream.api.v1.stream_msg_get_response",
    "message": {
        "subject": "$O.b.M.abc",
        "seq": 2,
        "hdrs": "TkFUUy8xLjANCk5hdHMtUm9sbHVwOiBzdWINCg0K",
        "data": "eyJuYW1lIjoiYSJ9",
        "time": "2026-11-25T01:25:10.734290556Z",
    },
}

ACCOUNT_INFO_REPLY: dict[str, Any] = {
    "type": "io.nats.jetstream.api.v1.account_info_response",
    "memory": 0,
    "storage": 164,
    "reserved_memory": 0,
    "reserved_storage": 0,
    "streams": 1,
    "consumers": 1,
    "limits": {
        "max_memory": -1,
        "max_storage": -1,
        "max_streams": -1,
        "max_consumers": -1,
        "max_ack_pending": -1,
        "memory_max_stream_bytes": -1,
        "storage_max_stream_bytes": -1,
        "max_bytes_required": False,
    },
    "api": {"level": 5, "total": 7, "errors": 3},
}


def _no_nulls(obj: Any) -> bool:
    if obj is None:
        return False
    if isinstance(obj, dict):
        return all(_no_nulls(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_no_nulls(v) for v in obj)
    return True


# --- StreamInfo / StreamConfig -----------------------------------------------------------------


def test_stream_info_decodes_a_real_reply() -> None:
    info = StreamInfo.from_json(STREAM_INFO_REPLY)
    cfg = info.config
    assert cfg.name == "OBJ_b"
    assert cfg.subjects == ["$O.b.C.>", "$O.b.M.>"]
    assert cfg.retention is RetentionPolicy.LIMITS
    assert cfg.discard is DiscardPolicy.NEW
    assert cfg.storage is StorageType.FILE
    assert cfg.compression is StoreCompression.NONE
    assert cfg.allow_rollup_hdrs is True and cfg.allow_direct is True
    assert cfg.max_age == 0.0
    assert cfg.duplicate_window == 120.0
    assert cfg.metadata["_nats.ver"] == "2.15.1"
    assert cfg.consumer_limits is not None and cfg.consumer_limits._extra == {"future_limit": 7}
    assert info.created == datetime(2026, 11, 25, 1, 25, 8, 222461, tzinfo=UTC)
    assert info.state.messages == 2 and info.state.bytes == 164 and info.state.num_subjects == 2
    assert info.state.last_ts == datetime(2026, 11, 25, 1, 25, 10, 734290, tzinfo=UTC)
    assert info.cluster is not None and info.cluster.leader.startswith("NBTJJ")
    assert info._extra["future_top"] is True
    assert info._extra["type"] == "io.nats.jetstream.api.v1.stream_info_response"


def test_stream_config_round_trips_exactly() -> None:
    original = STREAM_INFO_REPLY["config"]
    assert StreamConfig.from_json(original).to_json() == original


def test_stream_info_round_trips_except_time_precision() -> None:
    out = StreamInfo.from_json(STREAM_INFO_REPLY).to_json()
    assert out["config"] == STREAM_INFO_REPLY["config"]
    assert out["future_top"] is True
    assert out["created"] == "2026-11-25T01:25:08.222461Z"  # datetime keeps microseconds


def test_read_modify_write_keeps_unknown_keys() -> None:
    cfg = StreamInfo.from_json(STREAM_INFO_REPLY).config
    updated = dataclasses.replace(cfg, max_bytes=1 << 30, description="new")
    out = updated.to_json()
    assert out["max_bytes"] == 1 << 30 and out["description"] == "new"
    assert out["allow_future_widgets"] == {"mode": "fast", "levels": [1, 2]}
    assert out["consumer_limits"] == {"future_limit": 7}
    # unknown keys do not affect equality or repr
    assert updated != cfg
    assert dataclasses.replace(updated, max_bytes=-1, description="bucket b") == cfg
    assert "allow_future_widgets" not in repr(cfg)


def test_from_json_does_not_mutate_the_reply() -> None:
    snapshot = copy.deepcopy(STREAM_INFO_REPLY)
    info = StreamInfo.from_json(STREAM_INFO_REPLY)
    info.config.subjects.append("x")
    info.config.metadata["x"] = "y"
    info.config._extra["allow_future_widgets"]["levels"].append(3)
    assert STREAM_INFO_REPLY == snapshot


def test_new_object_store_config_wire_shape() -> None:
    cfg = StreamConfig(
        name="OBJ_b",
        description="bucket b",
        subjects=["$O.b.C.>", "$O.b.M.>"],
        max_age=timedelta(hours=1),  # type: ignore[arg-type]
        max_bytes=-1,
        storage=StorageType.FILE,
        num_replicas=1,
        discard=DiscardPolicy.NEW,
        allow_rollup_hdrs=True,
        allow_direct=True,
        compression=StoreCompression.S2,
        placement=Placement(cluster="c1", tags=["ssd"]),
        metadata={"owner": "me"},
    )
    out = cfg.to_json()
    assert out == {
        "name": "OBJ_b",
        "description": "bucket b",
        "subjects": ["$O.b.C.>", "$O.b.M.>"],
        "max_bytes": -1,
        "max_age": 3_600_000_000_000,
        "discard": "new",
        "storage": "file",
        "num_replicas": 1,
        "placement": {"cluster": "c1", "tags": ["ssd"]},
        "compression": "s2",
        "allow_direct": True,
        "allow_rollup_hdrs": True,
        "metadata": {"owner": "me"},
    }
    assert json.loads(json.dumps(out)) == out


def test_enums_are_never_null_and_compression_never_empty() -> None:
    assert StreamConfig(name="s").to_json() == {"name": "s"}
    cfg = StreamConfig(name="s", compression="", retention=None, storage="memory")  # type: ignore[arg-type]
    out = cfg.to_json()
    assert out == {"name": "s", "storage": "memory"}
    assert "null" not in json.dumps(out)
    read = StreamConfig.from_json({"name": "s", "compression": "", "discard": None})
    assert read.compression is None and read.discard is None
    assert read.to_json() == {"name": "s"}
    info_out = StreamInfo.from_json(STREAM_INFO_REPLY).to_json()
    assert _no_nulls(info_out)
    assert _no_nulls(ConsumerInfo.from_json(CONSUMER_CREATE_REPLY).to_json())


def test_str_enums_compare_to_wire_strings() -> None:
    cfg = StreamConfig.from_json({"name": "s", "storage": "memory", "retention": "workqueue"})
    assert cfg.storage == "memory" and cfg.retention is RetentionPolicy.WORK_QUEUE


def test_stream_config_requires_name() -> None:
    with pytest.raises(CodecError, match="name"):
        StreamConfig.from_json({"subjects": ["a"]})


def test_mirror_sources_cluster_replicas() -> None:
    reply = copy.deepcopy(STREAM_INFO_REPLY)
    reply["config"]["sources"] = [
        {
            "name": "SRC",
            "opt_start_time": "2024-01-01T00:00:00Z",
            "filter_subject": "a.>",
            "subject_transforms": [{"src": "a.>", "dest": "b.>"}],
            "external": {"api": "$JS.hub.API", "deliver": ""},
        }
    ]
    reply["cluster"] = {
        "name": "C1",
        "leader": "n1",
        "leader_since": "2026-11-25T01:25:08.1Z",
        "replicas": [{"name": "n2", "current": True, "active": 12_500_000, "lag": 3, "peer": "abc"}],
    }
    reply["sources"] = [{"name": "SRC", "lag": 0, "active": -1, "error": {"code": 500, "description": "x"}}]
    info = StreamInfo.from_json(reply)
    src = info.config.sources[0]
    assert isinstance(src, StreamSource)
    assert src.opt_start_time == datetime(2024, 1, 1, tzinfo=UTC)
    assert src.subject_transforms[0].dest == "b.>"
    assert src.external.api == "$JS.hub.API"
    assert info.cluster.leader_since == datetime(2026, 11, 25, 1, 25, 8, 100000, tzinfo=UTC)
    assert info.cluster.replicas[0].active == 0.0125 and info.cluster.replicas[0].lag == 3
    assert info.sources[0].active == -1e-9 and info.sources[0].error["code"] == 500
    assert StreamConfig.from_json(reply["config"]).to_json() == reply["config"]


def test_go_zero_times_in_empty_stream_state() -> None:
    info = StreamInfo.from_json(
        {
            "config": {"name": "S"},
            "state": {
                "messages": 0,
                "bytes": 0,
                "first_seq": 0,
                "first_ts": "0001-01-01T00:00:00Z",
                "last_seq": 0,
                "last_ts": "0001-01-01T00:00:00Z",
                "consumer_count": 0,
            },
            "did_create": True,
        }
    )
    assert info.state.first_ts == datetime(1, 1, 1, tzinfo=UTC)
    assert info.did_create is True
    assert info.state.to_json()["first_ts"] == "0001-01-01T00:00:00Z"


# --- consumers ---------------------------------------------------------------------------------


def test_consumer_info_from_real_reply() -> None:
    ci = ConsumerInfo.from_json(CONSUMER_CREATE_REPLY)
    assert ci.stream_name == "OBJ_b" and ci.name == "oc1" and ci.num_pending == 1
    cfg = ci.config
    assert cfg.deliver_policy is DeliverPolicy.ALL
    assert cfg.ack_policy is AckPolicy.NONE
    assert cfg.replay_policy is ReplayPolicy.INSTANT
    assert cfg.ack_wait == 79200.0 and cfg.idle_heartbeat == 5.0
    assert ci.delivered.stream_seq == 0 and ci.ack_floor.consumer_seq == 0
    assert cfg.to_json() == CONSUMER_CREATE_REPLY["config"]


def test_ordered_consumer_config_wire_shape() -> None:
    cfg = ConsumerConfig(
        deliver_subject="_INBOX.abc",
        filter_subject="$O.b.C.nuid",
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=42,
        ack_policy=AckPolicy.NONE,
        max_deliver=1,
        flow_control=True,
        idle_heartbeat=5,
        ack_wait=timedelta(hours=22),  # type: ignore[arg-type]
        mem_storage=True,
        num_replicas=1,
        replay_policy=ReplayPolicy.INSTANT,
        backoff=[0.5, 1],
    )
    assert cfg.to_json() == {
        "deliver_policy": "by_start_sequence",
        "opt_start_seq": 42,
        "ack_policy": "none",
        "ack_wait": 79_200_000_000_000,
        "max_deliver": 1,
        "backoff": [500_000_000, 1_000_000_000],
        "filter_subject": "$O.b.C.nuid",
        "replay_policy": "instant",
        "flow_control": True,
        "deliver_subject": "_INBOX.abc",
        "idle_heartbeat": 5_000_000_000,
        "num_replicas": 1,
        "mem_storage": True,
    }


# --- PubAck ------------------------------------------------------------------------------------


def test_pub_ack() -> None:
    ack = PubAck.from_json({"stream": "OBJ_b", "seq": 1})
    assert (ack.stream, ack.seq, ack.domain, ack.duplicate) == ("OBJ_b", 1, None, None)
    dup = PubAck.from_json({"stream": "OBJ_b", "seq": 1, "duplicate": True, "domain": "hub"})
    assert dup.duplicate is True and dup.domain == "hub"
    newer = PubAck.from_json({"stream": "S", "seq": 9, "val": "3", "batch": "b1", "count": 2})
    assert newer._extra == {"val": "3"} and (newer.batch, newer.count) == ("b1", 2)
    assert newer.to_json() == {"stream": "S", "seq": 9, "val": "3", "batch": "b1", "count": 2}
    with pytest.raises(CodecError):
        PubAck.from_json({"error": {"code": 503}})


# --- StoredMsg ---------------------------------------------------------------------------------


def test_stored_msg_from_message() -> None:
    msg = StoredMsg.from_message(MSG_GET_REPLY["message"])
    assert msg.subject == "$O.b.M.abc" and msg.seq == 2
    assert msg.headers == b"NATS/1.0\r\nNats-Rollup: sub\r\n\r\n"
    assert msg.data == b'{"name":"a"}'
    assert msg.time == datetime(2026, 11, 25, 1, 25, 10, 734290, tzinfo=UTC)
    assert StoredMsg.from_response(MSG_GET_REPLY) == msg
    assert msg.to_json() == {**MSG_GET_REPLY["message"], "time": "2026-11-25T01:25:10.73429Z"}


def test_stored_msg_without_headers_or_data() -> None:
    msg = StoredMsg.from_message({"subject": "a", "seq": 1, "time": "2024-01-01T00:00:00Z"})
    assert msg.headers == b"" and msg.data == b""
    assert msg.to_json() == {"subject": "a", "seq": 1, "time": "2024-01-01T00:00:00Z"}


@pytest.mark.parametrize(
    "message",
    [
        {"subject": "a", "seq": 1, "data": "%%%"},
        {"subject": "a", "seq": 1, "hdrs": "abc"},  # bad padding
        {"subject": "a", "seq": 1, "time": "nope"},
        {"seq": 1},
    ],
)
def test_stored_msg_errors(message: dict) -> None:
    with pytest.raises(CodecError):
        StoredMsg.from_message(message)


def test_stored_msg_from_response_without_message() -> None:
    with pytest.raises(CodecError):
        StoredMsg.from_response({"type": "x"})


# --- account and small bodies ------------------------------------------------------------------


def test_account_info() -> None:
    info = AccountInfo.from_json(ACCOUNT_INFO_REPLY)
    assert info.storage == 164 and info.streams == 1
    assert info.limits.max_storage == -1 and info.limits.max_bytes_required is False
    assert info.api.level == 5 and info.api.errors == 3
    tiered = AccountInfo.from_json(
        {**ACCOUNT_INFO_REPLY, "domain": "hub", "tiers": {"R1": {"memory": 1, "streams": 2, "limits": {"max_streams": 3}}}}
    )
    assert tiered.domain == "hub"
    assert tiered.tiers["R1"].streams == 2 and tiered.tiers["R1"].limits.max_streams == 3


def test_small_bodies() -> None:
    assert PurgeRequest(filter="$O.b.C.x").to_json() == {"filter": "$O.b.C.x"}
    assert PurgeRequest().to_json() == {}
    resp = PurgeResponse.from_json({"type": "io.nats.jetstream.api.v1.stream_purge_response", "success": True, "purged": 1})
    assert resp.success is True and resp.purged == 1
    assert MsgGetRequest(last_by_subj="$O.b.M.abc").to_json() == {"last_by_subj": "$O.b.M.abc"}
    assert MsgGetRequest(seq=5, next_by_subj="a.>").to_json() == {"seq": 5, "next_by_subj": "a.>"}


def test_models_use_slots() -> None:
    cfg = StreamConfig(name="s")
    with pytest.raises(AttributeError):
        cfg.not_a_field = 1  # type: ignore[attr-defined]
    assert not hasattr(cfg, "__dict__")
