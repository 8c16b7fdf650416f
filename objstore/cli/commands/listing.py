"""Owns ``objstore ls BUCKET [PREFIX|GLOB] [--long] [--sort name|size|mtime] [--deleted]``: which
objects are listed (a prefix, or a glob when the pattern has ``*?[``), their order, and the table
(names cut in the middle to fit a terminal, never wrapped; full names when piped or ``--json``).

Built on the ``objstore`` public API only; it must not change anything.
"""

from __future__ import annotations

import argparse
import fnmatch
import shutil
from datetime import datetime, timezone
from typing import Any

from ... import ObjectInfo
from ...sync_plan import parse_file_metadata
from ..format import info_to_json, iso_time, link_text, one_line
from ..output import isatty
from ..progress import format_size
from ..registry import command
from ..runtime import EXIT_OK, Ctx

_GLOB_CHARS = frozenset("*?[")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("pattern", metavar="PREFIX|GLOB", nargs="?", default="",
                   help="only names starting with PREFIX, or matching GLOB when it has * ? or [ ('*' crosses '/')")
    p.add_argument("-l", "--long", action="store_true",
                   help="exact sizes, the SHA-256 in hex and the file mode/mtime a sync recorded")
    p.add_argument("--sort", choices=("name", "size", "mtime"), default="name",
                   help="name (A-Z, the default), size (largest first) or mtime (newest first)")
    p.add_argument("--deleted", action="store_true", help="include deleted objects")


def selects(pattern: str, name: str) -> bool:
    """``ls``'s rule: a glob (has ``*?[``) matches the whole name, anything else is a prefix."""
    if not pattern:
        return True
    if _GLOB_CHARS & set(pattern):
        return fnmatch.fnmatchcase(name, pattern)
    return name.startswith(pattern)


def cut_middle(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters by replacing its middle with ``…``."""
    if width <= 0 or len(text) <= width:
        return text
    if width == 1:
        return "…"
    head = width // 2
    tail = width - 1 - head
    return text[:head] + "…" + (text[-tail:] if tail else "")


def _sorted(infos: list[ObjectInfo], key: str) -> list[ObjectInfo]:
    by_name = sorted(infos, key=lambda i: i.name)
    if key == "size":
        return sorted(by_name, key=lambda i: -i.size)
    if key == "mtime":
        return sorted(by_name, key=lambda i: i.mtime or _EPOCH, reverse=True)
    return by_name


def _row(i: ObjectInfo, long: bool) -> list[str]:
    name = i.name
    if i.is_link():
        name += f" -> {link_text(i)}"
    if i.deleted:
        name += " (deleted)"
    plain = i.is_link() or i.deleted
    size = "-" if plain else (str(i.size) if long else format_size(i.size))
    chunks = "-" if plain else str(i.chunks)
    row = [name, size, chunks, iso_time(i.mtime) or ""]
    if long:
        mode, mtime_ns = parse_file_metadata(i.metadata)
        file_time = iso_time(datetime.fromtimestamp(mtime_ns / 1e9, timezone.utc)) if mtime_ns is not None else ""
        row += ["" if plain else i.digest_hex, f"{mode:04o}" if mode is not None else "", file_time or ""]
    row.append(one_line(i.description))
    return row


def _print(rows: list[list[str]], headers: list[str], right: set[int], out: Any, fit: int) -> None:
    """An aligned table; with ``fit`` (a terminal's width), names are cut in the middle so that
    each line fits, down to 12 characters."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    if fit:
        others = sum(widths[1:]) + 2 * (len(widths) - 1)
        room = max(fit - others, 12)
        if widths[0] > room:
            rows = [[cut_middle(r[0], room)] + r[1:] for r in rows]
            widths[0] = max(len(headers[0]), room)

    def line(cells: list[str]) -> str:
        text = "  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)).rstrip()
        return text[:fit] if fit else text  # what still does not fit (a description) is cut, never wrapped

    out.write(line(headers) + "\n")
    for r in rows:
        out.write(line(r) + "\n")
    out.flush()


@command("ls", 80, "list a bucket's objects (all, under a prefix, or matching a glob)", arguments=_arguments)
async def cmd_ls(ctx: Ctx) -> int:
    a = ctx.args
    store = await ctx.store(a.bucket)
    infos = [i for i in await store.list(show_deleted=a.deleted) if selects(a.pattern, i.name)]
    infos = _sorted(infos, a.sort)
    if ctx.json:
        ctx.emit_json([info_to_json(i) for i in infos])
        return EXIT_OK
    if not infos:
        ctx.note(f"no objects match {a.pattern!r} in bucket {a.bucket!r}" if a.pattern else f"bucket {a.bucket!r} is empty")
        return EXIT_OK
    headers = ["NAME", "SIZE", "CHUNKS", "MODIFIED"] + (["SHA-256", "MODE", "FILE MTIME"] if a.long else []) + ["DESCRIPTION"]
    fit = shutil.get_terminal_size((80, 24)).columns - 1 if isatty(ctx.out) else 0
    _print([_row(i, a.long) for i in infos], headers, {1, 2}, ctx.out, fit)
    return EXIT_OK
