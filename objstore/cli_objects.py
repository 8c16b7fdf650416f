"""The ``objstore`` object commands: ``put`` (``--if-absent``), ``get``, ``ls``, ``info``,
``rm``, ``mv``, ``link`` and ``watch``. Each takes a connected
:class:`~objstore.cli_runtime.Ctx` and returns an exit code.

Where ``get`` writes is decided by :func:`plan_output` before the download starts, and it never
damages what is there: a regular file (symlinks followed; the link stays) is replaced only by a
verified, fsync'ed temp file renamed over it (``-n``: never replaced); a device, FIFO, socket or
``/dev``/``/proc`` path is written in place, never renamed over; an object name that could leave
``-o DIR/`` is refused; binary data is not sent to a terminal unless ``-o -`` asks for it.
"""

from __future__ import annotations

import asyncio
import codecs
import errno
import json
import os
import socket
import stat
import sys
import tempfile
import time
from typing import Any, Optional

from protocol import NatsError

from .cli_format import exact_size, info_to_json, iso_time, link_text, one_line, print_pairs, print_table
from .cli_runtime import EXIT_OK, CliError, Ctx, UsageError
from .errors import BadObjectMetaError, DigestMismatchError, ObjectNotFoundError
from .models import ObjectMeta
from .progress import format_rate, format_size

TEMP_SUFFIX = ".objstore-part"  # get -o FILE writes ".<name>.<random>.objstore-part" beside FILE


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
        if getattr(a, "if_absent", False):
            existing = await _existing(store, name)
            if existing is not None:
                return _report_skipped(ctx, a.bucket, name, existing)
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
        doc.update(skipped=False, acked_bytes=acked, elapsed_seconds=round(elapsed, 6), bytes_per_second=round(acked / elapsed) if elapsed > 0 else None)
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


# Where get writes ------------------------------------------------------------------------------

# Paths that are the CLI's own standard output: written to fd 1, never opened or renamed.
_STDOUT_PATHS = frozenset({"/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"})
_FIFO_POLL = 0.1  # seconds between attempts to open a FIFO that has no reader yet


class _Target:
    """Where ``get`` writes: ``kind`` is ``"stdout"``, ``"file"`` (a regular file, replaced by a
    verified rename), ``"through"`` (a device, FIFO or /dev, /proc path: written in place) or
    ``"socket"`` (a Unix stream socket: connected to and written)."""

    def __init__(self, kind: str, path: str = "", shown: str = "", explicit: bool = False, exists: bool = False) -> None:
        self.kind = kind
        self.path = path  # for "file": the real file (symlinks followed) that is replaced
        self.shown = shown or path  # the path as the user named it (messages, --json)
        self.explicit = explicit  # stdout asked for with '-o -' or '-o /dev/stdout'
        self.exists = exists


def object_file_name(name: str) -> str:
    """The file name ``get -o DIR/`` gives object ``name``: its last ``/``-separated part (as
    before). Refused (:class:`CliError`) when that could leave DIR or name DIR itself: a NUL
    byte, an absolute name, a ``..`` part, or a last part that is empty, ``.`` or ``..``."""
    why = ""
    if "\0" in name:
        why = "it contains a NUL byte"
    elif name.startswith("/"):
        why = "it is an absolute path"
    elif ".." in name.split("/"):
        why = "it has a '..' part"
    else:
        base = name.rstrip("/").rsplit("/", 1)[-1]
        if base in ("", ".", ".."):
            why = f"its last part {base!r} is not a file name"
        else:
            return base
    raise CliError(f"object name {name!r} cannot be used as a file name ({why}); give the file with -o FILE")


def _is_special_path(path: str) -> bool:
    # /dev and /proc entries (/dev/stderr, /dev/fd/N, /proc/self/fd/N, /dev/null ...) name open
    # files, pipes and devices: written in place, never resolved, replaced or created.
    p = os.path.abspath(path)
    return p.startswith("/dev/") or p.startswith("/proc/")


def plan_output(output: Optional[str], name: str, no_clobber: bool = False) -> _Target:
    """Decide where ``get -o OUTPUT`` writes object ``name``, before anything is downloaded.

    Every refusal (missing or unwritable directory, a directory target, a dangling symlink, an
    existing file with ``no_clobber``, an unusable object name) is a :class:`CliError` here."""
    if output is None or output == "-":
        return _Target("stdout", explicit=output == "-")
    if output in _STDOUT_PATHS:
        return _Target("stdout", shown=output, explicit=True)
    if output.endswith("/") or os.path.isdir(output):
        if not os.path.isdir(output):
            raise CliError(f"{output}: no such directory")
        target = os.path.join(output, object_file_name(name))
    else:
        target = output
    shown = target
    if _is_special_path(target):
        try:
            st = os.stat(target)
        except OSError as e:
            raise CliError(f"{target}: {e.strerror}") from None
        if stat.S_ISDIR(st.st_mode):
            raise CliError(f"{target}: is a directory")
        return _Target("socket" if stat.S_ISSOCK(st.st_mode) else "through", target, shown, exists=True)
    if os.path.islink(target):
        if not os.path.exists(target):
            raise CliError(f"{target}: a dangling symlink; not writing through it (remove it or choose another path)")
        real = os.path.realpath(target)
        if _is_special_path(real):  # e.g. a link to /dev/null or /dev/stdout: open it in place
            lst = os.stat(target)
            return _Target("socket" if stat.S_ISSOCK(lst.st_mode) else "through", target, shown, exists=True)
        target = real  # the link stays; the file it names is written
    try:
        st: Optional[os.stat_result] = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise CliError(f"{target}: {e.strerror}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISDIR(st.st_mode):
            raise CliError(f"{shown}: is a directory")
        return _Target("socket" if stat.S_ISSOCK(st.st_mode) else "through", target, shown, exists=True)
    if st is not None and no_clobber:
        raise CliError(f"{shown}: already exists (not replaced: -n/--no-clobber)")
    directory = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(directory):
        raise CliError(f"{directory}: no such directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise CliError(f"{directory}: not writable (the file is written there first, then renamed)")
    return _Target("file", target, shown, exists=st is not None)


def _file_mode(target: str) -> int:
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _looks_binary(chunk: bytes) -> bool:
    """curl's rule (a NUL byte), plus bytes that are not UTF-8 (a multi-byte character cut at the
    chunk's end is fine)."""
    if b"\0" in chunk:
        return True
    try:
        codecs.getincrementaldecoder("utf-8")().decode(chunk, final=False)
    except UnicodeDecodeError:
        return True
    return False


async def _open_through(target: _Target, ctx: Ctx) -> Any:
    """Open a device, FIFO or /dev path for writing in place: no O_CREAT, no O_TRUNC, never
    renamed over. A FIFO without a reader is retried (Ctrl-C stops the wait) instead of
    blocking the event loop in open(2)."""
    path = target.path
    st = os.stat(path)
    flags = os.O_WRONLY | os.O_CLOEXEC
    if stat.S_ISREG(st.st_mode):
        flags |= os.O_APPEND  # a file behind /dev/fd/N or /dev/stderr: add to it like the shell
    if stat.S_ISFIFO(st.st_mode):
        waited = False
        while True:
            try:
                fd = os.open(path, flags | os.O_NONBLOCK)
                break
            except OSError as e:
                if e.errno != errno.ENXIO:  # ENXIO: no process has the FIFO open for reading
                    raise
            if not waited:
                ctx.note(f"waiting for a reader on FIFO {target.shown}")
                waited = True
            ctx.check_interrupted()
            await asyncio.sleep(_FIFO_POLL)
        os.set_blocking(fd, True)
    else:
        fd = os.open(path, flags)
    return os.fdopen(fd, "wb", buffering=0)


def _open_socket(target: _Target) -> Any:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(target.path)
    except OSError:
        sock.close()
        raise
    return sock


async def cmd_get(ctx: Ctx) -> int:
    a = ctx.args
    target = plan_output(a.output, a.name, no_clobber=bool(getattr(a, "no_clobber", False)))
    if target.kind == "stdout" and ctx.json:
        raise UsageError("--json needs -o FILE for get (the object's data goes to stdout)")
    store = await ctx.store(a.bucket)
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


async def _get_to_stdout(ctx: Ctx, reader: Any, target: _Target) -> int:
    out = sys.stdout.buffer
    guard = not target.explicit and _isatty(sys.stdout)
    bar = ctx.bar(reader.info.size, f"get {one_line(reader.info.name, 30)}")
    try:
        async for chunk in reader:
            ctx.check_interrupted()
            if guard:
                if _looks_binary(chunk):
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


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (OSError, ValueError, AttributeError):
        return False


async def _get_to_file(ctx: Ctx, reader: Any, target: _Target) -> None:
    """Temp file beside the target, verified, fsync'ed, then renamed into place (``-n``: linked,
    so a file that appeared meanwhile is not replaced either). Every failure removes the temp
    file and leaves the target as it was."""
    path = target.path
    directory = os.path.dirname(os.path.abspath(path))
    mode = _file_mode(path)
    no_clobber = bool(getattr(ctx.args, "no_clobber", False))
    bar = ctx.bar(reader.info.size, f"get {one_line(reader.info.name, 30)}")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=TEMP_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            try:
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
        ctx.check_interrupted()
        if no_clobber:
            _link_no_replace(tmp, path, target.shown)
        else:
            os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, (NatsError, OSError)) and not isinstance(e, CliError):
            state = "left as it was" if target.exists else "not created"
            raise CliError(f"{describe(e)} (after {reader.bytes_read} of {reader.info.size} bytes; "
                           f"{target.shown} {state})") from e
        raise
    _fsync_dir(directory)


def describe(err: BaseException) -> str:
    """An error as one line: an OSError as ``path: reason`` (or its reason), others as text."""
    if isinstance(err, OSError) and not isinstance(err, NatsError):
        if err.filename is not None and err.strerror:
            return f"{err.filename}: {err.strerror}"
        return err.strerror or str(err) or type(err).__name__
    return str(err).strip() or type(err).__name__


def _link_no_replace(tmp: str, path: str, shown: str) -> None:
    try:
        os.link(tmp, path)  # fails if the target appeared during the download
    except FileExistsError:
        raise CliError(f"{shown}: already exists (not replaced: -n/--no-clobber)") from None
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        if os.path.lexists(path):  # a file system without hard links: check, then rename
            raise CliError(f"{shown}: already exists (not replaced: -n/--no-clobber)") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def _fsync_dir(directory: str) -> None:
    try:
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


async def _get_through(ctx: Ctx, reader: Any, target: _Target) -> None:
    """A device, FIFO, socket or /dev path: bytes go out as they arrive (nothing to rename), so
    a failed check comes after some were written; the error says how many."""
    written = 0
    sink: Any = None
    bar = ctx.bar(reader.info.size, f"get {one_line(reader.info.name, 30)}")
    try:
        if target.kind == "socket":
            sink = _open_socket(target)
            write = sink.sendall
        else:
            sink = await _open_through(target, ctx)
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
        text = describe(e) if isinstance(e, (NatsError, CliError)) else f"{target.shown}: {e.strerror or e}"
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
