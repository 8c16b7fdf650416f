"""A client process for the resume tests (``test_put_resume.py``), killed with SIGKILL mid-way.

``python resume_child.py put URL BUCKET FILE NAME STATE_DIR``: ``put(..., resume=True)`` of FILE,
read slowly (``SLOW`` seconds per block read) so that the parent can kill it part-way.
``python resume_child.py get URL BUCKET NAME FILE``: ``download(..., resume=True)`` into FILE, with
a pause per chunk. Either prints ``progress <bytes>`` lines (flushed) as it goes, then ``done``.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import objstore  # noqa: E402
from objstore.download import download  # noqa: E402

SLOW = float(os.environ.get("RESUME_CHILD_SLOW", "0.05"))


class SlowFile(io.FileIO):
    """A real file (fstat, seek, fileno work) whose reads take a while."""

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        time.sleep(SLOW)
        return super().read(n)


def report(done: int, total: object = None) -> None:
    print(f"progress {done}", flush=True)


async def main(argv: list[str]) -> None:
    mode, url = argv[0], argv[1]
    nc = await objstore.connect(url)
    try:
        store = await nc.jetstream().object_store(argv[2])
        if mode == "put":
            path, name, state = argv[3], argv[4], argv[5]
            with SlowFile(path, "rb") as f:
                await store.put(name, f, progress=report, resume=True, resume_dir=state, size_hint=os.path.getsize(path))
        else:
            name, path = argv[3], argv[4]

            def slow(done: int, total: object = None) -> None:
                report(done)
                time.sleep(SLOW)

            await download(store, name, path, resume=True, progress=slow)
        print("done", flush=True)
    finally:
        await nc.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
