"""Owns the bucket commands: ``add``, ``buckets``, ``status``, ``seal`` and ``rm-bucket``, their
arguments and their output, and :func:`show_bucket` (also ``info BUCKET``). ``add`` of an existing
bucket with other settings names each one that differs (and says when it is sealed). ``add`` of a memory-storage bucket on the embedded server says
(stderr, and ``note`` in ``--json``) that it does not survive a restart of that server.

Built on the ``objstore`` public API only; it must not talk to the wire or pick exit codes for
errors (``app`` does).
"""

from __future__ import annotations

import argparse
import sys

from ... import BucketExistsError
from ..format import SETTINGS, exact_size, human_duration, one_line, print_pairs, print_table, setting_text, status_to_json
from ..progress import format_size
from ..registry import command
from ..runtime import EXIT_OK, PROG, CliError, Ctx, UsageError
from ..values import arg_duration, arg_kv, arg_size


def _bucket(p: argparse.ArgumentParser) -> None:
    p.add_argument("bucket", metavar="BUCKET")


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("--description", help="bucket description")
    p.add_argument("--ttl", type=arg_duration, default=0, metavar="DURATION",
                   help="remove objects older than this (1h, 30m, 10s, 2d or seconds; default: never)")
    p.add_argument("--max-bytes", type=arg_size, default=0, metavar="SIZE",
                   help="maximum bucket size (10MB, 1GiB ...; default: unlimited)")
    p.add_argument("--storage", choices=("file", "memory"), default="file", help="storage backend (default file)")
    p.add_argument("--replicas", type=int, default=1, choices=range(1, 6), metavar="N", help="replicas, 1-5 (default 1)")
    p.add_argument("--compression", action="store_true", help="compress stored data (S2)")
    p.add_argument("--fast-ingest", action="store_true",
                   help="allow ADR-50 fast-ingest batches (server 2.14+): puts send chunks without an ack each")
    p.add_argument("--allow-msg-ttl", action="store_true",
                   help="allow per-object TTLs (put --ttl; ADR-43, server 2.11+; cannot be turned off)")
    p.add_argument("--metadata", type=arg_kv("=", "--metadata"), action="append", metavar="KEY=VALUE",
                   help="bucket metadata (repeatable)")


def exists_error(bucket: str, err: BucketExistsError) -> CliError:
    """``add`` of an existing bucket with other settings: each differing setting, in words."""
    diffs = [(k, have, want) for k, have, want in err.differences if k != "sealed"]
    parts = [f"{SETTINGS[k][0]} is {setting_text(k, have)} (asked {setting_text(k, want)})" for k, have, want in diffs]
    if err.sealed:
        text = f"bucket {bucket!r} exists and is sealed (read-only)"
        if parts:
            text += "; it also differs: " + ", ".join(parts)
    else:
        text = f"bucket {bucket!r} exists with different settings: " + (", ".join(parts) or "stream settings differ")
        if diffs and all(k != "storage" for k, _, _ in diffs):
            text += f"; '{PROG} edit {bucket}' changes them in place"
    details = {"bucket": bucket, "sealed": err.sealed,
               "differences": [{"setting": k, "existing": have, "asked": want} for k, have, want in err.differences]}
    return CliError(text, kind=type(err).__name__, details=details)


@command("add", 10, "create a bucket (no change if it exists with the same settings)", arguments=_add_arguments)
async def cmd_add(ctx: Ctx) -> int:
    a = ctx.args
    try:
        store = await ctx.js.create_object_store(
            bucket=a.bucket,
            description=a.description,
            ttl=a.ttl or None,
            max_bytes=a.max_bytes if a.max_bytes else -1,
            storage=a.storage,
            replicas=a.replicas,
            compression=a.compression,
            fast_ingest=a.fast_ingest,
            allow_msg_ttl=a.allow_msg_ttl,
            metadata=dict(a.metadata) if a.metadata else None,
        )
    except BucketExistsError as err:
        raise exists_error(a.bucket, err) from err
    st = await store.status()
    note = None
    if ctx.embedded and st.storage == "memory":
        note = (f"bucket {st.bucket!r} uses memory storage on the embedded server: its objects are lost "
                f"when that server stops or restarts ('{PROG} serve --stop', a reboot)")
        ctx.note(note)
    if ctx.json:
        doc = status_to_json(st)
        doc["note"] = note
        ctx.emit_json(doc)
    else:
        ctx.say(f"bucket {st.bucket!r} ready ({st.storage}, {st.replicas} replica{'s' if st.replicas != 1 else ''}"
                f", ttl {human_duration(st.ttl.total_seconds() if st.ttl else None)})")
    return EXIT_OK


@command("buckets", 20, "list buckets")
async def cmd_buckets(ctx: Ctx) -> int:
    statuses = sorted(await ctx.js.object_stores(), key=lambda s: s.bucket)
    if ctx.json:
        ctx.emit_json([status_to_json(s) for s in statuses])
        return EXIT_OK
    if not statuses:
        ctx.note("no buckets")
        return EXIT_OK
    rows = [
        [s.bucket, str(s.count), format_size(s.size), s.storage, str(s.replicas), "yes" if s.sealed else "no", one_line(s.description)]
        for s in statuses
    ]
    print_table(rows, ["BUCKET", "OBJECTS", "SIZE", "STORAGE", "REPLICAS", "SEALED", "DESCRIPTION"], {1, 2, 4}, ctx.out)
    return EXIT_OK


@command("status", 30, "show a bucket's status", arguments=_bucket)
async def cmd_status(ctx: Ctx) -> int:
    return await show_bucket(ctx, ctx.args.bucket)


async def show_bucket(ctx: Ctx, bucket: str) -> int:
    """A bucket's status (``status BUCKET``, ``info BUCKET``): --json or ``Key: value`` lines."""
    st = await (await ctx.store(bucket)).status()
    doc = status_to_json(st)
    if ctx.json:
        ctx.emit_json(doc)
        return EXIT_OK
    lines = [
        ("Bucket", doc["bucket"]),
        ("Description", doc["description"] or ""),
        ("Objects", str(doc["objects"])),
        ("Size", exact_size(doc["size"])),
        ("Max size", exact_size(doc["max_bytes"]) if doc["max_bytes"] else "unlimited"),
        ("TTL", human_duration(doc["ttl_seconds"])),
        ("Storage", doc["storage"]),
        ("Replicas", str(doc["replicas"])),
        ("Compression", "s2" if doc["compression"] else "none"),
        ("Fast ingest", "yes" if doc["fast_ingest"] else "no"),
        ("Object TTLs", "allowed" if doc.get("allow_msg_ttl") else "no"),
        ("Sealed", "yes" if doc["sealed"] else "no"),
        ("Stream", doc["stream"] or ""),
    ]
    for k, v in sorted(doc["metadata"].items()):  # without the server's own _nats.* keys
        lines.append((f"Metadata {k}", v))
    print_pairs(lines, ctx.out)
    return EXIT_OK


@command("seal", 40, "make a bucket read-only (cannot be undone)", arguments=_bucket)
async def cmd_seal(ctx: Ctx) -> int:
    store = await ctx.store(ctx.args.bucket)
    await store.seal()
    if ctx.json:
        ctx.emit_json(status_to_json(await store.status()))
    else:
        ctx.say(f"sealed bucket {ctx.args.bucket!r} (read-only from now on)")
    return EXIT_OK


def _rm_bucket_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("-f", "--force", action="store_true", help="really delete (required when stdin is a terminal)")


def _rm_bucket_check(args: argparse.Namespace) -> None:
    if not args.force and sys.stdin.isatty():
        raise UsageError(f"rm-bucket deletes {args.bucket!r} and all its objects: add -f/--force to confirm")


@command("rm-bucket", 50, "delete a bucket and all its objects", arguments=_rm_bucket_arguments, check=_rm_bucket_check,
         description="Delete a bucket and all its objects. Asks no question: when stdin is a "
                     "terminal, -f/--force is required; in scripts (stdin not a terminal) it proceeds.")
async def cmd_rm_bucket(ctx: Ctx) -> int:
    bucket = ctx.args.bucket
    await ctx.js.delete_object_store(bucket)
    if ctx.json:
        ctx.emit_json({"bucket": bucket, "deleted": True})
    else:
        ctx.say(f"deleted bucket {bucket!r} and every object in it")
    return EXIT_OK
