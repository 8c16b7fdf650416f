"""Wire trace (``protocol.trace``): frames in and out with direction, time, op, args and sizes;
CONNECT credentials redacted; ``connect(trace=...)``, ``$NATS_TRACE`` and the CLI's ``--trace``.

The end-to-end tests put and get an object on servers with user/password and token auth and
check the HPUB/HMSG sequence shows while no secret does.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import objstore
from protocol import encode_connect, encode_hpub, encode_pub
from protocol.frames import Err, Info, Msg
from protocol.trace import REDACTED, TraceRecorder, Tracer, make_tracer, redact_connect

from cli_util import ROOT, cli, cli_env

pytestmark = pytest.mark.timeout(60)

PASSWORD = "pw-Trace#s3cret"
TOKEN = "tok-Trace-secret"
USER_CONF = f'authorization {{ users: [ {{ user: alice, password: "{PASSWORD}" }} ] }}'
TOKEN_CONF = f'authorization {{ token: "{TOKEN}" }}'


def _collect(preview: int = 0) -> tuple[Tracer, list]:
    got: list = []
    return Tracer(got.append, preview=preview, clock=lambda: 0.0), got


def test_connect_credentials_redacted() -> None:
    fields = {"user": "alice", "pass": "p@ss", "auth_token": "tkn", "jwt": "eyJ.jwt", "sig": "c2ln", "nkey": "UABC", "lang": "python3"}
    tracer, got = _collect()
    tracer.outbound([encode_connect(fields)])
    (ev,) = got
    assert ev.op == "CONNECT" and ev.direction == "out"
    doc = json.loads(ev.args[0])
    assert doc["user"] == "alice" and doc["nkey"] == "UABC"  # not secrets
    assert all(doc[k] == REDACTED for k in ("pass", "auth_token", "jwt", "sig"))
    text = str(ev)
    for secret in ("p@ss", "tkn", "eyJ.jwt", "c2ln"):
        assert secret not in text
    assert redact_connect(b"{not json") == REDACTED


def test_outbound_parts_follow_the_outbox_layout() -> None:
    tracer, got = _collect(preview=4)
    hdr = b"NATS/1.0\r\nA: b\r\n\r\n"
    parts = [b"SUB x 1\r\n", *encode_pub("a.b", b"hello", "r.1"), *encode_hpub("c", hdr, b"xyz"), b"PING\r\n"]
    tracer.outbound(parts)
    assert [e.op for e in got] == ["SUB", "PUB", "HPUB", "PING"]
    pub, hpub = got[1], got[2]
    assert pub.args == ("a.b", "r.1", "5") and pub.size == 5 and pub.hdr == 0
    assert pub.preview == "68 65 6c 6c |hell|"
    assert hpub.args == ("c", str(len(hdr)), str(len(hdr) + 3)) and hpub.size == len(hdr) + 3 and hpub.hdr == len(hdr)
    assert ">> HPUB c 18 21  [21 B, headers 18 B]" in str(hpub)


def test_inbound_frames_described() -> None:
    tracer, got = _collect(preview=8)
    hdr = b"NATS/1.0 503\r\n\r\n"
    tracer.inbound([Info({"max_payload": 5}), Msg("s", 3, "", b"\x00\x01ab"), Msg("t", 4, "r", b"", hdr), Err("Bad")])
    assert [e.line() for e in got] == ['INFO {"max_payload":5}', "MSG s 3 4", f"HMSG t 4 r {len(hdr)} {len(hdr)}", "-ERR 'Bad'"]
    assert got[1].preview == "00 01 61 62 |..ab|"
    assert all(e.direction == "in" for e in got)


def test_failing_sink_stops_tracing(capsys) -> None:
    def sink(ev):
        raise RuntimeError("boom")

    tracer = Tracer(sink)
    tracer.outbound([b"PING\r\n"])
    tracer.outbound([b"PING\r\n"])
    assert capsys.readouterr().err.count("tracing stopped") == 1


def test_env_switch(monkeypatch) -> None:
    monkeypatch.delenv("NATS_TRACE", raising=False)
    assert make_tracer(None) is None
    for off in ("0", "false", "off", ""):
        monkeypatch.setenv("NATS_TRACE", off)
        assert make_tracer(None) is None
    monkeypatch.setenv("NATS_TRACE", "1")
    monkeypatch.setenv("NATS_TRACE_PREVIEW", "16")
    tracer = make_tracer(None)
    assert tracer is not None and tracer.preview == 16


def test_recorder_is_bounded() -> None:
    rec = TraceRecorder(maxlen=3)
    tracer = Tracer(rec)
    tracer.outbound([b"PING\r\n"] * 5)
    mark = rec.mark()
    tracer.outbound([b"PONG\r\n"])
    assert len(rec.events) == 3 and rec.total == 6
    assert [e.op for e in rec.since(mark)] == ["PONG"]


async def _put_get(url: str, **auth) -> list:
    rec = TraceRecorder()
    nc = await objstore.connect(url, trace=rec, **auth)
    try:
        store = await nc.jetstream().create_object_store(bucket="traced")
        await store.put("a.txt", b"x" * 3000, chunk_size=1024)
        assert await store.get("a.txt") == b"x" * 3000
    finally:
        await nc.close()
    return list(rec.events)


def _assert_sequence(events: list, secrets: tuple) -> None:
    ops = [(e.direction, e.op) for e in events]
    assert ops[0] == ("in", "INFO") and ops[1] == ("out", "CONNECT")
    chunks = [e for e in events if e.op in ("PUB", "HPUB") and e.args[0].startswith("$O.traced.C.")]
    metas = [e for e in events if e.op == "HPUB" and e.args[0].startswith("$O.traced.M.")]
    # Read back: the meta and the 3 chunks come as HMSG (direct get), each with its headers.
    hmsgs = [e for e in events if e.op == "HMSG" and e.size > e.hdr]
    assert len(chunks) == 3 and len(metas) == 1 and len(hmsgs) == 4, ops
    assert sum(e.size - e.hdr for e in chunks) == 3000  # chunks carry Nats-Msg-Id headers (carry-on over reconnects)
    assert ops.index(("out", "HPUB")) < ops.index(("in", "HMSG"))
    text = "\n".join(str(e) for e in events) + json.dumps([e.to_json() for e in events])
    for secret in secrets:
        assert secret not in text


async def test_traced_put_get_user_password(server_factory) -> None:
    srv = server_factory(USER_CONF)
    events = await _put_get(srv.url, user="alice", password=PASSWORD)
    _assert_sequence(events, (PASSWORD,))
    assert '"user":"alice"' in events[1].args[0]


async def test_traced_put_get_token(server_factory) -> None:
    srv = server_factory(TOKEN_CONF)
    events = await _put_get(f"nats://{TOKEN}@127.0.0.1:{srv.port}")
    _assert_sequence(events, (TOKEN,))


def test_cli_trace_flag(server_factory, tmp_path) -> None:
    srv = server_factory(USER_CONF)
    src = tmp_path / "f.bin"
    src.write_bytes(b"y" * 100)
    auth = ("--user", "alice", "--password", PASSWORD)
    assert cli("add", "tb", *auth, url=srv.url).returncode == 0
    res = cli("--trace", "put", "tb", str(src), *auth, url=srv.url)
    assert res.returncode == 0, res.stderr
    err = res.stderr.decode()
    assert ">> CONNECT " in err and ">> HPUB $O.tb.M." in err and PASSWORD not in err
    res = cli("get", "tb", "f.bin", "-o", str(tmp_path / "out.bin"), "--trace", *auth, url=srv.url)
    assert res.returncode == 0, res.stderr
    err = res.stderr.decode()
    assert "<< HMSG " in err and PASSWORD not in err


def test_env_trace_prints_to_stderr(server_factory) -> None:
    srv = server_factory(TOKEN_CONF, jetstream=False)
    code = (
        "import asyncio, protocol\n"
        "async def main():\n"
        f"    nc = await protocol.connect('{srv.url}', token='{TOKEN}')\n"
        "    await nc.publish('a.b', b'hi', headers={'K': 'v'})\n"
        "    await nc.flush()\n"
        "    await nc.close()\n"
        "asyncio.run(main())\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30, cwd=ROOT,
                         env=cli_env(NATS_TRACE="1", NATS_TRACE_PREVIEW="32"))
    assert res.returncode == 0, res.stderr
    err = res.stderr.decode()
    assert "<< INFO " in err and ">> HPUB a.b" in err and "<< PONG" in err and "|hi|" not in err
    assert "|NATS/1.0..K: v....hi|" in err
    assert TOKEN not in err
