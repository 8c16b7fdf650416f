"""Owns the local side of ``objstore sync`` and of the recursive ``put``/``get``: walking a
directory into relative ``/`` names (:func:`scan`), hashing a file, and where an object may be
written under a directory (:func:`target_path`): never outside it, never through a symlink.

Walking: regular files become entries, an empty directory a folder marker (``name/``); symlinks
are skipped with a note unless ``follow`` (then loops are cut), and so are FIFOs, sockets,
devices and names that are not UTF-8. Leftover temp files of a killed sync
(:data:`SYNC_TEMP_SUFFIX`) are listed for removal, never synced.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from dataclasses import dataclass, field
from typing import Optional

from ..chunks import encode_digest
from ..sync_plan import Entry, unsafe_reason

__all__ = ["SYNC_TEMP_SUFFIX", "Scan", "UnsafeTarget", "scan", "hash_file", "target_path"]

SYNC_TEMP_SUFFIX = ".objstore-sync-part"
_HASH_BLOCK = 1024 * 1024


@dataclass
class Scan:
    """A walked directory: ``files`` by relative name, ``paths`` (name -> local path), what was
    ``skipped`` (name, why) and the ``leftovers`` (temp files of an earlier, killed sync)."""

    files: dict[str, Entry] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def scan(root: str, follow: bool = False, markers: bool = True) -> Scan:
    """Walk ``root`` (iteratively; a missing root is an OSError). ``markers``: an empty
    directory becomes a folder-marker entry ``name/`` of size 0."""
    out = Scan()
    top = os.stat(root)
    seen = {(top.st_dev, top.st_ino)}
    stack: list[tuple[str, str]] = [(root, "")]
    while stack:
        directory, rel = stack.pop()
        try:
            with os.scandir(directory) as it:
                children = list(it)
        except OSError as e:
            out.skipped.append((rel or ".", f"cannot read it: {e.strerror or e}"))
            continue
        if not children and rel and markers:
            out.files[rel] = Entry(rel, 0)
            out.paths[rel] = directory
            continue
        for child in children:
            name = rel + child.name
            if not _utf8(child.name):
                out.skipped.append((os.fsdecode(name).encode("utf-8", "backslashreplace").decode(), "its name is not UTF-8"))
                continue
            if child.name.endswith(SYNC_TEMP_SUFFIX):
                out.leftovers.append(child.path)
                continue
            try:
                is_link = child.is_symlink()
                if is_link and not follow:
                    out.skipped.append((name, "a symlink (--follow follows symlinks)"))
                    continue
                st = child.stat(follow_symlinks=True)
            except OSError as e:
                out.skipped.append((name, "a dangling symlink" if isinstance(e, FileNotFoundError) else str(e.strerror or e)))
                continue
            if stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    out.skipped.append((name, "a directory already synced (a symlink loop)"))
                    continue
                seen.add(key)
                stack.append((child.path, name + "/"))
            elif stat.S_ISREG(st.st_mode):
                out.files[name] = Entry(name, st.st_size, mtime_ns=st.st_mtime_ns, mode=stat.S_IMODE(st.st_mode))
                out.paths[name] = child.path
            else:
                out.skipped.append((name, "not a regular file (a FIFO, socket or device)"))
    return out


def hash_file(path: str, stop: Optional[threading.Event] = None) -> tuple[str, int, int]:
    """``(wire digest, size, mtime_ns)`` of the file as read; blocking (run it in a thread).
    ``stop`` (set on Ctrl-C) ends a long read early with an OSError."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        before = os.fstat(f.fileno())
        while True:
            if stop is not None and stop.is_set():
                raise OSError(f"{path}: hashing stopped")
            block = f.read(_HASH_BLOCK)
            if not block:
                break
            h.update(block)
        after = os.fstat(f.fileno())
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
        raise OSError(f"{path}: changed while it was read")
    return encode_digest(h.digest()), after.st_size, after.st_mtime_ns


class UnsafeTarget(Exception):
    """An object that cannot be written under the directory: reported and skipped."""


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def target_path(root: str, name: str, create: bool = True) -> str:
    """The local path of relative object ``name`` under ``root`` (a real path), creating the
    parent directories when ``create``. :class:`UnsafeTarget` when the name cannot be a file
    there (:func:`objstore.sync_plan.unsafe_reason`), when a parent is a symlink or a file,
    when the path would resolve outside ``root``, or when the target itself is a symlink."""
    why = unsafe_reason(name)
    if why:
        raise UnsafeTarget(f"object name {name!r} cannot be a file here ({why})")
    parts = name.rstrip("/").split("/")
    current = root
    for i, part in enumerate(parts):
        current = os.path.join(current, part)
        last = i == len(parts) - 1
        try:
            st: Optional[os.stat_result] = os.lstat(current)
        except FileNotFoundError:
            st = None
        if st is None:
            if not last or name.endswith("/"):
                if not create:
                    continue
                os.mkdir(current)
            continue
        if stat.S_ISLNK(st.st_mode):
            raise UnsafeTarget(f"{name!r}: {current} is a symlink (not written through)")
        if not last and not stat.S_ISDIR(st.st_mode):
            raise UnsafeTarget(f"{name!r}: {current} is not a directory")
        if last and name.endswith("/") and not stat.S_ISDIR(st.st_mode):
            raise UnsafeTarget(f"{name!r}: {current} is a file, not a directory")
        if last and not name.endswith("/") and stat.S_ISDIR(st.st_mode):
            raise UnsafeTarget(f"{name!r}: {current} is a directory")
    parent = os.path.realpath(os.path.dirname(current))
    if not _inside(parent, root):
        raise UnsafeTarget(f"{name!r}: {current} would be outside {root}")
    return current
