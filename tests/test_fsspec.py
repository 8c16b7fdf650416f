"""The fsspec filesystem (``natsobj://bucket/path``) against a real server, through fsspec's own
entry points (``fsspec.filesystem``, ``fsspec.open``, ``fsspec.open_files``) and pandas/pyarrow
over URLs when those are installed. Skipped as a whole when fsspec is missing.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

import objstore

fsspec = pytest.importorskip("fsspec")
from objstore.fsspec_fs import NatsObjFileSystem

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 128 * 1024
BIG = bytes(range(256)) * (CHUNK * 3 // 256) + b"tail-bytes"  # three chunks and a bit


@pytest.fixture(scope="module")
def url(module_server: Any) -> str:
    return module_server.url


@pytest.fixture
def fs(url: str) -> Iterator[Any]:
    """A fresh filesystem over bucket ``b`` (created empty), closed afterwards."""
    fs = fsspec.filesystem("natsobj", servers=url, skip_instance_cache=True)
    if fs.exists("b"):
        fs.rm("b", recursive=True)
    fs.mkdir("b")
    fs.pipe({"b/top.txt": b"top", "b/dir/a.txt": b"aaa", "b/dir/sub/c.txt": b"c", "b/big.bin": BIG})
    try:
        yield fs
    finally:
        fs.close()


def test_registered_and_runtime_imports_without_fsspec() -> None:
    assert fsspec.get_filesystem_class("natsobj") is NatsObjFileSystem
    # The library never imports fsspec: with fsspec made unimportable, objstore still imports.
    code = "import sys; sys.modules['fsspec'] = None; import objstore, objstore.cli; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "ok", out.stderr


def test_ls_info_exists(fs: Any) -> None:
    assert "b" in fs.ls("", detail=False)
    assert fs.ls("b", detail=False) == ["b/big.bin", "b/dir", "b/top.txt"]
    assert fs.ls("natsobj://b/dir", detail=False) == ["b/dir/a.txt", "b/dir/sub"]
    entries = {e["name"]: e for e in fs.ls("b/dir")}
    assert entries["b/dir/a.txt"]["type"] == "file" and entries["b/dir/a.txt"]["size"] == 3
    assert entries["b/dir/sub"]["type"] == "directory"
    assert fs.ls("b/top.txt", detail=False) == ["b/top.txt"]  # ls of a file: the file
    info = fs.info("b/big.bin")
    assert info["type"] == "file" and info["size"] == len(BIG) and info["chunks"] == 4
    assert info["digest"].startswith("SHA-256=") and info["mtime"] is not None
    assert fs.info("b/dir")["type"] == "directory" and fs.info("b")["type"] == "directory"
    assert fs.exists("b/dir/sub/c.txt") and fs.exists("b/dir") and fs.exists("b")
    assert not fs.exists("b/nope") and not fs.exists("b/di") and not fs.exists("nobucket/x")
    assert fs.isdir("b/dir/sub") and fs.isfile("b/top.txt") and not fs.isfile("b/dir")
    with pytest.raises(FileNotFoundError):
        fs.info("b/nope")
    with pytest.raises(FileNotFoundError):
        fs.ls("b/nope")
    assert fs.find("b") == ["b/big.bin", "b/dir/a.txt", "b/dir/sub/c.txt", "b/top.txt"]
    assert fs.find("b/dir", maxdepth=1) == ["b/dir/a.txt"]
    assert fs.find("b", withdirs=True) == ["b", "b/big.bin", "b/dir", "b/dir/a.txt", "b/dir/sub", "b/dir/sub/c.txt", "b/top.txt"]
    assert sorted(fs.glob("b/dir/**/*.txt")) == ["b/dir/a.txt", "b/dir/sub/c.txt"]
    assert fs.glob("b/*.txt") == ["b/top.txt"]
    assert fs.du("b/dir") == 4 and fs.size("b/big.bin") == len(BIG)
    assert fs.modified("b/top.txt") == fs.info("b/top.txt")["mtime"]


@pytest.mark.parametrize(
    "start, end",
    [(0, 1), (1, 2), (CHUNK - 1, CHUNK + 1), (CHUNK, CHUNK), (CHUNK, 2 * CHUNK), (CHUNK + 1, None),
     (len(BIG) - 1, None), (len(BIG), None), (len(BIG) + 5, None), (0, len(BIG) + 100), (-10, None), (-10, -2),
     (5, 3), (None, 100)],
)
def test_cat_file_ranges(fs: Any, start: Any, end: Any) -> None:
    assert fs.cat_file("b/big.bin", start=start, end=end) == BIG[start:end]


def test_ranges_fetch_only_the_covering_chunks(fs: Any) -> None:
    data = os.urandom(32 * CHUNK)  # 4 MiB, 32 chunks
    fs.pipe_file("b/wide.bin", data)
    stats = fs.store("b").fetch_stats
    stats.reset()
    assert fs.cat_file("b/wide.bin", start=CHUNK + 1, end=CHUNK + 2) == data[CHUNK + 1 : CHUNK + 2]
    assert stats.chunks <= 3, stats  # the first range also locates the layout (first/last chunk)
    stats.reset()
    assert fs.cat_file("b/wide.bin", start=20 * CHUNK - 3, end=20 * CHUNK + 3) == data[20 * CHUNK - 3 : 20 * CHUNK + 3]
    assert stats.chunks == 2 and stats.payload_bytes == 2 * CHUNK, stats
    stats.reset()
    with fs.open("b/wide.bin", "rb", block_size=CHUNK, cache_type="bytes") as f:
        f.seek(30 * CHUNK + 5)
        assert f.read(10) == data[30 * CHUNK + 5 : 30 * CHUNK + 15]
    assert stats.payload_bytes <= 2 * CHUNK, stats


def test_cat_whole_and_many(fs: Any) -> None:
    assert fs.cat_file("b/big.bin") == BIG
    assert fs.cat("b/dir", recursive=True, on_error="omit") == {"b/dir/a.txt": b"aaa", "b/dir/sub/c.txt": b"c"}
    with pytest.raises(IsADirectoryError):
        fs.cat_file("b/dir")
    assert fs.cat_ranges(["b/big.bin", "b/top.txt"], [CHUNK, 1], [CHUNK + 3, 3]) == [BIG[CHUNK : CHUNK + 3], b"op"]
    assert fs.head("b/big.bin", 5) == BIG[:5] and fs.tail("b/big.bin", 5) == BIG[-5:]
    with pytest.raises(FileNotFoundError):
        fs.cat_file("b/nope")
    with pytest.raises(FileNotFoundError):
        fs.cat_file("nobucket/x")


def test_open_rb_seek_read(fs: Any) -> None:
    with fs.open("b/big.bin", "rb", block_size=CHUNK) as f:
        assert f.size == len(BIG) and f.seekable() and f.readable()
        assert f.read(4) == BIG[:4]
        f.seek(CHUNK - 2)
        assert f.read(4) == BIG[CHUNK - 2 : CHUNK + 2] and f.tell() == CHUNK + 2
        f.seek(-10, io.SEEK_END)
        assert f.read() == BIG[-10:]
        f.seek(2 * CHUNK)
        f.seek(7, io.SEEK_CUR)
        assert f.read(3) == BIG[2 * CHUNK + 7 : 2 * CHUNK + 10]
        f.seek(0)
        assert f.read() == BIG
    with fsspec.open("b/dir/a.txt", "rt", protocol="natsobj", **fs.storage_options) as f:
        assert f.read() == "aaa"


def test_open_wb_and_failed_write(fs: Any) -> None:
    payload = os.urandom(3 * CHUNK + 17)
    with fs.open("b/new/w.bin", "wb", block_size=CHUNK) as f:  # several buffer flushes
        for i in range(0, len(payload), 50_000):
            f.write(payload[i : i + 50_000])
        assert not fs.exists("b/new/w.bin")  # nothing visible before close
    assert fs.cat_file("b/new/w.bin") == payload and fs.info("b/new/w.bin")["size"] == len(payload)

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with fs.open("b/new/w.bin", "wb") as f:
            f.write(b"half")
            raise Boom()
    assert fs.cat_file("b/new/w.bin") == payload  # the old version, untouched
    with pytest.raises(Boom):
        with fs.open("b/new/never.bin", "wb") as f:
            f.write(b"half")
            raise Boom()
    assert not fs.exists("b/new/never.bin")

    with fs.open("b/empty", "wb"):
        pass
    assert fs.cat_file("b/empty") == b"" and fs.info("b/empty")["size"] == 0
    with pytest.raises(ValueError):
        fs.open("b/x", "ab")


def test_transaction_commits_at_the_end(fs: Any) -> None:
    with fs.transaction:
        with fs.open("b/tx.txt", "wb") as f:
            f.write(b"in a transaction")
        assert not fs.exists("b/tx.txt")
    assert fs.cat_file("b/tx.txt") == b"in a transaction"


def test_put_get_file_and_rm(fs: Any, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(BIG * 3)
    fs.put_file(str(src), "b/up/src.bin")
    assert fs.cat_file("b/up/src.bin") == BIG * 3
    dst = tmp_path / "dst.bin"
    fs.get_file("b/up/src.bin", str(dst))
    assert dst.read_bytes() == BIG * 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".natsobj-")] == []
    with pytest.raises(FileNotFoundError):
        fs.get_file("b/up/none", str(tmp_path / "none"))
    assert not (tmp_path / "none").exists() and not any(p.name.endswith(".part") for p in tmp_path.iterdir())

    # Directory trees both ways (fsspec's put/get over put_file/get_file).
    tree = tmp_path / "tree"
    (tree / "x").mkdir(parents=True)
    (tree / "one.txt").write_bytes(b"1")
    (tree / "x" / "two.txt").write_bytes(b"2")
    fs.put(str(tree) + "/", "b/tree", recursive=True)
    assert fs.find("b/tree") == ["b/tree/one.txt", "b/tree/x/two.txt"]
    back = tmp_path / "back"
    fs.get("b/tree/", str(back), recursive=True)
    assert (back / "x" / "two.txt").read_bytes() == b"2"

    fs.rm("b/top.txt")
    assert not fs.exists("b/top.txt")
    with pytest.raises(FileNotFoundError):
        fs.rm("b/top.txt")
    fs.rm("b/dir", recursive=True)
    assert not fs.exists("b/dir") and not fs.exists("b/dir/sub/c.txt")
    assert fs.exists("b/big.bin")
    fs.rm_file("b/big.bin")
    assert not fs.exists("b/big.bin")


def test_mkdir_creates_a_bucket_and_links_read_through(fs: Any, url: str) -> None:
    fs.mkdir("fresh-bucket")
    assert fs.exists("fresh-bucket") and fs.ls("fresh-bucket") == []
    fs.mkdir("fresh-bucket/some/dir")  # deeper: a no-op
    assert fs.ls("fresh-bucket") == []
    fs.pipe_file("fresh-bucket/x", b"xx")
    fs.rm("fresh-bucket", recursive=True)
    assert fs.ls("fresh-bucket") == [] and fs.exists("fresh-bucket")


async def test_link_and_async_mode(url: str) -> None:
    afs = NatsObjFileSystem(servers=url, asynchronous=True, skip_instance_cache=True)
    try:
        await afs._mkdir("lk")
        await afs._pipe_file("lk/target.bin", BIG)
        async with await objstore.connect(url) as nc:
            store = await nc.jetstream().object_store("lk")
            await store.add_link("alias.bin", await store.get_info("target.bin"))
        info = await afs._info("lk/alias.bin")
        assert info["size"] == len(BIG) and info["link"] == "lk/target.bin"
        assert await afs._cat_file("lk/alias.bin", start=CHUNK, end=CHUNK + 5) == BIG[CHUNK : CHUNK + 5]
        assert await afs._cat_file("lk/alias.bin") == BIG
    finally:
        await afs._close()


def test_url_entry_points_and_env(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_URL", url)
    fs = fsspec.filesystem("natsobj", skip_instance_cache=True)  # the connection from NATS_URL
    try:
        fs.mkdir("envb")
        with fsspec.open("natsobj://envb/hello.txt", "wt") as f:
            f.write("hello\n")
        with fsspec.open("natsobj://envb/hello.txt", "rt") as f:
            assert f.read() == "hello\n"
        files = fsspec.open_files("natsobj://envb/*.txt", "rb")
        assert [f.path for f in files] == ["envb/hello.txt"]
        other = fsspec.filesystem("natsobj", skip_instance_cache=True, servers="nats://127.0.0.1:1")
        assert other.servers == "nats://127.0.0.1:1"  # a storage option beats NATS_URL
    finally:
        fs.rm("envb", recursive=True)
        fs.close()


def test_pandas_csv_and_parquet(url: str) -> None:
    pd = pytest.importorskip("pandas")
    opts = {"servers": url}
    fs = fsspec.filesystem("natsobj", **opts)
    fs.mkdir("frames")
    frame = pd.DataFrame({"name": ["a", "b", "c"], "value": [1, 2, 3]})
    frame.to_csv("natsobj://frames/x.csv", index=False, storage_options=opts)
    assert pd.read_csv("natsobj://frames/x.csv", storage_options=opts).equals(frame)
    pytest.importorskip("pyarrow")
    big = pd.DataFrame({"i": range(200_000), "s": [f"row-{i}" for i in range(200_000)]})
    big.to_parquet("natsobj://frames/x.parquet", storage_options=opts)
    assert fs.info("frames/x.parquet")["chunks"] > 1
    back = pd.read_parquet("natsobj://frames/x.parquet", storage_options=opts)
    assert back.equals(big)
    cols = pd.read_parquet("natsobj://frames/x.parquet", columns=["s"], storage_options=opts)
    assert list(cols["s"][:2]) == ["row-0", "row-1"]


def test_pickles_for_workers(fs: Any) -> None:
    import pickle

    clone = pickle.loads(pickle.dumps(fs))  # dask and multiprocessing ship filesystems this way
    try:
        assert clone.cat_file("b/top.txt") == b"top"
        assert clone.ukey("b/top.txt") == fs.ukey("b/top.txt")
    finally:
        if clone is not fs:
            clone.close()
