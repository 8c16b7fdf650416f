"""Owns the many-object forms of ``put`` and ``get``: ``put BUCKET FILE...`` and ``put -r BUCKET
DIR`` (names relative to DIR, under ``--prefix``), and ``get BUCKET --prefix P -o DIR`` / ``get -r
BUCKET [PREFIX] -o DIR`` (every object under the prefix, mirroring ``/`` as folders).

Uploads go through ``store.put`` with the command's description, headers and metadata, the
file's mode and mtime added; downloads through :class:`~.sync_run.Syncer` (verified temp file,
renamed into place, never outside DIR nor through a symlink). ``commands/put.py`` and
``commands/get.py`` hand over to it; it must not parse arguments itself.
"""

from __future__ import annotations

import os
import time
from typing import Any, Optional

from protocol import NatsError

from .. import BadObjectMetaError, ObjectInfo, ObjectNotFoundError
from ..sync_plan import Entry, file_metadata, unsafe_reason
from .explain import check_room
from .format import info_to_json
from .local_tree import UnsafeTarget, scan, target_path
from .progress import format_size
from .runtime import EXIT_ERROR, EXIT_OK, CliError, Ctx, UsageError, describe_error
from .sync_run import FATAL, Syncer, run_bounded

__all__ = ["put_many", "get_many", "CONCURRENCY"]

CONCURRENCY = max(4, min(16, (os.cpu_count() or 2) * 4))
_SHOWN = 20


def _files_to_put(a: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(object name, path)`` for every file, and what was skipped (name, why)."""
    prefix = a.prefix or ""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    paths = [a.file, *a.more]
    if "-" in paths:
        raise UsageError("stdin ('-') can only be put alone (with --name)")
    if a.name:
        raise UsageError("--name names one object: with several files (or -r) use --prefix")
    if getattr(a, "resume", False):
        raise UsageError("--resume carries on one FILE's put; with several files (or -r) rerun without it")
    out: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    for path in paths:
        if os.path.isdir(path):
            if not a.recursive:
                raise UsageError(f"{path}: is a directory (put -r uploads a directory)")
            found = scan(path, follow=False, markers=False)
            skipped += found.skipped
            out += [(prefix + rel, found.paths[rel]) for rel in sorted(found.files)]
        elif os.path.exists(path):
            out.append((prefix + os.path.basename(os.path.normpath(path)), path))
        else:
            raise CliError(f"{path}: No such file or directory")
    seen: dict[str, str] = {}
    for name, path in out:
        if name in seen:
            raise UsageError(f"{seen[name]} and {path} would both be object {name!r}")
        seen[name] = path
    return out, skipped


async def put_many(ctx: Ctx, headers: Optional[dict[str, list[str]]]) -> int:
    a = ctx.args
    files, skipped = _files_to_put(a)
    store = await ctx.store(a.bucket)
    t0 = time.perf_counter()
    done: list[dict[str, Any]] = []
    failed: list[tuple[str, str]] = []
    total = sum(os.path.getsize(p) for _, p in files)
    await check_room(ctx, store, total)  # the bucket's max_bytes, before anything is sent
    bar = ctx.bar(total, f"put {len(files)} files")
    moved = {"bytes": 0}

    async def one(item: tuple[str, str]) -> None:
        name, path = item
        try:
            if a.if_absent:
                try:
                    await store.get_info(name)
                    done.append({"name": name, "bucket": a.bucket, "skipped": True, "reason": "exists"})
                    return
                except ObjectNotFoundError:
                    pass
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                metadata = file_metadata(st.st_mode, st.st_mtime_ns)
                metadata.update(dict(a.metadata or []))
                last = {"n": 0}

                def progress(n: int, _total: Optional[int]) -> None:
                    ctx.check_interrupted()
                    moved["bytes"] += n - last["n"]
                    last["n"] = n
                    bar(moved["bytes"])

                info = await store.put(name, f, description=a.description, headers=headers, metadata=metadata,
                                       chunk_size=a.chunk_size, progress=progress, size_hint=st.st_size,
                                       ttl=getattr(a, "ttl", None))
            doc = info_to_json(info)
            doc["skipped"] = False
            done.append(doc)
        except FATAL:
            raise
        except (NatsError, OSError, BadObjectMetaError) as e:
            failed.append((name, describe_error(e)))

    try:
        await run_bounded(ctx, files, CONCURRENCY, one)
    finally:
        bar.close()
    elapsed = time.perf_counter() - t0
    stored = [d for d in done if not d["skipped"]]
    nbytes = sum(d["size"] for d in stored)
    if ctx.json:
        ctx.emit_json({"bucket": a.bucket, "objects": sorted(done, key=lambda d: d["name"]), "count": len(stored),
                       "bytes": nbytes, "not_put": [{"name": n, "reason": r} for n, r in skipped],
                       "failed": [{"name": n, "error": e} for n, e in failed], "elapsed_seconds": round(elapsed, 6)})
    else:
        for n, why in skipped[:_SHOWN]:
            ctx.note(f"skipped {n!r}: {why}")
        for d in sorted(done, key=lambda d: d["name"]):
            ctx.say(f"skipped {a.bucket}/{d['name']}: it already exists (--if-absent)" if d["skipped"]
                    else f"put {a.bucket}/{d['name']}: {format_size(d['size'])}")
        ctx.say(f"put {len(stored):,} object{'s' if len(stored) != 1 else ''} ({format_size(nbytes)}) into {a.bucket}"
                f"{', skipped ' + format(len(done) - len(stored), ',') if len(done) > len(stored) else ''}"
                f"{', failed ' + format(len(failed), ',') if failed else ''}, {elapsed:.1f} s")
    for n, e in failed:
        ctx.err.write(f"objstore: {n}: {e}\n")
    return EXIT_ERROR if failed else EXIT_OK


async def get_many(ctx: Ctx) -> int:
    a = ctx.args
    prefix = a.prefix if a.prefix is not None else (a.name or "")
    if a.prefix is None and prefix and not prefix.endswith("/"):
        prefix += "/"  # get -r BUCKET NAME: NAME is a folder
    if not a.output or a.output == "-":
        raise UsageError("getting several objects needs -o DIR")
    base = prefix[: prefix.rfind("/") + 1]  # names are written relative to the prefix's folder
    store = await ctx.store(a.bucket)
    infos = [i for i in await store.list() if i.name.startswith(prefix)]
    os.makedirs(a.output, exist_ok=True)
    root = os.path.realpath(a.output)
    entries: list[Entry] = []
    by_rel: dict[str, ObjectInfo] = {}
    not_got: list[tuple[str, str]] = []
    kept: list[str] = []
    for info in sorted(infos, key=lambda i: i.name):
        rel = info.name[len(base):]
        why = "a link (get it by name)" if info.is_link() else unsafe_reason(rel)
        if why is None and rel.endswith("/") and info.size:
            why = "a non-empty object named like a folder"
        if why is not None:
            not_got.append((info.name, why if info.is_link() else f"cannot be a file here: {why}"))
            continue
        if a.no_clobber and not rel.endswith("/"):
            try:
                if os.path.lexists(target_path(root, rel, create=False)):
                    kept.append(info.name)
                    continue
            except UnsafeTarget as e:
                not_got.append((info.name, str(e)))
                continue
        entries.append(Entry(rel, info.size, info.digest))
        by_rel[rel] = info
    t0 = time.perf_counter()
    syncer = Syncer(ctx, store, root, base, None, CONCURRENCY)
    syncer.start(sum(e.size for e in entries), f"get {a.bucket}/{prefix}")
    try:
        await syncer.download_all(entries, by_rel)
    finally:
        syncer.close()
        syncer.sync_directories()
    elapsed = time.perf_counter() - t0
    st = syncer.stats
    not_got += st.not_synced
    if ctx.json:
        ctx.emit_json({"bucket": a.bucket, "prefix": prefix, "directory": a.output, "downloaded": st.copied,
                       "bytes": st.copied_bytes, "kept": kept, "not_got": [{"name": n, "reason": r} for n, r in not_got],
                       "failed": [{"name": n, "error": e} for n, e in st.failed], "elapsed_seconds": round(elapsed, 6)})
    else:
        for n, why in not_got[:_SHOWN]:
            ctx.note(f"skipped {n!r}: {why}")
        if len(not_got) > _SHOWN:
            ctx.note(f"... and {len(not_got) - _SHOWN} more (--json lists them all)")
        kept_text = f", {len(kept):,} kept (-n)" if kept else ""
        ctx.say(f"got {st.copied:,} object{'s' if st.copied != 1 else ''} ({format_size(st.copied_bytes)}) from "
                f"{a.bucket}/{prefix} into {a.output}{kept_text}, each verified, {elapsed:.1f} s")
    for n, e in st.failed:
        ctx.err.write(f"objstore: {n}: {e}\n")
    if not infos and not ctx.json:
        ctx.note(f"no objects under {prefix!r} in bucket {a.bucket!r}")
    return EXIT_ERROR if st.failed else EXIT_OK
