"""Buckets and errors in the user's words (issue 13, points 3 and 5), through the real entry point
(``python -m objstore``) against a real nats-server: ``edit`` (and ``js.update_object_store``),
``add`` of an existing bucket naming each differing setting, ``info BUCKET``, the hex digest,
``status --json`` without ``_nats.*`` keys; sealed / full / replicas errors restated (the JetStream
``err_code`` kept in ``--json`` and ``-v``), an invalid bucket name as a usage error, ``put`` of a
``/dev/fd`` path, and progress bars that end with "interrupted" or "failed".
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import pty
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import objstore
from objstore.cli.progress import ProgressBar
from objstore.subjects import stream_name

from cli_util import ROOT, MiB, cli, cli_cmd, cli_env, fails, js_out, ok  # noqa: E402 (tests/ is on sys.path)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def nats_url(module_server) -> str:  # one server for the module: every test uses its own buckets
    return module_server.url


async def _raw_config(url: str, bucket: str) -> Any:
    async with await objstore.connect(url) as nc:
        return (await nc.jetstream().stream_info(stream_name(bucket))).config


# Buckets --------------------------------------------------------------------------------------

def test_edit_changes_settings_in_place_and_shows_them(nats_url: str, tmp_path: Path) -> None:
    ok("add", "ed", "--description", "old", "--metadata", "team=ops", "--metadata", "tier=gold", url=nats_url)
    ok("put", "ed", "-", "--name", "keep.txt", input=b"kept", url=nats_url)
    out = ok("edit", "ed", "--description", "new", "--ttl", "1h", "--max-bytes", "10MiB", "--compression", "on",
             "--fast-ingest", "on", "--metadata", "tier=", "--metadata", "owner=me", url=nats_url).stdout.decode()
    lines = [line.split() for line in out.splitlines()]
    assert out.splitlines()[0] == "bucket 'ed' updated:"
    assert ["description", "'old'", "->", "'new'"] in lines
    assert ["ttl", "none", "->", "1h"] in lines
    assert ["max", "size", "unlimited", "->", "10.0", "MiB"] in lines
    assert ["compression", "none", "->", "s2"] in lines
    assert ["fast", "ingest", "no", "->", "yes"] in lines
    assert ["metadata", "team=ops,", "tier=gold", "->", "owner=me,", "team=ops"] in lines
    assert ok("get", "ed", "keep.txt", url=nats_url).stdout == b"kept"  # objects untouched

    st = js_out("status", "ed", url=nats_url)
    assert st["ttl_seconds"] == 3600 and st["max_bytes"] == 10 * MiB and st["compression"] and st["fast_ingest"]
    assert st["metadata"] == {"team": "ops", "owner": "me"}
    cfg = asyncio.run(_raw_config(nats_url, "ed"))
    assert cfg.allow_direct and cfg.allow_rollup_hdrs and cfg.discard.value == "new"  # the rest kept
    assert any(k.startswith("_nats.") for k in cfg.metadata)  # the server's own keys stay (hidden)

    doc = js_out("edit", "ed", "--ttl", "0", "--max-bytes", "0", url=nats_url)
    assert doc["changed"] == {"ttl_seconds": {"before": 3600.0, "after": None},
                              "max_bytes": {"before": 10 * MiB, "after": None}}
    assert "nothing changed" in ok("edit", "ed", "--description", "new", url=nats_url).stdout.decode()
    res = cli("edit", "ed", url=nats_url)
    assert res.returncode == 2 and b"nothing to change" in res.stderr
    assert fails("edit", "nope", "--description", "x", url=nats_url) == "objstore: bucket 'nope' not found"
    assert fails("edit", "ed", "--replicas", "3", url=nats_url) == (
        "objstore: replicas 3 needs a JetStream cluster; this server is a single node")


def test_add_of_an_existing_bucket_names_each_difference(nats_url: str) -> None:
    ok("add", "ex", "--max-bytes", "1MiB", "--metadata", "a=1", url=nats_url)
    ok("add", "ex", "--max-bytes", "1MiB", "--metadata", "a=1", url=nats_url)  # same settings: fine
    line = fails("add", "ex", "--storage", "memory", "--ttl", "1h", url=nats_url)
    assert line.startswith("objstore: bucket 'ex' exists with different settings: ")
    for part in ("ttl is none (asked 1h)", "max size is 1.0 MiB (asked unlimited)", "storage is file (asked memory)",
                 "metadata is a=1 (asked none)"):
        assert part in line, line
    res = cli("--json", "add", "ex", "--max-bytes", "2MiB", "--metadata", "a=1", url=nats_url)
    assert res.returncode == 1
    err = json.loads(res.stdout)["error"]
    assert err["type"] == "BucketExistsError" and err["sealed"] is False
    assert err["differences"] == [{"setting": "max_bytes", "existing": MiB, "asked": 2 * MiB}]
    assert "'objstore edit ex' changes them in place" in err["message"]
    ok("seal", "ex", url=nats_url)
    line = fails("add", "ex", "--max-bytes", "1MiB", "--metadata", "a=1", url=nats_url)
    assert line.startswith("objstore: bucket 'ex' exists and is sealed (read-only)")


def test_info_of_a_bucket_hex_digest_and_status_without_server_keys(nats_url: str, tmp_path: Path) -> None:
    ok("add", "inf", "--description", "about", "--metadata", "k=v", url=nats_url)
    data = os.urandom(300_000)
    (tmp_path / "f.bin").write_bytes(data)
    ok("put", "inf", str(tmp_path / "f.bin"), url=nats_url)
    text = ok("info", "inf", url=nats_url).stdout.decode()
    assert "Bucket:" in text and "Description: about" in text and "Objects:     1" in text and "Metadata k:  v" in text
    assert js_out("info", "inf", url=nats_url) == js_out("status", "inf", url=nats_url)
    text = ok("info", "inf", "f.bin", url=nats_url).stdout.decode()
    hex_line = next(line for line in text.splitlines() if line.startswith("SHA-256 (hex):"))
    assert hex_line.split()[-1] == hashlib.sha256(data).hexdigest()  # as sha256sum prints it
    assert any(k.startswith("_nats.") for k in asyncio.run(_raw_config(nats_url, "inf")).metadata)
    for doc in (js_out("status", "inf", url=nats_url), *js_out("buckets", url=nats_url)):
        assert not [k for k in doc["metadata"] if k.startswith("_nats.")], doc
    assert js_out("status", "inf", url=nats_url)["metadata"] == {"k": "v"}


async def test_update_object_store_in_the_library(js: objstore.JetStreamContext) -> None:
    store = await js.create_object_store(bucket="lib", description="d", metadata={"a": "1"}, max_bytes=MiB)
    await store.put("x", b"kept")
    updated = await js.update_object_store("lib", description="e", ttl=60, metadata={"b": "2"}, compression=True)
    st = await updated.status()
    assert (st.description, st.ttl.total_seconds(), st.compression) == ("e", 60, True)
    assert st.stream_info.config.max_bytes == MiB and await updated.get("x") == b"kept"
    assert {k: v for k, v in st.metadata.items() if not k.startswith("_nats.")} == {"b": "2"}
    with pytest.raises(objstore.BadBucketError):
        await js.update_object_store("lib", storage="memory")  # not editable in place
    with pytest.raises(objstore.BucketNotFoundError):
        await js.update_object_store("nope", description="x")
    with pytest.raises(objstore.BucketExistsError) as ei:
        await js.create_object_store(bucket="lib", storage="memory")
    diffs = {k: (have, want) for k, have, want in ei.value.differences}
    assert diffs["storage"] == ("file", "memory") and diffs["ttl"] == (60.0, None) and not ei.value.sealed
    assert "storage is 'file' (asked 'memory')" in str(ei.value)


# Errors in the user's words -------------------------------------------------------------------------

def test_sealed_full_and_replicas_errors(nats_url: str, tmp_path: Path) -> None:
    small = tmp_path / "small.txt"
    small.write_bytes(b"hello")
    ok("add", "sl", url=nats_url)
    ok("seal", "sl", url=nats_url)
    assert fails("put", "sl", str(small), url=nats_url) == "objstore: bucket 'sl' is sealed (read-only)"
    assert fails("-v", "put", "sl", str(small), url=nats_url) == (
        "objstore: bucket 'sl' is sealed (read-only) (JetStream err_code 10109, code 400)")
    res = cli("--json", "put", "sl", str(small), url=nats_url)
    assert res.returncode == 1 and res.stderr.decode() == "objstore: bucket 'sl' is sealed (read-only)\n"
    assert json.loads(res.stdout) == {"error": {"message": "bucket 'sl' is sealed (read-only)",
                                                "type": "StreamSealedError", "err_code": 10109, "code": 400}}

    # Full, known size: refused before anything is uploaded.
    ok("add", "fu", "--max-bytes", "1MiB", url=nats_url)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(2 * MiB))
    assert fails("put", "fu", str(big), url=nats_url) == (
        "objstore: bucket 'fu' is full: 1.0 MiB limit, 0 B used, this object needs 2.0 MiB")
    assert js_out("status", "fu", url=nats_url)["size"] == 0
    doc = json.loads(cli("--json", "put", "fu", str(big), url=nats_url).stdout)["error"]
    assert doc["type"] == "BucketFullError" and doc["err_code"] == 10077
    # Full, unknown size (stdin): the server's refusal, restated with the numbers; nothing kept.
    line = fails("put", "fu", "-", "--name", "piped", input=big.read_bytes(), url=nats_url)
    assert line.startswith("objstore: bucket 'fu' is full: 1.0 MiB limit, ") and line.endswith("this object did not fit")
    assert js_out("ls", "fu", url=nats_url) == []

    assert fails("add", "r3", "--replicas", "3", url=nats_url) == (
        "objstore: replicas 3 needs a JetStream cluster; this server is a single node")
    assert "err_code 10074" in fails("-v", "add", "r3", "--replicas", "3", url=nats_url)


def test_invalid_bucket_name_is_a_usage_error_before_connecting(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    for args in (("add", "bad.name"), ("ls", "a b"), ("status", "x*"), ("put", "bad.name", "-", "--name", "n"),
                 ("edit", "bad.name", "--ttl", "1h"), ("info", "bad.name")):
        res = cli(*args, data_dir=data_dir)
        assert res.returncode == 2, args
        assert "invalid bucket name" in res.stderr.decode() and "usage:" in res.stderr.decode()
    assert not data_dir.exists()  # no embedded server was started for it


def test_put_of_a_dev_fd_path_needs_a_name(nats_url: str) -> None:
    ok("add", "fd", url=nats_url)
    cmd = " ".join(cli_cmd(("put", "fd"), nats_url))
    res = subprocess.run(["bash", "-c", f"{cmd} <(printf 'from a pipe')"], capture_output=True, timeout=60,
                         env=cli_env(), cwd=ROOT, stdin=subprocess.DEVNULL)
    assert res.returncode == 2 and b"--name is required for /dev/fd/" in res.stderr
    res = subprocess.run(["bash", "-c", f"{cmd} <(printf 'from a pipe') --name piped.txt"], capture_output=True,
                         timeout=60, env=cli_env(), cwd=ROOT, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    assert ok("get", "fd", "piped.txt", url=nats_url).stdout == b"from a pipe"
    assert [o["name"] for o in js_out("ls", "fd", url=nats_url)] == ["piped.txt"]


# Progress bars that did not finish --------------------------------------------------------------------

class _TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_ends_interrupted_or_failed_never_with_a_time() -> None:
    for exc, word in ((KeyboardInterrupt(), "interrupted"), (asyncio.CancelledError(), "interrupted"),
                      (OSError("boom"), "failed")):
        stream = _TTY()
        bar = ProgressBar(10 * MiB, stream)
        bar(3 * MiB)
        try:
            try:
                raise exc
            finally:
                bar.close()
        except BaseException:
            pass
        last = stream.getvalue().rstrip("\n").split("\r")[-1]
        assert last.endswith(word) and " in 0:" not in last, last
    stream = _TTY()
    bar = ProgressBar(10 * MiB, stream)
    bar(10 * MiB)
    bar.close()
    assert " in 0:0" in stream.getvalue().split("\r")[-1]


def _bar_output(args: list[str], feed: bytes = b"", interrupt: bool = False) -> tuple[int, bytes]:
    """Run the CLI with stderr on a pseudo-terminal (stdin a pipe fed ``feed``); with ``interrupt``,
    Ctrl-C arrives once the bar shows. Returns (exit code, terminal output)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "objstore", *args], stdout=subprocess.DEVNULL, stderr=slave,
                                stdin=subprocess.PIPE, env=cli_env(), cwd=ROOT)
    finally:
        os.close(slave)

    def pump() -> None:
        try:
            proc.stdin.write(feed)
        except (BrokenPipeError, OSError):
            pass
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass

    feeder = threading.Thread(target=pump, daemon=True)
    feeder.start()
    seen = b""
    try:
        while True:
            try:
                b = os.read(master, 4096)
            except OSError:
                break
            if not b:
                break
            seen += b
            if interrupt and b"\r" in seen:
                interrupt = False
                proc.send_signal(signal.SIGSTOP)  # freeze, queue Ctrl-C, resume: it lands mid-transfer
                proc.send_signal(signal.SIGINT)
                proc.send_signal(signal.SIGCONT)
        return proc.wait(timeout=60), seen
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        feeder.join(timeout=10)


def _last_bar(tty: bytes) -> str:
    segments = [s for s in tty.decode(errors="replace").split("\r") if "/s" in s]
    assert segments, tty
    return segments[-1].splitlines()[0].rstrip()


def test_progress_bar_through_the_cli_ends_interrupted_or_failed(nats_url: str, tmp_path: Path) -> None:
    ok("add", "pb", url=nats_url)
    rc, tty = _bar_output(["--server", nats_url, "put", "pb", "-", "--name", "big"], os.urandom(48 * MiB), interrupt=True)
    assert rc == 130 and b"Traceback" not in tty
    last = _last_bar(tty)
    assert last.endswith("interrupted") and " in 0:" not in last, last

    ok("add", "pbfull", "--max-bytes", "8MiB", url=nats_url)
    rc, tty = _bar_output(["--server", nats_url, "put", "pbfull", "-", "--name", "big"], os.urandom(24 * MiB))
    assert rc == 1 and b"is full" in tty and b"Traceback" not in tty
    if any("/s" in seg for seg in tty.decode(errors="replace").split("\r")):
        # A refusal can come before the first bar is drawn; a bar that was drawn ends "failed".
        last = _last_bar(tty)
        assert last.endswith("failed") and " in 0:" not in last, last
    assert b" in 0:" not in tty, tty
