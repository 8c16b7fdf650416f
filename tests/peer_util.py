"""The interop peers (``interop/go`` on nats.go, ``interop/node`` on @nats-io/obj) as seen by
the tests: where the built programs are, how one is run (asynchronously, so our client's event
loop keeps running), and what its JSON answer says.

A peer prints one JSON document per verb (``watch`` prints one line per event). Exit status 3
with ``{"unsupported": ...}`` means the peer's library lacks the feature: ``need()`` turns that
into an explicit xfail naming the peer and its version, so the matrix never skips silently.
Built by ``make interop`` (``interop/run.sh``); without the build the tests skip, saying so.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Optional

import pytest

import objstore

ROOT = Path(__file__).resolve().parent.parent
GO_PEER = ROOT / "interop" / "build" / "peer-go"
NODE_PEER = ROOT / "interop" / "node" / "peer.mjs"
NODE_MODULES = ROOT / "interop" / "node" / "node_modules" / "@nats-io" / "obj"
RUN_TIMEOUT = 40.0  # seconds a single peer invocation may take before the test fails
UNSUPPORTED = 3


def peer_argv(kind: str) -> Optional[list[str]]:
    """The command line of a built peer, or None when it is not built."""
    if kind == "go":
        return [str(GO_PEER)] if GO_PEER.is_file() and os.access(GO_PEER, os.X_OK) else None
    node = shutil.which("node")
    if node and NODE_MODULES.is_dir():
        return [node, str(NODE_PEER)]
    return None


def not_built_reason(kind: str) -> str:
    what = "interop/build/peer-go (needs Go)" if kind == "go" else "interop/node/node_modules (needs Node and npm)"
    return f"interop peer {kind!r} is not built: {what} is missing; `make interop` builds both peers and runs this matrix"


@dataclass
class Result:
    """One peer invocation: exit status, every JSON line, and the last one (the verb's answer)."""

    rc: int
    lines: list[dict[str, Any]] = field(default_factory=list)
    stderr: str = ""

    @property
    def doc(self) -> dict[str, Any]:
        return self.lines[-1] if self.lines else {}

    @property
    def ok(self) -> bool:
        return self.rc == 0 and self.doc.get("ok") is True

    @property
    def kind(self) -> str:
        return str(self.doc.get("kind", ""))

    @property
    def info(self) -> dict[str, Any]:
        return self.doc["info"]

    def __repr__(self) -> str:
        return f"Result(rc={self.rc}, lines={self.lines!r}, stderr={self.stderr[-500:]!r})"


def _parse(out: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]


class Peer:
    """One built peer against one server URL."""

    def __init__(self, kind: str, argv: list[str], url: str) -> None:
        self.kind = kind
        self.argv = argv
        self.url = url
        self.version = ""

    def __repr__(self) -> str:
        return f"<Peer {self.label}>"

    @property
    def label(self) -> str:
        client = "nats.go" if self.kind == "go" else "@nats-io/obj"
        return f"{client} {self.version}".strip()

    def _cmd(self, bucket: str, verb: str, args: tuple[Any, ...]) -> list[str]:
        return [*self.argv, self.url, bucket, verb, *(str(a) for a in args)]

    async def run(self, bucket: str, verb: str, *args: Any, stdin: Optional[bytes] = None) -> Result:
        proc = await asyncio.create_subprocess_exec(
            *self._cmd(bucket, verb, args),
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), RUN_TIMEOUT)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise AssertionError(f"{self.label}: {verb} {args} ran over {RUN_TIMEOUT}s") from None
        assert proc.returncode is not None
        return Result(proc.returncode, _parse(out), err.decode(errors="replace"))

    async def ok(self, bucket: str, verb: str, *args: Any, feature: str = "", stdin: Optional[bytes] = None) -> Result:
        """Run a verb that must succeed (an unsupported feature becomes an explicit xfail)."""
        res = await self.run(bucket, verb, *args, stdin=stdin)
        need(self, res, feature or verb)
        assert res.ok, f"{self.label} {verb} {args}: {res!r}"
        return res

    async def start_watch(self, bucket: str, *args: Any) -> "Watch":
        proc = await asyncio.create_subprocess_exec(
            *self._cmd(bucket, "watch", args), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        watch = Watch(self, proc)
        first = await watch.line()
        assert first.get("ready") is True, f"{self.label} watch did not start: {first!r}"
        return watch


class Watch:
    """A running ``peer ... watch``: its JSON lines, read one at a time."""

    def __init__(self, peer: Peer, proc: asyncio.subprocess.Process) -> None:
        self.peer = peer
        self.proc = proc

    async def line(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), RUN_TIMEOUT)
        if not raw:
            err = await self.proc.stderr.read() if self.proc.stderr else b""
            raise AssertionError(f"{self.peer.label} watch ended early: {err.decode(errors='replace')[-500:]}")
        return json.loads(raw)

    async def events(self) -> list[dict[str, Any]]:
        """Every event until the watch's final answer (which must be ok)."""
        events = []
        while True:
            doc = await self.line()
            if "event" in doc:
                events.append(doc["event"])
            elif "ok" in doc:
                assert doc["ok"] is True, f"{self.peer.label} watch: {doc!r}"
                await self.close()
                return events

    async def close(self) -> None:
        if self.proc.returncode is None:
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def need(peer: Peer, res: Result, feature: str) -> None:
    """An unsupported feature is an explicit expected failure naming the peer, never a skip."""
    if res.rc == UNSUPPORTED:
        pytest.xfail(f"{peer.label} lacks {res.doc.get('unsupported') or feature}")


async def version_of(kind: str, argv: list[str]) -> str:
    res = await Peer(kind, argv, "nats://127.0.0.1:1").run("-", "version")
    return str(res.doc.get("version", "?"))


# --- fixtures and helpers shared by the matrix modules (imported there) ---------------------------

_versions: dict[str, str] = {}
counter = iter(range(1, 1_000_000))


@pytest.fixture
def nats_url(interop_server: Any) -> str:
    return interop_server.url


@pytest.fixture(params=["go", "node"])
async def peer(request: Any) -> Peer:
    """The built peer (skips, naming what is missing, before any server is started)."""
    argv = peer_argv(request.param)
    if argv is None:
        pytest.skip(not_built_reason(request.param))
    if request.param not in _versions:
        _versions[request.param] = await version_of(request.param, argv)
    p = Peer(request.param, argv, request.getfixturevalue("nats_url"))
    p.version = _versions[request.param]
    return p


@pytest.fixture
async def store(js: objstore.JetStreamContext) -> AsyncIterator[objstore.ObjectStore]:
    name = f"ip{next(counter)}"
    yield await js.create_object_store(bucket=name)
    try:
        await js.delete_object_store(name)
    except objstore.BucketNotFoundError:
        pass


async def peer_get(peer: Peer, bucket: str, name: str, tmp_path: Path) -> bytes:
    out = tmp_path / f"get-{peer.kind}.bin"
    res = await peer.ok(bucket, "get", name, "--out", out)
    assert res.doc["bytes"] == out.stat().st_size
    return out.read_bytes()


async def peer_put(peer: Peer, bucket: str, name: str, data: bytes, tmp_path: Path, *args: Any) -> dict[str, Any]:
    src = tmp_path / "put.bin"
    src.write_bytes(data)
    return (await peer.ok(bucket, "put", name, "--file", src, *args, feature="put " + " ".join(map(str, args)))).info
