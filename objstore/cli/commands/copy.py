"""Owns ``objstore cp SRC_BUCKET/NAME DST_BUCKET[/NAME]``: a copy streamed through the client
(the server has no copy), chunk by chunk with bounded memory, keeping the description, headers,
metadata and chunk size. The source is read through the library's verifying reader: if its
digest does not match at the end, the put fails and leaves nothing behind in the destination.

Built on the ``objstore`` public API only (``reader``, ``put``).
"""

from __future__ import annotations

import argparse
import re
import time
from typing import Any, AsyncIterator, Optional

from ... import VALID_BUCKET_RE
from ..format import exact_size, info_to_json, one_line
from ..progress import format_rate
from ..registry import command
from ..runtime import EXIT_OK, Ctx, UsageError


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SRC_BUCKET/NAME")
    p.add_argument("dest", metavar="DST_BUCKET[/NAME]",
                   help="the copy's bucket and name (default: the same name; a NAME ending in '/' is a prefix)")


def _split(arg: str, need_name: bool) -> tuple[str, str]:
    bucket, _, name = arg.partition("/")
    if not re.match(VALID_BUCKET_RE, bucket):
        raise UsageError(f"{arg!r}: the bucket name {bucket!r} is not valid (letters, digits, '-' and '_')")
    if need_name and not name:
        raise UsageError(f"{arg!r}: name the object as BUCKET/NAME")
    return bucket, name


def _check(a: argparse.Namespace) -> None:
    a.src_bucket, a.src_name = _split(a.source, True)
    a.dst_bucket, name = _split(a.dest, False)
    if not name:
        name = a.src_name
    elif name.endswith("/"):
        name += a.src_name.rstrip("/").rsplit("/", 1)[-1]
    a.dst_name = name
    a.bucket = a.dst_bucket  # where a sealed or full bucket stops the copy: what an error names
    if (a.src_bucket, a.src_name) == (a.dst_bucket, a.dst_name):
        raise UsageError(f"{a.source} would be copied onto itself")


@command("cp", 105, "copy an object to another name or bucket (streamed, keeps headers and metadata)",
         arguments=_arguments, check=_check)
async def cmd_cp(ctx: Ctx) -> int:
    a = ctx.args
    src = await ctx.store(a.src_bucket)
    dst = src if a.dst_bucket == a.src_bucket else await ctx.store(a.dst_bucket)
    reader = await src.reader(a.src_name, idle_timeout=ctx.idle_timeout)
    info = reader.info
    bar = ctx.bar(info.size, f"cp {one_line(a.src_name, 30)}")

    async def chunks() -> AsyncIterator[bytes]:
        async for chunk in reader:
            ctx.check_interrupted()
            yield chunk

    def progress(done: int, total: Optional[int]) -> None:
        ctx.check_interrupted()
        bar(done, total)

    t0 = time.perf_counter()
    try:
        async with reader:
            copied: Any = await dst.put(
                a.dst_name, chunks(), description=info.description, headers=info.headers,
                metadata=dict(info.metadata) if info.metadata else None, chunk_size=info.chunk_size,
                progress=progress, size_hint=info.size,
            )
    finally:
        bar.close()
    elapsed = time.perf_counter() - t0
    if ctx.json:
        doc = info_to_json(copied)
        doc.update(source={"bucket": a.src_bucket, "name": a.src_name}, elapsed_seconds=round(elapsed, 6))
        ctx.emit_json(doc)
    else:
        rate = f", {format_rate(copied.size / elapsed)}" if elapsed > 0 and copied.size else ""
        ctx.say(f"copied {a.src_bucket}/{a.src_name} -> {a.dst_bucket}/{copied.name}: {exact_size(copied.size)}, "
                f"digest verified, {elapsed:.2f}s{rate}")
    return EXIT_OK
