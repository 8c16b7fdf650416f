"""Resumable transfers (issue 12 point 3) against a real nats-server.

- In process: a put whose server is killed and restarted mid-way carries on after the reconnect,
  resending only the chunks without an ack (``Nats-Msg-Id``: the server drops duplicates).
- Across processes: a client process putting a 64 MiB file is killed with SIGKILL at about half
  way; ``put --resume`` (CLI) and ``put(..., resume=True)`` carry on from the stored chunks after
  verifying them against the file; the object is byte-identical. The same for ``get --resume``.
  Each prints how many bytes were sent twice (``-s`` shows the lines).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, AsyncIterator, Optional

import pytest

import objstore
from cli_util import ROOT, cli_cmd, cli_env  # tests/ is on sys.path via conftest
from objstore.download import download

pytestmark = pytest.mark.timeout(120)

CHUNK = 128 * 1024
BIG = 64 * 1024 * 1024
CHILD = str(Path(__file__).resolve().parent / "resume_child.py")
# Seconds per 4 MiB block the child reads: the rest of the put outlasts the parent's reaction.
SLOW_PUT = {"RESUME_CHILD_SLOW": "0.15"}


def write_random(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def chunk_counts(js: Any, bucket: str) -> dict[str, int]:
    info = await js.stream_info(f"OBJ_{bucket}", subjects_filter=f"$O.{bucket}.C.>")
    return dict(info.state.subjects or {})


def run_until_killed(args: list[str], kill_at: int, env: Optional[dict[str, str]] = None, timeout: float = 60) -> int:
    """Run the child; SIGKILL it once it reports ``kill_at`` bytes. Returns the bytes last reported."""
    proc = subprocess.Popen([sys.executable, CHILD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})}, cwd=ROOT)
    last = 0
    deadline = time.monotonic() + timeout
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(b"progress "):
                last = int(line.split()[1])
                if last >= kill_at:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
            assert b"done" not in line, "the child finished before it could be killed"
            assert time.monotonic() < deadline, "the child made no progress"
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr.read() if proc.stderr else b"")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return last


# In process: the connection is lost and comes back ---------------------------------------------
async def source_of(data: bytes, pause: float = 0.0) -> AsyncIterator[bytes]:
    for i in range(0, len(data), CHUNK):
        yield data[i : i + CHUNK]
        await asyncio.sleep(pause)


async def test_put_carries_on_after_the_server_restarts(server_factory: Any) -> None:
    srv = server_factory()
    nc = await objstore.connect(srv.url, reconnect_time_wait=0.25, max_reconnect_attempts=-1)
    try:
        js = nc.jetstream(timeout=2.0)
        store = await js.create_object_store(bucket="carry")
        data = os.urandom(300 * CHUNK)
        reached = asyncio.Event()

        def progress(done: int, total: Optional[int]) -> None:
            if done >= 4 * 1024 * 1024:
                reached.set()

        task = asyncio.get_running_loop().create_task(store.put("big", source_of(data), progress=progress))
        await asyncio.wait_for(reached.wait(), 30)
        assert not task.done()
        srv.kill()
        await asyncio.sleep(1.5)
        await asyncio.to_thread(srv.restart)
        info = await asyncio.wait_for(task, 90)
        assert nc.reconnects >= 1
        assert info.size == len(data) and info.chunks == 300
        assert sha(await store.get("big")) == sha(data)
        assert await chunk_counts(js, "carry") == {f"$O.carry.C.{info.nuid}": 300}  # no duplicate chunk
        t = info.transfer or {}
        print(f"\ncarry on after restart: resent {t['resent_bytes']} bytes ({t['resent_bytes'] // CHUNK} chunks), "
              f"{t['duplicate_chunks']} dropped by the server as duplicates")
    finally:
        await nc.close()


# Across processes: put ----------------------------------------------------------------------------
async def test_put_resume_after_sigkill(js: Any, nats_url: str, tmp_path: Path) -> None:
    store = await js.create_object_store(bucket="resumed")
    src = tmp_path / "big.bin"
    data = write_random(src, BIG)
    state = str(tmp_path / "state")
    run_until_killed(["put", nats_url, "resumed", str(src), "big.bin", state], kill_at=BIG // 2, env=SLOW_PUT)
    counts = await chunk_counts(js, "resumed")
    assert len(counts) == 1, counts  # the killed attempt's chunks, kept for the resume
    stored = next(iter(counts.values()))
    assert 0 < stored < BIG // CHUNK
    # The CLI carries on: same file, same name, same state directory.
    res = subprocess.run(cli_cmd(("--json", "put", "resumed", str(src), "--resume"), nats_url), capture_output=True,
                         timeout=120, env={**cli_env(), "NATSOBJ_RESUME_DIR": state}, cwd=ROOT)
    assert res.returncode == 0, res.stderr.decode()
    doc = json.loads(res.stdout)
    t = doc["transfer"]
    assert t["resumed_chunks"] >= stored - 1 and t["skipped_bytes"] == t["resumed_chunks"] * CHUNK
    assert t["sent_bytes"] == BIG - t["skipped_bytes"]
    assert sha(await store.get("big.bin")) == sha(data)
    info = await store.get_info("big.bin")
    assert info.size == BIG and info.chunks == BIG // CHUNK
    assert await chunk_counts(js, "resumed") == {f"$O.resumed.C.{info.nuid}": BIG // CHUNK}
    assert not any(Path(state).glob("*.json"))  # the state goes on success
    twice = t["sent_bytes"] + t["skipped_bytes"] - BIG + t["duplicate_chunks"] * CHUNK
    print(f"\nput resume after SIGKILL at {stored * CHUNK / BIG:.0%}: {t['skipped_bytes']} bytes kept, "
          f"{t['sent_bytes']} sent, {twice} bytes sent twice by the resume, {t['verified_bytes']} read back to verify")
    assert twice == 0


async def test_resume_state_is_discarded_when_the_file_changed(js: Any, nats_url: str, tmp_path: Path) -> None:
    store = await js.create_object_store(bucket="changed")
    src = tmp_path / "f.bin"
    write_random(src, 16 * 1024 * 1024)
    state = str(tmp_path / "state")
    run_until_killed(["put", nats_url, "changed", str(src), "f.bin", state], kill_at=4 * 1024 * 1024, env=SLOW_PUT)
    old = set(await chunk_counts(js, "changed"))
    data = write_random(src, 16 * 1024 * 1024)  # another file now (new mtime / content)
    with open(src, "rb") as f:
        info = await store.put("f.bin", f, resume=True, resume_dir=state)
    assert (info.transfer or {})["resumed_chunks"] == 0 and sha(await store.get("f.bin")) == sha(data)
    # The earlier attempt's state no longer matches the file: its chunks were purged.
    assert len(old) == 1 and set(await chunk_counts(js, "changed")) == {f"$O.changed.C.{info.nuid}"}


async def test_resume_of_a_finished_put_sends_nothing(js: Any, tmp_path: Path) -> None:
    store = await js.create_object_store(bucket="finished")
    src = tmp_path / "f.bin"
    data = write_random(src, 3 * CHUNK + 5)
    with open(src, "rb") as f:
        first = await store.put("f", f, resume=True, resume_dir=str(tmp_path))
    with open(src, "rb") as f:
        again = await store.put("f", f, resume=True, resume_dir=str(tmp_path))
    assert again.nuid != first.nuid and (again.transfer or {})["sent_bytes"] == len(data)  # state went on success
    with pytest.raises(objstore.UnsupportedSourceError):
        await store.put("g", b"bytes cannot be resumed", resume=True, resume_dir=str(tmp_path))


# Across processes: get ----------------------------------------------------------------------------
async def test_get_resume_after_sigkill(js: Any, nats_url: str, tmp_path: Path) -> None:
    store = await js.create_object_store(bucket="dl")
    data = os.urandom(BIG)
    await store.put("big", data)
    target = tmp_path / "out.bin"
    last = run_until_killed(["get", nats_url, "dl", "big", str(target)], kill_at=BIG // 2, env={"RESUME_CHILD_SLOW": "0.005"})
    part = Path(str(target) + ".part")
    assert part.exists() and not target.exists()
    kept = part.stat().st_size
    res = subprocess.run(cli_cmd(("--json", "get", "dl", "big", "-o", str(target), "--resume"), nats_url),
                         capture_output=True, timeout=120, env=cli_env(), cwd=ROOT)
    assert res.returncode == 0, res.stderr.decode()
    doc = json.loads(res.stdout)
    t = doc["transfer"]
    assert sha(target.read_bytes()) == sha(data) and not part.exists()
    assert t["resumed_bytes"] + t["received_bytes"] == BIG and t["resumed_bytes"] >= kept - CHUNK
    twice = last - t["resumed_bytes"] if last > t["resumed_bytes"] else 0
    print(f"\nget resume after SIGKILL at {kept / BIG:.0%}: {t['resumed_bytes']} bytes kept from the part file, "
          f"{t['received_bytes']} fetched, about {twice} bytes fetched twice (received before the kill, not kept)")


async def test_get_resume_of_a_replaced_object_starts_over(js: Any, tmp_path: Path) -> None:
    store = await js.create_object_store(bucket="dl2")
    await store.put("x", os.urandom(10 * CHUNK), chunk_size=CHUNK)
    target = str(tmp_path / "x.bin")
    Path(target + ".part").write_bytes(b"\0" * (4 * CHUNK))  # a stale part file ...
    Path(target + ".part.json").write_text("{}")  # ... of no known version
    new = os.urandom(10 * CHUNK)
    await store.put("x", new, chunk_size=CHUNK)
    info = await download(store, "x", target, resume=True)
    assert (info.transfer or {})["resumed_bytes"] == 0 and Path(target).read_bytes() == new
    # A part file of the right version but wrong bytes: caught by the final digest, removed.
    Path(target + ".part").write_bytes(b"\0" * (4 * CHUNK))
    await download(store, "x", target + "2", resume=True)  # writes its own state
    Path(target + "2.part").write_bytes(b"\0" * (4 * CHUNK))
    Path(target + "2").unlink()
    json_state = Path(target + "2.part.json")
    json_state.write_text(json.dumps({"version": 1, "bucket": "dl2", "name": "x", "nuid": info.nuid, "digest": info.digest,
                                      "size": info.size, "chunk_size": info.chunk_size}))
    with pytest.raises(objstore.DigestMismatchError):
        await download(store, "x", target + "2", resume=True)
    assert not Path(target + "2.part").exists() and not json_state.exists()


async def test_a_failed_resumable_put_keeps_its_chunks_for_the_next(server_factory: Any, tmp_path: Path) -> None:
    """resume=True and a put that fails (the server dies, no carrying on): its chunks and state
    stay, and the next resume=True put sends only the rest."""
    from resume_child import SlowFile

    srv = server_factory()
    nc = await objstore.connect(srv.url, reconnect_time_wait=0.25, max_reconnect_attempts=-1)
    try:
        js = nc.jetstream(timeout=1.0)
        store = await js.create_object_store(bucket="failkeep")
        store.reconnect_wait = 0
        src = tmp_path / "f.bin"
        data = write_random(src, 24 * 1024 * 1024)
        reached = asyncio.Event()

        def progress(done: int, total: Optional[int]) -> None:
            if done >= 8 * 1024 * 1024:
                reached.set()

        async def put() -> Any:
            with SlowFile(str(src), "rb") as f:
                return await store.put("f", f, resume=True, resume_dir=str(tmp_path), progress=progress)

        task = asyncio.get_running_loop().create_task(put())
        await asyncio.wait_for(reached.wait(), 30)
        srv.kill()
        done, _ = await asyncio.wait({task}, timeout=30)
        assert done and task.exception() is not None
        await asyncio.to_thread(srv.restart)
        await asyncio.wait_for(nc.flush(), 10)
        assert len(await chunk_counts(js, "failkeep")) == 1  # kept, not purged
        with open(src, "rb") as f:
            info = await store.put("f", f, resume=True, resume_dir=str(tmp_path))
        t = info.transfer or {}
        assert t["resumed_chunks"] > 0 and t["sent_bytes"] + t["skipped_bytes"] == len(data)
        assert sha(await store.get("f")) == sha(data)
        assert await chunk_counts(js, "failkeep") == {f"$O.failkeep.C.{info.nuid}": info.chunks}
    finally:
        await nc.close()


async def test_get_resume_of_a_whole_part_file_fetches_nothing(js: Any, tmp_path: Path) -> None:
    """Killed after the last chunk but before the rename: the resume only verifies and renames
    (a part file longer than the object is cut to its size; the digest decides)."""
    store = await js.create_object_store(bucket="dl3")
    data = os.urandom(5 * CHUNK + 3)
    await store.put("x", data, chunk_size=CHUNK)
    target = str(tmp_path / "x.bin")
    info = await download(store, "x", target)
    Path(target).rename(target + ".part")
    state = Path(target + ".part.json")
    state.write_text(json.dumps({"version": 1, "bucket": "dl3", "name": "x", "nuid": info.nuid, "digest": info.digest,
                                 "size": info.size, "chunk_size": info.chunk_size}))
    again = await download(store, "x", target, resume=True)
    t = again.transfer or {}
    assert t["resumed_bytes"] == len(data) and t["received_bytes"] == 0
    assert Path(target).read_bytes() == data and not state.exists()


# Soak (make soak): the fault scenarios above, repeated ----------------------------------------------
@pytest.mark.soak
@pytest.mark.timeout(1800)
async def test_soak_carry_on_and_resume(server_factory: Any, tmp_path: Path) -> None:
    """SOAK_ROUNDS rounds of: a put carried over a server kill and restart, and a put resumed after
    its client process was SIGKILLed (each on a fresh server). Prints the counts."""
    rounds = int(os.environ.get("SOAK_ROUNDS", "10"))
    ok = {"carry": 0, "resume": 0}
    for i in range(rounds):
        await test_put_carries_on_after_the_server_restarts(server_factory)
        ok["carry"] += 1
        srv = server_factory()
        nc = await objstore.connect(srv.url)
        try:
            round_dir = tmp_path / f"round{i}"
            round_dir.mkdir()
            await test_put_resume_after_sigkill(nc.jetstream(), srv.url, round_dir)
            ok["resume"] += 1
        finally:
            await nc.close()
            srv.stop()
    print(f"\nsoak carry/resume: {ok['carry']}/{rounds} carried over a restart, {ok['resume']}/{rounds} resumed after SIGKILL")
    assert ok == {"carry": rounds, "resume": rounds}
