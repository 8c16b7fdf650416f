"""Owns ``objstore sync DIR BUCKET[/PREFIX]`` (upload) and ``objstore sync BUCKET[/PREFIX] DIR``
(download): which side is local, the walk and the listing turned into entries, the plan
(:mod:`objstore.sync_plan`), ``--dry-run``, the ``--delete`` confirmation, and the report (a
summary line, or ``--json`` counts).

Carrying the plan out is :mod:`..sync_run`'s; the local walk, hashing and safe target paths are
:mod:`..local_tree`'s; cached digests are :mod:`..digest_cache`'s.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from typing import Any

from ... import VALID_BUCKET_RE, ObjectInfo
from ...sync_plan import Entry, Filters, needs_digest, plan_sync, unsafe_reason
from ..digest_cache import DigestCache
from ..local_tree import scan
from ..progress import format_size
from ..prompt import confirm_or_stop
from ..registry import command
from ..runtime import EXIT_ERROR, EXIT_OK, Ctx, UsageError
from ..sync_run import Syncer

_SHOWN = 20  # notes of one kind before "... and N more"


def default_concurrency() -> int:
    return max(4, min(16, (os.cpu_count() or 2) * 4))


class FilterAction(argparse.Action):
    """--include / --exclude kept in command-line order in one list (the last match decides)."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Any = None) -> None:
        rules = list(getattr(namespace, self.dest, None) or [])
        rules.append(("include" if option_string == "--include" else "exclude", values))
        setattr(namespace, self.dest, rules)


def add_filter_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--exclude", action=FilterAction, dest="filters", metavar="GLOB", default=[],
                   help="leave out names matching GLOB (repeatable; '*.tmp', 'cache/*')")
    p.add_argument("--include", action=FilterAction, dest="filters", metavar="GLOB",
                   help="take back names matching GLOB that an earlier --exclude left out (the last match decides)")


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text!r}")
    return n


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SRC", help="DIR (upload) or BUCKET[/PREFIX] (download)")
    p.add_argument("dest", metavar="DST", help="BUCKET[/PREFIX] (upload) or DIR (download)")
    p.add_argument("--delete", action="store_true", help="also delete what the source lacks (asks first on a terminal)")
    p.add_argument("-f", "--force", action="store_true", help="do not ask before --delete deletes")
    p.add_argument("-n", "--dry-run", action="store_true", help="print what would be done, do nothing")
    add_filter_arguments(p)
    p.add_argument("--concurrency", type=_positive_int, metavar="N", default=default_concurrency(),
                   help=f"transfers at a time (default {default_concurrency()}, from the CPU count)")
    p.add_argument("--follow", action="store_true", help="follow symlinks (default: skip them with a note)")


def _explicitly_local(arg: str) -> bool:
    return arg in (".", "..") or arg.startswith(("/", "./", "../", "~"))


def _split_bucket(arg: str) -> tuple[str, str]:
    bucket, _, prefix = arg.partition("/")
    if not re.match(VALID_BUCKET_RE, bucket):
        raise UsageError(f"{arg!r} is neither a local directory nor BUCKET[/PREFIX] (a bucket name is "
                         f"letters, digits, '-' and '_')")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    if prefix and unsafe_reason(prefix) is not None:
        raise UsageError(f"prefix {prefix!r} cannot be a folder name")
    return bucket, prefix


def _check(a: argparse.Namespace) -> None:
    """Which argument is the local directory: an explicit path (/, ./, ../, ~) or, else, the
    one that is an existing directory; both existing directories is ambiguous."""
    src, dst = a.source, a.dest
    if _explicitly_local(src) != _explicitly_local(dst):
        upload = _explicitly_local(src)
    elif _explicitly_local(src):
        raise UsageError(f"{src!r} and {dst!r} are both local paths: one side must be BUCKET[/PREFIX]")
    elif os.path.isdir(src) and os.path.isdir(dst):
        raise UsageError(f"{src!r} and {dst!r} are both local directories: write the local one as ./{src} or ./{dst}")
    else:
        upload = os.path.isdir(src)
    local, remote = (src, dst) if upload else (dst, src)
    a.direction = "upload" if upload else "download"
    a.local = os.path.expanduser(local)
    a.target_bucket, a.prefix = _split_bucket(remote)
    a.bucket = a.target_bucket  # what an error explanation names
    if upload and not os.path.isdir(a.local):
        raise UsageError(f"{local}: not a directory")
    if not upload and os.path.exists(a.local) and not os.path.isdir(a.local):
        raise UsageError(f"{local}: not a directory")


def _remote_entries(infos: list[ObjectInfo], prefix: str, download: bool) -> tuple[dict[str, Entry], dict[str, ObjectInfo], list[tuple[str, str]]]:
    entries: dict[str, Entry] = {}
    by_name: dict[str, ObjectInfo] = {}
    skipped: list[tuple[str, str]] = []
    for info in infos:
        if info.deleted or not info.name.startswith(prefix) or info.name == prefix:
            continue
        rel = info.name[len(prefix):]
        if info.is_link():
            skipped.append((info.name, "a link (links are not synced)"))
            continue
        if download:
            why = unsafe_reason(rel)
            if why is None and rel.endswith("/") and info.size:
                why = "a non-empty object named like a folder"
            if why is not None:
                skipped.append((info.name, f"cannot be a file here: {why}"))
                continue
        entries[rel] = Entry(rel, info.size, info.digest)
        by_name[rel] = info
    return entries, by_name, skipped


def _notes(ctx: Ctx, items: list[tuple[str, str]], verb: str) -> None:
    for name, why in items[:_SHOWN]:
        ctx.note(f"{verb} {name!r}: {why}")
    if len(items) > _SHOWN:
        ctx.note(f"... and {len(items) - _SHOWN} more (--json lists them all)")


@command("sync", 75, "make a bucket prefix match a directory, or a directory match a bucket prefix",
         arguments=_arguments, check=_check,
         description="Upload DIR into BUCKET[/PREFIX] ('sync DIR BUCKET/PREFIX') or download it back "
                     "('sync BUCKET/PREFIX DIR'), transferring only what differs: sizes first, then SHA-256 "
                     "digests (local digests are cached by size and mtime, so unchanged files are not read "
                     "again). Object names are the relative paths with '/'; the file mode and mtime are "
                     "recorded as object metadata and restored on download. Downloads are verified and "
                     "renamed into place; names that cannot be files under DIR are reported and skipped.")
async def cmd_sync(ctx: Ctx) -> int:
    a = ctx.args
    t0 = time.perf_counter()
    upload = a.direction == "upload"
    store = await ctx.store(a.target_bucket)
    infos = await store.list()
    if not upload and not a.dry_run:
        os.makedirs(a.local, exist_ok=True)
    root = os.path.realpath(a.local)
    cache = DigestCache(root)
    cache.lock()
    syncer = Syncer(ctx, store, root, a.prefix, cache, a.concurrency, follow=a.follow)
    try:
        cache.load()
        local = scan(root, follow=a.follow) if os.path.isdir(root) else None
        files = local.files if local else {}
        paths = local.paths if local else {}
        skipped = list(local.skipped) if local else []
        if local and cache.locked and not a.dry_run:
            for leftover in local.leftovers:  # a killed sync's temp files (we hold the lock)
                os.unlink(leftover)
        remote, by_name, remote_skipped = _remote_entries(infos, a.prefix, download=not upload)
        skipped += remote_skipped
        filters = Filters(a.filters or [])
        source, dest = (files, remote) if upload else (remote, files)
        await syncer.fill_digests([n for n in needs_digest(source, dest) if not files[n].digest and filters.included(n)],
                                  files, paths)
        plan = plan_sync(source, dest, delete=a.delete, filters=filters)
        cache.keep_only(files)
        where = f"{a.target_bucket}/{a.prefix}"
        if a.dry_run:
            return _report(ctx, a, plan, syncer, skipped, time.perf_counter() - t0, where)
        if plan.delete:
            whose = f"objects from {where}" if upload else f"files from {a.local}"
            await confirm_or_stop(ctx, f"delete {len(plan.delete):,} {whose} that the source lacks?")
        syncer.start(plan.copy_bytes, f"sync {'->' if upload else '<-'} {where}")
        try:
            if upload:
                await syncer.upload_all(plan.copy, paths)
                await syncer.delete_remote(plan.delete)
            else:
                await syncer.download_all(plan.copy, by_name)
                syncer.delete_local(plan.delete)
        finally:
            syncer.close()
            syncer.sync_directories()
        return _report(ctx, a, plan, syncer, skipped, time.perf_counter() - t0, where)
    finally:
        cache.save()
        cache.unlock()


def _report(ctx: Ctx, a: Any, plan: Any, syncer: Syncer, skipped: list[tuple[str, str]], elapsed: float, where: str) -> int:
    st = syncer.stats
    skipped = skipped + st.not_synced
    upload = a.direction == "upload"
    verb = "uploaded" if upload else "downloaded"
    copied, copied_bytes = (len(plan.copy), plan.copy_bytes) if a.dry_run else (st.copied, st.copied_bytes)
    deleted = len(plan.delete) if a.dry_run else st.deleted
    if ctx.json:
        doc: dict[str, Any] = {
            "direction": a.direction, "local": a.local, "bucket": a.target_bucket, "prefix": a.prefix,
            "dry_run": bool(a.dry_run), "uploaded": copied if upload else 0, "downloaded": 0 if upload else copied,
            "bytes": copied_bytes, "skipped": len(plan.skipped), "deleted": deleted, "excluded": plan.excluded,
            "hashed": st.hashed, "hashed_bytes": st.hashed_bytes, "cache_hits": syncer.cache.hits,
            "not_synced": [{"name": n, "reason": why} for n, why in skipped],
            "failed": [{"name": n, "error": e} for n, e in st.failed],
            "changed_while_read": st.changed_while_read, "elapsed_seconds": round(elapsed, 6),
        }
        if a.dry_run:
            doc["actions"] = ([{"action": "upload" if upload else "download", "name": e.name, "size": e.size} for e in plan.copy]
                              + [{"action": "delete", "name": e.name} for e in plan.delete])
        ctx.emit_json(doc)
    else:
        _notes(ctx, skipped, "skipped")
        _notes(ctx, [(n, "changed while it was read (uploaded as read)") for n in st.changed_while_read], "note:")
        _notes(ctx, st.failed, "failed")
        if a.dry_run:
            for e in plan.copy:
                ctx.say(f"would {'upload' if upload else 'download'} {e.name} ({format_size(e.size)})")
            for e in plan.delete:
                ctx.say(f"would delete {where}{e.name}" if upload else f"would delete {os.path.join(a.local, e.name)}")
            ctx.say(f"dry run: would {'upload' if upload else 'download'} {copied:,} ({format_size(copied_bytes)}), "
                    f"skip {len(plan.skipped):,}, delete {deleted:,}")
        else:
            failed = f", failed {len(st.failed):,}" if st.failed else ""
            ctx.say(f"{verb} {copied:,} ({format_size(copied_bytes)}), skipped {len(plan.skipped):,}, "
                    f"deleted {deleted:,}{failed}, {elapsed:.1f} s")
    if st.failed:
        ctx.err.write(f"objstore: {len(st.failed)} of {len(plan.copy) + len(plan.delete)} transfers failed\n")
        return EXIT_ERROR
    return EXIT_OK
