"""A bucket as directories, for the fsspec filesystem (``fsspec_fs``): paths split into bucket and
object name, fsspec's entry dicts, and which names ``ls`` and ``find`` show under a path.
Sans-I/O and free of fsspec (the filesystem lists the objects and resolves links).

Directories come from ``/`` in object names, as in S3 filesystems: ``a/b/c`` implies the
pseudo-directories ``a`` and ``a/b``, which exist while some object is under them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from .models import ObjectInfo

__all__ = ["Listing", "dir_entry", "file_entry", "find_names", "ls_names", "split_path"]


def split_path(path: str) -> tuple[str, str]:
    """``("bucket", "name/of/object")`` for ``bucket/name/of/object`` (protocol already stripped)."""
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket, key


def file_entry(bucket: str, info: ObjectInfo, target: Optional[ObjectInfo] = None) -> dict[str, Any]:
    """fsspec's entry for an object; for a link, ``target`` (the object it names) gives the data
    fields and ``link`` says where it points."""
    data = target or info
    entry = {
        "name": f"{bucket}/{info.name}",
        "size": data.size,
        "type": "file",
        "mtime": data.mtime,
        "digest": data.digest,
        "chunks": data.chunks,
        "nuid": data.nuid,
        "description": info.description,
    }
    if target is not None and info.link is not None:
        entry["link"] = f"{info.link.bucket}/{info.link.name}"
    return entry


def dir_entry(name: str) -> dict[str, Any]:
    return {"name": name, "size": 0, "type": "directory"}


@dataclass
class Listing:
    """What a path shows: object names to list as files, pseudo-directory names (both relative to
    the bucket, sorted), and whether an object has exactly the path's name."""

    files: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    exact: bool = False


def ls_names(key: str, names: Iterable[str]) -> Listing:
    """The direct children of ``key`` (``""``: the bucket's top level)."""
    prefix = f"{key}/" if key else ""
    out = Listing()
    dirs: set[str] = set()
    for name in names:
        if key and name == key:
            out.exact = True
        if not name.startswith(prefix) or name == prefix:
            continue
        child, sep, _ = name[len(prefix) :].partition("/")
        if sep:
            dirs.add(prefix + child)
        else:
            out.files.append(name)
    out.files.sort()
    out.dirs = sorted(dirs)
    return out


def find_names(key: str, names: Iterable[str], maxdepth: Optional[int] = None) -> Listing:
    """Everything under ``key`` down to ``maxdepth`` levels: the objects, and the pseudo-
    directories on their way (those of deeper objects too, down to ``maxdepth``)."""
    prefix = f"{key}/" if key else ""
    out = Listing()
    dirs: set[str] = set()
    for name in names:
        if key and name == key:
            out.exact = True
            continue
        if not name.startswith(prefix) or name == prefix:
            continue
        parts = name[len(prefix) :].split("/")
        deep = maxdepth is not None and len(parts) > maxdepth
        for depth in range(1, min(len(parts) - 1, maxdepth or len(parts)) + 1):
            dirs.add(prefix + "/".join(parts[:depth]))
        if not deep:
            out.files.append(name)
    out.files.sort()
    out.dirs = sorted(dirs)
    return out
