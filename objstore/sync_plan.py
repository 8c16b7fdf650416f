"""Owns directory-sync planning: which entries a one-way sync copies, skips or deletes, decided
from sizes and then SHA-256 digests; include/exclude filters; which object names cannot be files;
and the object metadata (file mode, mtime) a sync records.

Pure: no I/O, no server. Both directions use it: for an upload the source is the local tree and
the destination the bucket (under a prefix), for a download the other way round. A source entry
whose size equals the destination's is compared by digest, so the caller first asks
:func:`needs_digest` which local files need one (from its cache, or by hashing them).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

from .chunks import decode_digest
from .errors import BadObjectMetaError

__all__ = [
    "MODE_KEY", "MTIME_KEY", "Entry", "Filters", "SyncPlan",
    "needs_digest", "plan_sync", "unsafe_reason", "file_metadata", "parse_file_metadata", "same_digest",
]

MODE_KEY = "mode"  # object metadata: the file's permission bits, octal ("0644")
MTIME_KEY = "mtime"  # object metadata: the file's mtime, seconds with 9 decimals ("1764979200.123456789")
_NS = 1_000_000_000
_NAME_MAX = 255  # bytes in one file name part (Linux, macOS, Windows)


@dataclass(frozen=True)
class Entry:
    """One file or object, by its name relative to the synced root (``/``-separated). A name
    ending in ``/`` is a folder marker (an empty directory, a 0-byte object). ``digest`` is the
    wire form (``SHA-256=...``); empty when not known (a local file not hashed yet)."""

    name: str
    size: int
    digest: str = ""
    mtime_ns: Optional[int] = None
    mode: Optional[int] = None

    @property
    def is_folder(self) -> bool:
        return self.name.endswith("/")


@dataclass
class SyncPlan:
    """What a sync does: ``copy`` (source entries to transfer), ``delete`` (destination entries
    the source lacks; only with ``delete=True``), ``skipped`` (names equal on both sides) and
    ``excluded`` (names the filters left out, on either side)."""

    copy: list[Entry] = field(default_factory=list)
    delete: list[Entry] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    excluded: int = 0

    @property
    def copy_bytes(self) -> int:
        return sum(e.size for e in self.copy)


class Filters:
    """``--include`` / ``--exclude`` globs in command-line order; the last one that matches a
    name decides (``aws s3 sync``'s rule), and a name no rule matches is included. A glob
    matches the whole relative name (``*`` also crosses ``/``: ``logs/*`` is everything under
    ``logs/``); a glob without ``/`` also matches the last part (``*.tmp`` anywhere)."""

    def __init__(self, rules: Sequence[tuple[str, str]] = ()) -> None:
        for kind, _ in rules:
            if kind not in ("include", "exclude"):
                raise ValueError(f"a filter is 'include' or 'exclude', not {kind!r}")
        self.rules = list(rules)

    def included(self, name: str) -> bool:
        bare = name.rstrip("/")
        base = bare.rsplit("/", 1)[-1]
        keep = True
        for kind, pattern in self.rules:
            if fnmatch.fnmatchcase(bare, pattern.rstrip("/")) or fnmatch.fnmatchcase(name, pattern) or (
                "/" not in pattern and fnmatch.fnmatchcase(base, pattern)
            ):
                keep = kind == "include"
        return keep


def unsafe_reason(name: str) -> Optional[str]:
    """Why ``name`` (relative to the synced root) cannot be a file under it, or None. Refused:
    empty, a NUL byte, an absolute path, a ``.`` / ``..`` part, an empty part (``a//b``) or a
    part longer than 255 bytes."""
    if not name or name == "/":
        return "it is empty"
    if "\0" in name:
        return "it contains a NUL byte"
    if name.startswith("/"):
        return "it is an absolute path"
    parts = name[:-1].split("/") if name.endswith("/") else name.split("/")
    if ".." in parts:
        return "it has a '..' part"
    if "." in parts:
        return "it has a '.' part"
    if "" in parts:
        return "it has an empty part ('//')"
    if any(len(part.encode("utf-8", "surrogatepass")) > _NAME_MAX for part in parts):
        return f"a part is longer than {_NAME_MAX} bytes"
    return None


def same_digest(a: str, b: str) -> bool:
    """Two wire digests name the same SHA-256 (whatever base64 or hex form each is in)."""
    if not a or not b:
        return False
    if a == b:
        return True
    try:
        return decode_digest(a) == decode_digest(b)
    except BadObjectMetaError:
        return False


def needs_digest(source: Mapping[str, Entry], dest: Mapping[str, Entry]) -> list[str]:
    """Names on both sides with equal sizes where either side has no digest yet: the local
    side's must be computed (or found in the cache) before :func:`plan_sync`."""
    out = []
    for name, src in source.items():
        other = dest.get(name)
        if other is not None and not src.is_folder and other.size == src.size and (not src.digest or not other.digest):
            out.append(name)
    return out


def plan_sync(
    source: Mapping[str, Entry],
    dest: Mapping[str, Entry],
    *,
    delete: bool = False,
    filters: Optional[Filters] = None,
) -> SyncPlan:
    """Copy what the destination lacks or holds with another size or digest; skip the rest;
    with ``delete``, delete what the source lacks. Names the filters exclude are left alone on
    both sides. Equal sizes with a digest missing on either side count as different (the
    caller hashes the local side first: see :func:`needs_digest`); folder markers are equal
    when both exist."""
    plan = SyncPlan()
    keep = filters.included if filters is not None else (lambda _name: True)
    for name in sorted(source):
        src = source[name]
        if not keep(name):
            plan.excluded += 1
            continue
        other = dest.get(name)
        if other is None:
            plan.copy.append(src)
        elif src.is_folder or (other.size == src.size and same_digest(src.digest, other.digest)):
            plan.skipped.append(name)
        else:
            plan.copy.append(src)
    for name in sorted(dest):
        if name in source:
            continue
        if not keep(name):
            plan.excluded += 1
        elif delete:
            plan.delete.append(dest[name])
    return plan


def file_metadata(mode: int, mtime_ns: int) -> dict[str, str]:
    """The object metadata a sync records for a file: permission bits and mtime (exact ns)."""
    sec, ns = divmod(int(mtime_ns), _NS)
    return {MODE_KEY: f"{mode & 0o7777:04o}", MTIME_KEY: f"{sec}.{ns:09d}"}


def parse_file_metadata(metadata: Optional[Mapping[str, str]]) -> tuple[Optional[int], Optional[int]]:
    """``(mode, mtime_ns)`` from an object's metadata; None for a missing or malformed value
    (another tool's metadata is never an error: the download then keeps the defaults)."""
    if not metadata:
        return None, None
    mode: Optional[int] = None
    mtime_ns: Optional[int] = None
    raw_mode = metadata.get(MODE_KEY)
    if isinstance(raw_mode, str) and raw_mode.isdigit():
        try:
            mode = int(raw_mode, 8) & 0o7777
        except ValueError:
            mode = None
    raw = metadata.get(MTIME_KEY)
    if isinstance(raw, str) and raw:
        sec, _, frac = raw.strip().partition(".")
        try:
            if frac and not frac.isdigit():
                raise ValueError(raw)
            mtime_ns = int(sec) * _NS + int((frac + "0" * 9)[:9] or 0)
        except ValueError:
            mtime_ns = None
    return mode, mtime_ns
