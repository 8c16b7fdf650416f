"""Owns the object commands that move no data: ``info``, ``mv`` and ``link``, their arguments
and their output (text and ``--json``); ``ls`` and ``rm`` have their own modules.

Built on the ``objstore`` public API only; it must not talk to the wire or pick exit codes for
errors (``app`` does). Transfers live in ``put`` and ``get``.
"""

from __future__ import annotations

import argparse

from ... import ObjectMeta
from ..format import exact_size, info_to_json, iso_time, link_text, print_pairs
from ..progress import format_size
from ..registry import command
from .buckets import show_bucket
from ..runtime import EXIT_OK, Ctx, UsageError


def _info_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("name", metavar="NAME", nargs="?", help="the object (without it: the bucket, as 'status' shows it)")
    p.add_argument("--deleted", action="store_true", help="also show a deleted object's last info")


@command("info", 90, "show an object's info (or, with no NAME, the bucket's)", arguments=_info_arguments)
async def cmd_info(ctx: Ctx) -> int:
    a = ctx.args
    if a.name is None:
        return await show_bucket(ctx, a.bucket)
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
        if info.digest:
            lines.append(("SHA-256 (hex)", info.digest_hex))  # as sha256sum prints it
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


def _mv_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")


@command("mv", 110, "rename an object (NEW must not exist)", arguments=_mv_arguments)
async def cmd_mv(ctx: Ctx) -> int:
    a = ctx.args
    info = await (await ctx.store(a.bucket)).update_meta(a.old, ObjectMeta(name=a.new))
    if ctx.json:
        ctx.emit_json(info_to_json(info))
    else:
        ctx.say(f"renamed {a.bucket}/{a.old} -> {a.bucket}/{info.name}")
    return EXIT_OK


def _link_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("name", metavar="NAME")
    p.add_argument("target", metavar="TARGET")
    p.add_argument("--bucket", dest="target_bucket", metavar="OTHER", help="TARGET is in bucket OTHER (default: BUCKET)")
    p.add_argument("--bucket-link", action="store_true", help="link to the whole bucket TARGET")


@command("link", 120, "make NAME a link to object TARGET (or, with --bucket-link, to bucket TARGET)",
         arguments=_link_arguments)
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
