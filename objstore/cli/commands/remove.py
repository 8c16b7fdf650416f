"""Owns ``objstore rm BUCKET NAME...`` and ``objstore rm BUCKET --prefix P``: deleting objects by
name or every live object under a prefix (after a confirmation with the count on a terminal;
``-f`` skips it). An object that is already deleted is reported as such and gets no second
delete marker; a name that never existed is an error (exit 1) after the others are done.

Built on the ``objstore`` public API only (``get_info``, ``list``, ``delete``).
"""

from __future__ import annotations

import argparse
from typing import Any

from protocol import NatsError

from ... import ObjectNotFoundError
from ..prompt import confirm_or_stop
from ..registry import command
from ..runtime import EXIT_ERROR, EXIT_OK, CliError, Ctx, UsageError, describe_error
from ..sync_run import run_bounded

_CONCURRENCY = 8


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("names", metavar="NAME", nargs="*", help="objects to delete")
    p.add_argument("--prefix", metavar="P", help="delete every object whose name starts with P")
    p.add_argument("-f", "--force", action="store_true", help="do not ask before deleting by --prefix")


def _check(a: argparse.Namespace) -> None:
    if a.prefix is None and not a.names:
        raise UsageError("name the objects to delete, or give --prefix P")
    if a.prefix is not None and a.names:
        raise UsageError("give NAMEs or --prefix, not both")


@command("rm", 100, "delete objects (by name, or all under --prefix)", arguments=_arguments, check=_check,
         description="Delete objects by name, or every object under --prefix P (on a terminal, after a "
                     "question with the count; -f skips it). An already deleted object is reported and "
                     "left alone (no second delete marker).")
async def cmd_rm(ctx: Ctx) -> int:
    a = ctx.args
    store = await ctx.store(a.bucket)
    if a.prefix is not None:
        names = sorted(i.name for i in await store.list() if i.name.startswith(a.prefix))
        if not names:
            ctx.note(f"no objects under {a.prefix!r} in bucket {a.bucket!r}")
        else:
            await confirm_or_stop(ctx, f"delete {len(names):,} object{'s' if len(names) != 1 else ''} under "
                                       f"{a.bucket}/{a.prefix}?")
    else:
        names = list(dict.fromkeys(a.names))
    deleted: list[str] = []
    already: list[str] = []
    failed: list[tuple[str, str]] = []

    async def one(name: str) -> None:
        try:
            info = await store.get_info(name, show_deleted=True)
            if info.deleted:
                already.append(name)
                return
            await store.delete(name)
            deleted.append(name)
        except ObjectNotFoundError:
            failed.append((name, f"object {name!r} not found in bucket {a.bucket!r}"))
        except (NatsError, OSError) as e:
            failed.append((name, describe_error(e)))

    await run_bounded(ctx, names, _CONCURRENCY, one)
    return _report(ctx, a, names, deleted, already, failed)


def _report(ctx: Ctx, a: Any, names: list[str], deleted: list[str], already: list[str], failed: list[tuple[str, str]]) -> int:
    single = a.prefix is None and len(names) == 1
    if single and failed:
        raise CliError(failed[0][1])
    if ctx.json:
        if single:
            doc = {"bucket": a.bucket, "name": names[0], "deleted": True}
            if already:
                doc["already_deleted"] = True
            ctx.emit_json(doc)
        else:
            ctx.emit_json({"bucket": a.bucket, "prefix": a.prefix, "deleted": sorted(deleted), "already_deleted": sorted(already),
                           "failed": [{"name": n, "error": e} for n, e in failed]})
    else:
        if single:
            for n in deleted:
                ctx.say(f"deleted {a.bucket}/{n}")
        for n in sorted(already):
            ctx.say(f"{a.bucket}/{n} was already deleted (nothing written)")
        if not single:
            what = f" under {a.bucket}/{a.prefix}" if a.prefix is not None else f" from {a.bucket}"
            ctx.say(f"deleted {len(deleted):,} object{'s' if len(deleted) != 1 else ''}{what}"
                    + (f", {len(already):,} already deleted" if already else ""))
    if failed:
        for _name, err in failed:
            ctx.err.write(f"objstore: {err}\n")
        return EXIT_ERROR
    return EXIT_OK
