"""Resume suite (issue 12 point 3): ``obj put 64 MiB resume after kill at 50%``.

Each run: a client process (``tests/resume_child.py``) puts a 64 MiB file with ``resume=True``
and is SIGKILLed once half of it was acknowledged (not timed); then this process resumes the put
(``store.put(f, resume=True)``, timed: state read, prefix rehash, read-back of the chunks stored
after the last checkpoint, the rest sent, the meta). The ``nats-py`` column is NOT nats-py: it is
OUR fresh put of the same 64 MiB file (pipelined), so the ratio is (fresh time / resume time).
The note gives the bytes the resume sent twice (chunks the server already had), sent and read back.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

from .common import ROOT, Context, Sample, register

perf = time.perf_counter
MIB = 1024 * 1024
SIZE = 64 * MIB
_files: dict[str, str] = {}


def _file() -> str:
    if "f" not in _files:
        fd, path = tempfile.mkstemp(prefix="bench-resume-", suffix=".bin")
        with os.fdopen(fd, "wb") as f:
            for _ in range(SIZE // MIB):
                f.write(os.urandom(MIB))
        _files["f"] = path
        atexit.register(_remove, path)  # the 64 MiB source goes with the bench process
    return _files["f"]


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _killed_put(url: str, bucket: str, path: str, state: str, timeout: float) -> None:
    """Run the child put and SIGKILL it at half way (bounded by ``timeout``)."""
    child = str(ROOT / "tests" / "resume_child.py")
    proc = subprocess.Popen([sys.executable, child, "put", url, bucket, path, "big", state], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, cwd=str(ROOT))
    deadline = time.monotonic() + timeout
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(b"progress ") and int(line.split()[1]) >= SIZE // 2:
                os.kill(proc.pid, signal.SIGKILL)
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the child put made no progress")
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def _store(ctx: Context, bucket: str) -> tuple[Any, Any]:
    import objstore

    nc = await objstore.connect(ctx.url, allow_reconnect=False)
    store = await nc.jetstream(timeout=10.0).create_object_store(bucket=bucket, storage="file")
    return nc, store


async def _resume(ctx: Context, n: int) -> Sample:
    import asyncio

    path = _file()
    bucket = ctx.unique("BENCH_RESUME").replace(".", "_")
    state = tempfile.mkdtemp(prefix="bench-resume-state-")
    nc, store = await _store(ctx, bucket)
    try:
        await asyncio.to_thread(_killed_put, ctx.url, bucket, path, state, ctx.run_timeout * 0.5)
        t0 = perf()
        with open(path, "rb") as f:
            info = await store.put("big", f, resume=True, resume_dir=state)
        dt = perf() - t0
        t = info.transfer or {}
        if info.size != SIZE or not t.get("resumed_chunks"):
            raise RuntimeError(f"the resume did not resume: {t}")
        cs = info.chunk_size or 0
        twice = t["sent_bytes"] + t["skipped_bytes"] - SIZE + t["duplicate_chunks"] * cs
        note = (f"resumed from {t['skipped_bytes'] / MIB:.0f} MiB: sent {t['sent_bytes'] / MIB:.0f} MiB, "
                f"{twice} bytes sent twice, read back {t['verified_bytes'] / MIB:.1f} MiB")
    finally:
        try:
            await nc.jetstream().delete_object_store(bucket)
        finally:
            await nc.close()
            shutil.rmtree(state, ignore_errors=True)
    return Sample(1, dt, note)


async def _fresh(ctx: Context, n: int) -> Sample:
    path = _file()
    bucket = ctx.unique("BENCH_FRESH").replace(".", "_")
    nc, store = await _store(ctx, bucket)
    try:
        t0 = perf()
        with open(path, "rb") as f:
            await store.put("big", f)
        dt = perf() - t0
    finally:
        try:
            await nc.jetstream().delete_object_store(bucket)
        finally:
            await nc.close()
    return Sample(1, dt, f"OUR fresh put of the 64 MiB file: {dt:.2f} s")


register(
    "obj put 64 MiB resume after kill at 50%",
    _resume,
    _fresh,
    "puts/s",
    n=1,
    quick_n=1,
    max_n=1,
    description="the nats-py column is OUR fresh put of the same file: ratio = fresh time / resume time",
)
