"""Owns ``objstore get BUCKET NAME [-o FILE|DIR/|-] [-n]``: reads the object through the
library's verifying reader and delivers it to the target :func:`~..output.plan_output` chose.

A regular file gets a temp file beside it, filled by the library's reader-to-file path
(:func:`objstore.reader.write_all`, the one ``store.get(writeinto=)`` uses), then verified,
fsync'ed and renamed into place; stdout and in-place targets (devices, FIFOs, sockets) are
written chunk by chunk as they arrive. It must not decide where to write (``output`` does) nor
verify data itself (the reader does).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Any, Optional

from protocol import NatsError

from ... import DigestMismatchError
from ...download import download
from ...reader import write_all
from ..bulk import get_many
from ..format import exact_size, info_to_json, one_line
from ..output import (
    TEMP_SUFFIX,
    Target,
    file_mode,
    fsync_dir,
    isatty,
    link_no_replace,
    looks_binary,
    open_socket,
    open_through,
    plan_output,
)
from ..progress import format_rate
from ..registry import command
from ..runtime import EXIT_OK, CliError, Ctx, UsageError, describe_error


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("name", metavar="NAME", nargs="?", help="the object (with -r: the prefix)")
    p.add_argument("--prefix", metavar="P", help="get every object under P into -o DIR, mirroring '/' as folders")
    p.add_argument("-r", "--recursive", action="store_true", help="NAME is a prefix (default: everything): like --prefix")
    p.add_argument("-o", "--output", metavar="FILE", help="target file or directory ('-' = stdout, the default)")
    p.add_argument("-n", "--no-clobber", action="store_true", help="do not replace an existing file (exit 1 instead)")
    p.add_argument("--resume", action="store_true",
                   help="with -o FILE: download through FILE.part (kept if interrupted) and carry on from it")


@command("get", 70, "fetch an object, verified (or every object under --prefix into -o DIR)", arguments=_arguments,
         description="Fetch an object. With -o FILE it is written to a temporary file beside FILE and "
                     "renamed into place only after its SHA-256 digest, size and chunk count are verified; "
                     "on any error FILE is left untouched. An existing FILE is replaced (as cp does), a "
                     "symlink's target is replaced (the link stays); a device, FIFO or socket is written in "
                     "place. With -o DIR/ the file is DIR/<last part of NAME>; names that could leave DIR are "
                     "refused. Without -o (or with '-o -') it goes to stdout; binary data is not printed to a "
                     "terminal unless '-o -' is given. With --prefix P (or -r FOLDER) every object under it "
                     "is written into -o DIR, mirroring '/' as folders, each verified and renamed into place.")
async def cmd_get(ctx: Ctx) -> int:
    a = ctx.args
    if a.prefix is not None or a.recursive:
        return await get_many(ctx)
    if a.name is None:
        raise UsageError("name the object to get (or give --prefix P / -r for several)")
    target = plan_output(a.output, a.name, no_clobber=bool(getattr(a, "no_clobber", False)))
    if target.kind == "stdout" and ctx.json:
        raise UsageError("--json needs -o FILE for get (the object's data goes to stdout)")
    store = await ctx.store(a.bucket)
    if getattr(a, "resume", False):
        if target.kind != "file":
            raise UsageError("--resume needs -o FILE (a regular file)")
        return await _get_resumable(ctx, store, target)
    reader = await store.reader(a.name, idle_timeout=ctx.idle_timeout)
    info = reader.info
    t0 = time.perf_counter()
    async with reader:
        if target.kind == "stdout":
            return await _get_to_stdout(ctx, reader, target)
        if target.kind == "file":
            await _get_to_file(ctx, reader, target)
        else:
            await _get_through(ctx, reader, target)
    elapsed = time.perf_counter() - t0
    if ctx.json:
        doc = info_to_json(info)
        doc.update(path=target.shown, written_in_place=target.kind != "file", verified=True,
                   elapsed_seconds=round(elapsed, 6), bytes_per_second=round(info.size / elapsed) if elapsed > 0 else None)
        ctx.emit_json(doc)
    else:
        rate = f", {format_rate(info.size / elapsed)}" if elapsed > 0 and info.size else ""
        ctx.say(
            f"got {a.bucket}/{a.name} -> {target.shown}: {exact_size(info.size)} in "
            f"{info.chunks} chunk{'s' if info.chunks != 1 else ''}, digest, size and chunk count verified, {elapsed:.2f}s{rate}"
        )
    return EXIT_OK


async def _get_to_stdout(ctx: Ctx, reader: Any, target: Target) -> int:
    out = sys.stdout.buffer
    guard = not target.explicit and isatty(sys.stdout)
    bar = ctx.bar(reader.info.size, f"get {one_line(reader.info.name, 30)}")
    try:
        async for chunk in reader:
            ctx.check_interrupted()
            if guard:
                if looks_binary(chunk):
                    raise CliError("binary output can mess up your terminal: use -o FILE to save it, "
                                   "or '-o -' to print it anyway")
                guard = False
            out.write(chunk)
            bar(reader.bytes_read)
        out.flush()
    finally:
        bar.close()
    _check_verified(reader)
    return EXIT_OK


async def _get_to_file(ctx: Ctx, reader: Any, target: Target) -> None:
    """Temp file beside the target, filled by the library's ``write_all`` (batched writes in a
    worker thread), verified, fsync'ed, then renamed into place (``-n``: linked, so a file that
    appeared meanwhile is not replaced either). Every failure removes the temp file and leaves
    the target as it was."""
    path = target.path
    directory = os.path.dirname(os.path.abspath(path))
    mode = file_mode(path)
    no_clobber = bool(getattr(ctx.args, "no_clobber", False))
    bar = ctx.bar(reader.info.size, f"get {one_line(reader.info.name, 30)}")

    def progress(done: int, total: Optional[int]) -> None:
        ctx.check_interrupted()  # per chunk, in the event loop (see Ctx.check_interrupted)
        bar(done, total)

    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=TEMP_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            try:
                await write_all(reader, f, progress)
            finally:
                bar.close()
            _check_verified(reader)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        ctx.check_interrupted()
        if no_clobber:
            link_no_replace(tmp, path, target.shown)
        else:
            os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, (NatsError, OSError)) and not isinstance(e, CliError):
            state = "left as it was" if target.exists else "not created"
            raise CliError(f"{describe_error(e)} (after {reader.bytes_read} of {reader.info.size} bytes; "
                           f"{target.shown} {state})") from e
        raise
    fsync_dir(directory)


async def _get_through(ctx: Ctx, reader: Any, target: Target) -> None:
    """A device, FIFO, socket or /dev path: bytes go out as they arrive (nothing to rename), so
    a failed check comes after some were written; the error says how many."""
    written = 0
    sink: Any = None
    bar = ctx.bar(reader.info.size, f"get {one_line(reader.info.name, 30)}")
    try:
        if target.kind == "socket":
            sink = open_socket(target)
            write = sink.sendall
        else:
            sink = await open_through(target, ctx)
            write = sink.write
        try:
            async for chunk in reader:
                ctx.check_interrupted()
                view = memoryview(chunk)
                while view:  # a raw (unbuffered) write may be partial
                    n = write(view)
                    if n is None:  # sendall
                        n = len(view)
                    written += n
                    view = view[n:]
                bar(reader.bytes_read)
        finally:
            bar.close()
        _check_verified(reader)
    except BrokenPipeError:
        raise CliError(f"{target.shown}: the reader went away (broken pipe) after {written} bytes") from None
    except (NatsError, CliError, OSError) as e:
        text = describe_error(e) if isinstance(e, (NatsError, CliError)) else f"{target.shown}: {e.strerror or e}"
        if written:
            text += (f"; {written} unverified bytes were already written to {target.shown} "
                     f"(written in place: it is not a regular file)")
        raise CliError(text) from e
    finally:
        if sink is not None:
            try:
                sink.close()
            except OSError:
                pass


async def _get_resumable(ctx: Ctx, store: Any, target: Target) -> int:
    """``--resume``: the library's :func:`objstore.download.download` through FILE.part."""
    a = ctx.args
    if getattr(a, "no_clobber", False) and os.path.exists(target.path):
        raise CliError(f"{target.shown} exists (-n)")
    bar = ctx.bar(None, f"get {one_line(a.name, 30)}")

    def progress(done: int, total: Optional[int]) -> None:
        ctx.check_interrupted()
        bar(done, total)

    t0 = time.perf_counter()
    try:
        info = await download(store, a.name, target.path, resume=True, progress=progress)
    finally:
        bar.close()
    elapsed = time.perf_counter() - t0
    t = info.transfer or {}
    if ctx.json:
        doc = info_to_json(info)
        doc.update(path=target.shown, written_in_place=False, verified=True, transfer=t, elapsed_seconds=round(elapsed, 6))
        ctx.emit_json(doc)
    else:
        ctx.say(f"got {a.bucket}/{a.name} -> {target.shown}: {exact_size(info.size)}, "
                f"{exact_size(t.get('resumed_bytes', 0))} kept from {target.shown}.part, digest verified, {elapsed:.2f}s")
    return EXIT_OK


def _check_verified(reader: Any) -> None:
    if not reader.verified:
        raise DigestMismatchError(f"object {reader.info.name!r}: the transfer ended before it could be verified")
