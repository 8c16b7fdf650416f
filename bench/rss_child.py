"""One streaming object-store transfer in a fresh process, for a meaningful peak RSS.

``python -m bench.rss_child --client ours|nats-py --op put|get --url URL --bucket B --name OBJ
--file PATH [--limit SECONDS]``

- ``put``: ``store.put(OBJ, open(PATH, "rb"))`` (the object is streamed from the file).
- ``get``: ``store.get(OBJ, writeinto=open(PATH, "wb"))`` (streamed into the file).
- ``get-bytes``: ``store.get(OBJ)`` to bytes (nats-py: ``(await store.get(OBJ)).data``); PATH unused.
- ``get-into``: ``store.get_into(OBJ, buf)`` into a ``bytearray`` of the object's size, allocated
  after the baseline (so the growth counts it); ours only; PATH unused.

The baseline is the RSS after the imports, the connection and binding the bucket (and opening the
file); the kernel's peak-RSS mark is then reset (``/proc/self/clear_refs``), so ``ru_maxrss`` at the
end would be the peak of the transfer alone, except that Linux also folds in the RSS of the image
the process was exec'ed from (the forked parent: the whole benchmark process), so the peak used is
``VmHWM`` (the address space's own high-water mark, what ``ru_maxrss`` reports for a process that
was not forked from a big one); ``ru_maxrss`` is reported too. ``--limit`` bounds the transfer: past it the transfer is
cancelled and the rate is what was moved so far (``complete: false``). The bucket must exist.

Prints one JSON line on stdout: ``bytes``, ``seconds``, ``complete``, ``baseline_kb``,
``peak_kb`` (``VmHWM``), ``growth_kb`` (peak - baseline), ``ru_maxrss_kb``, ``hwm_reset`` and, on failure,
``error``. Exit status 0 when the line was printed (even for a partial transfer).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import sys
import time
from typing import Any, Optional


def _status_kb(key: str) -> Optional[int]:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


async def _bind(client: str, url: str, bucket: str) -> tuple[Any, Any]:
    if client == "ours":
        import objstore

        nc = await objstore.connect(url, allow_reconnect=False)
        js = nc.jetstream(timeout=10.0)
    else:
        import nats

        nc = await nats.connect(url, allow_reconnect=False)
        js = nc.jetstream(timeout=10.0)
    return nc, await js.object_store(bucket)


async def _transfer(store: Any, op: str, name: str, fh: Any, got: list) -> None:
    if op == "put":
        await store.put(name, fh)
    elif op == "get":
        await store.get(name, writeinto=fh)
    elif op == "get-bytes":
        data = await store.get(name)
        got.append(len(data if isinstance(data, (bytes, bytearray)) else data.data))
    else:
        info = await store.get_info(name)
        buf = bytearray(info.size)
        await store.get_into(name, buf)
        got.append(len(buf))


async def main(args: argparse.Namespace) -> dict:
    nc, store = await _bind(args.client, args.url, args.bucket)
    out: dict[str, Any] = {"client": args.client, "op": args.op}
    fh = open(args.file, "rb" if args.op == "put" else "wb")
    got: list = []
    try:
        gc.collect()
        baseline = _status_kb("VmRSS:") or 0
        out["hwm_reset"] = _reset_hwm()
        out["baseline_kb"] = baseline
        task = asyncio.ensure_future(_transfer(store, args.op, args.name, fh, got))
        t0 = time.perf_counter()
        complete = True
        try:
            await asyncio.wait_for(asyncio.shield(task), args.limit)
        except asyncio.TimeoutError:
            complete = False
            task.cancel()
            await asyncio.wait((task,), timeout=5.0)
        dt = time.perf_counter() - t0
        if not complete:
            dt = args.limit  # the transfer ran for exactly the limit
        if args.op in ("get-bytes", "get-into"):
            moved = got[0] if got else 0
        elif args.op == "get":
            await asyncio.sleep(0.05)  # a cancelled write may still run in the executor thread
            fh.flush()
            moved = os.fstat(fh.fileno()).st_size
        else:
            moved = fh.tell() if complete else _put_progress(fh)
        ru_maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        peak = _status_kb("VmHWM:") if out["hwm_reset"] else None
        if peak is None:  # no /proc: ru_maxrss, an upper bound (includes the exec'ing parent's RSS)
            peak = ru_maxrss
        out.update(bytes=moved, seconds=dt, complete=complete, peak_kb=peak, growth_kb=max(0, peak - baseline))
        out["ru_maxrss_kb"] = ru_maxrss
    finally:
        fh.close()
        try:
            await nc.close()
        except Exception:  # noqa: BLE001 - teardown only
            pass
    return out


def _put_progress(fh: Any) -> int:
    """Bytes read from the source file so far (a lower bound on what was sent, counting read-ahead)."""
    try:
        return fh.tell()
    except (OSError, ValueError):
        return 0


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.rss_child")
    ap.add_argument("--client", choices=("ours", "nats-py"), required=True)
    ap.add_argument("--op", choices=("put", "get", "get-bytes", "get-into"), required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--file", required=True)
    ap.add_argument("--limit", type=float, default=60.0, help="seconds; the transfer is cancelled past it")
    return ap.parse_args(argv)


if __name__ == "__main__":
    ns = parse_args()
    try:
        result = asyncio.run(main(ns))
    except Exception as err:  # reported to the parent as data, not a traceback to parse
        result = {"client": ns.client, "op": ns.op, "error": f"{type(err).__name__}: {err}"}
    print(json.dumps(result), flush=True)
    sys.exit(0)
