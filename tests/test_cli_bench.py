"""``objstore bench`` (issue 14, point 5): ``--quick --json`` against the test server gives the
documented shape with every figure positive, ``--plot`` writes well-formed SVG with one line per
configuration, bad options are usage errors, and the bench bucket is gone afterwards, also when
the run is interrupted with Ctrl-C. No timed assertions: only shapes and signs.
"""

from __future__ import annotations

import asyncio
import json
import select
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import objstore

from cli_util import cli, cli_cmd, cli_env, ok  # noqa: E402 (tests/ is on sys.path via conftest)

SVG = "{http://www.w3.org/2000/svg}"
SUMMARY_KEYS = {"median", "min", "max", "spread_pct", "samples"}


async def _bench_buckets(url: str) -> list[str]:
    nc = await objstore.connect(url, allow_reconnect=False)
    try:
        return [b for b in await nc.jetstream().object_store_names() if b.startswith("BENCH_")]
    finally:
        await nc.close()


def _check_summary(s: Any, where: str) -> None:
    assert set(s) == SUMMARY_KEYS, where
    assert s["median"] > 0 and s["min"] > 0 and s["max"] >= s["median"] >= s["min"], (where, s)
    assert s["spread_pct"] >= 0 and s["samples"] and all(v > 0 for v in s["samples"]), (where, s)


async def test_quick_json_shape_figures_and_plot(nats_url: str, tmp_path: Path) -> None:
    svg = tmp_path / "bench.svg"
    doc = json.loads(ok("bench", "--quick", "--json", "--plot", str(svg), url=nats_url, timeout=120).stdout)
    assert set(doc) >= {"server", "options", "elapsed_s", "configurations", "hot_path", "recommendation", "plot"}
    opts = doc["options"]
    assert opts["quick"] is True and opts["repeat"] == 2
    n = len(opts["sizes"]) * len(opts["chunk_sizes"]) * len(opts["storages"]) * len(opts["fast_ingest"])
    assert len(doc["configurations"]) == n == 16
    seen = set()
    for c in doc["configurations"]:
        key = (c["storage"], c["fast_ingest"], c["chunk_size"], c["size"])
        seen.add(key)
        assert c["objects_per_sample"] >= 1
        assert c["put_path"] in ("single", "pipelined", "fast_ingest")
        if c["size"] <= c["chunk_size"]:
            assert c["put_path"] == "single"
        elif c["fast_ingest"]:
            assert c["put_path"] == "fast_ingest"  # the test server (2.14+) supports it
        for fig in ("put_mib_s", "get_mib_s", "put_ops_s", "get_ops_s"):
            _check_summary(c[fig], f"{key} {fig}")
            assert len(c[fig]["samples"]) == 2
    assert len(seen) == n
    assert len(doc["hot_path"]) == len(opts["storages"]) * len(opts["chunk_sizes"])
    for h in doc["hot_path"]:
        assert h["size"] == max(opts["sizes"]) and h["unit"] == "MiB/s"
        for stage in ("chunk_sha256", "frame_encode", "publish_no_ack", "put", "put_fast_ingest"):
            _check_summary(h[stage], f"hot path {h['storage']} {h['chunk_size']} {stage}")
    rec = doc["recommendation"]
    assert rec.startswith("on this server") and "\n" not in rec
    root = ET.parse(svg).getroot()  # well-formed XML
    assert root.tag == f"{SVG}svg"
    # one line per (operation, storage, fast ingest) at the largest size
    assert len(root.findall(f"{SVG}polyline")) == 2 * len(opts["storages"]) * len(opts["fast_ingest"])
    assert await _bench_buckets(nats_url) == []


async def test_text_output_and_recommendation(nats_url: str) -> None:
    res = ok("bench", "--quick", "--sizes", "64K", "--chunk-sizes", "32K,128K", "--storage", "memory",
             "--fast-ingest", "off", "--repeat", "1", "--concurrency", "2", url=nats_url, timeout=120)
    out = res.stdout.decode()
    assert "STORAGE  FAST  CHUNK  SIZE" in out and "where a put's time goes" in out
    last = out.strip().splitlines()[-1]
    assert last.startswith("on this server (memory storage, 64 KiB objects)")
    assert await _bench_buckets(nats_url) == []


def test_bad_options_are_usage_errors(nats_url: str) -> None:
    for args in (["--sizes", "0"], ["--storage", "disk"], ["--fast-ingest", "maybe"], ["--concurrency", "0"],
                 ["--repeat", "x"], ["--window", "-1"], ["--chunk-sizes", ","]):
        res = cli("bench", *args, url=nats_url)
        assert res.returncode == 2, (args, res.stderr)


async def test_interrupted_bench_deletes_its_bucket(nats_url: str) -> None:
    # Enough work to still be running when interrupted: many repeats of 1 MiB objects.
    cmd = cli_cmd(("bench", "--sizes", "1M", "--chunk-sizes", "32K", "--storage", "file", "--fast-ingest", "off",
                   "--repeat", "100"), nats_url)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(), cwd=Path(__file__).parent.parent)
    try:
        deadline = time.monotonic() + 30
        seen = b""
        while b"bench:" not in seen and time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([proc.stderr], [], [], 0.5)
            if ready:
                seen += proc.stderr.read1(4096)  # type: ignore[union-attr]
        assert b"bench:" in seen, seen
        await asyncio.sleep(0.3)
        assert await _bench_buckets(nats_url), "the bench bucket exists while it runs"
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == 130, proc.stderr.read()  # type: ignore[union-attr]
    assert await _bench_buckets(nats_url) == []


async def test_put_window_option(store: Any) -> None:
    """``store.put(..., window=BYTES)`` (what ``bench --window`` sets): a bad value is a typed
    error before anything is sent; a small window still stores the object intact."""
    for bad in (0, -5, 1.5, "1M"):
        with pytest.raises(objstore.BadObjectMetaError):
            await store.put("w", b"x" * 10, window=bad)
    data = bytes(range(256)) * 4096  # 1 MiB
    info = await store.put("w", data, chunk_size=64 * 1024, window=128 * 1024)
    assert info.put_path == "pipelined" and info.chunks == 16
    assert await store.get("w") == data
