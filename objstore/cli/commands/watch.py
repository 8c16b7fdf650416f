"""Owns ``objstore watch BUCKET [--history|--updates-only]``: prints the latest entry of every
object, then one line (or one JSON document) per update, until Ctrl-C or SIGTERM (exit 0).

Built on ``store.watch()`` only; it must not read the stream itself.
"""

from __future__ import annotations

import argparse
import json

from ..format import info_to_json, iso_time, link_text
from ..progress import format_size
from ..registry import command
from ..runtime import EXIT_OK, Ctx


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bucket", metavar="BUCKET")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--history", action="store_true", help="start with every stored entry, not the latest per object")
    g.add_argument("--updates-only", action="store_true", help="print only updates made from now on")


@command("watch", 130, "print a line per object update until Ctrl-C", arguments=_arguments, until_signal=True,
         description="Print the latest entry of every object, then one line per update, until Ctrl-C "
                     "(with --json: one JSON document per line).")
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
