"""Owns ``objstore edit BUCKET --description/--ttl/--max-bytes/--metadata/--replicas/--compression/
--fast-ingest``: changes a bucket's settings in place (``js.update_object_store``; its objects are
untouched) and shows each setting that changed, ``before -> after``.

Built on the ``objstore`` public API only; it must not build stream configs itself (the library's
``config.edited_stream_config`` does) or pick exit codes for errors (``app`` does).
"""

from __future__ import annotations

import argparse
from typing import Any

from ..format import setting_changes, setting_text, status_to_json
from ..registry import command
from ..runtime import EXIT_OK, Ctx, UsageError
from ..values import arg_duration, arg_kv, arg_size


def _on_off(text: str) -> bool:
    value = text.strip().lower()
    if value in ("on", "yes", "true", "1", "s2"):
        return True
    if value in ("off", "no", "false", "0", "none"):
        return False
    raise argparse.ArgumentTypeError(f"expected on or off, not {text!r}")


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("--description", help="new description ('' clears it)")
    p.add_argument("--ttl", type=arg_duration, metavar="DURATION",
                   help="remove objects older than this (1h, 30m, 2d ...; 0: never)")
    p.add_argument("--max-bytes", type=arg_size, metavar="SIZE", help="maximum bucket size (10MB, 1GiB ...; 0: unlimited)")
    p.add_argument("--replicas", type=int, choices=range(1, 6), metavar="N", help="replicas, 1-5 (needs a cluster above 1)")
    p.add_argument("--compression", type=_on_off, metavar="on|off", help="compress stored data (S2), on or off")
    p.add_argument("--fast-ingest", type=_on_off, metavar="on|off", help="allow ADR-50 fast-ingest batches, on or off")
    p.add_argument("--metadata", type=arg_kv("=", "--metadata"), action="append", metavar="KEY=VALUE",
                   help="set a bucket metadata key (repeatable); KEY= removes it")


def _changes(a: argparse.Namespace, current_metadata: dict[str, str]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if a.description is not None:
        changes["description"] = a.description
    if a.ttl is not None:
        changes["ttl"] = a.ttl
    if a.max_bytes is not None:
        changes["max_bytes"] = a.max_bytes if a.max_bytes > 0 else -1
    if a.replicas is not None:
        changes["replicas"] = a.replicas
    if a.compression is not None:
        changes["compression"] = a.compression
    if a.fast_ingest is not None:
        changes["fast_ingest"] = a.fast_ingest
    if a.metadata:
        merged = dict(current_metadata)
        for k, v in a.metadata:
            if v == "":
                merged.pop(k, None)
            else:
                merged[k] = v
        changes["metadata"] = merged
    return changes


def _check(a: argparse.Namespace) -> None:
    if all(getattr(a, k) is None for k in ("description", "ttl", "max_bytes", "replicas", "compression",
                                            "fast_ingest", "metadata")):
        raise UsageError("nothing to change: give at least one of --description, --ttl, --max-bytes, "
                         "--replicas, --compression, --fast-ingest, --metadata")


@command("edit", 35, "change a bucket's settings in place (objects are kept)", arguments=_arguments, check=_check,
         description="Change a bucket's description, TTL, max size, replicas, compression, fast ingest or "
                     "metadata in place; its objects are kept. Prints each setting that changed (before -> after). "
                     "Storage cannot change; a sealed bucket cannot be edited.")
async def cmd_edit(ctx: Ctx) -> int:
    a = ctx.args
    store = await ctx.store(a.bucket)
    before = status_to_json(await store.status())
    changes = _changes(a, before["metadata"])
    updated = await ctx.js.update_object_store(a.bucket, **changes)
    after = status_to_json(await updated.status())
    changed = setting_changes(before, after)
    if ctx.json:
        after["changed"] = {key: {"before": old, "after": new} for _, key, old, new in changed}
        ctx.emit_json(after)
        return EXIT_OK
    if not changed:
        ctx.say(f"bucket {a.bucket!r}: nothing changed (already set so)")
        return EXIT_OK
    ctx.say(f"bucket {a.bucket!r} updated:")
    width = max(len(label) for label, _, _, _ in changed)
    for label, key, old, new in changed:
        ctx.say(f"  {label.ljust(width)}  {setting_text(key, old)} -> {setting_text(key, new)}")
    return EXIT_OK
