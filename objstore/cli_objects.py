"""The ``objstore`` object commands: ``put``, ``get`` (verified, then renamed into place),
``ls``, ``info``, ``rm``, ``mv``, ``link`` and ``watch``. Each takes a connected
:class:`~objstore.cli_runtime.Ctx` and returns an exit code.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
import time
from typing import Any, Optional

from .cli_format import exact_size, info_to_json, iso_time, link_text, one_line, print_pairs, print_table
from .cli_runtime import EXIT_OK, CliError, Ctx, UsageError
from .errors import DigestMismatchError
from .models import ObjectMeta
from .progress import format_rate, format_size


def _headers_arg(pairs: Optional[list[tuple[str, str]]]) -> Optional[dict[str, list[str]]]:
    if not pairs:
        return None
    out: dict[str, list[str]] = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return out


async def cmd_put(ctx: Ctx) -> int:
    a = ctx.args
    if a.file == "-":
        if not a.name:
            raise UsageError("--name is required when reading from stdin ('-')")
        name = a.name
        src: Any = sys.stdin.buffer
        close_src = False
    else:
        if os.path.isdir(a.file):
            raise CliError(f"{a.file}: is a directory")
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
        store = await ctx.store(a.bucket)
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
            )
        finally:
            bar.close()
        elapsed = time.perf_counter() - t0
    finally:
        if close_src:
            src.close()
    if ctx.json:
        doc = info_to_json(info)
        doc.update(acked_bytes=acked, elapsed_seconds=round(elapsed, 6), bytes_per_second=round(acked / elapsed) if elapsed > 0 else None)
        ctx.emit_json(doc)
    else:
        rate = f", {format_rate(acked / elapsed)}" if elapsed > 0 and acked else ""
        ctx.say(
            f"put {a.bucket}/{info.name}: {exact_size(acked)} acknowledged by the server "
            f"in {info.chunks} chunk{'s' if info.chunks != 1 else ''}, {elapsed:.2f}s{rate}; digest {info.digest}"
        )
    return EXIT_OK


def _resolve_target(output: str, name: str) -> str:
    if os.path.isdir(output):
        base = os.path.basename(name.rstrip("/")) or "object"
        return os.path.join(output, base)
    return output


def _file_mode(target: str) -> int:
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


async def cmd_get(ctx: Ctx) -> int:
    a = ctx.args
    to_stdout = a.output in (None, "-")
    if to_stdout and ctx.json:
        raise UsageError("--json needs -o FILE for get (the object's data goes to stdout)")
    target = directory = ""
    if not to_stdout:
        target = _resolve_target(a.output, a.name)
        directory = os.path.dirname(os.path.abspath(target))
        if not os.path.isdir(directory):
            raise CliError(f"{directory}: no such directory")
        if not os.access(directory, os.W_OK | os.X_OK):
            raise CliError(f"{directory}: not writable (the file is written there first, then renamed)")
    store = await ctx.store(a.bucket)
    reader = await store.reader(a.name, idle_timeout=ctx.idle_timeout)
    info = reader.info
    bar = ctx.bar(info.size, f"get {one_line(a.name, 30)}")
    t0 = time.perf_counter()
    if to_stdout:
        out = sys.stdout.buffer
        try:
            async with reader:
                async for chunk in reader:
                    ctx.check_interrupted()
                    out.write(chunk)
                    bar(reader.bytes_read)
            out.flush()
        finally:
            bar.close()
        _check_verified(reader)
        return EXIT_OK

    mode = _file_mode(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".objstore-part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            try:
                async with reader:
                    async for chunk in reader:
                        ctx.check_interrupted()
                        f.write(chunk)
                        bar(reader.bytes_read)
            finally:
                bar.close()
            _check_verified(reader)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    elapsed = time.perf_counter() - t0
    if ctx.json:
        doc = info_to_json(info)
        doc.update(path=target, verified=True, elapsed_seconds=round(elapsed, 6),
                   bytes_per_second=round(info.size / elapsed) if elapsed > 0 else None)
        ctx.emit_json(doc)
    else:
        rate = f", {format_rate(info.size / elapsed)}" if elapsed > 0 and info.size else ""
        ctx.say(
            f"got {a.bucket}/{a.name} -> {target}: {exact_size(info.size)} in "
            f"{info.chunks} chunk{'s' if info.chunks != 1 else ''}, digest, size and chunk count verified, {elapsed:.2f}s{rate}"
        )
    return EXIT_OK


def _check_verified(reader: Any) -> None:
    if not reader.verified:
        raise DigestMismatchError(f"object {reader.info.name!r}: the transfer ended before it could be verified")


async def cmd_ls(ctx: Ctx) -> int:
    a = ctx.args
    store = await ctx.store(a.bucket)
    infos = sorted(await store.list(show_deleted=a.deleted), key=lambda i: i.name)
    if ctx.json:
        ctx.emit_json([info_to_json(i) for i in infos])
        return EXIT_OK
    if not infos:
        ctx.note(f"bucket {a.bucket!r} is empty")
        return EXIT_OK
    rows = []
    for i in infos:
        name = i.name
        if i.is_link():
            name += f" -> {link_text(i)}"
        if i.deleted:
            name += " (deleted)"
        size = "-" if i.is_link() or i.deleted else format_size(i.size)
        chunks = "-" if i.is_link() or i.deleted else str(i.chunks)
        rows.append([name, size, chunks, iso_time(i.mtime) or "", one_line(i.description)])
    print_table(rows, ["NAME", "SIZE", "CHUNKS", "MODIFIED", "DESCRIPTION"], {1, 2}, ctx.out)
    return EXIT_OK


async def cmd_info(ctx: Ctx) -> int:
    a = ctx.args
    info = await (await ctx.store(a.bucket)).get_info(a.name, show_deleted=a.deleted)
    doc = info_to_json(info)
    if ctx.json:
        ctx.emit_json(doc)
        return EXIT_OK
    lines = [("Name", info.name), ("Bucket", info.bucket or a.bucket)]
    if info.is_link():
        lines.append(("Link to", link_text(info)))
    else:
        lines.append(("Size", exact_size(info.size)))
        chunk = f" of up to {format_size(info.chunk_size)}" if info.chunk_size else ""
        lines.append(("Chunks", f"{info.chunks}{chunk}"))
        lines.append(("Digest", info.digest or ""))
    lines.append(("Modified", iso_time(info.mtime, precise=True) or ""))
    if info.description:
        lines.append(("Description", info.description))
    if info.deleted:
        lines.append(("Deleted", "yes"))
    for k, vs in (doc["headers"] or {}).items():
        for v in vs:
            lines.append((f"Header {k}", v))
    for k, v in sorted((doc["metadata"] or {}).items()):
        lines.append((f"Metadata {k}", v))
    if info.nuid:
        lines.append(("NUID", info.nuid))
    print_pairs(lines, ctx.out)
    return EXIT_OK


async def cmd_rm(ctx: Ctx) -> int:
    a = ctx.args
    await (await ctx.store(a.bucket)).delete(a.name)
    if ctx.json:
        ctx.emit_json({"bucket": a.bucket, "name": a.name, "deleted": True})
    else:
        ctx.say(f"deleted {a.bucket}/{a.name}")
    return EXIT_OK


async def cmd_mv(ctx: Ctx) -> int:
    a = ctx.args
    info = await (await ctx.store(a.bucket)).update_meta(a.old, ObjectMeta(name=a.new))
    if ctx.json:
        ctx.emit_json(info_to_json(info))
    else:
        ctx.say(f"renamed {a.bucket}/{a.old} -> {a.bucket}/{info.name}")
    return EXIT_OK


async def cmd_link(ctx: Ctx) -> int:
    a = ctx.args
    store = await ctx.store(a.bucket)
    if a.bucket_link:
        if a.target_bucket:
            raise UsageError("--bucket-link takes the bucket as TARGET; --bucket is not used with it")
        info = await store.add_bucket_link(a.name, await ctx.store(a.target))
    else:
        source = store if not a.target_bucket or a.target_bucket == a.bucket else await ctx.store(a.target_bucket)
        info = await store.add_link(a.name, await source.get_info(a.target))
    if ctx.json:
        ctx.emit_json(info_to_json(info))
    else:
        ctx.say(f"linked {a.bucket}/{info.name} -> {link_text(info)}")
    return EXIT_OK


async def cmd_watch(ctx: Ctx) -> int:
    a = ctx.args
    store = await ctx.store(a.bucket)
    watcher = store.watch(include_history=a.history, updates_only=a.updates_only)
    async with watcher:
        async for info in watcher:
            ctx.check_interrupted()
            if ctx.json:
                ctx.out.write(json.dumps(info_to_json(info), ensure_ascii=False) + "\n")
            else:
                if info.deleted:
                    op, detail = "DEL", ""
                elif info.is_link():
                    op, detail = "LINK", f"-> {link_text(info)}"
                else:
                    op, detail = "PUT", f"{format_size(info.size)}  {info.chunks} chunk{'s' if info.chunks != 1 else ''}  {info.digest}"
                ctx.out.write(f"{iso_time(info.mtime) or '-'}  {op:<4}  {info.name}  {detail}".rstrip() + "\n")
            ctx.out.flush()
    return EXIT_OK
