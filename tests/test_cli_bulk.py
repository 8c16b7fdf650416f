"""Bulk and prefix operations of the ``objstore`` CLI (issue 13, point 2), through the real entry
point (``python -m objstore``) against a real nats-server: ``put FILE...`` / ``put -r DIR`` with
``--prefix``, ``get --prefix`` / ``get -r`` into a directory, ``ls`` by prefix or glob with
``--long`` and ``--sort`` (names cut in the middle on a terminal), ``rm NAME...`` / ``rm --prefix``
(the question on a terminal, no second delete marker) and ``cp`` between buckets.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import objstore
from objstore.cli.commands.listing import cut_middle, selects
from objstore.subjects import meta_subject, stream_name

from cli_util import ROOT, MiB, cli, cli_env, fails, js_out, ok  # noqa: E402 (tests/ is on sys.path via conftest)


def files(root: Path, spec: dict[str, bytes]) -> None:
    for rel, data in spec.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def seed(url: str, bucket: str, objects: dict[str, bytes]) -> None:
    """Store ``objects`` with the library (fewer CLI runs keep the file fast); the bucket is made."""
    async def go() -> None:
        async with await objstore.connect(url) as nc:
            js = nc.jetstream()
            store = await js.create_object_store(bucket=bucket)
            for name, data in objects.items():
                await store.put(name, data)
    asyncio.run(go())


def names(url: str, bucket: str = "b", *args: str) -> list[str]:
    return [o["name"] for o in js_out("ls", bucket, *args, url=url)]


def on_pty(args: list[str], answer: bytes = b"", columns: int = 0, timeout: float = 30, **env_extra: str) -> tuple[int, str]:
    """Run the CLI with stdin, stdout and stderr on a pseudo-terminal; ``answer`` is typed once
    the question ``[y/N]`` shows. Returns (exit code, everything the terminal showed)."""
    master, slave = pty.openpty()
    env = cli_env(None, **({"COLUMNS": str(columns)} if columns else {}), **env_extra)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "objstore", *args], stdin=slave, stdout=slave, stderr=slave,
                                env=env, cwd=ROOT)
    finally:
        os.close(slave)
    out = b""
    answered = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    b = os.read(master, 65536)
                except OSError:  # EIO: the process is gone
                    break
                if not b:
                    break
                out += b
            if answer and not answered and b"[y/N]" in out:
                os.write(master, answer)
                answered = True
            if proc.poll() is not None and not ready:
                break
        rc = proc.wait(timeout=10)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return rc, out.decode("utf-8", "replace").replace("\r\n", "\n")


# put FILE... and put -r ---------------------------------------------------------------------------

def test_put_several_files_and_directories(nats_url: str, tmp_path: Path) -> None:
    ok("add", "b", url=nats_url)
    files(tmp_path, {"one.txt": b"1", "two.bin": os.urandom(300_000), "tree/a.txt": b"a", "tree/sub/b.txt": b"bb",
                     "tree/sub/deeper/c.txt": b"ccc", "other/one.txt": b"clash"})
    doc = js_out("put", "b", str(tmp_path / "one.txt"), str(tmp_path / "two.bin"), "--metadata", "k=v", url=nats_url)
    assert [o["name"] for o in doc["objects"]] == ["one.txt", "two.bin"] and doc["count"] == 2 and doc["bytes"] == 300_001
    assert doc["objects"][0]["metadata"]["k"] == "v" and doc["objects"][0]["metadata"]["mode"]  # mode/mtime recorded
    out = ok("put", "b", str(tmp_path / "one.txt"), str(tmp_path / "two.bin"), "--prefix", "flat", url=nats_url).stdout.decode()
    assert "put b/flat/one.txt" in out and out.strip().splitlines()[-1].startswith("put 2 objects")
    ok("put", "-r", "b", str(tmp_path / "tree"), "--prefix", "backup/", url=nats_url)
    assert names(nats_url, "b", "backup/") == ["backup/a.txt", "backup/sub/b.txt", "backup/sub/deeper/c.txt"]
    # --if-absent skips what exists
    doc = js_out("put", "-r", "b", str(tmp_path / "tree"), "--prefix", "backup", "--if-absent", url=nats_url)
    assert doc["count"] == 0 and all(o["skipped"] for o in doc["objects"])
    # Usage errors (exit 2): a directory without -r, --name with several, '-' with others, a name twice.
    for args in (("put", "b", str(tmp_path / "tree"), str(tmp_path / "one.txt")),
                 ("put", "b", str(tmp_path / "one.txt"), str(tmp_path / "two.bin"), "--name", "x"),
                 ("put", "b", "-", str(tmp_path / "one.txt")),
                 ("put", "b", str(tmp_path / "one.txt"), str(tmp_path / "other" / "one.txt"))):
        res = cli(*args, url=nats_url)
        assert res.returncode == 2, (args, res.stderr)
    assert "missing.txt" in fails("put", "b", str(tmp_path / "one.txt"), str(tmp_path / "missing.txt"), url=nats_url)


# get --prefix / get -r -------------------------------------------------------------------------

def test_get_a_prefix_into_a_directory(nats_url: str, tmp_path: Path) -> None:
    data = {"reports/2026/jan.csv": b"jan", "reports/2026/q1/feb.csv": os.urandom(200_000), "reports/2025/old.csv": b"old",
            "reports/2026/empty/": b""}
    seed(nats_url, "b", {**data, "reports/2026/../../escape.txt": b"evil", "reports/2026//abs.txt": b"evil"})
    out = tmp_path / "out"
    doc = js_out("get", "b", "--prefix", "reports/2026/", "-o", str(out), url=nats_url)
    assert doc["downloaded"] == 3 and doc["failed"] == []
    assert {n["name"] for n in doc["not_got"]} == {"reports/2026/../../escape.txt", "reports/2026//abs.txt"}
    assert (out / "jan.csv").read_bytes() == b"jan" and (out / "q1" / "feb.csv").read_bytes() == data["reports/2026/q1/feb.csv"]
    assert (out / "empty").is_dir() and not (tmp_path / "escape.txt").exists()
    assert sorted(os.listdir(out)) == ["empty", "jan.csv", "q1"]

    # get -r BUCKET FOLDER: the same with FOLDER as a folder; -n keeps existing files.
    out2 = tmp_path / "out2"
    out2.mkdir()
    (out2 / "jan.csv").write_bytes(b"mine")
    line = ok("get", "-r", "b", "reports/2026", "-o", str(out2), "-n", url=nats_url).stdout.decode()
    assert "got 2 objects" in line and "1 kept (-n)" in line
    assert (out2 / "jan.csv").read_bytes() == b"mine" and (out2 / "q1" / "feb.csv").exists()
    # a partial prefix keeps its last folder: reports/20 -> 2025/..., 2026/...
    out3 = tmp_path / "out3"
    js_out("get", "b", "--prefix", "reports/20", "-o", str(out3), url=nats_url)
    assert (out3 / "2025" / "old.csv").read_bytes() == b"old" and (out3 / "2026" / "jan.csv").exists()
    assert cli("get", "b", "--prefix", "reports/", url=nats_url).returncode == 2  # needs -o DIR
    assert cli("get", "b", url=nats_url).returncode == 2
    assert not [f for d, _, fs in os.walk(tmp_path) for f in fs if "objstore" in f and "part" in f]


# ls ---------------------------------------------------------------------------------------------

def test_ls_prefix_glob_sort_long_and_cut_names(nats_url: str, tmp_path: Path) -> None:
    assert cut_middle("abcdefghij", 5) == "ab…ij" and cut_middle("abc", 5) == "abc" and len(cut_middle("x" * 100, 12)) == 12
    assert selects("logs/", "logs/a") and not selects("logs/", "x/logs/a") and selects("*.txt", "a/b.txt")
    assert selects("a?c", "abc") and not selects("[x]*", "abc") and selects("", "anything")
    long_name = "deep/" + "very-long-folder-name/" * 6 + "file-at-the-end.txt"
    seed(nats_url, "b", {"a.txt": os.urandom(3), "logs/big.log": os.urandom(5000), "logs/small.log": os.urandom(10),
                         long_name: os.urandom(1)})  # put in this order: the long name is the newest
    assert names(nats_url, "b", "logs/") == ["logs/big.log", "logs/small.log"]
    assert names(nats_url, "b", "*.log") == ["logs/big.log", "logs/small.log"]
    assert names(nats_url, "b", "--sort", "size") == ["logs/big.log", "logs/small.log", "a.txt", long_name]
    assert names(nats_url, "b", "--sort", "mtime")[0] == long_name  # newest first
    long = ok("ls", "b", "logs/big.log", "--long", url=nats_url).stdout.decode()
    info = js_out("info", "b", "logs/big.log", url=nats_url)
    assert info["digest_hex"] in long and "5000" in long and "SHA-256" in long
    # Piped: full names. On a terminal: cut in the middle to fit, never wrapped.
    assert long_name in ok("ls", "b", url=nats_url).stdout.decode()
    rc, shown = on_pty(["--server", nats_url, "ls", "b"], columns=70)
    assert rc == 0, shown
    lines = shown.strip().splitlines()
    assert all(len(line) <= 69 for line in lines), lines
    cut = [line for line in lines if line.startswith("deep/")]
    assert cut and "…" in cut[0] and cut[0].split()[0].endswith("end.txt")
    assert "no objects match" in cli("ls", "b", "nothing/", url=nats_url).stderr.decode()


# rm ---------------------------------------------------------------------------------------------

async def _meta_messages(url: str, bucket: str) -> int:
    async with await objstore.connect(url) as nc:
        si = await nc.jetstream().stream_info(stream_name(bucket), subjects_filter=f"$O.{bucket}.M.>")
        return si.state.messages, si.state.last_seq


def test_rm_names_prefix_already_deleted_and_the_question(nats_url: str, tmp_path: Path) -> None:
    seed(nats_url, "b", {name: name.encode() for name in ("a", "b", "c", "tmp/1", "tmp/2", "tmp/3", "keep/x")})
    doc = js_out("rm", "b", "a", "b", url=nats_url)
    assert doc["deleted"] == ["a", "b"] and doc["already_deleted"] == []
    before = asyncio.run(_meta_messages(nats_url, "b"))
    line = ok("rm", "b", "a", url=nats_url).stdout.decode()
    assert "already deleted" in line
    assert js_out("rm", "b", "a", url=nats_url)["already_deleted"] is True
    assert asyncio.run(_meta_messages(nats_url, "b")) == before  # no second delete marker
    assert "'nope' not found" in fails("rm", "b", "nope", url=nats_url)
    res = cli("rm", "b", "c", "nope", url=nats_url)  # the others are still deleted
    assert res.returncode == 1 and "c" not in names(nats_url)
    assert cli("rm", "b", url=nats_url).returncode == 2 and cli("rm", "b", "x", "--prefix", "y", url=nats_url).returncode == 2

    # --prefix on a terminal asks with the count; 'n' changes nothing (exit 1), 'y' deletes.
    rc, shown = on_pty(["--server", nats_url, "rm", "b", "--prefix", "tmp/"], answer=b"n\n")
    assert rc == 1 and "delete 3 objects under b/tmp/? [y/N]" in shown and "not confirmed" in shown, shown
    assert names(nats_url, "b", "tmp/") == ["tmp/1", "tmp/2", "tmp/3"]
    rc, shown = on_pty(["--server", nats_url, "rm", "b", "--prefix", "tmp/"], answer=b"y\n")
    assert rc == 0 and "deleted 3 objects under b/tmp/" in shown, shown
    assert names(nats_url) == ["keep/x"]
    # -f, or no terminal: no question.
    ok("put", "b", "-", "--name", "tmp/4", "-q", input=b"4", url=nats_url)
    rc, shown = on_pty(["--server", nats_url, "rm", "b", "--prefix", "tmp/", "-f"])
    assert rc == 0 and "[y/N]" not in shown
    assert js_out("rm", "b", "--prefix", "keep/", url=nats_url)["deleted"] == ["keep/x"]


# cp ---------------------------------------------------------------------------------------------

async def _tamper_digest(url: str, bucket: str, name: str) -> None:
    async with await objstore.connect(url) as nc:
        js = nc.jetstream()
        info = await (await js.object_store(bucket)).get_info(name)
        doc = info.to_json()
        doc["digest"] = "SHA-256=" + base64.urlsafe_b64encode(b"\x00" * 32).decode()
        await js.publish(meta_subject(bucket, name), json.dumps(doc).encode(), headers={"Nats-Rollup": "sub"})


def test_cp_between_buckets_keeps_headers_and_metadata(nats_url: str, tmp_path: Path) -> None:
    ok("add", "src", url=nats_url)
    ok("add", "dst", url=nats_url)
    body = os.urandom(3 * MiB + 7)
    ok("put", "src", "-", "--name", "dir/data.bin", "-H", "Content-Type:application/x-test", "--metadata", "owner=me",
       "--description", "the original", "--chunk-size", "64KiB", "-q", input=body, url=nats_url)
    copy = js_out("cp", "src/dir/data.bin", "dst", url=nats_url)
    orig = js_out("info", "src", "dir/data.bin", url=nats_url)
    assert copy["name"] == "dir/data.bin" and copy["bucket"] == "dst" and copy["digest"] == orig["digest"]
    assert copy["headers"] == orig["headers"] and copy["metadata"] == {"owner": "me"} and copy["description"] == "the original"
    assert copy["chunk_size"] == 64 * 1024
    assert ok("get", "dst", "dir/data.bin", "-o", "-", url=nats_url).stdout == body
    assert js_out("cp", "src/dir/data.bin", "dst/renamed.bin", url=nats_url)["name"] == "renamed.bin"
    assert js_out("cp", "src/dir/data.bin", "src/backup/", url=nats_url)["name"] == "backup/data.bin"
    assert hashlib.sha256(ok("get", "src", "backup/data.bin", "-o", "-", url=nats_url).stdout).digest() == hashlib.sha256(body).digest()
    assert cli("cp", "src/dir/data.bin", "src/dir/data.bin", url=nats_url).returncode == 2
    assert cli("cp", "src", "dst", url=nats_url).returncode == 2
    assert "not found" in fails("cp", "src/nope", "dst", url=nats_url)
    # A source whose digest does not match: the copy fails and leaves nothing in the destination.
    asyncio.run(_tamper_digest(nats_url, "src", "dir/data.bin"))
    assert "digest" in fails("cp", "src/dir/data.bin", "dst/bad.bin", url=nats_url).lower()
    assert "bad.bin" not in names(nats_url, "dst")
    assert asyncio.run(_orphans(nats_url, "dst")) == []  # its chunks were purged


async def _orphans(url: str, bucket: str) -> list[Any]:
    async with await objstore.connect(url) as nc:
        return await (await nc.jetstream().object_store(bucket)).orphans()
