"""``make run``: the object-store demo on the embedded server.

Starts (or reuses) the embedded ``nats-server``, creates a bucket, puts a generated file,
lists, shows the info, reads it back verified, prints the bucket status. A server this demo
started is stopped at the end; one that was already running is left alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import tempfile
import time

from . import embedded
from .manager import connect

SIZE = int(os.environ.get("OBJSTORE_DEMO_MB", "16")) * 1024 * 1024


def _mb(n: float) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"


async def main() -> int:
    url, started = embedded.ensure_running()
    print(f"embedded nats-server at {url} (data in {embedded.data_dir()})" + (" [started]" if started else " [reused]"))
    try:
        async with await connect(url, name="objstore-demo") as nc:
            js = nc.jetstream()
            store = await js.create_object_store(bucket="demo", description="objstore demo bucket")
            print(f"bucket 'demo' ready (stream {store.stream_name})")
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "demo-file.bin")
                with open(path, "wb") as f:
                    block = os.urandom(1024 * 1024)
                    for i in range(SIZE // len(block)):
                        f.write(hashlib.sha256(block + bytes([i % 256])).digest() * 32768)
                t0 = time.perf_counter()
                with open(path, "rb") as f:
                    info = await store.put("files/demo-file.bin", f, description="generated demo file", headers={"Content-Type": "application/octet-stream"}, metadata={"source": "make run"})
                dt = time.perf_counter() - t0
                print(f"put   {info.name}: {_mb(info.size)} in {info.chunks} chunks, {info.size / dt / 1e6:.0f} MB/s")
                print("list:")
                for obj in await store.list():
                    print(f"  {obj.name:<28} {obj.size:>12} bytes  {obj.mtime:%Y-%m-%d %H:%M:%S}  {obj.description or ''}")
                got = await store.get_info(info.name)
                print(f"info  digest={got.digest} chunks={got.chunks} headers={dict(got.headers or {})} metadata={got.metadata}")
                t0 = time.perf_counter()
                data = await store.get(info.name)
                dt = time.perf_counter() - t0
                with open(path, "rb") as f:
                    same = hashlib.sha256(f.read()).hexdigest() == hashlib.sha256(data).hexdigest()
                print(f"get   {_mb(len(data))} verified (digest, size, chunks) in {dt:.2f}s, {len(data) / dt / 1e6:.0f} MB/s; equals the file: {same}")
            st = await store.status()
            print(f"status bucket={st.bucket} objects={st.count} size={_mb(st.size)} storage={st.storage} replicas={st.replicas} sealed={st.sealed} backing={st.backing_store}")
        return 0
    finally:
        if started:
            embedded.stop()
            print("embedded nats-server stopped")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
