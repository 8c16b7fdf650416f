"""Owns ``objstore sync``'s local digest cache and its lock: one JSON file per synced directory in
``$XDG_CACHE_HOME/objstore`` (else ``~/.cache/objstore``), mapping each file's relative name to
its size, mtime (ns) and SHA-256, so a second sync of unchanged files reads no file contents.

An entry is used only when size and mtime_ns both match, and only when the file's mtime was at
least :data:`RACY_NS` older than the moment it was hashed (git's "racy" rule: a file changed
again within the file system's timestamp granularity would otherwise keep its old digest).
A lock file beside it lets one sync at a time use a directory; a cache that cannot be read is
started afresh, one that cannot be written only costs the next sync some hashing.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import tempfile
import time
from typing import Any, Optional

from .runtime import CliError

__all__ = ["DigestCache", "cache_dir", "RACY_NS"]

RACY_NS = 2_000_000_000  # coarse file systems keep mtimes in 1-2 s steps
_VERSION = 1


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "objstore")


class DigestCache:
    """The digests of the files under ``root``: :meth:`get` before hashing, :meth:`put` after
    hashing, uploading or downloading, :meth:`save` at the end (also after a failure)."""

    def __init__(self, root: str, directory: Optional[str] = None) -> None:
        self.root = os.path.realpath(root)
        self.directory = directory or cache_dir()
        key = hashlib.sha256(os.fsencode(self.root)).hexdigest()[:32]
        self.path = os.path.join(self.directory, f"digests-{key}.json")
        self.entries: dict[str, list[Any]] = {}
        self.hits = 0
        self.dirty = False
        self._lock_fd: Optional[int] = None

    # The lock ---------------------------------------------------------------------------------
    def lock(self) -> None:
        """Take the directory's lock (one sync at a time); a CliError when another sync has it.
        Without a usable cache directory the sync runs unlocked and uncached."""
        try:
            os.makedirs(self.directory, exist_ok=True)
            fd = os.open(self.path[: -len(".json")] + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise CliError(f"{self.root}: another objstore sync is using this directory") from None
            return
        self._lock_fd = fd

    @property
    def locked(self) -> bool:
        return self._lock_fd is not None

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    # The entries ------------------------------------------------------------------------------
    def load(self) -> None:
        try:
            with open(self.path, "rb") as f:
                doc = json.load(f)
        except (OSError, ValueError):
            return
        if not isinstance(doc, dict) or doc.get("version") != _VERSION or doc.get("root") != self.root:
            return
        entries = doc.get("entries")
        if isinstance(entries, dict):
            self.entries = {k: v for k, v in entries.items() if isinstance(v, list) and len(v) == 4}

    def get(self, name: str, size: int, mtime_ns: int) -> Optional[str]:
        entry = self.entries.get(name)
        if entry is None:
            return None
        e_size, e_mtime, digest, hashed_ns = entry
        if e_size != size or e_mtime != mtime_ns or not isinstance(digest, str) or not isinstance(hashed_ns, int):
            return None
        if mtime_ns >= hashed_ns - RACY_NS:
            return None
        self.hits += 1
        return digest

    def put(self, name: str, size: int, mtime_ns: int, digest: str, hashed_ns: Optional[int] = None) -> None:
        """Record ``digest`` for the file as it was (``size``, ``mtime_ns``) when it was read at
        ``hashed_ns`` (default: now, which the caller must only use after the read ended)."""
        self.entries[name] = [size, mtime_ns, digest, hashed_ns if hashed_ns is not None else time.time_ns()]
        self.dirty = True

    def forget(self, name: str) -> None:
        if self.entries.pop(name, None) is not None:
            self.dirty = True

    def keep_only(self, names: Any) -> None:
        """Drop the entries of files that no longer exist (``names``: those that do)."""
        gone = [n for n in self.entries if n not in names]
        for n in gone:
            del self.entries[n]
        self.dirty = self.dirty or bool(gone)

    def save(self) -> None:
        """Write the cache atomically (temp file, rename); failures are ignored."""
        if not self.dirty:
            return
        doc = {"version": _VERSION, "root": self.root, "entries": self.entries}
        try:
            os.makedirs(self.directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".digests-", suffix=".tmp", dir=self.directory)
        except OSError:
            return
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(doc, f, separators=(",", ":"), ensure_ascii=False)
            os.replace(tmp, self.path)
            self.dirty = False
        except (OSError, ValueError):
            try:
                os.unlink(tmp)
            except OSError:
                pass
