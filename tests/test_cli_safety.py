"""The ``objstore`` CLI never damages the user's files or its own store (issue 10, point 6, and the
CLI part of point 2): where ``get -o`` writes (regular files by verified rename only; devices,
FIFOs, sockets and /dev paths in place; symlinks followed; names that could leave ``-o DIR/``
refused), ``-n/--no-clobber``, ``put --if-absent``, no binary on a terminal, every failed or
interrupted ``get -o`` leaving the target as it was with no temp file, one embedded server per
data directory under concurrent commands, and the memory-storage note.

Every test drives the real CLI as a subprocess (``python -m objstore``) against real nats-server
processes; faults are real signals (SIGKILL on the server, SIGINT / SIGSTOP / SIGCONT on the CLI).
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import resource
import select
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

import objstore
from objstore.cli.output import TEMP_SUFFIX, object_file_name
from objstore.cli.runtime import CliError
from objstore.subjects import chunk_subject, meta_subject, stream_name

from cli_util import NO_EMBEDDED, ROOT, MiB, cli, fails, js_out, ok  # noqa: E402,F401 (tests/ is on sys.path via conftest)
from cli_util import cli_cmd as _cmd  # noqa: E402
from cli_util import cli_env as _env  # noqa: E402


# Helpers --------------------------------------------------------------------------------------------

def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its content (symlinks as their target text)."""
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                out[rel] = b"-> " + os.readlink(p).encode()
            elif stat.S_ISREG(os.lstat(p).st_mode):
                out[rel] = Path(p).read_bytes()
            else:
                out[rel] = b"<special>"
    return out


def no_temp_files(directory: Path) -> None:
    left = [n for n in os.listdir(directory) if n.endswith(TEMP_SUFFIX)]
    assert not left, left


def bucket_with(url: str, tmp_path: Path, bucket: str, name: str, size: int, chunk: str = "128KiB") -> bytes:
    ok("add", bucket, url=url)
    src = tmp_path / f"src-{bucket}-{abs(hash(name))}.bin"
    data = os.urandom(size)
    src.write_bytes(data)
    ok("put", bucket, str(src), "--name", name, "--chunk-size", chunk, "-q", url=url)
    src.unlink()
    return data


async def _with_js(url: str, fn: Callable[[Any], Any]) -> Any:
    async with await objstore.connect(url) as nc:
        return await fn(nc.jetstream())


# Object names under -o DIR/ -----------------------------------------------------------------------

def test_object_file_name_rules() -> None:
    assert object_file_name("photo.jpg") == "photo.jpg"
    assert object_file_name("dir/again.jpg") == "again.jpg"  # today's rule: the last part
    assert object_file_name("dir/") == "dir"
    assert object_file_name("a/./b") == "b"
    for bad in (".", "..", "a/..", "a/../../x", "../x", "/etc/x", "/", "", "a\0b", "x/."):
        with pytest.raises(CliError, match="cannot be used as a file name"):
            object_file_name(bad)


def test_get_into_a_directory_never_writes_outside_it(nats_url: str, tmp_path: Path) -> None:
    ok("add", "b", url=nats_url)
    hostile = [".", "..", "a/../../x", "../escape", "/etc/x", "sub/."]
    for name in hostile:
        ok("put", "b", "-", "--name", name, "-q", input=b"payload of " + name.encode(), url=nats_url)
    work = tmp_path / "work"
    out = work / "out"
    out.mkdir(parents=True)
    (work / "x").write_bytes(b"sibling")
    before = tree(tmp_path)
    for name in hostile:
        for target in (str(out) + "/", str(out)):
            line = fails("get", "b", name, "-o", target, url=nats_url)
            assert "cannot be used as a file name" in line and "-o FILE" in line, line
    assert tree(tmp_path) == before  # nothing written anywhere, inside or outside DIR

    # A usable name goes into DIR (its last part); a directory of that name is refused, not replaced.
    ok("put", "b", "-", "--name", "deep/file.txt", "-q", input=b"ok", url=nats_url)
    ok("get", "b", "deep/file.txt", "-o", str(out) + "/", url=nats_url)
    assert (out / "file.txt").read_bytes() == b"ok"
    (out / "dir.txt").mkdir()
    ok("put", "b", "-", "--name", "dir.txt", "-q", input=b"x", url=nats_url)
    assert "is a directory" in fails("get", "b", "dir.txt", "-o", str(out), url=nats_url)
    assert (out / "dir.txt").is_dir()

    # A missing directory fails before the download starts: even for an object that does not
    # exist, the directory is what is reported.
    missing = tmp_path / "missing"
    assert "no such directory" in fails("get", "b", "nope", "-o", str(missing) + "/", url=nats_url)
    assert "no such directory" in fails("get", "b", "nope", "-o", str(missing / "f.bin"), url=nats_url)
    assert not missing.exists()
    no_temp_files(out)


# Existing files, -n, symlinks --------------------------------------------------------------------

def test_get_replaces_files_follows_symlinks_and_no_clobber(nats_url: str, tmp_path: Path) -> None:
    data = bucket_with(nats_url, tmp_path, "b", "obj", 300_000)
    d = tmp_path / "d"
    d.mkdir()
    target = d / "t.bin"
    target.write_bytes(b"old content")
    os.chmod(target, 0o600)

    # -n refuses an existing file: exit 1, file untouched, nothing downloaded
    line = fails("get", "b", "obj", "-o", str(target), "-n", url=nats_url)
    assert "already exists" in line and "--no-clobber" in line
    assert target.read_bytes() == b"old content"
    # ... and writes a new one
    ok("get", "b", "obj", "-o", str(d / "new.bin"), "-n", url=nats_url)
    assert (d / "new.bin").read_bytes() == data

    # without -n, an existing file is replaced (as cp does) and keeps its mode
    ok("get", "b", "obj", "-o", str(target), url=nats_url)
    assert target.read_bytes() == data and stat.S_IMODE(os.stat(target).st_mode) == 0o600

    # a symlink is followed: its target file is replaced, the link stays a link
    real = d / "real.bin"
    real.write_bytes(b"before")
    link = d / "link.bin"
    link.symlink_to("real.bin")
    doc = json.loads(ok("--json", "get", "b", "obj", "-o", str(link), url=nats_url).stdout)
    assert doc["verified"] is True and doc["written_in_place"] is False
    assert link.is_symlink() and os.readlink(link) == "real.bin"
    assert real.read_bytes() == data
    assert "already exists" in fails("get", "b", "obj", "-o", str(link), "-n", url=nats_url)

    # a dangling symlink is not written through (as cp refuses)
    dangling = d / "dangling"
    dangling.symlink_to(tmp_path / "nowhere" / "f")
    assert "dangling symlink" in fails("get", "b", "obj", "-o", str(dangling), url=nats_url)
    assert dangling.is_symlink() and not (tmp_path / "nowhere").exists()
    no_temp_files(d)


def test_put_if_absent_skips_existing_objects(nats_url: str, tmp_path: Path) -> None:
    ok("add", "b", url=nats_url)
    res = ok("put", "b", "-", "--name", "once", "--if-absent", input=b"first", url=nats_url)
    assert b"acknowledged" in res.stdout
    res = ok("put", "b", "-", "--name", "once", "--if-absent", input=b"second", url=nats_url)
    assert res.stdout.decode().startswith("skipped b/once: it already exists")
    doc = json.loads(ok("--json", "put", "b", "-", "--name", "once", "--if-absent", input=b"third", url=nats_url).stdout)
    assert doc["skipped"] is True and doc["reason"] == "exists" and doc["name"] == "once" and doc["size"] == 5
    assert ok("get", "b", "once", url=nats_url).stdout == b"first"
    # a deleted object is absent; a normal put reports skipped: false
    ok("rm", "b", "once", url=nats_url)
    doc = json.loads(ok("--json", "put", "b", "-", "--name", "once", "--if-absent", input=b"fourth", url=nats_url).stdout)
    assert doc["skipped"] is False and doc["size"] == 6
    assert ok("get", "b", "once", url=nats_url).stdout == b"fourth"


# Devices, FIFOs, sockets, stdout -----------------------------------------------------------------

def test_get_writes_devices_fifos_and_sockets_in_place(nats_url: str, tmp_path: Path) -> None:
    data = bucket_with(nats_url, tmp_path, "b", "obj", 700_000, chunk="64KiB")
    d = tmp_path / "d"
    d.mkdir()

    ok("get", "b", "obj", "-o", "/dev/null", url=nats_url)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    res = ok("get", "b", "obj", "-o", "/dev/stdout", "-q", url=nats_url)
    assert res.stdout == data
    link = d / "sink"
    link.symlink_to("/dev/null")
    ok("get", "b", "obj", "-o", str(link), url=nats_url)
    assert link.is_symlink() and os.readlink(link) == "/dev/null"
    # /dev/full: the write fails in place, exit 1, the device is not renamed over
    line = fails("get", "b", "obj", "-o", "/dev/full", url=nats_url)
    assert "No space left" in line
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)

    # a FIFO: written through to its reader, still a FIFO afterwards
    fifo = d / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def read_fifo() -> None:
        with open(fifo, "rb") as f:
            got.append(f.read())

    reader = threading.Thread(target=read_fifo, daemon=True)
    reader.start()
    doc = json.loads(ok("--json", "get", "b", "obj", "-o", str(fifo), url=nats_url).stdout)
    reader.join(timeout=30)
    assert not reader.is_alive() and got == [data]
    assert doc["written_in_place"] is True and stat.S_ISFIFO(os.stat(fifo).st_mode)

    # a Unix socket: connected to and written, never replaced
    sock_path = d / "s.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock_path))
    server.listen(1)
    server.settimeout(30)
    received: list[bytes] = []

    def serve_once() -> None:
        conn, _ = server.accept()
        with conn:
            conn.settimeout(30)
            buf = bytearray()
            while chunk := conn.recv(65536):
                buf += chunk
            received.append(bytes(buf))

    t = threading.Thread(target=serve_once, daemon=True)
    t.start()
    try:
        ok("get", "b", "obj", "-o", str(sock_path), url=nats_url)
        t.join(timeout=30)
    finally:
        server.close()
    assert received == [data] and stat.S_ISSOCK(os.stat(sock_path).st_mode)
    assert sorted(os.listdir(d)) == ["pipe", "s.sock", "sink"]  # no temp files beside them


def _run_with_pty_stdout(args: list[str], timeout: float = 30) -> tuple[int, bytes, bytes]:
    """Run the CLI with stdout on a pseudo-terminal; returns (rc, terminal output, stderr)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(args, stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=_env(), cwd=ROOT)
    finally:
        os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                b = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not b:
                break
            chunks.append(b)
        rc = proc.wait(timeout=max(deadline - time.monotonic(), 1))
        err = proc.stderr.read()
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    return rc, b"".join(chunks), err


def test_binary_output_to_a_terminal_is_refused(nats_url: str, tmp_path: Path) -> None:
    bucket_with(nats_url, tmp_path, "b", "bin", 200_000)
    ok("put", "b", "-", "--name", "text", input="héllo text\n".encode() * 10, url=nats_url)
    rc, out, err = _run_with_pty_stdout(_cmd(("get", "b", "bin"), nats_url))
    assert rc == 1 and out == b"", (rc, out[:100])
    assert b"binary output can mess up your terminal" in err and b"-o FILE" in err and b"'-o -'" in err
    # text is printed; '-o -' prints binary anyway
    rc, out, err = _run_with_pty_stdout(_cmd(("get", "b", "text"), nats_url))
    assert rc == 0 and "héllo text".encode() in out
    rc, out, err = _run_with_pty_stdout(_cmd(("get", "b", "bin", "-o", "-"), nats_url))
    assert rc == 0 and len(out) >= 200_000, (rc, len(out), err)
    # a pipe is not a terminal: binary flows
    assert len(ok("get", "b", "bin", url=nats_url).stdout) == 200_000


# Every exit path of get -o leaves the target as it was and no temp file ------------------------------

async def _republish_chunks(js: Any, bucket: str, name: str, data: bytes, how: str) -> None:
    """Replace the object's chunks: ``tamper`` flips a byte of one chunk (same sizes), ``drop``
    leaves one chunk out, ``meta`` keeps the chunks and writes a meta with a wrong digest."""
    store = await js.object_store(bucket)
    info = await store.get_info(name)
    if how == "meta":
        doc = info.to_json()
        doc["digest"] = "SHA-256=" + "A" * 43 + "="
        await js.publish(meta_subject(bucket, name), json.dumps(doc).encode(), headers={"Nats-Rollup": "sub"})
        return
    subject = chunk_subject(bucket, info.nuid)
    await js.purge_stream(stream_name(bucket), subject=subject)
    chunks = [data[i:i + info.chunk_size] for i in range(0, len(data), info.chunk_size)]
    bad = len(chunks) // 2
    for i, chunk in enumerate(chunks):
        if i == bad and how == "drop":
            continue
        if i == bad and how == "tamper":
            chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
        await js.publish(subject, chunk)


@pytest.mark.parametrize("how,chunks", [("tamper", 4), ("tamper", 80), ("drop", 4), ("drop", 80), ("meta", 80)])
def test_failed_get_leaves_target_untouched(nats_url: str, tmp_path: Path, how: str, chunks: int) -> None:
    # 4 chunks: the batched direct get; 80: the ordered consumer
    data = bucket_with(nats_url, tmp_path, "b", "obj", chunks * 16384 - 100, chunk="16KiB")
    asyncio.run(_with_js(nats_url, lambda js: _republish_chunks(js, "b", "obj", data, how)))
    d = tmp_path / "d"
    d.mkdir()
    (d / "t.bin").write_bytes(b"old content")
    line = fails("get", "b", "obj", "-o", str(d / "t.bin"), url=nats_url)
    assert ("missing" in line or "expected" in line) if how == "drop" else "digest" in line, line
    fails("get", "b", "obj", "-o", str(d / "new.bin"), url=nats_url)
    assert tree(d) == {"t.bin": b"old content"}  # untouched, nothing new, no temp file


def _run_until_temp_file(args: list[str], directory: Path, timeout: float = 30, **popen: Any) -> subprocess.Popen:
    """Start the CLI and SIGSTOP it as soon as its temp file beside the target holds data: the
    download is then certainly under way and not finished."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env=_env(), cwd=ROOT, **popen)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        temps = [n for n in os.listdir(directory) if n.endswith(TEMP_SUFFIX)]
        if temps and any(os.path.getsize(directory / n) > 0 for n in temps if (directory / n).exists()):
            proc.send_signal(signal.SIGSTOP)
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.002)
    proc.kill()
    proc.wait()
    raise AssertionError(f"no temp file with data appeared (rc {proc.returncode}, {proc.stderr.read()!r})")


def _finish(proc: subprocess.Popen, timeout: float) -> tuple[int, str, float]:
    t0 = time.monotonic()
    try:
        rc = proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    assert "Traceback" not in err, err
    return rc, err, time.monotonic() - t0


LARGE = 48 * MiB


def test_server_killed_mid_download_leaves_target_untouched(server_factory: Any, tmp_path: Path) -> None:
    srv = server_factory()
    bucket_with(srv.url, tmp_path, "b", "big", LARGE)
    d = tmp_path / "d"
    d.mkdir()
    (d / "t.bin").write_bytes(b"old content")
    proc = _run_until_temp_file(_cmd(("get", "b", "big", "-o", str(d / "t.bin")), srv.url), d)
    srv.kill()  # SIGKILL, and it stays down
    proc.send_signal(signal.SIGCONT)
    rc, err, took = _finish(proc, timeout=90)
    assert rc == 1 and err.strip().splitlines()[-1].startswith("objstore: "), (rc, err)
    assert tree(d) == {"t.bin": b"old content"}
    print(f"server SIGKILLed mid-download of {LARGE >> 20} MiB: CLI exit 1 after {took:.2f}s")


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_get_leaves_target_untouched(nats_url: str, tmp_path: Path, sig: int, code: int) -> None:
    bucket_with(nats_url, tmp_path, "b", "big", LARGE)
    d = tmp_path / "d"
    d.mkdir()
    (d / "t.bin").write_bytes(b"old content")
    proc = _run_until_temp_file(_cmd(("get", "b", "big", "-o", str(d / "t.bin")), nats_url), d)
    proc.send_signal(sig)
    proc.send_signal(signal.SIGCONT)
    rc, err, took = _finish(proc, timeout=30)
    assert rc == code, (rc, err)
    assert tree(d) == {"t.bin": b"old content"}
    print(f"{signal.Signals(sig).name} mid-download: exit {rc} after {took:.2f}s")


@pytest.mark.soak
def test_soak_get_faults_mid_download(server_factory: Any, tmp_path: Path) -> None:
    """SOAK_ROUNDS rounds of each: the server SIGKILLed (then restarted), SIGINT and SIGTERM to
    the CLI, each mid-download of a 48 MiB object into an existing file."""
    rounds = int(os.environ.get("SOAK_ROUNDS", "10"))
    srv = server_factory()
    bucket_with(srv.url, tmp_path, "b", "big", LARGE)
    d = tmp_path / "d"
    d.mkdir()
    (d / "t.bin").write_bytes(b"old content")
    worst: dict[str, float] = {}
    for _ in range(rounds):
        for fault in ("kill", "SIGINT", "SIGTERM"):
            proc = _run_until_temp_file(_cmd(("get", "b", "big", "-o", str(d / "t.bin")), srv.url), d)
            if fault == "kill":
                srv.kill()
            else:
                proc.send_signal(getattr(signal, fault))
            proc.send_signal(signal.SIGCONT)
            rc, err, took = _finish(proc, timeout=90)
            assert rc == {"kill": 1, "SIGINT": 130, "SIGTERM": 143}[fault], (fault, rc, err)
            assert tree(d) == {"t.bin": b"old content"}, fault
            worst[fault] = max(worst.get(fault, 0.0), took)
            if fault == "kill":
                srv.restart()
    print(f"\nget -o fault soak: {rounds} rounds x 3 faults, target untouched and 0 temp files every time; "
          f"slowest exit per fault: " + ", ".join(f"{k} {v:.2f}s" for k, v in worst.items()))


def _limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:
        # A file-size limit makes write(2) fail with EFBIG (Python ignores SIGXFSZ): a full disk
        # for this process only, no root or special file system needed.
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_full_disk_leaves_target_untouched(nats_url: str, tmp_path: Path) -> None:
    bucket_with(nats_url, tmp_path, "b", "obj", 3 * MiB)
    d = tmp_path / "d"
    d.mkdir()
    (d / "t.bin").write_bytes(b"old content")
    res = cli("get", "b", "obj", "-o", str(d / "t.bin"), url=nats_url, preexec_fn=_limit_file_size(MiB))
    assert res.returncode == 1 and b"File too large" in res.stderr, res.stderr
    assert tree(d) == {"t.bin": b"old content"}


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only directory")
def test_unwritable_directory_fails_before_download(nats_url: str, tmp_path: Path) -> None:
    ok("add", "b", url=nats_url)
    d = tmp_path / "ro"
    d.mkdir()
    (d / "t.bin").write_bytes(b"old content")
    os.chmod(d, 0o555)
    try:
        assert "not writable" in fails("get", "b", "nope", "-o", str(d / "t.bin"), url=nats_url)
        assert tree(d) == {"t.bin": b"old content"}
    finally:
        os.chmod(d, 0o755)


# The embedded server: one per data directory --------------------------------------------------------

def embedded_servers(data_dir: Path) -> list[int]:
    """PIDs of live nats-server processes whose command line names ``data_dir``."""
    needle = os.fsencode(str(data_dir))
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            args = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"nats-server") and any(needle in a for a in args):
            pids.append(int(entry))
    return pids


def _wait_count(data_dir: Path, want: int, timeout: float = 10) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        pids = embedded_servers(data_dir)
        if len(pids) == want or time.monotonic() > deadline:
            return pids
        time.sleep(0.05)


def _concurrently(argvs: list[list[str]], data_dir: Path, inputs: Optional[list[bytes]] = None) -> list[tuple[int, bytes, bytes]]:
    procs = [subprocess.Popen([sys.executable, "-m", "objstore", *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=_env(data_dir), cwd=ROOT) for argv in argvs]
    results = []
    try:
        for i, p in enumerate(procs):
            out, err = p.communicate(input=inputs[i] if inputs else b"", timeout=90)
            results.append((p.returncode, out, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return results


def test_concurrent_commands_start_one_embedded_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    assert embedded_servers(data_dir) == []
    try:
        # 4 commands at once on a fresh data directory: one starts the server, three reuse it
        results = _concurrently([["add", f"b{i}"] for i in range(4)], data_dir)
        assert [r[0] for r in results] == [0] * 4, results
        assert sum(b"started the embedded nats-server" in r[2] for r in results) == 1, results
        pids = _wait_count(data_dir, 1)
        assert len(pids) == 1, pids
        assert json.loads(ok("--json", "serve", "--status", data_dir=data_dir).stdout)["pid"] == pids[0]
        res = ok("serve", "--stop", data_dir=data_dir)
        assert f"pid {pids[0]}".encode() in res.stdout
        assert _wait_count(data_dir, 0) == []

        # 4 puts at once with the server stopped: again exactly one server, every put stored
        results = _concurrently([["put", f"b{i}", "-", "--name", "f"] for i in range(4)], data_dir,
                                inputs=[f"data {i}".encode() for i in range(4)])
        assert [r[0] for r in results] == [0] * 4, results
        assert sum(b"started the embedded nats-server" in r[2] for r in results) == 1
        assert len(_wait_count(data_dir, 1)) == 1
        for i in range(4):
            assert ok("get", f"b{i}", "f", data_dir=data_dir).stdout == f"data {i}".encode()
    finally:
        cli("serve", "--stop", data_dir=data_dir)
    assert _wait_count(data_dir, 0) == []
    assert ok("serve", "--stop", data_dir=data_dir).stdout == b"the embedded nats-server is not running\n"


def test_serve_stop_never_signals_a_recycled_pid(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    other = subprocess.Popen(["sleep", "60"])
    try:
        (data_dir / "server.pid").write_text(str(other.pid))  # a stale PID now used by another process
        (data_dir / "server.port").write_text("1")
        res = ok("--json", "serve", "--stop", data_dir=data_dir)
        assert json.loads(res.stdout)["stopped"] is False
        assert other.poll() is None  # not signalled
        assert cli("serve", "--status", data_dir=data_dir).returncode == 1
    finally:
        other.kill()
        other.wait()


def test_memory_bucket_on_the_embedded_server_says_it_is_volatile(nats_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    try:
        res = ok("add", "mem", "--storage", "memory", data_dir=data_dir)
        assert b"memory storage" in res.stderr and b"restart" in res.stderr
        doc = json.loads(ok("--json", "add", "mem2", "--storage", "memory", data_dir=data_dir).stdout)
        assert "restart" in doc["note"] and doc["storage"] == "memory"
        doc = json.loads(ok("--json", "add", "disk", data_dir=data_dir).stdout)
        assert doc["note"] is None
        res = ok("add", "disk", data_dir=data_dir)
        assert res.stderr == b""
    finally:
        ok("serve", "--stop", data_dir=data_dir)
    # a server the user runs is theirs to manage: no note there
    res = ok("--json", "add", "mem", "--storage", "memory", url=nats_url)
    assert json.loads(res.stdout)["note"] is None and res.stderr == b""
