"""``python -m bench [--quick] [--only NAME ...] [--skip NAME ...] [--json PATH] [--list] [--strict]``.

Runs the registered suites (ours vs nats-py), prints one table, and writes the results as JSON to
``bench/results/<timestamp>.json`` (gitignored) and to ``--json PATH`` if given.

Which rows run: ``--only`` patterns choose rows by name (a named row always runs). Without it,
every row runs except the ``scale`` group under ``--quick`` and rows whose ``opt_in`` environment
variable is not ``1`` (the 4 GiB rows: ``BENCH_4GIB=1``). ``--skip`` (default: the ``BENCH_SKIP``
environment variable, space- or comma-separated) drops rows whose name or group matches:
``--skip scale`` is the quick way past the long rows of ``bench/scale.py``.

Exit status: 0 normally; 1 if a suite errored, or with ``--strict`` if a target was missed.
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import importlib
import importlib.util
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from . import common

# Modules that register suites; later issues add theirs here. Missing ones are skipped.
SUITE_MODULES = ["bench.core", "bench.jetstream", "bench.objstore", "bench.ranged", "bench.resume", "bench.parallel", "bench.big_puts", "bench.scale", "bench.scale_cluster", "bench.getmem", "bench.ordered_cpu"]


def load_suites() -> list[common.Suite]:
    for name in SUITE_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    return list(common.SUITES)


def _matches(text: str, patterns: list[str]) -> bool:
    low = text.lower()
    for p in patterns:
        pl = p.lower()
        if low == pl or fnmatch.fnmatch(low, pl) or pl in low:
            return True
    return False


def select(suites: list[common.Suite], patterns: list[str], skip: list[str] = (), quick: bool = False) -> list[common.Suite]:  # type: ignore[assignment]
    """Keep suites whose name matches any pattern (exact, glob, or case-insensitive substring);
    with no pattern, the default set (see the module docstring); then drop ``skip`` matches
    (by name or group)."""
    if patterns:
        chosen = [s for s in suites if _matches(s.name, patterns)]
    else:
        chosen = [
            s for s in suites
            if not (quick and s.group == "scale") and not (s.opt_in and os.environ.get(s.opt_in) != "1")
        ]  # fmt: skip
    if skip:
        chosen = [s for s in chosen if not _matches(s.name, skip) and not (s.group and _matches(s.group, skip))]
    return chosen


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description="ours (protocol) vs nats-py benchmarks")
    ap.add_argument("--quick", action="store_true", help="fewer messages, one run per side (well under a minute)")
    ap.add_argument("--only", nargs="+", metavar="NAME", default=[], help="run suites whose name matches (substring or glob)")
    ap.add_argument(
        "--skip",
        nargs="+",
        metavar="NAME",
        default=os.environ.get("BENCH_SKIP", "").replace(",", " ").split(),
        help="drop suites whose name or group matches (default: $BENCH_SKIP); --skip scale: no long rows",
    )
    ap.add_argument("--json", metavar="PATH", type=Path, help="also write the JSON results here")
    ap.add_argument("--list", action="store_true", help="list the suites and exit")
    ap.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    ap.add_argument("-q", "--silent", action="store_true", help="no per-run progress lines")
    return ap.parse_args(argv)


async def run(args: argparse.Namespace, suites: list[common.Suite], ctx: common.Context) -> list[common.SuiteResult]:
    log = (lambda _msg: None) if args.silent else (lambda msg: print(msg, file=sys.stderr, flush=True))
    results = []
    for suite in suites:
        log(f"== {suite.name}")
        results.append(await common.run_suite(ctx, suite, log))
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    suites = load_suites()
    if args.list:
        for s in suites:
            target = f">={s.target:g}x" if s.target else "report only"
            extra = f"  [{s.group}{', needs ' + s.opt_in + '=1' if s.opt_in else ''}]" if s.group or s.opt_in else ""
            print(f"{s.name:32} {s.unit:8} {target}{extra}")
        return 0
    suites = select(suites, args.only, args.skip, args.quick)
    if args.quick:
        suites = [s for s in suites if not s.skip_quick]  # the 512 MiB rows
    if not suites:
        print(f"no suite matches {args.only!r} (skipping {args.skip!r}); use --list", file=sys.stderr)
        return 2
    ctx = common.Context(quick=args.quick)
    env = common.environment()  # before the run: loadavg_start is the load we started under
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    try:
        results = asyncio.run(run(args, suites, ctx))
        server = common.server_version(ctx)
    finally:
        ctx.close()
    elapsed = time.perf_counter() - t0
    common.link_references(results)

    print()
    print(common.render_table(results))
    print(f"\n({'quick' if args.quick else 'full'} run, {elapsed:.0f}s; rates are best-of-runs, ratio = ours / nats-py; "
          "RSS+ = peak RSS growth during a run)")

    env["nats-server"] = server
    payload = {
        "started": started.isoformat(),
        "elapsed_s": round(elapsed, 2),
        "mode": "quick" if args.quick else "full",
        "environment": env,
        "results": [r.to_json() for r in results],
    }
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    out = common.RESULTS_DIR / f"{stamp}.json"
    common.write_json(out, payload)
    print(f"results: {out.relative_to(common.ROOT) if out.is_relative_to(common.ROOT) else out}")
    if args.json:
        common.write_json(args.json, payload)
        print(f"results: {args.json}")

    # A reference row's nats-py side belongs to the suite it compares to: count it there only.
    failed = any(r.ours.error for r in results) or any(
        r.theirs is not None and r.theirs.error for r in results if not r.compare_to
    )
    if failed:
        return 1
    if args.strict and any(r.met is False for r in results):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
