"""``objstore``: the command line for JetStream object stores (``python -m objstore``).

Every command talks to one server: ``--server`` / ``$NATS_URL`` or, with neither, the embedded
``nats-server`` (started on first use, reused afterwards; see ``objstore serve``). Built on the
``objstore`` public API only. Exit codes: 0 success, 1 runtime error (not found, digest
mismatch, server error, connection refused ...), 2 usage error, 130 interrupted (Ctrl-C),
143 terminated (SIGTERM); ``watch`` and ``serve`` end with 0 on Ctrl-C / SIGTERM.

What it does better than ``nats object``:

- ``get`` writes into a temporary file beside the target and renames it into place only after
  the SHA-256 digest, size and chunk count are verified (and the file fsync'ed): a failed or
  interrupted get never leaves a corrupt or partial target. ``get`` can also write to stdout.
- ``put`` reads a file or stdin and reports what the server acknowledged, not what was read.
- Timeouts apply to each request and to pauses in a transfer, never to a whole transfer.
- Object ``--metadata`` and headers can be set on put; ``--json`` everywhere for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import stat
import sys
import tempfile
import time
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Optional

from protocol import NatsError

from . import embedded
from .errors import DigestMismatchError
from .manager import connect
from .models import ObjectInfo, ObjectMeta, ObjectStoreStatus
from .progress import ProgressBar, format_rate, format_size

__all__ = ["main", "build_parser", "parse_size", "parse_duration"]

PROG = "objstore"
DEFAULT_TIMEOUT = 10.0
MIN_IDLE_TIMEOUT = 30.0
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143

# Environment fallbacks for the connection options (the nats CLI's names).
ENV = {
    "server": "NATS_URL",
    "user": "NATS_USER",
    "password": "NATS_PASSWORD",
    "token": "NATS_TOKEN",
    "creds": "NATS_CREDS",
    "nkey": "NATS_NKEY",
    "tls_ca": "NATS_CA",
    "tls_cert": "NATS_CERT",
    "tls_key": "NATS_KEY",
}


class UsageError(Exception):
    """A bad combination of arguments found after parsing: exit code 2."""


class CliError(Exception):
    """An expected runtime failure with a ready message: exit code 1."""


# Parsing values --------------------------------------------------------------------------------

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*$")
_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1024, "kib": 1024, "kb": 1000,
    "m": 1024**2, "mib": 1024**2, "mb": 1000**2,
    "g": 1024**3, "gib": 1024**3, "gb": 1000**3,
    "t": 1024**4, "tib": 1024**4, "tb": 1000**4,
}


def parse_size(text: str) -> int:
    """``'10MB'`` -> 10_000_000, ``'1GiB'``/``'1G'`` -> 2**30, ``'4096'`` -> 4096.

    KB/MB/GB/TB are decimal, KiB/MiB/GiB/TiB and the one-letter K/M/G/T binary."""
    m = _SIZE_RE.match(str(text))
    if not m or m.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"invalid size {text!r} (examples: 4096, 512KiB, 10MB, 1GiB)")
    value = float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]
    if value != int(value):
        raise ValueError(f"invalid size {text!r}: not a whole number of bytes")
    return int(value)


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d|w)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """``'1h'``, ``'30m'``, ``'10s'``, ``'2d'``, ``'1h30m'``, ``'1w'`` or plain seconds -> seconds."""
    s = str(text).strip().lower()
    try:
        value = float(s)
    except ValueError:
        pos, value = 0, 0.0
        for m in _DURATION_PART.finditer(s):
            if m.start() != pos:
                break
            value += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
            pos = m.end()
        if pos != len(s) or not s:
            raise ValueError(f"invalid duration {text!r} (examples: 90, 10s, 30m, 1h30m, 2d, 1w)") from None
    if value < 0 or value != value or value == float("inf"):
        raise ValueError(f"invalid duration {text!r}")
    return value


def _arg_size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _arg_positive_size(text: str) -> int:
    n = _arg_size(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"size must be positive, not {text!r}")
    return n


def _arg_duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _arg_positive_duration(text: str) -> float:
    value = _arg_duration(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text!r}")
    return value


def _arg_kv(sep: str, what: str) -> Callable[[str], tuple[str, str]]:
    def parse(text: str) -> tuple[str, str]:
        key, found, value = text.partition(sep)
        key = key.strip()
        if not found or not key:
            raise argparse.ArgumentTypeError(f"{what} must look like KEY{sep}VALUE, not {text!r}")
        return key, value.strip() if sep == ":" else value
    return parse


# Output helpers ------------------------------------------------------------------------------------

def iso_time(dt: Optional[datetime], precise: bool = False) -> Optional[str]:
    """A UTC ISO 8601 time with ``Z`` (seconds in tables, microseconds with ``precise``)."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    dt = dt.astimezone(timezone.utc)
    if precise and dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _bytes(n: int) -> str:
    return f"{format_size(n)} ({n} byte{'s' if n != 1 else ''})"


def human_duration(seconds: Optional[float]) -> str:
    if not seconds:
        return "none"
    s = float(seconds)
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            n = int(s // size)
            out.append(f"{n}{unit}")
            s -= n * size
    if s or not out:
        out.append(f"{s:g}s")
    return "".join(out)


def info_to_json(info: ObjectInfo) -> dict[str, Any]:
    link = info.link
    return {
        "name": info.name,
        "bucket": info.bucket,
        "size": info.size,
        "chunks": info.chunks,
        "chunk_size": info.chunk_size,
        "digest": info.digest or None,
        "digest_hex": info.digest_hex or None if info.digest else None,
        "mtime": iso_time(info.mtime, precise=True),
        "deleted": bool(info.deleted),
        "description": info.description,
        "headers": info.headers.to_lists() if info.headers else {},
        "metadata": dict(info.metadata) if info.metadata else {},
        "link": None if link is None else {"bucket": link.bucket, "name": link.name},
        "nuid": info.nuid or None,
    }


def status_to_json(st: ObjectStoreStatus) -> dict[str, Any]:
    cfg = st.stream_info.config if st.stream_info is not None else None
    max_bytes = getattr(cfg, "max_bytes", None)
    return {
        "bucket": st.bucket,
        "description": st.description,
        "objects": st.count,
        "size": st.size,
        "storage": st.storage,
        "replicas": st.replicas,
        "sealed": st.sealed,
        "ttl_seconds": st.ttl.total_seconds() if st.ttl else None,
        "max_bytes": max_bytes if max_bytes and max_bytes > 0 else None,
        "compression": st.compression,
        "metadata": dict(st.metadata) if st.metadata else {},
        "backing_store": st.backing_store,
        "stream": getattr(cfg, "name", None),
    }


def print_table(rows: list[list[str]], headers: list[str], right: set[int], out: Any) -> None:
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: list[str]) -> str:
        parts = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)]
        return "  ".join(parts).rstrip()

    out.write(line(headers) + "\n")
    for row in rows:
        out.write(line(row) + "\n")
    out.flush()


def _one_line(text: Optional[str], limit: int = 60) -> str:
    if not text:
        return ""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _link_text(info: ObjectInfo) -> str:
    link = info.link
    if link is None:
        return ""
    return f"bucket {link.bucket}" if not link.name else f"{link.bucket}/{link.name}"


# The command context ---------------------------------------------------------------------------------

class Ctx:
    """What a command handler gets: parsed args, the JetStream context, output helpers."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.json = bool(getattr(args, "json", False))
        self.quiet = bool(getattr(args, "quiet", False))
        self.timeout = float(args.timeout)
        self.idle_timeout = max(self.timeout, MIN_IDLE_TIMEOUT)
        self.out = sys.stdout
        self.err = sys.stderr
        self.js: Any = None
        self.interrupted: Optional[int] = None  # the signal (SIGINT / SIGTERM) that asked us to stop

    def check_interrupted(self) -> None:
        """Raise CancelledError once a signal arrived. Transfer loops call it for every chunk:
        a task's cancel() alone can be lost on Python < 3.12 when it lands while
        ``asyncio.wait_for`` completes (gh-86296), which is common at full transfer speed."""
        if self.interrupted is not None:
            raise asyncio.CancelledError()

    def say(self, text: str) -> None:
        """A human result line on stdout (suppressed by --quiet)."""
        if not self.quiet:
            self.out.write(text + "\n")
            self.out.flush()

    def note(self, text: str) -> None:
        """A diagnostic line on stderr (suppressed by --quiet)."""
        if not self.quiet:
            self.err.write(f"{PROG}: {text}\n")
            self.err.flush()

    def emit_json(self, doc: Any) -> None:
        self.out.write(json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False) + "\n")
        self.out.flush()

    def bar(self, total: Optional[int], label: str) -> ProgressBar:
        return ProgressBar(total, self.err, label=label, enabled=False if self.quiet else None)

    async def store(self, bucket: str) -> Any:
        return await self.js.object_store(bucket)


# Bucket commands ------------------------------------------------------------------------------------

async def cmd_add(ctx: Ctx) -> int:
    a = ctx.args
    store = await ctx.js.create_object_store(
        bucket=a.bucket,
        description=a.description,
        ttl=a.ttl or None,
        max_bytes=a.max_bytes if a.max_bytes else -1,
        storage=a.storage,
        replicas=a.replicas,
        compression=a.compression,
        metadata=dict(a.metadata) if a.metadata else None,
    )
    st = await store.status()
    if ctx.json:
        ctx.emit_json(status_to_json(st))
    else:
        ctx.say(f"bucket {st.bucket!r} ready ({st.storage}, {st.replicas} replica{'s' if st.replicas != 1 else ''}"
                f", ttl {human_duration(st.ttl.total_seconds() if st.ttl else None)})")
    return EXIT_OK


async def cmd_buckets(ctx: Ctx) -> int:
    statuses = sorted(await ctx.js.object_stores(), key=lambda s: s.bucket)
    if ctx.json:
        ctx.emit_json([status_to_json(s) for s in statuses])
        return EXIT_OK
    if not statuses:
        ctx.note("no buckets")
        return EXIT_OK
    rows = [
        [s.bucket, str(s.count), format_size(s.size), s.storage, str(s.replicas), "yes" if s.sealed else "no", _one_line(s.description)]
        for s in statuses
    ]
    print_table(rows, ["BUCKET", "OBJECTS", "SIZE", "STORAGE", "REPLICAS", "SEALED", "DESCRIPTION"], {1, 2, 4}, ctx.out)
    return EXIT_OK


async def cmd_status(ctx: Ctx) -> int:
    st = await (await ctx.store(ctx.args.bucket)).status()
    doc = status_to_json(st)
    if ctx.json:
        ctx.emit_json(doc)
        return EXIT_OK
    lines = [
        ("Bucket", doc["bucket"]),
        ("Description", doc["description"] or ""),
        ("Objects", str(doc["objects"])),
        ("Size", _bytes(doc["size"])),
        ("Max size", _bytes(doc["max_bytes"]) if doc["max_bytes"] else "unlimited"),
        ("TTL", human_duration(doc["ttl_seconds"])),
        ("Storage", doc["storage"]),
        ("Replicas", str(doc["replicas"])),
        ("Compression", "s2" if doc["compression"] else "none"),
        ("Sealed", "yes" if doc["sealed"] else "no"),
        ("Stream", doc["stream"] or ""),
    ]
    for k, v in sorted(doc["metadata"].items()):
        if not k.startswith("_nats."):  # the server's own bookkeeping (kept in --json)
            lines.append((f"Metadata {k}", v))
    _print_pairs(lines, ctx.out)
    return EXIT_OK


async def cmd_seal(ctx: Ctx) -> int:
    store = await ctx.store(ctx.args.bucket)
    await store.seal()
    if ctx.json:
        ctx.emit_json(status_to_json(await store.status()))
    else:
        ctx.say(f"sealed bucket {ctx.args.bucket!r} (read-only from now on)")
    return EXIT_OK


async def cmd_rm_bucket(ctx: Ctx) -> int:
    bucket = ctx.args.bucket
    await ctx.js.delete_object_store(bucket)
    if ctx.json:
        ctx.emit_json({"bucket": bucket, "deleted": True})
    else:
        ctx.say(f"deleted bucket {bucket!r} and every object in it")
    return EXIT_OK


# Object commands ------------------------------------------------------------------------------------

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
        bar = ctx.bar(size, f"put {_one_line(name, 30)}")

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
            f"put {a.bucket}/{info.name}: {_bytes(acked)} acknowledged by the server "
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
    bar = ctx.bar(info.size, f"get {_one_line(a.name, 30)}")
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
            f"got {a.bucket}/{a.name} -> {target}: {_bytes(info.size)} in "
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
            name += f" -> {_link_text(i)}"
        if i.deleted:
            name += " (deleted)"
        size = "-" if i.is_link() or i.deleted else format_size(i.size)
        chunks = "-" if i.is_link() or i.deleted else str(i.chunks)
        rows.append([name, size, chunks, iso_time(i.mtime) or "", _one_line(i.description)])
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
        lines.append(("Link to", _link_text(info)))
    else:
        lines.append(("Size", _bytes(info.size)))
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
    _print_pairs(lines, ctx.out)
    return EXIT_OK


def _print_pairs(lines: list[tuple[str, str]], out: Any) -> None:
    width = max(len(k) for k, _ in lines) + 1
    for k, v in lines:
        out.write(f"{(k + ':').ljust(width)} {v}\n".rstrip() + "\n")
    out.flush()


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
        ctx.say(f"linked {a.bucket}/{info.name} -> {_link_text(info)}")
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
                    op, detail = "LINK", f"-> {_link_text(info)}"
                else:
                    op, detail = "PUT", f"{format_size(info.size)}  {info.chunks} chunk{'s' if info.chunks != 1 else ''}  {info.digest}"
                ctx.out.write(f"{iso_time(info.mtime) or '-'}  {op:<4}  {info.name}  {detail}".rstrip() + "\n")
            ctx.out.flush()
    return EXIT_OK


# serve (no connection) ----------------------------------------------------------------------------------

def cmd_serve(args: argparse.Namespace) -> int:
    directory = embedded.data_dir()
    as_json = bool(args.json)
    quiet = bool(args.quiet)

    def report(doc: dict[str, Any], text: str, stream: Any = None) -> None:
        if as_json:
            sys.stdout.write(json.dumps(doc) + "\n")
            sys.stdout.flush()
        elif not quiet or stream is None:
            (stream or sys.stdout).write(text + "\n")
            (stream or sys.stdout).flush()

    if args.status:
        url = embedded.running_url()
        pid = embedded.running_pid() if url else None
        report({"running": bool(url), "url": url, "pid": pid, "data_dir": str(directory)}, url or "not running", stream=None)
        return EXIT_OK if url else EXIT_ERROR
    if args.stop:
        pid = embedded.running_pid()
        stopped = embedded.stop()
        if stopped:
            report({"stopped": True, "pid": pid, "data_dir": str(directory)}, f"stopped the embedded nats-server (pid {pid})")
        else:
            report({"stopped": False, "pid": None, "data_dir": str(directory)}, "the embedded nats-server is not running")
        return EXIT_OK

    url, started = embedded.ensure_running()
    pid = embedded.running_pid()
    if not started:
        report({"url": url, "pid": pid, "started": False, "data_dir": str(directory)},
               f"the embedded nats-server is already running at {url} (pid {pid}, data in {directory}); "
               f"it was not started by this command and is left running ('{PROG} serve --stop' stops it)")
        return EXIT_OK
    report({"url": url, "pid": pid, "started": True, "data_dir": str(directory)},
           f"embedded nats-server running at {url} (pid {pid}, data in {directory}); Ctrl-C stops it")

    stop_requested = False

    def on_term(signum: int, frame: Any) -> None:
        nonlocal stop_requested
        stop_requested = True

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        while not stop_requested:
            if embedded.running_pid() is None:
                sys.stderr.write(f"{PROG}: the embedded nats-server exited; see {directory / 'server.log'}\n")
                return EXIT_ERROR
            time.sleep(0.25)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, old)
        embedded.stop()
    if not quiet and not as_json:
        sys.stderr.write(f"{PROG}: stopped the embedded nats-server\n")
    return EXIT_OK


# Running a connected command ------------------------------------------------------------------------------

def _option(args: argparse.Namespace, key: str) -> Optional[str]:
    value = getattr(args, key, None)
    if value:
        return value
    return os.environ.get(ENV[key]) or None


def _server_url(args: argparse.Namespace, ctx: Ctx) -> str:
    url = _option(args, "server")
    if url:
        return url
    url, started = embedded.ensure_running()
    if started:
        ctx.note(f"started the embedded nats-server at {url} (data in {embedded.data_dir()}; "
                 f"'{PROG} serve --stop' stops it)")
    return url


async def _run_connected(ctx: Ctx, url: str, handler: Callable[[Ctx], Awaitable[int]]) -> int:
    args = ctx.args
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def on_signal(signum: int) -> None:
        if ctx.interrupted is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop waiting for a clean exit
        ctx.interrupted = signum
        if task is not None:
            task.cancel()

    handled = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, on_signal, signum)
            handled.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    try:
        nc = await connect(
            url,
            name=f"{PROG}-cli",
            user=_option(args, "user"),
            password=_option(args, "password"),
            token=_option(args, "token"),
            nkey_seed=_option(args, "nkey"),
            creds=_option(args, "creds"),
            tls_ca=_option(args, "tls_ca"),
            tls_cert=_option(args, "tls_cert"),
            tls_key=_option(args, "tls_key"),
            connect_timeout=ctx.timeout,
            max_reconnect_attempts=3,
        )
        try:
            ctx.js = nc.jetstream(timeout=ctx.timeout)
            return await handler(ctx)
        finally:
            try:
                await asyncio.wait_for(nc.close(), 5.0)
            except (NatsError, OSError, asyncio.TimeoutError):
                pass
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)


# The parser ------------------------------------------------------------------------------------

EPILOG = """\
server:
  Every command uses --server (or $NATS_URL). With neither, it uses the embedded nats-server:
  started on first use (loopback only, JetStream on) and left running for the next command;
  its data lives in {data_dir}
  ($OBJSTORE_DATA_DIR, else $XDG_DATA_HOME/natsobj, else ~/.local/share/natsobj).
  '{prog} serve' runs it in the foreground, '{prog} serve --stop' stops it.
  Credentials also come from $NATS_USER, $NATS_PASSWORD, $NATS_TOKEN, $NATS_CREDS, $NATS_NKEY,
  $NATS_CA, $NATS_CERT, $NATS_KEY.

values:
  sizes: 4096, 512KiB, 1MiB, 1GiB (also K, M, G = KiB, MiB, GiB; KB, MB, GB = powers of 1000)
  durations: 90 (seconds), 10s, 30m, 1h, 2d, 1w, 1h30m

exit codes:
  0 success, 1 runtime error (not found, digest mismatch, server error, connection refused),
  2 usage error, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM); watch and serve exit 0
  when stopped with Ctrl-C or SIGTERM.
"""


def _add_global_options(p: argparse.ArgumentParser, sub: bool) -> None:
    """The connection/output options; accepted before or after the command name."""

    def d(value: Any) -> Any:
        return argparse.SUPPRESS if sub else value

    g = p.add_argument_group("connection and output options")
    g.add_argument("-s", "--server", metavar="URL", default=d(None),
                   help="server URL(s), comma-separated (default: $NATS_URL, else the embedded server)")
    g.add_argument("--creds", metavar="FILE", default=d(None), help="user credentials (.creds) file")
    g.add_argument("--user", default=d(None), help="user name")
    g.add_argument("--password", default=d(None), help="password (prefer $NATS_PASSWORD)")
    g.add_argument("--token", default=d(None), help="authentication token (prefer $NATS_TOKEN)")
    g.add_argument("--nkey", metavar="SEED", default=d(None), help="nkey seed, or a file holding it")
    g.add_argument("--tls-ca", metavar="FILE", default=d(None), help="CA certificate(s) to verify the server")
    g.add_argument("--tls-cert", metavar="FILE", default=d(None), help="client certificate")
    g.add_argument("--tls-key", metavar="FILE", default=d(None), help="client certificate's key")
    g.add_argument("--timeout", metavar="DURATION", type=_arg_positive_duration, default=d(DEFAULT_TIMEOUT),
                   help=f"timeout of connecting and of each request (default {DEFAULT_TIMEOUT:g}s); a transfer "
                        f"fails only when no data moves for max(TIMEOUT, {MIN_IDLE_TIMEOUT:g}s), never for its total length")
    g.add_argument("--json", action="store_true", default=d(False), help="print results as one JSON document")
    g.add_argument("-q", "--quiet", action="store_true", default=d(False),
                   help="no progress bars, notes or result lines (data, tables and JSON still print)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Store and fetch files in NATS JetStream object stores.",
        epilog=EPILOG.format(prog=PROG, data_dir=embedded.data_dir()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_global_options(parser, sub=False)
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def sub(name: str, help: str, handler: Any, description: Optional[str] = None) -> argparse.ArgumentParser:
        p = subs.add_parser(name, help=help, description=description or help)
        p.set_defaults(handler=handler, subparser=p)
        return p

    p = sub("add", "create a bucket (no change if it exists with the same settings)", cmd_add)
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("--description", help="bucket description")
    p.add_argument("--ttl", type=_arg_duration, default=0, metavar="DURATION",
                   help="remove objects older than this (1h, 30m, 10s, 2d or seconds; default: never)")
    p.add_argument("--max-bytes", type=_arg_size, default=0, metavar="SIZE",
                   help="maximum bucket size (10MB, 1GiB ...; default: unlimited)")
    p.add_argument("--storage", choices=("file", "memory"), default="file", help="storage backend (default file)")
    p.add_argument("--replicas", type=int, default=1, choices=range(1, 6), metavar="N", help="replicas, 1-5 (default 1)")
    p.add_argument("--compression", action="store_true", help="compress stored data (S2)")
    p.add_argument("--metadata", type=_arg_kv("=", "--metadata"), action="append", metavar="KEY=VALUE",
                   help="bucket metadata (repeatable)")
    _add_global_options(p, sub=True)

    p = sub("buckets", "list buckets", cmd_buckets)
    _add_global_options(p, sub=True)

    p = sub("status", "show a bucket's status", cmd_status)
    p.add_argument("bucket", metavar="BUCKET")
    _add_global_options(p, sub=True)

    p = sub("seal", "make a bucket read-only (cannot be undone)", cmd_seal)
    p.add_argument("bucket", metavar="BUCKET")
    _add_global_options(p, sub=True)

    p = sub("rm-bucket", "delete a bucket and all its objects", cmd_rm_bucket,
            description="Delete a bucket and all its objects. Asks no question: when stdin is a "
                        "terminal, -f/--force is required; in scripts (stdin not a terminal) it proceeds.")
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("-f", "--force", action="store_true", help="really delete (required when stdin is a terminal)")
    _add_global_options(p, sub=True)

    p = sub("put", "store a file (or stdin) as an object", cmd_put,
            description="Store FILE (or stdin with '-') as an object, replacing any previous version only "
                        "once every chunk is acknowledged. Reports the bytes the server acknowledged.")
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("file", metavar="FILE|-")
    p.add_argument("-n", "--name", help="object name (default: the file's base name; required for '-')")
    p.add_argument("--description", help="object description")
    p.add_argument("-H", "--header", type=_arg_kv(":", "-H"), action="append", metavar="KEY:VALUE",
                   help="object header (repeatable)")
    p.add_argument("--metadata", type=_arg_kv("=", "--metadata"), action="append", metavar="KEY=VALUE",
                   help="object metadata (repeatable)")
    p.add_argument("--chunk-size", type=_arg_positive_size, metavar="SIZE",
                   help="chunk size (default 128KiB; capped at the server's max payload)")
    _add_global_options(p, sub=True)

    p = sub("get", "fetch an object, verified", cmd_get,
            description="Fetch an object. With -o FILE it is written to a temporary file beside FILE and "
                        "renamed into place only after its SHA-256 digest, size and chunk count are verified; "
                        "on any error FILE is left untouched. Without -o (or with '-o -') it goes to stdout.")
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("name", metavar="NAME")
    p.add_argument("-o", "--output", metavar="FILE", help="target file or directory ('-' = stdout, the default)")
    _add_global_options(p, sub=True)

    p = sub("ls", "list a bucket's objects", cmd_ls)
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("--deleted", action="store_true", help="include deleted objects")
    _add_global_options(p, sub=True)

    p = sub("info", "show an object's info", cmd_info)
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--deleted", action="store_true", help="also show a deleted object's last info")
    _add_global_options(p, sub=True)

    p = sub("rm", "delete an object", cmd_rm)
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("name", metavar="NAME")
    _add_global_options(p, sub=True)

    p = sub("mv", "rename an object (NEW must not exist)", cmd_mv)
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")
    _add_global_options(p, sub=True)

    p = sub("link", "make NAME a link to object TARGET (or, with --bucket-link, to bucket TARGET)", cmd_link)
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("name", metavar="NAME")
    p.add_argument("target", metavar="TARGET")
    p.add_argument("--bucket", dest="target_bucket", metavar="OTHER", help="TARGET is in bucket OTHER (default: BUCKET)")
    p.add_argument("--bucket-link", action="store_true", help="link to the whole bucket TARGET")
    _add_global_options(p, sub=True)

    p = sub("watch", "print a line per object update until Ctrl-C", cmd_watch,
            description="Print the latest entry of every object, then one line per update, until Ctrl-C "
                        "(with --json: one JSON document per line).")
    p.add_argument("bucket", metavar="BUCKET")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--history", action="store_true", help="start with every stored entry, not the latest per object")
    g.add_argument("--updates-only", action="store_true", help="print only updates made from now on")
    _add_global_options(p, sub=True)

    p = sub("serve", "run the embedded nats-server in the foreground", None,
            description="Run the embedded nats-server in the foreground until Ctrl-C (it is stopped then, if this "
                        f"command started it). Data lives in {embedded.data_dir()}.")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--stop", action="store_true", help="stop the running embedded server")
    g.add_argument("--status", action="store_true", help="print its URL, or 'not running' (exit code 1)")
    _add_global_options(p, sub=True)
    return parser


# Errors and main -------------------------------------------------------------------------------------

def describe_error(err: BaseException) -> str:
    if isinstance(err, OSError) and not isinstance(err, NatsError):
        if err.filename is not None and err.strerror:
            return f"{err.filename}: {err.strerror}"
        return err.strerror or str(err) or type(err).__name__
    text = str(err).strip()
    return text or type(err).__name__


def _stdout_gone() -> None:
    # Keep Python from complaining again while flushing stdout at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command
    ends_on_signal = command in ("watch", "serve")
    err = sys.stderr
    ctx: Optional[Ctx] = None
    try:
        if command == "serve":
            return cmd_serve(args)
        if command == "rm-bucket" and not args.force and sys.stdin.isatty():
            args.subparser.error(f"rm-bucket deletes {args.bucket!r} and all its objects: add -f/--force to confirm")
        ctx = Ctx(args)
        url = _server_url(args, ctx)
        return asyncio.run(_run_connected(ctx, url, args.handler))
    except UsageError as e:
        getattr(args, "subparser", parser).error(str(e))
    except KeyboardInterrupt:
        if ends_on_signal:
            return EXIT_OK
        err.write(f"\n{PROG}: interrupted\n")
        return EXIT_INTERRUPTED
    except asyncio.CancelledError:
        if ends_on_signal:
            return EXIT_OK
        if ctx is not None and ctx.interrupted == signal.SIGTERM:
            err.write(f"{PROG}: terminated\n")
            return EXIT_TERMINATED
        err.write(f"\n{PROG}: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _stdout_gone()
        return EXIT_ERROR
    except (NatsError, OSError, CliError, ValueError) as e:
        err.write(f"{PROG}: {describe_error(e)}\n")
        return EXIT_ERROR
    except Exception as e:  # noqa: BLE001 - a bug: one line, the traceback on request
        if os.environ.get("OBJSTORE_DEBUG"):
            raise
        err.write(f"{PROG}: internal error: {type(e).__name__}: {e} (set OBJSTORE_DEBUG=1 for a traceback)\n")
        return EXIT_ERROR
    return EXIT_OK  # pragma: no cover (parser.error exits)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
