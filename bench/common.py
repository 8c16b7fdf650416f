"""Shared machinery for ``python -m bench``: suite registry, server, timing, results, table.

A *suite* is one benchmark row: an ``ours`` and a ``theirs`` (nats-py) coroutine function with the
same signature ``async fn(ctx: Context, n: int) -> Sample``. Each function does its own setup
(connections, subscriptions, prebuilt data), times only the measured part, tears down, and returns
how much work it did and how long that took. Higher rate is better for every unit, so the ratio is
always ``ours / theirs``.

Adding suites from a new module (``bench/jetstream.py``, ``bench/objstore.py``)::

    from .common import Sample, register

    async def ours_put(ctx, n): ...
    async def theirs_put(ctx, n): ...

    register("objstore put 64 MiB", ours_put, theirs_put, "MB/s", target=1.5, n=4, quick_n=1, max_n=16)

and add the module name to ``SUITE_MODULES`` in ``bench/__main__.py`` (missing modules are skipped).

Runner rules: every run is bounded in count (``n``, capped by ``max_n``) and in time
(``asyncio.wait_for`` around the run, plus ``Deadline`` checks inside tight loops that never yield).
Each suite runs best-of-N with the two sides interleaved (ours, theirs, theirs, ours, ...) so that
drift on a shared, noisy machine hits both sides alike. After the first run of a side, ``n`` is
rescaled so that one run takes about ``RUN_TARGET_S`` seconds (never above ``max_n``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"

RUN_TARGET_S = 0.8  # aim for runs of ~0.5-2 s after calibration
RUN_MIN_S = 0.5
RUN_TIMEOUT_S = 30.0  # hard bound on one run (setup + measured part + teardown)
QUICK_RUN_TIMEOUT_S = 15.0
FULL_RUNS = 5  # best of N, per side
SIDE_BUDGET_S = 8.0  # no new run of a side once its runs used this much wall time
MB = 1_000_000


class RunTimeout(Exception):
    """A measured loop passed its deadline (raised by ``Deadline.check``)."""


class Deadline:
    """Wall-clock bound for loops that may never yield to the event loop (so ``wait_for`` cannot
    interrupt them). Call ``check()`` every few hundred iterations, not per message."""

    __slots__ = ("at", "what")

    def __init__(self, seconds: float, what: str = "run") -> None:
        self.at = time.perf_counter() + seconds
        self.what = what

    def check(self) -> None:
        if time.perf_counter() > self.at:
            raise RunTimeout(f"{self.what} exceeded its time bound")

    def remaining(self) -> float:
        return max(0.001, self.at - time.perf_counter())


@dataclass
class Sample:
    """What one run measured: ``work`` units (messages, MB, requests) in ``seconds``."""

    work: float
    seconds: float
    note: str = ""

    @property
    def rate(self) -> float:
        return self.work / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Suite:
    name: str
    ours: Callable[["Context", int], Awaitable[Sample]]
    theirs: Optional[Callable[["Context", int], Awaitable[Sample]]]
    unit: str
    target: Optional[float] = None  # required ours/theirs ratio, None = report only
    n: int = 10_000  # count for the first full-mode run (then calibrated)
    quick_n: int = 2_000
    max_n: int = 1_000_000
    needs_server: bool = True
    description: str = ""
    # Reference rows (e.g. a raw-socket ceiling) have no nats-py side of their own; their ratio is
    # computed against the nats-py result of the suite named here, when it ran too.
    compare_to: Optional[str] = None
    skip_quick: bool = False  # a big row that ``--quick`` leaves out
    # Long rows (bench/scale.py): their own bound on one run (else the context's), and at most
    # this many runs per side (else FULL_RUNS).
    run_timeout: Optional[float] = None
    runs: Optional[int] = None
    # "scale": skipped by --quick and --skip scale unless --only names the row. opt_in: the name
    # of an environment variable that must be "1" for the row to run without --only naming it.
    group: str = ""
    opt_in: str = ""


SUITES: list[Suite] = []


def register(
    name: str,
    ours: Callable[["Context", int], Awaitable[Sample]],
    theirs: Optional[Callable[["Context", int], Awaitable[Sample]]],
    unit: str,
    target: Optional[float] = None,
    **kwargs: Any,
) -> Suite:
    """Add a suite (see the module docstring). Names must be unique."""
    if any(s.name == name for s in SUITES):
        raise ValueError(f"duplicate bench suite {name!r}")
    suite = Suite(name, ours, theirs, unit, target, **kwargs)
    SUITES.append(suite)
    return suite


# --------------------------------------------------------------------------------------------------
# Context: the server (started lazily, stopped at the end) and run parameters.


class Context:
    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self._server: Any = None
        self._counter = 0

    @property
    def run_timeout(self) -> float:
        return QUICK_RUN_TIMEOUT_S if self.quick else RUN_TIMEOUT_S

    def server(self) -> Any:
        """The shared nats-server (JetStream on), started on first use via tests/harness.py."""
        if self._server is None:
            tests_dir = str(ROOT / "tests")
            if tests_dir not in sys.path:
                sys.path.insert(0, tests_dir)
            from harness import NatsServer  # type: ignore[import-not-found]

            self._server = NatsServer().start()
        return self._server

    @property
    def url(self) -> str:
        return self.server().url

    def unique(self, prefix: str) -> str:
        """A subject no earlier run used."""
        self._counter += 1
        return f"{prefix}.{os.getpid()}.{self._counter}"

    def close(self) -> None:
        if self._server is not None:
            self._server.close()  # stops only the server this context started
            self._server = None

    async def ours_connect(self, **kwargs: Any) -> Any:
        import protocol

        kwargs.setdefault("allow_reconnect", False)
        return await protocol.connect(self.url, **kwargs)

    async def theirs_connect(self, **kwargs: Any) -> Any:
        import nats

        errors: list[BaseException] = []

        async def _error_cb(err: BaseException) -> None:
            errors.append(err)

        kwargs.setdefault("allow_reconnect", False)
        kwargs.setdefault("error_cb", _error_cb)
        nc = await nats.connect(self.url, **kwargs)
        nc._bench_errors = errors  # type: ignore[attr-defined]
        return nc


# --------------------------------------------------------------------------------------------------
# Memory: peak RSS of one run (Linux: VmHWM, reset through /proc/self/clear_refs).


async def raw_pipelined_publish(nc: Any, messages: Any, total: int, window: int, deadline: "Deadline") -> float:
    """The server's ingest ceiling: publish ``messages`` ((subject, payload) pairs, ``total`` of
    them) with a reply subject each on one wildcard inbox, at most ``window`` unacknowledged, acks
    counted but not parsed (no client bookkeeping). Returns the seconds taken."""
    loop = asyncio.get_running_loop()
    acked = 0
    waiter: Any = None
    prefix = nc.new_inbox() + "."
    sub = await nc.subscribe(prefix + "*", pending_msgs_limit=1 << 30, pending_bytes_limit=1 << 40)

    async def count_acks() -> None:
        nonlocal acked
        async for msg in sub:
            if not msg.data or b'"error"' in msg.data[:64]:
                raise RuntimeError(f"bad ack: {msg.data[:200]!r}")
            acked += 1
            w = waiter
            if w is not None and not w.done():
                w.set_result(None)
            if acked == total:
                return

    reader = loop.create_task(count_acks())
    await nc.flush()
    publish = nc.publish
    sent = 0
    t0 = time.perf_counter()
    try:
        for subject, payload in messages:
            while sent - acked >= window:
                if reader.done():
                    reader.result()  # raises the ack error
                waiter = loop.create_future()
                await waiter
            await publish(subject, payload, reply=prefix + str(sent))
            sent += 1
            if sent % 64 == 0:
                deadline.check()
        await asyncio.wait_for(reader, deadline.remaining())
    finally:
        reader.cancel()
    return time.perf_counter() - t0


async def ours_js(ctx: "Context") -> tuple[Any, Any]:
    """Our connection to the bench server (no reconnect) and its JetStream context."""
    import objstore

    nc = await objstore.connect(ctx.url, allow_reconnect=False)
    return nc, nc.jetstream(timeout=10.0)


async def drop_object_store(ctx: "Context", bucket: str) -> None:
    """Delete a bench bucket with our client, ignoring every error (cleanup only)."""
    import objstore

    nc = await objstore.connect(ctx.url, allow_reconnect=False)
    try:
        await nc.jetstream(timeout=20.0).delete_object_store(bucket)
    except Exception:  # noqa: BLE001 - cleanup only
        pass
    finally:
        await nc.close()


async def run_child(module: str, args: list[str], bound: Optional[float] = None) -> dict:
    """Run ``python -m module args`` from the repository root and return the JSON object of its
    last stdout line. The child is killed if the caller is cancelled (the runner's bound) or
    ``bound`` seconds pass; a non-zero exit, no output or an ``error`` key raises RuntimeError."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args, cwd=str(ROOT), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), bound)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    lines = out.decode(errors="replace").strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{module} exited {proc.returncode}: {err.decode(errors='replace')[-400:]}")
    result = json.loads(lines[-1])
    if result.get("error"):
        raise RuntimeError(f"{module}: {result['error']}")
    return result


_OBJECT_FIXTURES: dict[tuple[str, str, int], str] = {}  # (url, tag, size) -> bucket


async def object_fixture(ctx: "Context", tag: str, size: int) -> str:
    """A file-storage bucket ``BENCH_<tag>_<pid>_<MiB>`` holding ``big``: ``size`` bytes (a random
    1 MiB block repeated), put once per server, tag and size; returns the bucket's name."""
    key = (ctx.url, tag, size)
    if key not in _OBJECT_FIXTURES:
        mib = 1024 * 1024
        bucket = f"BENCH_{tag}_{os.getpid()}_{size // mib}"
        block = os.urandom(mib)

        async def blocks() -> Any:
            for _ in range(size // mib):
                yield block

        nc, js = await ours_js(ctx)
        try:
            store = await js.create_object_store(bucket=bucket, storage="file")
            info = await store.put("big", blocks(), size_hint=size)
            if info.size != size:
                raise RuntimeError(f"fixture put {info.size} bytes, expected {size}")
        finally:
            await nc.close()
        _OBJECT_FIXTURES[key] = bucket
    return _OBJECT_FIXTURES[key]


def _status_kb(key: str) -> Optional[int]:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def rss_reset() -> Optional[int]:
    """Reset the peak-RSS mark to the current RSS; return the current RSS in KiB (None if n/a)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None
    return _status_kb("VmRSS:")


def rss_peak() -> Optional[int]:
    return _status_kb("VmHWM:")


# --------------------------------------------------------------------------------------------------
# Results


@dataclass
class SideResult:
    samples: list[dict] = field(default_factory=list)  # {"n", "work", "seconds", "rate", "note"}
    best: float = 0.0
    median: float = 0.0
    rss_growth_kb: Optional[int] = None  # max over runs of (peak RSS - RSS at run start)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and self.best > 0


@dataclass
class SuiteResult:
    name: str
    unit: str
    target: Optional[float]
    ours: SideResult
    theirs: Optional[SideResult]
    compare_to: Optional[str] = None

    @property
    def ratio(self) -> Optional[float]:
        if self.theirs is None or not self.ours.ok or not self.theirs.ok:
            return None
        return self.ours.best / self.theirs.best

    @property
    def met(self) -> Optional[bool]:
        r = self.ratio
        if self.target is None or r is None:
            return None
        return r >= self.target

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["ratio"] = self.ratio
        d["met"] = self.met
        return d


async def _run_side(
    ctx: Context, suite: Suite, fn: Callable[[Context, int], Awaitable[Sample]], n: int, res: SideResult
) -> Optional[Sample]:
    """One bounded run of one side; records the sample (or the error) into ``res``."""
    gc.collect()
    bound = suite.run_timeout or ctx.run_timeout
    base = rss_reset()
    try:
        sample = await asyncio.wait_for(fn(ctx, n), bound)
    except (asyncio.TimeoutError, RunTimeout) as err:
        res.error = f"timeout after {bound:.0f}s (n={n})" if isinstance(err, asyncio.TimeoutError) else str(err)
        return None
    except Exception as err:  # a failing side is reported, the other suites still run
        res.error = f"{type(err).__name__}: {err}"
        return None
    peak = rss_peak()
    if base is not None and peak is not None:
        growth = max(0, peak - base)
        res.rss_growth_kb = growth if res.rss_growth_kb is None else max(res.rss_growth_kb, growth)
    res.samples.append({"n": n, "work": sample.work, "seconds": sample.seconds, "rate": sample.rate, "note": sample.note})
    res.best = max(res.best, sample.rate)
    res.median = statistics.median(x["rate"] for x in res.samples)
    return sample


def _rescale(n: int, seconds: float, max_n: int) -> int:
    if seconds <= 0:
        return min(max_n, n * 4)
    if RUN_MIN_S <= seconds <= 2.0:
        return n
    factor = min(8.0, max(0.125, RUN_TARGET_S / seconds))
    return max(1, min(max_n, int(n * factor)))


async def run_suite(ctx: Context, suite: Suite, log: Callable[[str], None]) -> SuiteResult:
    runs = 1 if ctx.quick else min(FULL_RUNS, suite.runs or FULL_RUNS)
    sides: list[tuple[str, Callable, SideResult]] = [("ours", suite.ours, SideResult())]
    if suite.theirs is not None:
        sides.append(("nats-py", suite.theirs, SideResult()))
    n_of = {label: min(suite.max_n, suite.quick_n if ctx.quick else suite.n) for label, _, _ in sides}
    spent = {label: 0.0 for label, _, _ in sides}
    for i in range(runs):
        order = sides if i % 2 == 0 else list(reversed(sides))
        for label, fn, res in order:
            if res.error or (i > 0 and spent[label] >= SIDE_BUDGET_S):
                continue
            t0 = time.perf_counter()
            sample = await _run_side(ctx, suite, fn, n_of[label], res)
            spent[label] += time.perf_counter() - t0
            if sample is None:
                log(f"    {suite.name} [{label}] run {i + 1}: ERROR {res.error}")
                continue
            log(f"    {suite.name} [{label}] run {i + 1}: n={n_of[label]} {sample.seconds:.3f}s {fmt_rate(sample.rate, suite.unit)}")
            if not ctx.quick:
                n_of[label] = _rescale(n_of[label], sample.seconds, suite.max_n)
    ours = sides[0][2]
    theirs = sides[1][2] if len(sides) > 1 else None
    return SuiteResult(suite.name, suite.unit, suite.target, ours, theirs, suite.compare_to)


def link_references(results: list[SuiteResult]) -> None:
    """Give reference rows the nats-py side of the suite they compare to (same object)."""
    by_name = {r.name: r for r in results}
    for r in results:
        if r.compare_to and r.theirs is None and r.compare_to in by_name:
            r.theirs = by_name[r.compare_to].theirs


# --------------------------------------------------------------------------------------------------
# Formatting


def fmt_rate(value: float, unit: str) -> str:
    if value >= 1e6 and not unit.startswith("MB"):
        return f"{value / 1e6:.2f}M {unit}"
    if value >= 1e4 and not unit.startswith("MB"):
        return f"{value / 1e3:.1f}k {unit}"
    return f"{value:,.1f} {unit}"


def _fmt_side(side: Optional[SideResult], unit: str) -> str:
    if side is None:
        return "-"
    if side.error and not side.ok:
        return "ERROR"
    text = fmt_rate(side.best, unit)
    return text + (" (!)" if side.error else "")


def _fmt_rss(side: Optional[SideResult]) -> str:
    if side is None or side.rss_growth_kb is None:
        return "-"
    return f"+{side.rss_growth_kb / 1024:.0f}"


def render_table(results: list[SuiteResult]) -> str:
    header = ["benchmark", "ours", "nats-py", "ratio", "target", "RSS+ MB ours/nats-py"]
    rows = []
    for r in results:
        ratio = r.ratio
        if r.compare_to:
            target = "(reference)"
        elif r.target is None:
            target = "-"
        elif r.met is None:
            target = f">={r.target:g}x  ?"
        else:
            target = f">={r.target:g}x  {'ok' if r.met else 'MISS'}"
        rows.append(
            [
                r.name,
                _fmt_side(r.ours, r.unit),
                _fmt_side(r.theirs, r.unit),
                f"{ratio:.2f}x" if ratio is not None else "-",
                target,
                f"{_fmt_rss(r.ours)} / {_fmt_rss(r.theirs)}",
            ]
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]
    right = {1, 2, 3}

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [line(header), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in rows]
    errors = [
        f"  {r.name} [{label}]: {side.error}"
        for r in results
        for label, side in (("ours", r.ours), ("nats-py", None if r.compare_to else r.theirs))
        if side is not None and side.error
    ]
    if errors:
        out.append("errors:")
        out += errors
    return "\n".join(out)


def environment() -> dict:
    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    try:
        info["loadavg_start"] = os.getloadavg()
    except OSError:
        pass
    try:
        from importlib.metadata import version

        info["nats-py"] = version("nats-py")
    except Exception:
        info["nats-py"] = None
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5)
        info["git"] = rev.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        info["git"] = None
    return info


def server_version(ctx: Context) -> Optional[str]:
    if ctx._server is None:
        return None
    try:
        out = subprocess.run([ctx._server.binary, "--version"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
