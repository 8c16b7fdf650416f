"""Owns ``objstore bench``: runs :func:`objstore.benchkit.run_bench` against the server (the
embedded one by default) and shows the result as aligned tables (or ``--json``), optionally plots
it (``--plot FILE.svg``, :mod:`objstore.benchplot`), and ends with a one-line recommendation.

It must not measure anything itself: the library module does, and deletes its bucket also when
the run is interrupted (Ctrl-C) or fails.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from typing import Any, Callable, Optional

from ...benchkit import DEFAULTS, QUICK_DEFAULTS, BenchOptions, run_bench
from ...benchplot import render_svg
from ..registry import command
from ..runtime import EXIT_OK, Ctx
from ..values import arg_positive_size, parse_size

KIB, MIB = 1024, 1024 * 1024


def _list_of(parse: Callable[[str], Any], what: str) -> Callable[[str], list]:
    def convert(text: str) -> list:
        items = [t.strip() for t in text.split(",") if t.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"{what}: give at least one value")
        out = []
        for item in items:
            try:
                value = parse(item)
            except ValueError as err:
                raise argparse.ArgumentTypeError(f"{what}: {err}") from None
            if value not in out:
                out.append(value)
        return out
    return convert


def _positive_size(text: str) -> int:
    n = parse_size(text)
    if n < 1:
        raise ValueError(f"size must be positive, not {text!r}")
    return n


def _storage(text: str) -> str:
    if text.lower() not in ("file", "memory"):
        raise ValueError(f"{text!r} is not file or memory")
    return text.lower()


def _on_off(text: str) -> bool:
    t = text.lower()
    if t not in ("on", "off", "true", "false", "yes", "no"):
        raise ValueError(f"{text!r} is not on or off")
    return t in ("on", "true", "yes")


def _count(lo: int, hi: int) -> Callable[[str], int]:
    def convert(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not lo <= n <= hi:
            raise argparse.ArgumentTypeError(f"must be between {lo} and {hi}, not {n}")
        return n
    return convert


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sizes", type=_list_of(_positive_size, "--sizes"), metavar="LIST",
                   help="object sizes (default 1K,1M,64M; --quick 1K,1M)")
    p.add_argument("--chunk-sizes", type=_list_of(_positive_size, "--chunk-sizes"), metavar="LIST",
                   help="chunk sizes (default 32K,64K,128K,256K,1M; --quick 64K,256K)")
    p.add_argument("--storage", type=_list_of(_storage, "--storage"), metavar="LIST", help="file,memory (default both)")
    p.add_argument("--fast-ingest", type=_list_of(_on_off, "--fast-ingest"), metavar="LIST",
                   help="on,off: buckets with and without ADR-50 fast ingest (default both)")
    p.add_argument("--window", type=arg_positive_size, metavar="BYTES", help="chunk bytes in flight per put (default: the put's own)")
    p.add_argument("--concurrency", type=_count(1, 64), default=1, metavar="N", help="puts/gets in flight at once (default 1)")
    p.add_argument("--repeat", type=_count(1, 100), metavar="N", help="samples per figure (default 3; --quick 2)")
    p.add_argument("--quick", action="store_true", help="smaller defaults, a few seconds")
    p.add_argument("--plot", metavar="FILE.svg", help="also write throughput vs chunk size as an SVG")


def _options(a: argparse.Namespace) -> BenchOptions:
    d = QUICK_DEFAULTS if a.quick else DEFAULTS
    return BenchOptions(
        sizes=a.sizes or list(d["sizes"]),
        chunk_sizes=a.chunk_sizes or list(d["chunk_sizes"]),
        storages=a.storage or list(d["storages"]),
        fast_ingest=a.fast_ingest or list(d["fast_ingest"]),
        window=a.window,
        concurrency=a.concurrency,
        repeat=a.repeat or d["repeat"],
        quick=bool(a.quick),
    )


def _sz(n: int) -> str:
    if n % MIB == 0:
        return f"{n // MIB}M"
    return f"{n // KIB}K" if n % KIB == 0 else f"{n}B"


def _fig(s: dict[str, Any]) -> str:
    m = s["median"]
    text = f"{m:,.0f}" if m >= 100 else f"{m:,.1f}" if m >= 10 else f"{m:,.2f}"
    return f"{text} ±{s['spread_pct']:.0f}%"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) if i < 4 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths)))]
    for r in rows:
        lines.append("  ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(lines)


def render_text(result: dict[str, Any]) -> str:
    header = ["STORAGE", "FAST", "CHUNK", "SIZE", "PUT MiB/s", "PUT ops/s", "GET MiB/s", "GET ops/s", "PATH"]
    rows = [
        [c["storage"], "on" if c["fast_ingest"] else "off", _sz(c["chunk_size"]), _sz(c["size"]),
         _fig(c["put_mib_s"]), _fig(c["put_ops_s"]), _fig(c["get_mib_s"]), _fig(c["get_ops_s"]), c["put_path"]]
        for c in result["configurations"]
    ]
    hot_header = ["STORAGE", "CHUNK", "SIZE", "UNIT", "SHA-256+PLAN", "ENCODE", "PUB NO ACK", "PUT", "PUT FAST"]
    hot_rows = [
        [h["storage"], _sz(h["chunk_size"]), _sz(h["size"]), "MiB/s", _fig(h["chunk_sha256"]), _fig(h["frame_encode"]),
         _fig(h["publish_no_ack"]), _fig(h["put"]) if "put" in h else "-", _fig(h["put_fast_ingest"]) if "put_fast_ingest" in h else "-"]
        for h in result["hot_path"]
    ]
    server = result["server"]
    return "\n".join([
        f"objstore bench against nats-server {server.get('version')} (median ±spread of "
        f"{result['options']['repeat']} samples, concurrency {result['options']['concurrency']})",
        "",
        _table(header, rows),
        "",
        "where a put's time goes (each stage alone, largest size):",
        _table(hot_header, hot_rows),
        "",
        result["recommendation"],
    ])


def _write_plot(path: str, svg: str) -> None:
    """Write beside the target and rename into place: a failed write leaves no half file."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".objstore-plot-", suffix=".svg", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(svg)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@command("bench", 140, "benchmark puts, gets and the chunking hot path on this server", arguments=_arguments,
         description="Measure put and get throughput (and ops/s for small objects) per storage, fast "
                     "ingest, chunk size and object size, plus the put's hot path stage by stage, in a "
                     "bucket of its own that is deleted at the end. Ends with a recommendation.")
async def cmd_bench(ctx: Ctx) -> int:
    opts = _options(ctx.args)
    log: Optional[Callable[[str], None]] = None if ctx.json else (lambda m: ctx.note(f"bench: {m}"))
    result = await run_bench(ctx.js, opts, log)
    if ctx.args.plot:
        _write_plot(ctx.args.plot, render_svg(result))
        result["plot"] = ctx.args.plot
    if ctx.json:
        ctx.emit_json(result)
    else:
        ctx.out.write(render_text(result) + "\n")
        if ctx.args.plot:
            ctx.out.write(f"plot: {ctx.args.plot}\n")
        ctx.out.flush()
    return EXIT_OK
