"""Client CPU rows for the ordered consumer (issue 14, point 4): the same runs as ``js ordered 1 KiB``
/ ``js ordered 128 KiB`` (``bench.jetstream``), but the figure is messages per second of THIS
process's CPU time (user + system, ``getrusage``), not per second of wall time.

Why: on a loaded machine (2 cores shared with other work) the wall-clock rate of a consumer is
set by how the scheduler shares the cores between the client and nats-server, and it moves by 2x
from one run to the next; the client's CPU per message does not. Under contention the wall-clock
ratio against nats-py tends to ``(their CPU + server CPU) / (our CPU + server CPU)`` per message, so
these rows show what the client itself costs, and the server's share bounds the rest (see the
README's benchmark notes). The ``raw push`` row is the bare protocol subscription (no JetStream
bookkeeping): the cheapest client there can be.
"""

from __future__ import annotations

import resource
from typing import Any

from . import jetstream as js_suites
from .common import Context, Sample, register

KIB = 1024


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _per_cpu(fn: Any, size: int) -> Any:
    async def run(ctx: Context, n: int) -> Sample:
        await js_suites._filled_stream(ctx, size, n)  # filling is not counted
        c0 = _cpu()
        wall = await fn(ctx, n, size)
        used = max(1e-6, _cpu() - c0)
        per_msg_us = used / n * 1e6
        return Sample(n, used, f"{per_msg_us:.2f} us of client CPU per message; wall {wall.rate:,.0f} msgs/s")

    run.__name__ = f"{fn.__name__}_cpu_{size}"
    return run


register(
    "js ordered 1 KiB client CPU",
    _per_cpu(js_suites._ours_ordered, KIB),
    _per_cpu(js_suites._theirs_ordered, KIB),
    "msgs/cpu-s",
    target=None,
    n=50_000,
    quick_n=30_000,
    max_n=300_000,
    description="messages per second of client CPU (user+sys), creation to n-th message; higher is better",
)
register(
    "js ordered 1 KiB client CPU ceiling: raw push",
    _per_cpu(js_suites._raw_push, KIB),
    None,
    "msgs/cpu-s",
    n=50_000,
    quick_n=30_000,
    max_n=300_000,
    compare_to="js ordered 1 KiB client CPU",
    description="the bare protocol subscription on the same push consumer: the cheapest client",
)
