"""README "Porting from nats-py": the API document's snippets, printed there unchanged but for the
import line, run against a real server.

The snippets are not complete programs (they continue one another, with ``js`` and ``os`` bound,
and use ``await`` at top level), so each runs here with the state it assumes set up first: the
``file-storage`` bucket, ``document.pdf`` in the working directory, the objects it reads. Only the
URL is swapped in (``nats.connect()`` connects to the test server). ``print`` is captured through
the snippets' globals, which is also how the endless watch snippet is seen to work before it is
cancelled.
"""

from __future__ import annotations

import ast
import asyncio
import os as os_module
import time
from pathlib import Path
from typing import Any

import pytest

import objstore

README = Path(__file__).resolve().parent.parent / "README.md"
HEADING = "### Porting from nats-py"

pytestmark = pytest.mark.timeout(90)

# Each seed snippet, told apart by a string only it contains.
KEYS = {
    "main": "async def main():",
    "update_meta": "new_meta = ObjectMeta(",
    "link": "link_meta = ObjectMeta(",
    "watch": "async def watch_objects():",
    "large": "large-file.bin",
    "integrity": "import hashlib",
    "listing": "await os.seal()",
    "buckets": "os_config = ObjectStoreConfig(",
}


def _section_blocks() -> list[tuple[int, str]]:
    """(line, code) of each ```python block between the section heading and the next heading."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index(HEADING)
    out: list[tuple[int, str]] = []
    i = start + 1
    while i < len(lines) and not lines[i].startswith("#"):
        if lines[i].strip().startswith("```python"):
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith("```"):
                j += 1
            out.append((i + 2, "\n".join(lines[i + 1 : j]) + "\n"))
            i = j
        i += 1
    return out


def _snippets() -> dict[str, tuple[int, str]]:
    found: dict[str, tuple[int, str]] = {}
    for line, code in _section_blocks():
        names = [name for name, key in KEYS.items() if key in code]
        assert len(names) == 1, f"README.md:{line}: block matches {names}"
        found[names[0]] = (line, code)
    assert set(found) == set(KEYS), f"missing seed snippets: {set(KEYS) - set(found)}"
    for line, code in found.values():
        assert "import nats\n" not in code and "nats.js.api" not in code, f"README.md:{line}: nats-py import left"
    return found


SNIPPETS = _snippets()


def _namespace(printed: list[str], **names: Any) -> dict[str, Any]:
    def fake_print(*args: Any, **_: Any) -> None:
        printed.append(" ".join(str(a) for a in args))

    return {"__name__": "__porting__", "print": fake_print, **names}


async def _run(key: str, ns: dict[str, Any], url: str = "") -> None:
    """Run one snippet in ``ns`` (top-level ``await`` allowed)."""
    line, code = SNIPPETS[key]
    if url:
        code = code.replace("nats.connect()", f"nats.connect({url!r})")
    compiled = compile(code, f"README.md:{line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(compiled, ns)  # the README's own code
    if asyncio.iscoroutine(result):
        await result


async def _until(cond: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_seed_examples_run_unchanged(nats_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pdf = b"%PDF-1.7\n" + os_module.urandom(300 * 1024)  # three chunks
    (tmp_path / "document.pdf").write_bytes(pdf)
    printed: list[str] = []
    async with await objstore.connect(nats_url) as nc:
        js = nc.jetstream()
        store = await js.create_object_store(bucket="file-storage")

        # The main example: put, get_info, get (bytes), delete.
        ns = _namespace(printed)
        await _run("main", ns, nats_url)
        await ns["main"]()
        assert "Stored object: documents/report-2024.pdf" in printed
        assert f"Size: {len(pdf)} bytes" in printed and "Chunks: 3" in printed
        assert f"Retrieved {len(pdf)} bytes" in printed
        with pytest.raises(objstore.ObjectNotFoundError):
            await store.get_info("documents/report-2024.pdf")  # deleted at the end of main

        # The continuing snippets, with js and os bound as in main.
        ns = _namespace(printed, js=js, os=store)
        await store.put("documents/report-2024.pdf", pdf, description="Quarterly report 2024")
        await _run("update_meta", ns)
        info = await store.get_info("documents/report-2024.pdf")
        assert info.description == "Updated quarterly report 2024" and info.headers["Version"] == "2.0"

        await _run("link", ns)
        assert await store.get("documents/current-report.pdf") == pdf

        watcher = asyncio.ensure_future(_run("watch", ns))
        try:
            await _until(lambda: "Object changed: documents/report-2024.pdf" in printed, "the watch's initial entries")
            await store.put("watched.txt", b"w")
            await store.delete("watched.txt")
            await _until(lambda: "Object deleted: watched.txt" in printed, "the watch's delete")
            assert not watcher.done()
        finally:
            watcher.cancel()
            with pytest.raises(asyncio.CancelledError):
                await watcher

        await _run("large", ns)
        assert "File stored in 80 chunks" in printed

        await store.put("document.pdf", pdf)
        await _run("integrity", ns)  # the one changed line: info.digest_hex
        assert ns["computed_digest"] == ns["info"].digest_hex

        await _run("listing", ns)
        assert "Object: documents/report-2024.pdf" in printed and "Object: large-file.bin" in printed
        assert "Store: file-storage" in printed and "Store is now read-only" in printed
        assert (await store.status()).sealed
        await js.delete_object_store("file-storage")


async def test_seed_bucket_example_on_a_cluster(nats_cluster: Any) -> None:
    printed: list[str] = []
    async with await objstore.connect(nats_cluster.url) as nc:
        js = nc.jetstream()
        await js.create_object_store(bucket="old-files")  # the snippet deletes it
        try:
            await _run("buckets", _namespace(printed, js=js))
            status = await (await js.object_store("media-files")).status()
            assert status.replicas == 3 and status.ttl is not None and status.ttl.days == 365
            assert "old-files" not in await js.object_store_names()
            assert "temp-files" in await js.object_store_names()
        finally:
            for bucket in ("media-files", "temp-files", "old-files"):
                try:
                    await js.delete_object_store(bucket)
                except objstore.BucketNotFoundError:
                    pass


async def test_result_flag(nats_url: str) -> None:
    async with await objstore.connect(nats_url) as nc:
        js = nc.jetstream()
        store = await js.create_object_store(bucket="res")
        data = os_module.urandom(300 * 1024)
        await store.put("x", data)
        assert isinstance(await store.get("x"), bytes)
        res = await store.get("x", result=True)
        assert isinstance(res, objstore.ObjectResult)
        assert res.data == data and res.info.name == "x" and len(res) == len(data) and bytes(res) == data
        pieces = [piece async for piece in res]
        assert [len(p) for p in pieces] == [128 * 1024, 128 * 1024, 300 * 1024 - 256 * 1024]
        assert b"".join(pieces) == data

        # A link's result carries the target's info, like nats-py.
        await store.add_link("ln", res.info)
        linked = await store.get("ln", result=True)
        assert linked.data == data and linked.info.name == "x"

        # With writeinto, data is b"" and the bytes went to the file (nats-py's shape).
        import io

        buf = io.BytesIO()
        streamed = await store.get("x", writeinto=buf, result=True)
        assert streamed.data == b"" and buf.getvalue() == data and streamed.info.size == len(data)

        empty = await store.put("empty", b"")
        assert empty.size == 0
        res = await store.get("empty", result=True)
        assert res.data == b"" and [p async for p in res] == []
        await js.delete_object_store("res")
