"""Owns the CLI's output forms: the ``--json`` documents of an object and of a bucket, aligned
tables and ``Key: value`` blocks, and the human forms of times, sizes, durations and links.

Pure functions: nothing here talks to a server, reads arguments or decides an exit code.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from .. import ObjectInfo, ObjectStoreStatus
from ..config import user_metadata
from .progress import format_size


def iso_time(dt: Optional[datetime], precise: bool = False) -> Optional[str]:
    """A UTC ISO 8601 time with ``Z`` (seconds in tables, microseconds with ``precise``)."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    dt = dt.astimezone(timezone.utc)
    if precise and dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def exact_size(n: int) -> str:
    return f"{format_size(n)} ({n} byte{'s' if n != 1 else ''})"


def human_duration(seconds: Optional[float]) -> str:
    if not seconds:
        return "none"
    s = float(seconds)
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            n = int(s // size)
            out.append(f"{n}{unit}")
            s -= n * size
    if s or not out:
        out.append(f"{s:g}s")
    return "".join(out)


def info_to_json(info: ObjectInfo) -> dict[str, Any]:
    link = info.link
    return {
        "name": info.name,
        "bucket": info.bucket,
        "size": info.size,
        "chunks": info.chunks,
        "chunk_size": info.chunk_size,
        "digest": info.digest or None,
        "digest_hex": info.digest_hex or None if info.digest else None,
        "mtime": iso_time(info.mtime, precise=True),
        "deleted": bool(info.deleted),
        "description": info.description,
        "headers": info.headers.to_lists() if info.headers else {},
        "metadata": dict(info.metadata) if info.metadata else {},
        "link": None if link is None else {"bucket": link.bucket, "name": link.name},
        "nuid": info.nuid or None,
        "expires": iso_time(info.expires, precise=True) if info.expires else None,
    }


def status_to_json(st: ObjectStoreStatus) -> dict[str, Any]:
    cfg = st.stream_info.config if st.stream_info is not None else None
    max_bytes = getattr(cfg, "max_bytes", None)
    return {
        "bucket": st.bucket,
        "description": st.description,
        "objects": st.count,
        "size": st.size,
        "storage": st.storage,
        "replicas": st.replicas,
        "sealed": st.sealed,
        "ttl_seconds": st.ttl.total_seconds() if st.ttl else None,
        "max_bytes": max_bytes if max_bytes and max_bytes > 0 else None,
        "compression": st.compression,
        "fast_ingest": st.fast_ingest,
        "allow_msg_ttl": st.allow_msg_ttl,
        "metadata": user_metadata(st.metadata),  # without the server's own _nats.* keys
        "backing_store": st.backing_store,
        "stream": getattr(cfg, "name", None),
    }


# Bucket settings as ``edit`` and ``add`` name them: (label, --json key of status_to_json).
SETTINGS = {
    "description": ("description", "description"),
    "ttl": ("ttl", "ttl_seconds"),
    "max_bytes": ("max size", "max_bytes"),
    "storage": ("storage", "storage"),
    "replicas": ("replicas", "replicas"),
    "compression": ("compression", "compression"),
    "fast_ingest": ("fast ingest", "fast_ingest"),
    "metadata": ("metadata", "metadata"),
    "sealed": ("sealed", "sealed"),
}


def setting_text(key: str, value: Any) -> str:
    """A bucket setting's value as a person reads it (``1h``, ``1.0 GiB``, ``unlimited``, ...)."""
    if key == "description":
        return repr(value) if value else "none"
    if key in ("ttl", "ttl_seconds"):
        return human_duration(value)
    if key == "max_bytes":
        return format_size(value) if value and value > 0 else "unlimited"
    if key == "compression":
        return "s2" if value else "none"
    if key in ("fast_ingest", "sealed"):
        return "yes" if value else "no"
    if key == "metadata":
        return ", ".join(f"{k}={v}" for k, v in sorted((value or {}).items())) or "none"
    return str(value)


def setting_changes(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, str, Any, Any]]:
    """``(label, --json key, before, after)`` for each bucket setting that differs between two
    ``status_to_json`` documents; ``setting_text(key, value)`` shows a value."""
    return [(label, key, before.get(key), after.get(key))
            for label, key in SETTINGS.values() if before.get(key) != after.get(key)]


def print_table(rows: list[list[str]], headers: list[str], right: set[int], out: Any) -> None:
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: list[str]) -> str:
        parts = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)]
        return "  ".join(parts).rstrip()

    out.write(line(headers) + "\n")
    for row in rows:
        out.write(line(row) + "\n")
    out.flush()


def one_line(text: Optional[str], limit: int = 60) -> str:
    if not text:
        return ""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def link_text(info: ObjectInfo) -> str:
    link = info.link
    if link is None:
        return ""
    return f"bucket {link.bucket}" if not link.name else f"{link.bucket}/{link.name}"


def print_pairs(lines: list[tuple[str, str]], out: Any) -> None:
    width = max(len(k) for k, _ in lines) + 1
    for k, v in lines:
        out.write(f"{(k + ':').ljust(width)} {v}\n".rstrip() + "\n")
    out.flush()
