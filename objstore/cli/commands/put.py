"""Owns ``objstore put BUCKET FILE|- [--if-absent]``: reads a file or stdin into
``store.put`` (the library's writer does the chunking, hashing and cleanup) and reports what the
server acknowledged, not what was read. ``--if-absent`` checks first and skips an existing name.
Before uploading, a file that cannot fit the bucket's max_bytes is refused, and a ``/dev/fd`` path
(``<(cmd)``) needs ``--name`` (:mod:`..explain`).

Built on the ``objstore`` public API only; it must not publish chunks itself.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
import time
from typing import Any, Optional

from ... import BadObjectMetaError, ObjectNotFoundError
from ..bulk import put_many
from ..explain import check_room, needs_name
from ..format import exact_size, info_to_json, one_line
from ..progress import format_rate
from ..registry import command
from ..runtime import EXIT_OK, CliError, Ctx, UsageError
from ..values import arg_kv, arg_positive_duration, arg_positive_size


def _headers_arg(pairs: Optional[list[tuple[str, str]]]) -> Optional[dict[str, list[str]]]:
    if not pairs:
        return None
    out: dict[str, list[str]] = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return out


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("file", metavar="FILE|-")
    p.add_argument("more", metavar="FILE", nargs="*", help="more files (each named by its base name)")
    p.add_argument("-r", "--recursive", action="store_true", help="put every file under each DIR (names relative to DIR)")
    p.add_argument("--prefix", metavar="P/", help="put the objects under this prefix (with several files or -r)")
    p.add_argument("-n", "--name", help="object name (default: the file's base name; required for '-')")
    p.add_argument("--description", help="object description")
    p.add_argument("-H", "--header", type=arg_kv(":", "-H"), action="append", metavar="KEY:VALUE",
                   help="object header (repeatable)")
    p.add_argument("--metadata", type=arg_kv("=", "--metadata"), action="append", metavar="KEY=VALUE",
                   help="object metadata (repeatable)")
    p.add_argument("--chunk-size", type=arg_positive_size, metavar="SIZE",
                   help="chunk size (default 128KiB; capped at the server's max payload)")
    p.add_argument("--ttl", type=arg_positive_duration, metavar="DURATION",
                   help="the object's own lifetime (30s, 1h, 2d or seconds; at least 1s); the bucket needs --allow-msg-ttl")
    p.add_argument("--resume", action="store_true",
                   help="carry on an earlier, interrupted put of this FILE under this name: only the chunks "
                        "the server lacks are sent (state in $NATSOBJ_RESUME_DIR or ~/.cache/natsobj/resume)")
    p.add_argument("--if-absent", action="store_true",
                   help="skip (exit 0, 'skipped') when the object already exists instead of replacing it")


@command("put", 60, "store a file (or stdin) as an object; several files, or a directory with -r", arguments=_arguments,
         description="Store FILE (or stdin with '-') as an object, replacing any previous version only "
                     "once every chunk is acknowledged. Reports the bytes the server acknowledged. With "
                     "several FILEs each is named by its base name; with -r every file under DIR by its path "
                     "relative to DIR; --prefix P/ goes before those names.")
async def cmd_put(ctx: Ctx) -> int:
    a = ctx.args
    if a.more or a.recursive or a.prefix:
        return await put_many(ctx, _headers_arg(a.header))
    if a.file == "-":
        if not a.name:
            raise UsageError("--name is required when reading from stdin ('-')")
        name = a.name
        src: Any = sys.stdin.buffer
        close_src = False
    else:
        if os.path.isdir(a.file):
            raise CliError(f"{a.file}: is a directory")
        if not a.name and needs_name(a.file):
            raise UsageError(f"--name is required for {a.file} (a pipe or /dev path such as <(cmd) has no useful file name)")
        name = a.name or os.path.basename(os.path.normpath(a.file))
        src = open(a.file, "rb")
        close_src = True
    try:
        size: Optional[int] = None
        try:
            st = os.fstat(src.fileno())
            if stat.S_ISREG(st.st_mode):
                size = st.st_size - (src.tell() if src.seekable() else 0)
        except (OSError, ValueError, AttributeError):
            size = None
        resume = bool(getattr(a, "resume", False))
        if resume and a.file == "-":
            raise UsageError("--resume needs a FILE, not stdin")
        store = await ctx.store(a.bucket)
        if getattr(a, "if_absent", False):
            existing = await _existing(store, name)
            if existing is not None:
                return _report_skipped(ctx, a.bucket, name, existing)
        await check_room(ctx, store, size)
        acked = 0
        bar = ctx.bar(size, f"put {one_line(name, 30)}")

        def progress(done: int, total: Optional[int]) -> None:
            nonlocal acked
            ctx.check_interrupted()
            acked = done
            bar(done, total)

        t0 = time.perf_counter()
        try:
            info = await store.put(
                name,
                src,
                description=a.description,
                headers=_headers_arg(a.header),
                metadata=dict(a.metadata) if a.metadata else None,
                chunk_size=a.chunk_size,
                progress=progress,
                size_hint=size,
                ttl=a.ttl,
                resume=resume,
            )
        finally:
            bar.close()
        elapsed = time.perf_counter() - t0
    finally:
        if close_src:
            src.close()
    if ctx.json:
        doc = info_to_json(info)
        doc.update(skipped=False, put_path=info.put_path, transfer=info.transfer, acked_bytes=acked, elapsed_seconds=round(elapsed, 6), bytes_per_second=round(acked / elapsed) if elapsed > 0 else None)
        ctx.emit_json(doc)
    else:
        rate = f", {format_rate(acked / elapsed)}" if elapsed > 0 and acked else ""
        ctx.say(
            f"put {a.bucket}/{info.name}: {exact_size(acked)} acknowledged by the server "
            f"in {info.chunks} chunk{'s' if info.chunks != 1 else ''}, {elapsed:.2f}s{rate}; digest {info.digest}"
        )
    return EXIT_OK


async def _existing(store: Any, name: str) -> Optional[dict[str, Any]]:
    """What ``put --if-absent`` finds under ``name``: None when absent (never stored, or deleted).

    A check, then the put: not atomic against another writer putting the same name meanwhile."""
    try:
        info = await store.get_info(name)
    except ObjectNotFoundError:  # includes ObjectDeletedError: a deleted name is absent
        return None
    except BadObjectMetaError as e:  # something is stored there; do not write over it
        return {"name": name, "reason": f"exists (its meta is unreadable: {e})"}
    doc = info_to_json(info)
    doc["reason"] = "exists"
    return doc


def _report_skipped(ctx: Ctx, bucket: str, name: str, existing: dict[str, Any]) -> int:
    if ctx.json:
        doc = dict(existing)
        doc.update(name=name, bucket=bucket, skipped=True)
        ctx.emit_json(doc)
    else:
        ctx.say(f"skipped {bucket}/{name}: it already exists (--if-absent)")
    return EXIT_OK
