"""The ``objstore`` command line, driven as a subprocess (``python -m objstore``) against a real
nats-server (``--server``) and against the embedded default (``$OBJSTORE_DATA_DIR``)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
import pty
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

import pytest

import objstore
from objstore.cli import parse_duration, parse_size
from objstore.cli.progress import ProgressBar, format_size
from objstore.subjects import meta_subject

from cli_util import ROOT, MiB, cli, js_out, ok  # noqa: E402 (tests/ is on sys.path via conftest)
from cli_util import cli_env as _env  # noqa: E402


def err_line(res: subprocess.CompletedProcess) -> str:
    lines = res.stderr.decode().strip().splitlines()
    assert lines, "expected an error message"
    return lines[-1]


def random_file(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


# Pure helpers ---------------------------------------------------------------------------------------

def test_parse_size_and_duration() -> None:
    assert parse_size("4096") == 4096
    assert parse_size("1GiB") == parse_size("1G") == 2**30
    assert parse_size("10MB") == 10_000_000
    assert parse_size("512 KiB") == 512 * 1024
    assert parse_size("1.5KiB") == 1536
    for bad in ("", "MB", "1XB", "-1", "0.3B"):
        with pytest.raises(ValueError):
            parse_size(bad)
    assert parse_duration("90") == 90
    assert parse_duration("10s") == 10
    assert parse_duration("30m") == 1800
    assert parse_duration("1h") == 3600
    assert parse_duration("2d") == 172800
    assert parse_duration("1h30m") == 5400
    assert parse_duration("250ms") == 0.25
    for bad in ("", "h", "1x", "1h 30", "-5", "m1"):
        with pytest.raises(ValueError):
            parse_duration(bad)


class FakeTTY(io.StringIO):
    def __init__(self, tty: bool = True) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_bar_draws_only_on_a_tty_and_throttles() -> None:
    clock = Clock()
    stream = FakeTTY()
    total = 100 * MiB
    bar = ProgressBar(total, stream, label="put x", clock=clock)
    for i in range(1, 1001):  # 1000 updates over 2 simulated seconds
        clock.now += 0.002
        bar(i * total // 1000, total)
    bar.close()
    text = stream.getvalue()
    assert text.startswith("\r") and text.endswith("\n")
    assert 15 <= bar.redraws <= 22, bar.redraws  # ~10/s over 2 s, plus the final draw
    final = text.rstrip("\n").split("\r")[-1]
    assert "100.0 MiB / 100.0 MiB" in final and "100.0%" in final and "MiB/s" in final and "put x" in final
    assert "ETA" in text.split("\r")[1]

    # Not a terminal, disabled (--quiet), or small: nothing at all.
    for s, kw, size in ((FakeTTY(False), {}, total), (FakeTTY(), {"enabled": False}, total), (FakeTTY(), {}, MiB)):
        b = ProgressBar(size, s, clock=clock, **kw)
        for i in range(10):
            clock.now += 0.5
            b(size * (i + 1) // 10, size)
        b.close()
        assert s.getvalue() == ""

    # Unknown total (a pipe): appears once more than 1 MiB went through.
    s = FakeTTY()
    b = ProgressBar(None, s, clock=clock)
    b(MiB // 2)
    assert s.getvalue() == ""
    clock.now += 1
    b(3 * MiB)
    b.close()
    assert "3.0 MiB" in s.getvalue() and "%" not in s.getvalue()
    assert format_size(512) == "512 B" and format_size(1536) == "1.5 KiB" and format_size(3 * 2**30) == "3.0 GiB"


# Buckets ---------------------------------------------------------------------------------------------

def test_bucket_add_list_status_seal_remove(nats_url: str, tmp_path: Path) -> None:
    st = js_out("add", "docs", "--description", "my docs", "--ttl", "1h", "--max-bytes", "1GiB",
                "--storage", "memory", "--metadata", "team=ops", "--metadata", "tier=gold", url=nats_url)
    assert st["bucket"] == "docs" and st["description"] == "my docs"
    assert st["ttl_seconds"] == 3600 and st["max_bytes"] == 2**30 and st["storage"] == "memory"
    assert st["metadata"]["team"] == "ops" and st["metadata"]["tier"] == "gold"
    assert st["objects"] == 0 and st["sealed"] is False and st["replicas"] == 1
    ok("add", "other", url=nats_url)
    # add is idempotent for the same settings
    ok("add", "other", url=nats_url)

    random_file(tmp_path / "a.bin", 3000)
    ok("put", "docs", str(tmp_path / "a.bin"), url=nats_url)
    buckets = js_out("buckets", url=nats_url)
    by_name = {b["bucket"]: b for b in buckets}
    assert set(by_name) == {"docs", "other"}
    assert by_name["docs"]["objects"] == 1 and by_name["docs"]["size"] > 3000
    table = ok("buckets", url=nats_url).stdout.decode().splitlines()
    assert table[0].split() == ["BUCKET", "OBJECTS", "SIZE", "STORAGE", "REPLICAS", "SEALED", "DESCRIPTION"]
    docs_row = next(line for line in table if line.startswith("docs"))
    assert "KiB" in docs_row and "memory" in docs_row and "my docs" in docs_row

    text = ok("status", "docs", url=nats_url).stdout.decode()
    assert "TTL:" in text and "1h" in text and "1.0 GiB" in text and "team" in text

    ok("seal", "docs", url=nats_url)
    assert js_out("status", "docs", url=nats_url)["sealed"] is True
    res = cli("put", "docs", str(tmp_path / "a.bin"), "--name", "b.bin", url=nats_url)
    assert res.returncode == 1 and err_line(res).startswith("objstore: ")

    # rm-bucket proceeds without --force when stdin is not a terminal
    assert js_out("rm-bucket", "docs", url=nats_url) == {"bucket": "docs", "deleted": True}
    assert [b["bucket"] for b in js_out("buckets", url=nats_url)] == ["other"]
    res = cli("status", "docs", url=nats_url)
    assert res.returncode == 1 and err_line(res) == "objstore: bucket 'docs' not found"
    res = cli("rm-bucket", "docs", url=nats_url)
    assert res.returncode == 1 and "not found" in err_line(res)


# Objects ----------------------------------------------------------------------------------------------

def test_put_file_and_stdin_get_stdout_and_file(nats_url: str, tmp_path: Path) -> None:
    ok("add", "b", url=nats_url)
    src = tmp_path / "photo.jpg"
    data = random_file(src, 3 * MiB + 17)
    doc = js_out("put", "b", str(src), "--description", "a photo", "-H", "Content-Type: image/jpeg",
                 "-H", "X-Tag:one", "-H", "X-Tag:two", "--metadata", "camera=x100", "--chunk-size", "256KiB", url=nats_url)
    assert doc["name"] == "photo.jpg" and doc["bucket"] == "b"
    assert doc["size"] == len(data) and doc["acked_bytes"] == len(data)
    assert doc["chunks"] == 13 and doc["chunk_size"] == 256 * 1024
    assert doc["headers"] == {"Content-Type": ["image/jpeg"], "X-Tag": ["one", "two"]}
    assert doc["metadata"] == {"camera": "x100"} and doc["description"] == "a photo"
    assert doc["mtime"].endswith("Z") and doc["digest"].startswith("SHA-256=")
    assert doc["digest_hex"] == hashlib.sha256(data).hexdigest()

    # Human put line reports the acknowledged bytes
    line = ok("put", "b", str(src), "--name", "dir/again.jpg", url=nats_url).stdout.decode()
    assert f"({len(data)} bytes) acknowledged by the server" in line and "b/dir/again.jpg" in line

    # stdin
    ok("put", "b", "-", "--name", "notes.txt", input=b"hello from stdin\n", url=nats_url)
    res = cli("put", "b", "-", input=b"x", url=nats_url)
    assert res.returncode == 2 and "--name is required" in res.stderr.decode()
    res = cli("put", "b", str(tmp_path / "missing.bin"), url=nats_url)
    assert res.returncode == 1 and "missing.bin" in err_line(res)

    # get to stdout (default and -o -)
    assert ok("get", "b", "notes.txt", url=nats_url).stdout == b"hello from stdin\n"
    assert ok("get", "b", "photo.jpg", "-o", "-", url=nats_url).stdout == data

    # get to a file, to a directory, with --json
    target = tmp_path / "out" / "copy.jpg"
    target.parent.mkdir()
    res = ok("get", "b", "photo.jpg", "-o", str(target), url=nats_url)
    assert target.read_bytes() == data and "verified" in res.stdout.decode()
    doc = js_out("get", "b", "dir/again.jpg", "-o", str(target.parent), url=nats_url)
    assert (target.parent / "again.jpg").read_bytes() == data
    assert doc["verified"] is True and doc["size"] == len(data) and doc["path"].endswith("again.jpg")
    assert sorted(os.listdir(target.parent)) == ["again.jpg", "copy.jpg"]  # no temp files left
    res = cli("--json", "get", "b", "photo.jpg", url=nats_url)
    assert res.returncode == 2

    # options also accepted after the command name; -q silences the result line
    res = ok("put", "b", str(src), "-q", "--server", nats_url)
    assert res.stdout == b"" and res.stderr == b""


def test_ls_info_rm_mv_link_json(nats_url: str, tmp_path: Path) -> None:
    ok("add", "b", url=nats_url)
    ok("add", "other", url=nats_url)
    f = tmp_path / "f.bin"
    data = random_file(f, 2 * MiB)
    ok("put", "b", str(f), "--name", "a.bin", "--description", "first file", url=nats_url)
    ok("put", "b", "-", "--name", "small.txt", input=b"tiny", url=nats_url)
    ok("put", "other", "-", "--name", "x.txt", input=b"in other", url=nats_url)

    listing = js_out("ls", "b", url=nats_url)
    assert [o["name"] for o in listing] == ["a.bin", "small.txt"]
    assert listing[0]["size"] == len(data) and listing[0]["chunks"] == 16 and listing[0]["description"] == "first file"
    table = ok("ls", "b", url=nats_url).stdout.decode().splitlines()
    assert table[0].split() == ["NAME", "SIZE", "CHUNKS", "MODIFIED", "DESCRIPTION"]
    assert "2.0 MiB" in table[1] and "first file" in table[1] and "Z" in table[1]

    info = js_out("info", "b", "a.bin", url=nats_url)
    assert info["name"] == "a.bin" and info["size"] == len(data) and info["link"] is None
    text = ok("info", "b", "a.bin", url=nats_url).stdout.decode()
    assert "2.0 MiB (2097152 bytes)" in text and info["digest"] in text

    moved = js_out("mv", "b", "small.txt", "renamed.txt", url=nats_url)
    assert moved["name"] == "renamed.txt"
    assert ok("get", "b", "renamed.txt", url=nats_url).stdout == b"tiny"
    res = cli("info", "b", "small.txt", url=nats_url)
    assert res.returncode == 1 and err_line(res) == "objstore: object 'small.txt' not found in bucket 'b'"
    res = cli("mv", "b", "renamed.txt", "a.bin", url=nats_url)  # target exists
    assert res.returncode == 1 and "already exists" in err_line(res)

    link = js_out("link", "b", "current", "a.bin", url=nats_url)
    assert link["link"] == {"bucket": "b", "name": "a.bin"}
    assert ok("get", "b", "current", url=nats_url).stdout == data
    link = js_out("link", "b", "from-other", "x.txt", "--bucket", "other", url=nats_url)
    assert link["link"] == {"bucket": "other", "name": "x.txt"}
    assert ok("get", "b", "from-other", url=nats_url).stdout == b"in other"
    link = js_out("link", "b", "all-of-other", "other", "--bucket-link", url=nats_url)
    assert link["link"] == {"bucket": "other", "name": None}
    res = cli("get", "b", "all-of-other", url=nats_url)
    assert res.returncode == 1 and "link to bucket 'other'" in err_line(res)
    table = ok("ls", "b", url=nats_url).stdout.decode()
    assert "current -> b/a.bin" in table and "all-of-other -> bucket other" in table

    assert js_out("rm", "b", "renamed.txt", url=nats_url) == {"bucket": "b", "name": "renamed.txt", "deleted": True}
    names = [o["name"] for o in js_out("ls", "b", url=nats_url)]
    assert "renamed.txt" not in names
    deleted = {o["name"]: o for o in js_out("ls", "b", "--deleted", url=nats_url)}
    assert deleted["renamed.txt"]["deleted"] is True
    assert "(deleted)" in ok("ls", "b", "--deleted", url=nats_url).stdout.decode()
    res = cli("get", "b", "renamed.txt", url=nats_url)
    assert res.returncode == 1 and "renamed.txt" in err_line(res)


async def _tamper_digest(url: str, bucket: str, name: str) -> None:
    async with await objstore.connect(url) as nc:
        js = nc.jetstream()
        store = await js.object_store(bucket)
        info = await store.get_info(name)
        doc = info.to_json()
        doc["digest"] = "SHA-256=" + base64.urlsafe_b64encode(b"\x00" * 32).decode()
        await js.publish(meta_subject(bucket, name), json.dumps(doc).encode(), headers={"Nats-Rollup": "sub"})


def test_get_digest_mismatch_leaves_target_untouched(nats_url: str, tmp_path: Path) -> None:
    ok("add", "b", url=nats_url)
    src = tmp_path / "src.bin"
    random_file(src, MiB + 5)
    ok("put", "b", str(src), "--name", "obj", "--chunk-size", "64KiB", url=nats_url)
    asyncio.run(_tamper_digest(nats_url, "b", "obj"))

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "target.bin"
    target.write_bytes(b"the previous content")
    os.chmod(target, 0o640)
    res = cli("get", "b", "obj", "-o", str(target), url=nats_url)
    assert res.returncode == 1
    assert err_line(res).startswith("objstore: ") and "digest" in err_line(res)
    assert target.read_bytes() == b"the previous content"
    assert os.listdir(out_dir) == ["target.bin"]  # the temporary file is gone
    # a new target is not created either
    res = cli("get", "b", "obj", "-o", str(out_dir / "new.bin"), url=nats_url)
    assert res.returncode == 1 and os.listdir(out_dir) == ["target.bin"]
    # an intact object replaces the target and keeps its mode
    ok("put", "b", str(src), "--name", "good", url=nats_url)
    ok("get", "b", "good", "-o", str(target), url=nats_url)
    assert target.read_bytes() == src.read_bytes() and (os.stat(target).st_mode & 0o777) == 0o640


def test_errors_exit_codes_and_no_traceback(nats_url: str, tmp_path: Path) -> None:
    # usage errors: exit 2 (argparse)
    assert cli("frobnicate").returncode == 2
    assert cli("add", "b", "--ttl", "soon", url=nats_url).returncode == 2
    assert cli("add", "b", "--max-bytes", "lots", url=nats_url).returncode == 2
    assert cli("put", "b", "-", "--chunk-size", "0", url=nats_url).returncode == 2
    assert cli("put", "b", "f", "--metadata", "novalue", url=nats_url).returncode == 2
    assert cli("--timeout", "0", "buckets", url=nats_url).returncode == 2
    assert cli("get").returncode == 2
    # runtime errors: exit 1 with one clear line
    res = cli("ls", "nope", url=nats_url)
    assert res.returncode == 1 and res.stderr.decode() == "objstore: bucket 'nope' not found\n"
    ok("add", "b", url=nats_url)
    res = cli("get", "b", "x", url=nats_url)
    assert res.returncode == 1 and res.stderr.decode() == "objstore: object 'x' not found in bucket 'b'\n"
    res = cli("add", "bad.name", url=nats_url)  # a usage error, found before connecting
    assert res.returncode == 2 and "invalid bucket name" in err_line(res)
    res = cli("add", "b", "--storage", "memory", url=nats_url)  # exists with different settings
    assert res.returncode == 1 and "exists" in err_line(res)
    # connection refused
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = cli("buckets", url=f"nats://127.0.0.1:{port}")
    assert res.returncode == 1 and "could not connect" in err_line(res)
    assert len(res.stderr.decode().strip().splitlines()) == 1
    # the server also comes from $NATS_URL
    res = subprocess.run([sys.executable, "-m", "objstore", "--json", "buckets"], capture_output=True, timeout=30,
                         env=_env(NATS_URL=nats_url), cwd=ROOT, stdin=subprocess.DEVNULL)
    assert res.returncode == 0 and [b["bucket"] for b in json.loads(res.stdout)] == ["b"]


# Watch ----------------------------------------------------------------------------------------------

def _line_reader(stream: Any) -> "queue.Queue[bytes]":
    q: "queue.Queue[bytes]" = queue.Queue()

    def pump() -> None:
        for line in iter(stream.readline, b""):
            q.put(line)
        q.put(b"")

    threading.Thread(target=pump, daemon=True).start()
    return q


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_watch_prints_updates_until_stopped(nats_url: str, sig: int) -> None:
    ok("add", "w", url=nats_url)
    ok("put", "w", "-", "--name", "before.txt", input=b"1", url=nats_url)
    proc = subprocess.Popen([sys.executable, "-m", "objstore", "--server", nats_url, "watch", "w"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=_env(), cwd=ROOT)
    try:
        lines = _line_reader(proc.stdout)
        first = lines.get(timeout=15).decode()
        assert "PUT" in first and "before.txt" in first and "Z" in first
        ok("put", "w", "-", "--name", "after.txt", input=b"22", url=nats_url)
        second = lines.get(timeout=15).decode()
        assert "PUT" in second and "after.txt" in second and "2 B" in second
        ok("rm", "w", "after.txt", url=nats_url)
        third = lines.get(timeout=15).decode()
        assert "DEL" in third and "after.txt" in third
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == 0
        assert b"Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


# Progress on a terminal ------------------------------------------------------------------------------

def _run_on_pty(args: list[str], stdin: Any = subprocess.DEVNULL, stdin_is_pty: bool = False) -> tuple[int, bytes, bytes]:
    """Run the CLI with stderr (and optionally stdin) on a pseudo-terminal; returns (rc, stdout, tty output)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "objstore", *args], stdout=subprocess.PIPE, stderr=slave,
                                stdin=slave if stdin_is_pty else stdin, env=_env(), cwd=ROOT)
    finally:
        os.close(slave)
    chunks = []
    try:
        while True:
            try:
                b = os.read(master, 65536)
            except OSError:  # EIO: every writer of the slave side is gone
                break
            if not b:
                break
            chunks.append(b)
        out = proc.stdout.read()
        rc = proc.wait(timeout=30)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    return rc, out, b"".join(chunks)


def test_progress_bar_only_on_a_tty(nats_url: str, tmp_path: Path) -> None:
    ok("add", "p", url=nats_url)
    big = tmp_path / "big.bin"
    random_file(big, 4 * MiB)
    rc, out, tty = _run_on_pty(["--server", nats_url, "put", "p", str(big)])
    assert rc == 0 and b"acknowledged" in out
    assert b"\r" in tty and b"4.0 MiB / 4.0 MiB" in tty and b"100.0%" in tty and b"/s" in tty
    rc, out, tty = _run_on_pty(["--server", nats_url, "get", "p", "big.bin", "-o", str(tmp_path / "copy.bin")])
    assert rc == 0 and b"\r" in tty and b"get big.bin" in tty
    assert (tmp_path / "copy.bin").read_bytes() == big.read_bytes()
    # --quiet, small transfers and non-terminals: no bar
    rc, out, tty = _run_on_pty(["--server", nats_url, "-q", "put", "p", str(big)])
    assert rc == 0 and tty == b"" and out == b""
    small = tmp_path / "small.bin"
    random_file(small, 100_000)
    rc, out, tty = _run_on_pty(["--server", nats_url, "put", "p", str(small)])
    assert rc == 0 and b"\r" not in tty
    res = ok("put", "p", str(big), url=nats_url)
    assert b"\r" not in res.stderr and res.stderr == b""
    # rm-bucket refuses to run without --force when stdin is a terminal
    rc, out, tty = _run_on_pty(["--server", nats_url, "rm-bucket", "p"], stdin_is_pty=True)
    assert rc == 2 and b"--force" in tty
    rc, out, tty = _run_on_pty(["--server", nats_url, "rm-bucket", "p", "--force"], stdin_is_pty=True)
    assert rc == 0 and b"deleted bucket" in out


# The embedded default --------------------------------------------------------------------------------

def _pid_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie waiting for its parent counts as gone
            if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
                return True
        except (OSError, IndexError):
            pass
        time.sleep(0.05)
    return False


def test_embedded_default_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    try:
        res = cli("serve", "--status", data_dir=data_dir)
        assert res.returncode == 1 and res.stdout == b"not running\n"
        res = ok("add", "emb", data_dir=data_dir)
        assert b"started the embedded nats-server" in res.stderr and str(data_dir).encode() in res.stderr
        status = json.loads(ok("--json", "serve", "--status", data_dir=data_dir).stdout)
        assert status["running"] is True and status["url"].startswith("nats://127.0.0.1:")
        pid = status["pid"]
        assert pid and (data_dir / "jetstream").is_dir()
        # later commands reuse it silently
        res = ok("put", "emb", "-", "--name", "n.txt", input=b"embedded data", data_dir=data_dir)
        assert b"started" not in res.stderr
        assert ok("get", "emb", "n.txt", data_dir=data_dir).stdout == b"embedded data"
        assert ok("serve", "--status", data_dir=data_dir).stdout.decode().strip() == status["url"]
        assert "embedded nats-server" in ok("--help").stdout.decode()
    finally:
        res = cli("serve", "--stop", data_dir=data_dir)
    assert res.returncode == 0 and f"pid {pid}".encode() in res.stdout
    assert _pid_gone(pid)
    assert cli("serve", "--status", data_dir=data_dir).stdout == b"not running\n"
    assert ok("serve", "--stop", data_dir=data_dir).stdout == b"the embedded nats-server is not running\n"


def test_serve_runs_in_the_foreground_until_interrupted(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with socket.socket() as s:  # never the default port 4222: it may be the user's
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "objstore", "serve", "--foreground", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=_env(data_dir),
                            cwd=ROOT)
    pid = None
    try:
        line = _line_reader(proc.stdout).get(timeout=20).decode()
        assert f"embedded nats-server running at nats://127.0.0.1:{port}" in line and str(data_dir) in line
        status = json.loads(ok("--json", "serve", "--status", data_dir=data_dir).stdout)
        pid = status["pid"]
        assert status["running"] and status["url"] in line
        # a second serve does not take it over
        res = ok("serve", data_dir=data_dir)
        assert b"already running" in res.stdout
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        assert b"Traceback" not in proc.stderr.read()
        assert _pid_gone(pid)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        cli("serve", "--stop", data_dir=data_dir)
        proc.stdout.close()
        proc.stderr.close()


def test_interrupted_get_and_put_leave_nothing_behind(nats_url: str, tmp_path: Path) -> None:
    ok("add", "i", url=nats_url)
    big = tmp_path / "big.bin"
    random_file(big, 32 * MiB)
    ok("put", "i", str(big), "-q", url=nats_url)
    size_before = js_out("status", "i", url=nats_url)["size"]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "t.bin").write_bytes(b"keep me")

    def interrupt_once_the_bar_shows(args: list[str]) -> tuple[int, bytes]:
        master, slave = pty.openpty()
        try:
            proc = subprocess.Popen([sys.executable, "-m", "objstore", "--server", nats_url, *args], stdout=subprocess.DEVNULL,
                                    stderr=slave, stdin=subprocess.DEVNULL, env=_env(), cwd=ROOT)
        finally:
            os.close(slave)
        seen = b""
        try:
            while b"\r" not in seen:
                seen += os.read(master, 4096)
            # Freeze the transfer, queue Ctrl-C, resume: the signal lands mid-transfer.
            proc.send_signal(signal.SIGSTOP)
            proc.send_signal(signal.SIGINT)
            proc.send_signal(signal.SIGCONT)
            while True:
                try:
                    b = os.read(master, 4096)
                except OSError:
                    break
                if not b:
                    break
                seen += b
            return proc.wait(timeout=30), seen
        finally:
            os.close(master)
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    rc, tty = interrupt_once_the_bar_shows(["get", "i", "big.bin", "-o", str(out_dir / "t.bin")])
    assert rc == 130 and b"objstore: interrupted" in tty and b"Traceback" not in tty
    assert os.listdir(out_dir) == ["t.bin"] and (out_dir / "t.bin").read_bytes() == b"keep me"

    rc, tty = interrupt_once_the_bar_shows(["put", "i", str(big), "--name", "partial.bin"])
    assert rc == 130 and b"Traceback" not in tty
    assert [o["name"] for o in js_out("ls", "i", url=nats_url)] == ["big.bin"]
    status = js_out("status", "i", url=nats_url)
    assert status["size"] == size_before  # every partial chunk was purged
