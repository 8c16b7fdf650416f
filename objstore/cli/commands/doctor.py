"""Owns ``objstore doctor BUCKET [--fix] [--older-than DURATION]``: prints the bucket's health
report (:func:`objstore.health.check`) and, with ``--fix``, sweeps the orphaned chunks whose
newest chunk is older than the age guard. Exit 0 when healthy (or fixed), 1 when problems
remain. Built on the ``objstore`` public API only; the checks themselves belong to the library.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Optional

from ... import DEFAULT_SWEEP_AGE, HealthReport, Orphan
from ..format import human_duration, iso_time
from ..registry import command
from ..runtime import EXIT_ERROR, EXIT_OK, Ctx
from ..values import arg_duration

__all__ = ["DOCTOR_DESCRIPTION", "cmd_doctor"]

DOCTOR_DESCRIPTION = (
    "Check a bucket's health: orphaned chunks (chunk subjects no live object names, left by a writer "
    "that was killed mid-put), objects whose chunk count or size disagrees with the stream, objects "
    "whose chunks are gone, and malformed metas. Orphans newer than --older-than are listed but kept "
    "(a put in progress looks like that). --fix removes the older ones. Exit 0 when healthy (or fixed), "
    "1 when problems remain."
)


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("--fix", action="store_true", help="remove the orphans older than --older-than")
    p.add_argument("--older-than", type=arg_duration, default=3600.0, metavar="DURATION",
                   help="age guard: only orphans whose newest chunk is at least this old count as problems "
                        "and are removed by --fix (default 1h; 0 takes every orphan, also a put in progress)")


@command("doctor", 140, "check a bucket's health (orphaned chunks, metas that disagree with the stream); --fix sweeps orphans",
         arguments=_arguments, description=DOCTOR_DESCRIPTION)
async def cmd_doctor(ctx: Ctx) -> int:
    a = ctx.args
    store = await ctx.store(a.bucket)
    older_than = timedelta(seconds=a.older_than) if a.older_than is not None else DEFAULT_SWEEP_AGE
    report: HealthReport = await store.check(older_than)
    removed: list[Orphan] = []
    if a.fix and report.stale_orphans:
        removed = await store.sweep(older_than)
    gone = {o.nuid for o in removed}
    remaining = report.problems - sum(1 for o in report.stale_orphans if o.nuid in gone)
    if ctx.json:
        doc = report.to_json()
        doc["fixed"] = [o.to_json(report.checked_at) for o in removed] if a.fix else None
        doc["remaining_problems"] = remaining
        ctx.emit_json(doc)
    else:
        _print_report(ctx, report, removed if a.fix else None, remaining)
    return EXIT_OK if remaining == 0 else EXIT_ERROR


def _print_report(ctx: Ctx, report: HealthReport, removed: Optional[list[Orphan]], remaining: int) -> None:
    out = ctx.out
    guard = human_duration(report.older_than.total_seconds()) if report.older_than else "0s"

    def line(text: str = "") -> None:
        out.write(text + "\n")

    line(f"bucket {report.bucket!r}: {report.objects} object(s), {report.deleted} deleted, "
         f"{report.chunk_messages} chunk(s) under {report.chunk_subjects} nuid(s)")
    stale = {id(o) for o in report.stale_orphans}
    line(f"orphans: {len(report.orphans)} ({len(stale)} older than {guard})")
    for o in report.orphans:
        age = o.age(report.checked_at)
        when = f"newest {iso_time(o.newest)} ({human_duration(max(age.total_seconds(), 0))} ago)" if age is not None else "newest unknown"
        tag = "" if id(o) in stale else f"  [newer than {guard}: kept, maybe a put in progress]"
        line(f"  {o.nuid}  {o.messages} chunk(s)  {when}{tag}")
    for title, items in (
        ("chunk count mismatches", report.chunk_mismatches),
        ("size mismatches", report.size_mismatches),
        ("objects with no chunks left", report.missing_chunks),
    ):
        line(f"{title}: {len(items)}")
        for m in items:
            line(f"  {m.describe()}")
    line(f"malformed metas: {len(report.malformed)}")
    for bad in report.malformed:
        who = f"{bad.name!r} " if bad.name is not None else ""
        line(f"  {who}{bad.subject} (seq {bad.seq}): {bad.error}")
    if not report.size_checked:
        line("sizes: not checked")
    for note in report.notes:
        line(f"note: {note}")
    if removed is not None:
        if removed:
            for o in removed:
                line(f"removed orphan {o.nuid}: {o.purged} chunk message(s)")
        else:
            line("removed nothing (no orphan older than the age guard)")
    line("healthy" if remaining == 0 else f"{remaining} problem(s) remain")

