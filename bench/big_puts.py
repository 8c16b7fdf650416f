"""Big-put suites (issue 14 point 1): puts of 64 MiB and 512 MiB (128 KiB chunks) on file and memory
storage, ADR-50 fast ingest against our pipelined put, nats-py, and two bare senders (the ceilings).

- ``obj put <S> fast ingest vs pipelined [st]``: ``ours`` = ``put`` into a bucket made with
  ``fast_ingest=True`` (one flow-controlled batch, ``put_path == "fast_ingest"``); the ``nats-py``
  column is NOT nats-py: it is OUR pipelined put (a plain bucket, an ack per chunk within an 8 MiB
  window). Target >= 1.5.
- ``obj put <S> fast ingest vs nats-py [st]``: the same fast-ingest put against nats-py's ``put``.
  Target >= 3 on file storage (report only on memory).
- ``obj put <S> ceiling: bare pipelined sender [st]``: the object's chunks published with reply
  subjects, 8 MiB in flight, acks counted, nothing hashed, no meta (the per-chunk-ack model's
  ceiling). ``... ceiling: bare fast-ingest sender [st]``: the chunks as one ADR-50 batch written
  by a minimal sender (reply subjects built inline, flow acks parsed in a callback, the same flow
  and 2 outstanding windows as our put), then the end-of-batch commit; nothing hashed, no meta.
  Both are reference rows whose ratio is against OUR PIPELINED put (the "vs pipelined" row).
- ``obj put <S> ceiling: bare fast-ingest sender + SHA-256 [st]``: the bare fast-ingest sender
  feeding each chunk to the object's SHA-256 right before sending it (every ADR-20 writer must
  compute the digest); its ratio is against nats-py (the "vs nats-py" row). On 2 cores shared
  by the server and the client, the hashing's CPU is taken from the server's: this row is the
  bound for the ">= 3x nats-py" target; ``... + SHA-256, vs pipelined [st]`` measures it again
  with its ratio against our pipelined put (the bound for the ">= 1.5x" target).

Each run uses a fresh bucket (deleted after the run); the payload is a random 1 MiB block repeated
(the stream stores it uncompressed). The 512 MiB rows are skipped with ``--quick``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from typing import Any

from .common import MB, Context, Deadline, Sample, drop_object_store, raw_pipelined_publish, register
from .parallel import cpu_marks, cpu_note

perf = time.perf_counter
MIB = 1024 * 1024
CHUNK = 128 * 1024
PIPELINED_WINDOW = 8 * MIB
SIZES = {64 * MIB: "64 MiB", 512 * MIB: "512 MiB"}
_payloads: dict[int, bytes] = {}
_count = 0


def _payload(size: int) -> bytes:
    if size not in _payloads:
        _payloads[size] = os.urandom(MIB) * (size // MIB)
    return _payloads[size]


def _bucket() -> str:
    global _count
    _count += 1
    return f"BENCH_BIGPUT_{os.getpid()}_{_count}"


async def _ours(ctx: Context) -> tuple[Any, Any]:
    import objstore

    nc = await objstore.connect(ctx.url, allow_reconnect=False)
    return nc, nc.jetstream(timeout=20.0)


async def _put(ctx: Context, size: int, storage: str, side: str) -> Sample:
    """One put of ``size`` bytes: side "fast", "pipelined" (ours) or "nats-py"."""
    payload, bucket = _payload(size), _bucket()
    try:
        if side == "nats-py":
            from nats.js.api import ObjectStoreConfig, StorageType

            nc = await ctx.theirs_connect()
            kind = StorageType.FILE if storage == "file" else StorageType.MEMORY
            store = await nc.jetstream(timeout=20.0).create_object_store(bucket, config=ObjectStoreConfig(bucket=bucket, storage=kind))
        else:
            nc, js = await _ours(ctx)
            store = await js.create_object_store(bucket=bucket, storage=storage, fast_ingest=side == "fast")
        try:
            marks = cpu_marks(ctx)
            t0 = perf()
            info = await store.put("big", payload)
            dt = perf() - t0
            cpu = cpu_note(ctx, marks)
        finally:
            await nc.close()
        if info.size != size:
            raise RuntimeError(f"put stored {info.size} bytes, expected {size}")
        path = getattr(info, "put_path", "nats-py")
        if side != "nats-py" and path != ("fast_ingest" if side == "fast" else "pipelined"):
            raise RuntimeError(f"the put took the {path!r} path")
    finally:
        await drop_object_store(ctx, bucket)
    return Sample(size / MB, dt, f"{dt:.2f} s per put ({path}); {cpu}")


async def _bare_pipelined(ctx: Context, size: int, storage: str) -> Sample:
    bucket = _bucket()
    nc, js = await _ours(ctx)
    try:
        await js.create_object_store(bucket=bucket, storage=storage)
        view = memoryview(_payload(size))
        messages = ((f"$O.{bucket}.C.bare", view[i : i + CHUNK]) for i in range(0, size, CHUNK))
        marks = cpu_marks(ctx)
        dt = await raw_pipelined_publish(nc, messages, size // CHUNK, PIPELINED_WINDOW // CHUNK, Deadline(ctx.run_timeout * 0.8))
    finally:
        await nc.close()
        await drop_object_store(ctx, bucket)
    return Sample(size / MB, dt, f"{dt:.2f} s per object, no hashing, no meta; {cpu_note(ctx, marks)}")


async def _bare_fast(ctx: Context, size: int, storage: str, hashed: bool = False) -> Sample:
    """A minimal ADR-50 fast-ingest sender (see the module docstring). ``hashed``: each chunk is
    fed to a SHA-256 right before it is sent, as any ADR-20 writer must (the digest)."""
    from objstore.fast_put import fast_flow

    bucket = _bucket()
    nc, js = await _ours(ctx)
    loop = asyncio.get_running_loop()
    flow, outstanding = fast_flow(CHUNK), 2
    state = {"acked": -1, "flow": flow, "final": None, "error": None}
    waiter: list[Any] = [None]

    def on_reply(msg: Any) -> None:
        resp = json.loads(msg.data) if msg.data else {"error": msg.status or "empty reply"}
        if resp.get("type") == "ack":
            state["acked"] = max(state["acked"], resp["seq"])
            state["flow"] = min(flow, resp.get("msgs") or flow)
        elif resp.get("type") in ("gap", "err") or resp.get("error"):
            state["error"] = resp
        else:
            state["final"] = resp
        w = waiter[0]
        if w is not None and not w.done():
            w.set_result(None)

    async def until(cond: Any) -> None:
        while not cond():
            if state["error"] is not None:
                raise RuntimeError(f"fast batch failed: {state['error']}")
            waiter[0] = loop.create_future()
            await asyncio.wait_for(waiter[0], 10.0)

    try:
        await js.create_object_store(bucket=bucket, storage=storage, fast_ingest=True)
        prefix = f"{nc.new_inbox()}.b1"
        base = f"{prefix}.{flow}.fail."
        sub = await nc.subscribe(prefix + ".>", cb=on_reply)
        subject = f"$O.{bucket}.C.bare"
        view = memoryview(_payload(size))
        publish = nc.publish
        update = hashlib.sha256().update if hashed else None
        marks = cpu_marks(ctx)
        t0 = perf()
        seq = 0
        for i in range(0, size, CHUNK):
            seq += 1
            if update is not None:
                update(view[i : i + CHUNK])
            await publish(subject, view[i : i + CHUNK], reply=f"{base}{seq}.{'0' if seq == 1 else '1'}.$FI")
            if seq == 1:
                await until(lambda: state["acked"] >= 0)
            elif state["acked"] + state["flow"] * outstanding <= seq:
                await until(lambda s=seq: state["acked"] + state["flow"] * outstanding > s)
        await publish(subject, b"", reply=f"{base}{seq + 1}.3.$FI")
        await until(lambda: state["final"] is not None)
        dt = perf() - t0
        cpu = cpu_note(ctx, marks)
        await sub.unsubscribe()
        final = state["final"] or {}
        if final.get("count") != seq:
            raise RuntimeError(f"fast batch stored {final.get('count')} of {seq} chunks")
    finally:
        await nc.close()
        await drop_object_store(ctx, bucket)
    hashing = "SHA-256 inline" if hashed else "no hashing"
    return Sample(size / MB, dt, f"{dt:.2f} s per object, flow {flow} x {outstanding}, {hashing}, no meta; {cpu}")


def _fn(kind: str, size: int, storage: str) -> Any:
    async def run(ctx: Context, n: int) -> Sample:
        if kind == "bare-pipelined":
            return await _bare_pipelined(ctx, size, storage)
        if kind in ("bare-fast", "bare-fast-sha"):
            return await _bare_fast(ctx, size, storage, hashed=kind == "bare-fast-sha")
        return await _put(ctx, size, storage, kind)

    run.__name__ = f"{kind}_{size // MIB}_{storage}"
    return run


for _size, _label in SIZES.items():
    _big = _size > 64 * MIB
    for _st in ("file", "memory"):
        _row = f"obj put {_label} fast ingest vs pipelined [{_st}]"
        _common: dict[str, Any] = {"n": 1, "quick_n": 1, "max_n": 1, "skip_quick": _big}
        register(
            _row, _fn("fast", _size, _st), _fn("pipelined", _size, _st), "MB/s", target=1.5, **_common,
            description="the nats-py column is OUR pipelined put: ratio = fast ingest / pipelined",
        )  # fmt: skip
        register(
            f"obj put {_label} fast ingest vs nats-py [{_st}]", _fn("fast", _size, _st), _fn("nats-py", _size, _st), "MB/s",
            target=3.0 if _st == "file" else None, **_common,
        )  # fmt: skip
        for _kind, _what in (("bare-pipelined", "bare pipelined sender"), ("bare-fast", "bare fast-ingest sender")):
            register(
                f"obj put {_label} ceiling: {_what} [{_st}]", _fn(_kind, _size, _st), None, "MB/s", compare_to=_row, **_common,
                description="no hashing, no meta: ratio against OUR PIPELINED put (the row above's nats-py column)",
            )  # fmt: skip
        register(
            f"obj put {_label} ceiling: bare fast-ingest sender + SHA-256 [{_st}]", _fn("bare-fast-sha", _size, _st), None, "MB/s",
            compare_to=f"obj put {_label} fast ingest vs nats-py [{_st}]", **_common,
            description="the bare fast-ingest sender hashing each chunk as it goes: the ceiling of a client that computes the digest; ratio against nats-py",
        )  # fmt: skip
        register(
            f"obj put {_label} ceiling: bare fast-ingest sender + SHA-256, vs pipelined [{_st}]", _fn("bare-fast-sha", _size, _st), None,
            "MB/s", compare_to=_row, **_common,
            description="the same hashing sender: ratio against OUR PIPELINED put (the bound of the >= 1.5x target)",
        )  # fmt: skip
