"""``objstore sync`` (issue 13, point 1): the pure planner (:mod:`objstore.sync_plan`) and digest
cache fed values, then the real CLI (``python -m objstore``) against a real nats-server: a tree
of 1,000+ files both ways, a second run that transfers and reads nothing, a changed file, a
deleted file with and without ``--delete``, filters and ``--dry-run``, symlinks, names that
cannot be files, and syncs killed mid-way then run again.

Every CLI run gets its own ``XDG_CACHE_HOME`` (the digest cache) under the test's tmp_path.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

import objstore
from objstore import digest_of
from objstore.cli.digest_cache import RACY_NS, DigestCache
from objstore.cli.local_tree import SYNC_TEMP_SUFFIX
from objstore.cli.runtime import CliError
from objstore.sync_plan import Entry, Filters, file_metadata, needs_digest, parse_file_metadata, plan_sync, unsafe_reason

from cli_util import MiB, cli_cmd, cli_env  # noqa: E402 (tests/ is on sys.path via conftest)

PAST_NS = 1_700_000_000_123_456_789  # the tree's mtimes: old enough never to be "racy"


# The planner, fed values ----------------------------------------------------------------------------

def E(name: str, size: int = 1, digest: str = "", **kw: Any) -> Entry:
    return Entry(name, size, digest, **kw)


def test_plan_compares_size_then_digest_and_deletes_only_when_asked() -> None:
    d1, d2 = digest_of(b"a"), digest_of(b"b")
    src = {"same": E("same", 1, d1), "other": E("other", 1, d1), "grown": E("grown", 2, d1), "new": E("new", 1, d1),
           "dir/": E("dir/", 0)}
    dst = {"same": E("same", 1, d1), "other": E("other", 1, d2), "grown": E("grown", 1, d1), "gone": E("gone", 1, d1),
           "dir/": E("dir/", 0), "nodigest": E("nodigest", 1)}
    plan = plan_sync(src, dst)
    assert [e.name for e in plan.copy] == ["grown", "new", "other"]
    assert sorted(plan.skipped) == ["dir/", "same"] and plan.delete == []
    assert plan.copy_bytes == 4
    plan = plan_sync(src, dst, delete=True)
    assert [e.name for e in plan.delete] == ["gone", "nodigest"]
    # The same digest in another encoding (hex, as early writers stored it) is the same.
    hexed = "SHA-256=" + hashlib.sha256(b"a").hexdigest()
    assert plan_sync({"x": E("x", 1, d1)}, {"x": E("x", 1, hexed)}).skipped == ["x"]
    # Equal sizes need the digest: which names must be hashed first.
    assert needs_digest({"x": E("x", 1), "y": E("y", 2), "z": E("z", 1)}, {"x": E("x", 1, d1), "y": E("y", 1, d1)}) == ["x"]
    assert [e.name for e in plan_sync({"x": E("x", 1)}, {"x": E("x", 1, d1)}).copy] == ["x"]  # unknown: copied


def test_filters_last_match_decides_and_excluded_names_are_left_alone() -> None:
    f = Filters([("exclude", "*.log"), ("include", "keep.log"), ("exclude", "cache/*")])
    assert not f.included("a/b/x.log") and f.included("a/keep.log") and f.included("x.txt")
    assert not f.included("cache/deep/x.txt") and not f.included("cache/") and f.included("cached.txt")
    src = {"a.txt": E("a.txt"), "b.log": E("b.log")}
    dst = {"c.log": E("c.log"), "d.txt": E("d.txt")}
    plan = plan_sync(src, dst, delete=True, filters=Filters([("exclude", "*.log")]))
    assert [e.name for e in plan.copy] == ["a.txt"] and [e.name for e in plan.delete] == ["d.txt"] and plan.excluded == 2
    with pytest.raises(ValueError):
        Filters([("drop", "x")])


def test_unsafe_names_and_file_metadata() -> None:
    for ok_name in ("a", "a/b.txt", "dir/", "ü/日本.txt", "..a", "a..b/c"):
        assert unsafe_reason(ok_name) is None, ok_name
    for bad, why in (("", "empty"), ("/etc/x", "absolute"), ("a/../b", "'..'"), ("..", "'..'"), ("a\0b", "NUL"),
                     ("a//b", "empty part"), ("./a", "'.'"), ("a/./", "'.'"), ("d/" + "é" * 128, "255 bytes")):
        reason = unsafe_reason(bad)
        assert reason is not None and why in reason, (bad, reason)
    md = file_metadata(0o100644, PAST_NS)
    assert md == {"mode": "0644", "mtime": "1700000000.123456789"}
    assert parse_file_metadata(md) == (0o644, PAST_NS)
    assert parse_file_metadata(file_metadata(0o600, -1)) == (0o600, -1)
    assert parse_file_metadata({"mode": "rw", "mtime": "yesterday"}) == (None, None)
    assert parse_file_metadata({"mtime": "12.5"}) == (None, 12_500_000_000)
    assert parse_file_metadata(None) == (None, None)


def test_digest_cache_hits_only_unchanged_and_settled_files(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    cache = DigestCache(str(root), str(tmp_path / "cache"))
    cache.lock()
    now = time.time_ns()
    cache.put("old", 10, PAST_NS, "SHA-256=x", now)
    cache.put("fresh", 10, now - RACY_NS // 2, "SHA-256=y", now)  # changed within the granularity: racy
    assert cache.get("old", 10, PAST_NS) == "SHA-256=x"
    assert cache.get("old", 11, PAST_NS) is None and cache.get("old", 10, PAST_NS + 1) is None
    assert cache.get("fresh", 10, now - RACY_NS // 2) is None
    cache.save()
    # One sync at a time per directory.
    other = DigestCache(str(root), str(tmp_path / "cache"))
    with pytest.raises(CliError, match="another objstore sync"):
        other.lock()
    cache.unlock()
    other.lock()
    other.load()
    assert other.get("old", 10, PAST_NS) == "SHA-256=x" and other.hits == 1
    other.keep_only({"fresh"})
    assert other.get("old", 10, PAST_NS) is None
    other.unlock()
    (tmp_path / "cache" / os.path.basename(other.path)).write_text("{not json")
    broken = DigestCache(str(root), str(tmp_path / "cache"))
    broken.load()  # started afresh
    assert broken.entries == {}


# Running the CLI ----------------------------------------------------------------------------------

def run(*args: str, url: str, cache: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    res = subprocess.run(cli_cmd(args, url), capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
                         env=cli_env(None, XDG_CACHE_HOME=str(cache)))
    assert b"Traceback" not in res.stderr, res.stderr.decode()
    return res


def sync(*args: str, url: str, cache: Path, code: int = 0) -> dict[str, Any]:
    res = run("sync", "--json", *args, url=url, cache=cache)
    doc = json.loads(res.stdout) if res.stdout.startswith(b"{") else {}
    assert res.returncode == code, (args, res.returncode, res.stderr.decode(), doc.get("failed"))
    return doc


def make_tree(root: Path, files: int = 1000, large: int = 20 * MiB) -> int:
    """``files`` small files in nested folders, an empty file, an empty folder, unicode names and
    one large file, all with old, distinct mtimes and a few modes. Returns the number of files."""
    n = 0
    for i in range(files):
        p = root / f"d{i % 10}" / f"s{(i // 10) % 10}" / f"f{i}.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(os.urandom(i % 700))
        n += 1
    extra = {"empty.txt": b"", "ünï/日本語 ファイル.txt": "こんにちは".encode(), "emoji 🎉.md": b"party\n",
             "big/large.bin": os.urandom(large)}
    for rel, data in extra.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        n += 1
    (root / "hollow" / "inner").mkdir(parents=True)  # an empty folder: a 0-byte "hollow/inner/" marker
    for k, (dirpath, _, filenames) in enumerate(os.walk(root)):
        for j, f in enumerate(sorted(filenames)):
            p = os.path.join(dirpath, f)
            os.chmod(p, (0o600, 0o644, 0o755)[(j + k) % 3])
            os.utime(p, ns=(PAST_NS + j, PAST_NS + j * 1_000_001))
    return n


def snapshot(root: Path) -> dict[str, Any]:
    """Every file (content hash, mode, mtime_ns) and every empty directory under ``root``."""
    out: dict[str, Any] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if not dirnames and not filenames and rel_dir != ".":
            out[rel_dir + "/"] = "dir"
        for f in filenames:
            p = os.path.join(dirpath, f)
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = (hashlib.sha256(Path(p).read_bytes()).hexdigest(), stat.S_IMODE(st.st_mode), st.st_mtime_ns)
    return out


def no_temp_files(root: Path) -> None:
    left = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(SYNC_TEMP_SUFFIX)]
    assert not left, left


# A tree both ways -------------------------------------------------------------------------------

def test_sync_a_tree_up_and_down_then_again_changes_and_deletes(nats_url: str, tmp_path: Path) -> None:
    src, dst, cache = tmp_path / "src", tmp_path / "dst", tmp_path / "cache"
    src.mkdir()
    count = make_tree(src)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(src) for f in fs)
    assert run("add", "b", url=nats_url, cache=cache).returncode == 0
    up = {"url": nats_url, "cache": cache}

    first = sync(str(src), "b/backup", "--concurrency", "16", **up)
    assert first["uploaded"] == count + 1 and first["bytes"] == total and first["failed"] == [] and first["hashed"] == 0
    second = sync(str(src), "b/backup", "--concurrency", "16", **up)
    assert (second["uploaded"], second["skipped"], second["bytes"], second["hashed"]) == (0, count + 1, 0, 0)
    assert second["cache_hits"] == count  # every file compared by its cached digest: none read

    down = sync("b/backup", str(dst), "--concurrency", "16", **up)
    assert down["downloaded"] == count + 1 and down["bytes"] == total and down["failed"] == []
    assert snapshot(dst) == snapshot(src)  # contents, modes, mtimes (ns) and the empty folder
    again = sync("b/backup", str(dst), "--concurrency", "16", **up)
    assert (again["downloaded"], again["hashed"], again["skipped"]) == (0, 0, count + 1)
    no_temp_files(dst)
    print(f"\nsync figures: {count} files + 1 folder marker, {total} bytes; upload first {first['elapsed_seconds']:.2f} s "
          f"({first['uploaded']} sent), second {second['elapsed_seconds']:.2f} s (0 sent, 0 read); download first "
          f"{down['elapsed_seconds']:.2f} s, second {again['elapsed_seconds']:.2f} s")

    # A changed file of the same size: found by its digest, and only it is read.
    changed = src / "d3" / "s0" / "f3.txt"
    changed.write_bytes(bytes(b ^ 0xFF for b in changed.read_bytes()))
    os.utime(changed, ns=(PAST_NS + 10**9, PAST_NS + 10**9))
    res = sync(str(src), "b/backup", **up)
    assert (res["uploaded"], res["hashed"], res["skipped"]) == (1, 1, count)
    res = sync("b/backup", str(dst), **up)
    assert (res["downloaded"], res["hashed"]) == (1, 0)  # the local copy's old digest is cached
    assert (dst / "d3" / "s0" / "f3.txt").read_bytes() == changed.read_bytes()

    # A deleted file: kept without --delete, deleted with it (both directions).
    (src / "d1" / "s0" / "f1.txt").unlink()
    res = sync(str(src), "b/backup", **up)
    assert (res["uploaded"], res["deleted"]) == (0, 0)
    res = sync(str(src), "b/backup", "--delete", **up)
    assert (res["uploaded"], res["deleted"]) == (0, 1)
    res = sync("b/backup", str(dst), **up)
    assert (res["downloaded"], res["deleted"]) == (0, 0) and (dst / "d1" / "s0" / "f1.txt").exists()
    res = sync("b/backup", str(dst), "--delete", **up)
    assert res["deleted"] == 1 and not (dst / "d1" / "s0" / "f1.txt").exists()
    assert snapshot(dst) == snapshot(src)



def seed(url: str, bucket: str, objects: dict[str, bytes]) -> None:
    """Make the bucket and store ``objects`` with the library (any name: these are the hostile ones)."""
    async def go() -> None:
        async with await objstore.connect(url) as nc:
            store = await nc.jetstream().create_object_store(bucket=bucket)
            for name, data in objects.items():
                await store.put(name, data)
    asyncio.run(go())


def listed(url: str, bucket: str) -> list[str]:
    async def go() -> list[str]:
        async with await objstore.connect(url) as nc:
            return sorted(i.name for i in await (await nc.jetstream().object_store(bucket)).list())
    return asyncio.run(go())


# Filters, dry run, symlinks, names that cannot be files, usage errors -------------------------------

def test_sync_filters_dry_run_and_symlinks(nats_url: str, tmp_path: Path) -> None:
    src, cache = tmp_path / "src", tmp_path / "cache"
    up = {"url": nats_url, "cache": cache}
    (src / "logs").mkdir(parents=True)
    for rel in ("a.txt", "debug.log", "keep.log", "logs/x.txt"):
        (src / rel).write_bytes(rel.encode())
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"not for the bucket")
    os.symlink(outside / "secret.txt", src / "link.txt")
    os.symlink(outside, src / "linkdir")
    seed(nats_url, "b", {})
    flt = ("--exclude", "*.log", "--include", "keep.log", "--exclude", "logs/*")

    dry = sync(str(src), "b", "--dry-run", *flt, **up)
    assert dry["dry_run"] and [a["name"] for a in dry["actions"]] == ["a.txt", "keep.log"] and dry["excluded"] == 2
    assert {n["name"] for n in dry["not_synced"]} == {"link.txt", "linkdir"}
    human = run("sync", str(src), "b", "--dry-run", *flt, **up)
    assert "would upload a.txt (5 B)" in human.stdout.decode() and "dry run: would upload 2" in human.stdout.decode()
    assert "symlink" in human.stderr.decode() and "--follow" in human.stderr.decode()
    assert listed(nats_url, "b") == []  # nothing done

    res = sync(str(src), "b", *flt, **up)
    assert res["uploaded"] == 2
    res = sync(str(src), "b", "--follow", **up)  # no filters now: the rest, symlinks followed
    assert res["uploaded"] == 4 and res["not_synced"] == []
    assert set(listed(nats_url, "b")) == {"a.txt", "debug.log", "keep.log", "logs/x.txt", "link.txt", "linkdir/secret.txt"}
    # --delete with filters: excluded names are not deleted.
    (src / "a.txt").unlink()
    (src / "debug.log").unlink()
    res = sync(str(src), "b", "--delete", "--exclude", "*.log", **up)
    assert res["deleted"] == 3 and res["excluded"] == 2  # a.txt and the two symlinked names; debug.log kept


def test_sync_download_never_writes_outside_dir(nats_url: str, tmp_path: Path) -> None:
    dst, cache, outside = tmp_path / "dst", tmp_path / "cache", tmp_path / "outside"
    up = {"url": nats_url, "cache": cache}
    hostile = ["p/../escape.txt", "p/a/../../../x.txt", "p//double.txt", "p/./dot.txt", "p/a/..", "p/full/", "p/ok/fine.txt",
               "p/out/planted.txt"]
    seed(nats_url, "b", {name: b"data " + name.encode() for name in hostile})
    outside.mkdir()
    dst.mkdir()
    os.symlink(outside, dst / "out")  # a symlink inside DIR pointing outside it
    res = sync("b/p", str(dst), **up)
    assert res["downloaded"] == 1 and res["failed"] == []
    reasons = {n["name"]: n["reason"] for n in res["not_synced"]}
    assert "symlink" in reasons.pop("out")  # the local walk's note
    assert set(reasons) == set(hostile) - {"p/ok/fine.txt"}, reasons
    assert "'..'" in reasons["p/../escape.txt"] and "absolute" in reasons["p//double.txt"]
    assert "symlink" in reasons["p/out/planted.txt"] and "folder" in reasons["p/full/"]
    assert os.listdir(outside) == [] and not (tmp_path / "escape.txt").exists() and not (tmp_path / "x.txt").exists()
    assert sorted(os.listdir(dst)) == ["ok", "out"] and (dst / "ok" / "fine.txt").read_bytes() == b"data p/ok/fine.txt"
    human = run("sync", "b/p", str(dst), **up)
    assert human.returncode == 0 and "cannot be a file here" in human.stderr.decode()


def test_sync_usage_errors(nats_url: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    for args in ((str(tmp_path / "one"), str(tmp_path / "two")), ("no such bucket!", str(tmp_path / "two")),
                 (str(tmp_path / "one"), "b/../up"), ("--concurrency", "0", str(tmp_path / "one"), "b")):
        res = run("sync", *args, url=nats_url, cache=cache)
        assert res.returncode == 2, (args, res.stderr)
    res = run("sync", str(tmp_path / "one"), "nobucket", url=nats_url, cache=cache)
    assert res.returncode == 1 and "nobucket" in res.stderr.decode()
    # A sealed bucket stops the sync at the first refusal, in the user's words (not 20 failures).
    (tmp_path / "one" / "f").write_bytes(b"x")
    seed(nats_url, "sealed", {})
    assert run("seal", "sealed", url=nats_url, cache=cache).returncode == 0
    res = run("sync", str(tmp_path / "one"), "sealed", url=nats_url, cache=cache)
    assert res.returncode == 1 and res.stderr.decode().strip() == "objstore: bucket 'sealed' is sealed (read-only)", res.stderr


# Interrupted syncs --------------------------------------------------------------------------------

def _kill_when(proc: subprocess.Popen, ready: Any, sig: int, timeout: float = 60) -> None:
    """Stop ``proc`` (SIGSTOP) once ``ready()``, check it is still mid-way, then send ``sig``."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, ("finished before it could be interrupted", proc.stderr.read() if proc.stderr else b"")
        assert time.monotonic() < deadline, "never got going"
        time.sleep(0.005)
    proc.send_signal(signal.SIGSTOP)
    time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be interrupted"
    proc.send_signal(sig)
    proc.send_signal(signal.SIGCONT)


def _popen(args: tuple[str, ...], url: str, cache: Path) -> subprocess.Popen:
    return subprocess.Popen(cli_cmd(args, url), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=cli_env(None, XDG_CACHE_HOME=str(cache)))


def _object_count(url: str) -> int:
    async def count() -> int:
        async with await objstore.connect(url) as nc:
            return len(await (await nc.jetstream().object_store("b")).list())
    return asyncio.run(count())


FILES = 250


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_sync_then_a_rerun_completes(nats_url: str, tmp_path: Path, sig: int) -> None:
    src, dst, cache = tmp_path / "src", tmp_path / "dst", tmp_path / "cache"
    up = {"url": nats_url, "cache": cache}
    src.mkdir()
    for i in range(FILES):
        (src / f"dir{i % 7}").mkdir(exist_ok=True)
        (src / f"dir{i % 7}" / f"file{i}.bin").write_bytes(os.urandom(64 * 1024 + i))
    assert run("add", "b", **up).returncode == 0

    proc = _popen(("sync", str(src), "b", "--concurrency", "1", "-q"), nats_url, cache)
    _kill_when(proc, lambda: _object_count(nats_url) >= 3, sig)
    code = proc.wait(timeout=60)
    assert code == (-signal.SIGKILL if sig == signal.SIGKILL else 130), (code, proc.stderr.read())
    before = _object_count(nats_url)
    assert 3 <= before < FILES
    res = sync(str(src), "b", **up)
    assert res["uploaded"] + res["skipped"] == FILES and res["uploaded"] >= FILES - before and res["failed"] == []
    assert sync(str(src), "b", **up)["uploaded"] == 0

    def some_files() -> bool:
        return dst.exists() and sum(len(fs) for _, _, fs in os.walk(dst)) >= 5

    proc = _popen(("sync", "b", str(dst), "--concurrency", "1", "-q"), nats_url, cache)
    _kill_when(proc, some_files, sig)
    code = proc.wait(timeout=60)
    assert code == (-signal.SIGKILL if sig == signal.SIGKILL else 130), (code, proc.stderr.read())
    if sig == signal.SIGINT:
        no_temp_files(dst)  # Ctrl-C: nothing half-written
    for d, _, fs in os.walk(dst):  # every file in place is whole (temp files aside)
        for f in fs:
            if not f.endswith(SYNC_TEMP_SUFFIX):
                rel = os.path.relpath(os.path.join(d, f), dst)
                assert (dst / rel).read_bytes() == (src / rel).read_bytes()
    res = sync("b", str(dst), **up)
    assert res["downloaded"] + res["skipped"] == FILES and res["failed"] == []
    no_temp_files(dst)  # a killed sync's temp files are removed by the next one
    assert snapshot(dst) == snapshot(src)


def test_sync_delete_asks_on_a_terminal(nats_url: str, tmp_path: Path) -> None:
    from test_cli_bulk import on_pty  # the pty driver lives with the rm tests

    src, cache = tmp_path / "src", tmp_path / "cache"
    up = {"url": nats_url, "cache": cache}
    src.mkdir()
    for rel in ("a", "b", "c"):
        (src / rel).write_bytes(rel.encode())
    seed(nats_url, "b", {"a": b"a", "b": b"b", "c": b"c"})
    (src / "a").unlink()
    (src / "b").unlink()
    rc, shown = on_pty(["--server", nats_url, "sync", str(src), "b", "--delete"], answer=b"n\n", XDG_CACHE_HOME=str(cache))
    assert rc == 1 and "delete 2 objects from b/ that the source lacks? [y/N]" in shown and "not confirmed" in shown, shown
    assert listed(nats_url, "b") == ["a", "b", "c"]
    rc, shown = on_pty(["--server", nats_url, "sync", str(src), "b", "--delete"], answer=b"y\n", XDG_CACHE_HOME=str(cache))
    assert rc == 0 and "deleted 2" in shown, shown
    rc, shown = on_pty(["--server", nats_url, "sync", str(src), "b", "--delete", "-f"], XDG_CACHE_HOME=str(cache))
    assert rc == 0 and "[y/N]" not in shown
    assert listed(nats_url, "b") == ["c"]


# The library fix an interrupted sync found ---------------------------------------------------------

@pytest.mark.parametrize("landed", [True, False])
async def test_put_cancelled_while_its_meta_is_in_flight_keeps_a_stored_object_whole(nats_url: str, landed: bool) -> None:
    """Ctrl-C at the moment the meta is published: when the meta landed, the object must stay
    readable (its chunks are not purged); when it did not, nothing is left behind."""
    async with await objstore.connect(nats_url) as nc:
        js = nc.jetstream()
        store = await js.create_object_store(bucket="cut")
        inner = store.handle.js
        real_publish = inner.publish

        async def publish(subject: str, payload: bytes = b"", **kw: Any) -> Any:
            if ".M." not in subject:
                return await real_publish(subject, payload, **kw)
            if landed:
                await real_publish(subject, payload, **kw)  # stored and acknowledged ...
            raise asyncio.CancelledError  # ... but the caller was interrupted before it saw the ack

        inner.publish = publish
        try:
            with pytest.raises(asyncio.CancelledError):
                await store.put("obj", os.urandom(300_000), chunk_size=64 * 1024)
        finally:
            del inner.publish
        if landed:
            assert len(await store.get("obj")) == 300_000  # whole, verified
        else:
            with pytest.raises(objstore.ObjectNotFoundError):
                await store.get_info("obj")
            assert await store.orphans() == []


# Against the embedded server ------------------------------------------------------------------------

def test_sync_round_trip_on_the_embedded_server(tmp_path: Path) -> None:
    data_dir, src, dst, cache = tmp_path / "data", tmp_path / "src", tmp_path / "dst", tmp_path / "cache"
    files = {"a.txt": b"alpha", "deep/er/b.bin": os.urandom(200_000), "ü.txt": "ü".encode()}
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)

    def emb(*args: str) -> subprocess.CompletedProcess:
        res = subprocess.run(cli_cmd(args, None), capture_output=True, stdin=subprocess.DEVNULL, timeout=120,
                             env=cli_env(data_dir, XDG_CACHE_HOME=str(cache)))
        assert res.returncode == 0 and b"Traceback" not in res.stderr, (args, res.stderr)
        return res

    try:
        emb("add", "emb")
        assert json.loads(emb("sync", "--json", str(src), "emb/x").stdout)["uploaded"] == 3
        assert json.loads(emb("sync", "--json", "emb/x", str(dst)).stdout)["downloaded"] == 3
        assert {rel: (dst / rel).read_bytes() for rel in files} == files
        assert "uploaded 0 (0 B), skipped 3, deleted 0" in emb("sync", str(src), "emb/x").stdout.decode()
    finally:
        subprocess.run(cli_cmd(("serve", "--stop"), None), capture_output=True, timeout=60, env=cli_env(data_dir))
