"""Bucket health: finding orphaned chunks, the sweep that removes them, and the doctor's check.
Must not read chunk data, and purges only in ``sweep``; the report types are ``findings``.

An *orphan* is a chunk subject ``$O.<bucket>.C.<nuid>`` that no live meta names: what a writer
killed mid-put leaves behind (its chunks were stored, its meta never written). ``ObjectStore``'s
``orphans()``, ``sweep()`` and ``check()`` are thin wrappers over this module.

How it is derived (never by reading chunk data):

- chunk subjects and their message counts come from STREAM.INFO with ``subjects_filter``
  ``$O.<bucket>.C.>`` (paged by the jetstream layer);
- the nuids that live metas name come from the last message on each meta subject (the meta
  subjects listed the same way). A deleted meta names no nuid; a link names no chunks; a meta
  that fails to parse but still carries a string ``nuid`` protects that nuid (it is reported as
  malformed, its chunks are never swept).

Race rules: chunk subjects are listed *before* the metas are read, so a put that completes in
between is named by the meta read afterwards. The meta subjects are re-listed until no unread
subject appears, so an object renamed during the scan (new subject written, old one purged) is
still seen. A put still in progress shows up as an orphan: its chunks are stored, its meta is
not written yet. ``sweep`` therefore only purges orphans whose newest chunk is older than
``older_than`` (default one hour), measured on the server's clock (the ``ts`` of the STREAM.INFO
reply, else the local one), and purges each subject only up to the newest chunk it looked at
(purge ``filter`` + ``seq``), so a chunk published after that look is never removed by it.

``check()`` adds, for live metas: chunk count different from the stream's (subject listing),
size different from the stream's (a headers-only ordered consumer over ``$O.<bucket>.C.>``: the
server sends ``Nats-Msg-Size`` instead of the payload), chunks missing entirely, and malformed
metas. A problem found on an object is confirmed by reading its meta again: an object replaced or
deleted while the check ran is not reported.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable, Iterable, Optional, TypeVar, Union

from jetstream import HDR_MSG_SIZE, StoredMsg
from protocol import NatsError, NatsTimeoutError

from .bucket import Bucket
from .errors import BadObjectMetaError
from .findings import DEFAULT_SWEEP_AGE, HealthReport, MalformedMeta, MetaMismatch, Orphan, is_stale
from .models import ObjectInfo, parse_meta
from .subjects import decode_name

__all__ = [
    "DEFAULT_SWEEP_AGE",
    "HealthReport",
    "MalformedMeta",
    "MetaMismatch",
    "Orphan",
    "check",
    "find_orphans",
    "sweep",
]

_CONCURRENCY = 32  # meta / last-chunk reads in flight at once
_RELIST_ROUNDS = 5  # meta listings until no unread subject appears (renames during the scan)
_SIZE_IDLE = 10.0  # seconds without a message from the size pass before it gives up
Age = Union[timedelta, float, int]
T = TypeVar("T")
R = TypeVar("R")


# Public operations ----------------------------------------------------------------------------------

async def find_orphans(bucket: Bucket) -> list[Orphan]:
    """Chunk subjects no live meta names, each with its newest chunk's time (one read of the last
    message on that subject). Raises BucketNotFoundError."""
    scan = await _Scan.run(bucket)
    return await _orphans_of(bucket, scan)


async def sweep(bucket: Bucket, older_than: Age = DEFAULT_SWEEP_AGE, dry_run: bool = False) -> list[Orphan]:
    """Purge the orphans whose newest chunk is at least ``older_than`` old (server clock); with
    ``dry_run`` only return them. Returns the orphans purged (``purged`` set to the count)."""
    age = _as_timedelta(older_than)
    scan = await _Scan.run(bucket)
    orphans = await _orphans_of(bucket, scan)
    stale = [o for o in orphans if is_stale(o, age, scan.now)]
    if not dry_run:
        for orphan in stale:
            # Only up to the newest chunk looked at (purge seq is exclusive): a chunk that a
            # resumed writer publishes after that look survives this sweep.
            orphan.purged = await bucket.js.purge_stream(bucket.stream, subject=orphan.subject, seq=orphan.newest_seq + 1)
    return stale


async def check(bucket: Bucket, older_than: Age = DEFAULT_SWEEP_AGE, *, sizes: bool = True) -> HealthReport:
    """The bucket's health report (see the module docstring). Raises BucketNotFoundError."""
    scan = await _Scan.run(bucket)
    report = HealthReport(bucket=bucket.name, older_than=_as_timedelta(older_than), checked_at=scan.now)
    report.orphans = await _orphans_of(bucket, scan)
    report.malformed = scan.malformed
    report.deleted = scan.deleted
    report.objects = len(scan.live)
    report.chunk_subjects = len(scan.chunks)
    report.chunk_messages = sum(scan.chunks.values())
    # Chunk counts of live objects from a listing taken after their metas were read: a put that
    # was in progress at the first listing is complete by now if its meta was read.
    counts = await _chunk_counts(bucket)
    byte_sizes: Optional[dict[str, int]] = None
    if sizes:
        byte_sizes = await _chunk_sizes(bucket, report)
    else:
        report.notes.append("size check skipped (sizes=False)")
    candidates: list[tuple[str, MetaMismatch]] = []
    for subject, info in scan.live.items():
        if info.is_link():
            continue
        found = counts.get(info.nuid, 0)
        if info.chunks > 0 and found == 0:
            candidates.append((subject, MetaMismatch(info.name, info.nuid, "missing", info.chunks, 0)))
            continue
        if found != info.chunks:
            candidates.append((subject, MetaMismatch(info.name, info.nuid, "chunks", info.chunks, found)))
        if byte_sizes is not None:
            got = byte_sizes.get(info.nuid, 0)
            if got != info.size:
                candidates.append((subject, MetaMismatch(info.name, info.nuid, "size", info.size, got)))
    for subject, problem in candidates:
        if not await _meta_unchanged(bucket, subject, scan.seqs[subject]):
            continue  # replaced, renamed or deleted while the check ran
        target = {"missing": report.missing_chunks, "chunks": report.chunk_mismatches, "size": report.size_mismatches}
        target[problem.kind].append(problem)
    return report


# The scan --------------------------------------------------------------------------------------------

@dataclass
class _Scan:
    """Chunk subjects (listed first), then every meta subject's last message."""

    chunks: dict[str, int]  # nuid -> chunk messages
    now: datetime
    live: dict[str, ObjectInfo] = field(default_factory=dict)  # meta subject -> info
    seqs: dict[str, int] = field(default_factory=dict)  # meta subject -> seq read
    named: set[str] = field(default_factory=set)  # nuids named by live metas (or malformed ones)
    malformed: list[MalformedMeta] = field(default_factory=list)
    deleted: int = 0

    @classmethod
    async def run(cls, bucket: Bucket) -> "_Scan":
        chunk_subjects, now = await _subjects(bucket, bucket.all_chunks)  # FIRST: race rule
        prefix = bucket.all_chunks[:-1]
        scan = cls(chunks={s[len(prefix):]: n for s, n in chunk_subjects.items() if s.startswith(prefix)}, now=now)
        read: set[str] = set()
        for _ in range(_RELIST_ROUNDS):
            listed, _ = await _subjects(bucket, bucket.all_meta)
            todo = [s for s in listed if s not in read]
            if not todo:
                break
            read.update(todo)
            for subject, stored in zip(todo, await _bounded(todo, lambda s: _last(bucket, s))):
                if stored is not None:
                    scan._add(subject, stored)
        return scan

    def _add(self, subject: str, stored: StoredMsg) -> None:
        self.seqs[subject] = stored.seq
        try:
            info = parse_meta(stored.data)
        except (BadObjectMetaError, ValueError, TypeError, OverflowError, AttributeError, KeyError) as err:
            # Foreign data never breaks the scan (parse_meta is meant to raise only
            # BadObjectMetaError; the builtins are a second line). A string nuid it still
            # carries is protected: its chunks may be all that is left of that object.
            self.malformed.append(MalformedMeta(subject, stored.seq, str(err) or type(err).__name__, _name_of(subject)))
            nuid = _raw_nuid(stored.data)
            if nuid:
                self.named.add(nuid)
            return
        if info.deleted:
            self.deleted += 1
            return
        self.live[subject] = info
        if not info.is_link() and info.nuid:  # a link's nuid names no chunks
            self.named.add(info.nuid)


async def _orphans_of(bucket: Bucket, scan: _Scan) -> list[Orphan]:
    prefix = bucket.all_chunks[:-1]
    orphans = [Orphan(nuid, prefix + nuid, n) for nuid, n in sorted(scan.chunks.items()) if nuid not in scan.named]
    lasts = await _bounded(orphans, lambda o: _last(bucket, o.subject))
    out = []
    for orphan, stored in zip(orphans, lasts):
        if stored is None:
            continue  # purged since the listing: nothing left to report
        orphan.newest, orphan.newest_seq = stored.time, stored.seq
        out.append(orphan)
    return out


async def _subjects(bucket: Bucket, filt: str) -> tuple[dict[str, int], datetime]:
    """Subject -> message count under ``filt`` (STREAM.INFO ``subjects_filter``, paged), and the
    server's time of the reply (the local clock when the server sends none)."""
    si = await bucket.info(subjects_filter=filt)
    now = si.ts or datetime.now(timezone.utc)
    return dict(si.state.subjects or {}), now


async def _chunk_counts(bucket: Bucket) -> dict[str, int]:
    listed, _ = await _subjects(bucket, bucket.all_chunks)
    prefix = bucket.all_chunks[:-1]
    return {s[len(prefix):]: n for s, n in listed.items() if s.startswith(prefix)}


async def _last(bucket: Bucket, subject: str) -> Optional[StoredMsg]:
    """The last message on ``subject``, read through the stream leader; ``None`` when there is none."""
    return await bucket.last_on_leader(subject)


async def _meta_unchanged(bucket: Bucket, subject: str, seq: int) -> bool:
    stored = await _last(bucket, subject)
    return stored is not None and stored.seq == seq


async def _chunk_sizes(bucket: Bucket, report: HealthReport) -> Optional[dict[str, int]]:
    """Bytes per nuid from a headers-only ordered consumer over every chunk: the server sends each
    message's headers plus ``Nats-Msg-Size`` (the payload's length) and no payload. Ends at the
    chunk that was last when the pass started; ``None`` (with a note) when it cannot finish."""
    js = bucket.js
    last = await _last(bucket, bucket.all_chunks)
    if last is None:
        report.size_checked = True
        return {}
    prefix = bucket.all_chunks[:-1]
    sizes: dict[str, int] = {}
    end = last.seq
    oc = js.ordered_consumer(bucket.stream, filter_subject=bucket.all_chunks, headers_only=True)
    try:
        await oc.start()
        while True:
            msg = await oc.next(timeout=_SIZE_IDLE)
            hdrs = msg.headers
            raw = hdrs.get(HDR_MSG_SIZE) if hdrs is not None else None
            if raw is None or not raw.strip().isdigit():
                report.notes.append("size check skipped: the server sent no Nats-Msg-Size header for headers-only delivery")
                return None
            nuid = msg.subject[len(prefix):] if msg.subject.startswith(prefix) else msg.subject
            sizes[nuid] = sizes.get(nuid, 0) + int(raw)
            md = msg.metadata
            if md.stream_seq >= end:
                break
            if md.num_pending == 0:
                # Caught up below the last chunk seen at the start: it was purged meanwhile, or
                # (replicated bucket) this consumer runs on a follower that lags. Ask again.
                again = await _last(bucket, bucket.all_chunks)
                end = again.seq if again is not None else 0
                if md.stream_seq >= end:
                    break
    except (NatsError, NatsTimeoutError, asyncio.TimeoutError) as err:
        report.notes.append(f"size check incomplete: {err}")
        return None
    finally:
        await oc.close()
    report.size_checked = True
    return sizes


# Helpers ---------------------------------------------------------------------------------------------

async def _bounded(items: Iterable[T], fn: Callable[[T], Awaitable[R]]) -> list[R]:
    sem = asyncio.Semaphore(_CONCURRENCY)

    async def one(item: T) -> R:
        async with sem:
            return await fn(item)

    return list(await asyncio.gather(*(one(i) for i in items)))


def _as_timedelta(value: Age) -> timedelta:
    age = value if isinstance(value, timedelta) else timedelta(seconds=float(value))
    if age < timedelta(0):
        raise ValueError(f"older_than must not be negative, not {value!r}")
    return age


def _name_of(subject: str) -> Optional[str]:
    try:
        return decode_name(subject.rsplit(".", 1)[-1])
    except (ValueError, UnicodeDecodeError):
        return None


def _raw_nuid(data: bytes) -> Optional[str]:
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        return None
    nuid = obj.get("nuid") if isinstance(obj, dict) else None
    return nuid if isinstance(nuid, str) and nuid else None
