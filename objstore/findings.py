"""What a bucket health scan finds, as data: ``Orphan``, ``MetaMismatch``, ``MalformedMeta``,
``HealthReport``, and their JSON forms (the doctor's ``--json`` output). No I/O here; the scan
that fills them is :mod:`objstore.health`, the watcher fills ``MalformedMeta`` too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

__all__ = ["DEFAULT_SWEEP_AGE", "HealthReport", "MalformedMeta", "MetaMismatch", "Orphan", "is_stale"]

DEFAULT_SWEEP_AGE = timedelta(hours=1)


# Report types --------------------------------------------------------------------------------------

@dataclass
class Orphan:
    """Chunks under ``subject`` that no live meta names. ``newest`` is the server timestamp of the
    newest chunk and ``newest_seq`` its stream sequence (``None``/0 when it could not be read)."""

    nuid: str
    subject: str
    messages: int
    newest: Optional[datetime] = None
    newest_seq: int = 0
    purged: int = 0  # set by sweep: the chunk messages it removed

    def age(self, now: Optional[datetime] = None) -> Optional[timedelta]:
        if self.newest is None:
            return None
        return (now or datetime.now(timezone.utc)) - self.newest

    def to_json(self, now: Optional[datetime] = None) -> dict[str, Any]:
        age = self.age(now)
        return {
            "nuid": self.nuid,
            "subject": self.subject,
            "messages": self.messages,
            "newest": _iso(self.newest),
            "age_seconds": round(age.total_seconds(), 3) if age is not None else None,
            "purged": self.purged,
        }


@dataclass
class MetaMismatch:
    """A live meta that disagrees with the stream. ``kind``: ``"chunks"`` (count from the subject
    listing), ``"size"`` (bytes from the headers-only pass) or ``"missing"`` (no chunk at all)."""

    name: str
    nuid: str
    kind: str
    expected: int
    found: int

    def describe(self) -> str:
        if self.kind == "missing":
            return f"{self.name!r}: meta says {self.expected} chunk(s) under nuid {self.nuid}, the stream has none"
        unit = "chunk(s)" if self.kind == "chunks" else "byte(s)"
        return f"{self.name!r}: meta says {self.expected} {unit}, the stream has {self.found} (nuid {self.nuid})"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "nuid": self.nuid, "kind": self.kind, "expected": self.expected, "found": self.found}


@dataclass
class MalformedMeta:
    """A meta message that does not parse. ``name`` is decoded from the subject when possible."""

    subject: str
    seq: int
    error: str
    name: Optional[str] = None

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "seq": self.seq, "name": self.name, "error": self.error}


@dataclass
class HealthReport:
    """What ``store.check()`` found. Orphans younger than ``older_than`` are listed but are not
    problems (a put in progress looks like that); everything else in the lists is."""

    bucket: str
    objects: int = 0  # live metas (links included)
    deleted: int = 0  # delete markers
    chunk_subjects: int = 0
    chunk_messages: int = 0
    older_than: timedelta = DEFAULT_SWEEP_AGE
    checked_at: Optional[datetime] = None  # server time of the chunk listing
    orphans: list[Orphan] = field(default_factory=list)
    chunk_mismatches: list[MetaMismatch] = field(default_factory=list)
    size_mismatches: list[MetaMismatch] = field(default_factory=list)
    missing_chunks: list[MetaMismatch] = field(default_factory=list)
    malformed: list[MalformedMeta] = field(default_factory=list)
    size_checked: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def stale_orphans(self) -> list[Orphan]:
        """Orphans whose newest chunk is at least ``older_than`` old: what ``sweep`` removes."""
        return [o for o in self.orphans if is_stale(o, self.older_than, self.checked_at)]

    @property
    def recent_orphans(self) -> list[Orphan]:
        stale = {id(o) for o in self.stale_orphans}
        return [o for o in self.orphans if id(o) not in stale]

    @property
    def problems(self) -> int:
        return (
            len(self.stale_orphans)
            + len(self.chunk_mismatches)
            + len(self.size_mismatches)
            + len(self.missing_chunks)
            + len(self.malformed)
        )

    @property
    def healthy(self) -> bool:
        return self.problems == 0

    def to_json(self) -> dict[str, Any]:
        now = self.checked_at
        return {
            "bucket": self.bucket,
            "healthy": self.healthy,
            "problems": self.problems,
            "objects": self.objects,
            "deleted": self.deleted,
            "chunk_subjects": self.chunk_subjects,
            "chunk_messages": self.chunk_messages,
            "older_than_seconds": self.older_than.total_seconds(),
            "checked_at": _iso(now),
            "orphans": [dict(o.to_json(now), stale=is_stale(o, self.older_than, now)) for o in self.orphans],
            "chunk_mismatches": [m.to_json() for m in self.chunk_mismatches],
            "size_mismatches": [m.to_json() for m in self.size_mismatches],
            "missing_chunks": [m.to_json() for m in self.missing_chunks],
            "malformed_metas": [m.to_json() for m in self.malformed],
            "size_checked": self.size_checked,
            "notes": list(self.notes),
        }


def is_stale(orphan: Orphan, older_than: timedelta, now: Optional[datetime]) -> bool:
    """Whether the orphan's newest chunk is at least ``older_than`` old at ``now``."""
    age = orphan.age(now)
    return age is not None and age >= older_than


def _iso(dt: Optional[datetime]) -> Optional[str]:
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if dt is not None else None
