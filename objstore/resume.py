"""Resumable puts across processes (``put(..., resume=True)``, CLI ``put --resume``): where the
resume state lives, when it is trusted, and how an earlier attempt's stored prefix is verified.

The state. One small JSON file per (bucket, object name, source file), in ``state_dir``
(default ``$NATSOBJ_RESUME_DIR``, else ``$XDG_CACHE_HOME/natsobj/resume``, else
``~/.cache/natsobj/resume``), named by a SHA-256 of the bucket, the name and the file's real path
(device and inode without one). It holds the file's identity (path, device, inode, size, mtime),
the attempt's nuid, chunk size and its latest
checkpoint: ``chunks`` acknowledged in order, the SHA-256 of exactly those chunks of the file, and
the stream sequence of the last one. The writer rewrites it (atomically, at most every
``CHECKPOINT_EVERY`` seconds) as acks arrive. Nothing goes into the stream that other clients
could misread: chunks carry only a ``Nats-Msg-Id`` of ``<nuid>.<index>``.

Resuming (:func:`prepare`). The stored chunk count of the nuid's chunk subject comes from
STREAM.INFO ``subjects_filter``. The local file's first ``chunks`` chunks are rehashed and must
give the checkpoint's digest; chunks the server stored after the checkpoint are read back (one
message get each, from the checkpoint's sequence on) and compared byte for byte with the file. Then
the put publishes only the rest; its digest still covers the whole object.

Discarded (a fresh put with a new nuid, the stale chunks purged): on success; when the file's
identity or the chunk size changed; when the stream holds fewer chunks than the checkpoint (they
were swept, purged or expired; ``store.sweep()`` removes a killed put's chunks once they are
``older_than`` old, 1 hour by default, which is therefore the resume horizon); when the prefix or
a read-back chunk differs. A state whose nuid a live meta already names means the earlier
attempt finished: the whole file is rehashed and, if its digest matches, that object is returned.
With ``resume=True`` a failed put keeps its chunks and state for the next attempt (they show as
orphans meanwhile) instead of purging them. A lock on the state file keeps two resumes of one
file apart.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import stat
import time
from pathlib import Path
from typing import Any, Optional

from jetstream import MessageNotFoundError
from protocol import next_nuid

from .bucket import Bucket
from .cleanup import purge_replaced
from .chunks import encode_digest
from .errors import BadObjectMetaError, ObjectStoreError, UnsupportedSourceError
from .models import ObjectInfo, parse_meta

try:  # POSIX only; elsewhere resumes of one file are not kept apart
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = ["ResumeSession", "prepare", "state_dir", "CHECKPOINT_EVERY"]

CHECKPOINT_EVERY = 0.25  # seconds between state rewrites during a put
_VERSION = 1
_READ_BLOCK = 4 * 1024 * 1024


def state_dir(override: Optional[str] = None) -> Path:
    if override:
        return Path(override)
    env = os.environ.get("NATSOBJ_RESUME_DIR")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "natsobj" / "resume"


def _identity(fileobj: Any) -> dict[str, Any]:
    """The source file's identity; UnsupportedSourceError unless a regular, seekable file."""
    try:
        st = os.fstat(fileobj.fileno())
        seekable = fileobj.seekable()
    except (AttributeError, OSError, ValueError):
        raise UnsupportedSourceError("resume=True needs a binary file object opened on a regular file") from None
    if not stat.S_ISREG(st.st_mode) or not seekable:
        raise UnsupportedSourceError("resume=True needs a regular, seekable file")
    name = getattr(fileobj, "name", None)
    path = os.path.realpath(name) if isinstance(name, str) else ""
    return {"path": path, "dev": st.st_dev, "ino": st.st_ino, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


class ResumeSession:
    """One resumable put: its state file (locked), nuid, what was found stored, and the
    checkpoints the writer records (``sent``, ``acked``) until ``done`` or ``keep``."""

    def __init__(self, path: Path, doc: dict[str, Any], fd: Optional[int]) -> None:
        self.path = path
        self.doc = doc
        self._fd = fd
        self.nuid: str = doc["nuid"]
        self.stored = 0  # chunks found stored (and verified) at the start
        self.skipped_bytes = 0  # their bytes: not sent again
        self.verified_bytes = 0  # bytes read back from the server to verify them
        self.discarded: Optional[str] = None  # why an earlier attempt was not resumed
        self.prefix: Any = hashlib.sha256()  # the SHA-256 of the ``stored`` chunks
        self.complete: Optional[ObjectInfo] = None  # the earlier attempt had finished: its info
        self.live = False  # a live meta names the nuid: its chunks are never purged here
        self._snaps: dict[int, Any] = {}  # chunk count -> SHA-256 copy, for chunks in flight
        self._last_write = 0.0

    # Checkpoints (the writer's hooks) -------------------------------------------------------
    def sent(self, count: int, sha: Any) -> None:
        self._snaps[count] = sha

    def acked(self, count: int, last_seq: int, force: bool = False) -> None:
        """``count`` chunks (this attempt's and the earlier ones') are acknowledged in order, the
        last at stream sequence ``last_seq``: record it, at most every CHECKPOINT_EVERY s."""
        snaps = self._snaps
        if count not in snaps or count <= self.doc["chunks"]:
            return
        now = time.monotonic()
        if not force and now - self._last_write < CHECKPOINT_EVERY:
            return
        self.doc.update(chunks=count, digest=snaps[count].hexdigest(), seq=last_seq, updated=time.time())
        for k in [k for k in snaps if k <= count]:
            del snaps[k]
        self._write()

    def _write(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.doc), encoding="utf-8")
        os.replace(tmp, self.path)
        self._last_write = time.monotonic()

    def done(self) -> None:
        """The put succeeded: the state goes."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        self._unlock()

    def keep(self) -> None:
        """The put failed: the state (and the chunks) stay for the next attempt."""
        self._unlock()

    def _unlock(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _lock(path: Path) -> Optional[int]:
    if fcntl is None:
        return None
    fd = os.open(str(path.with_suffix(".lock")), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise ObjectStoreError(f"another resumable put of this file is running (lock {path.with_suffix('.lock')})") from None
    return fd


async def prepare(
    bucket: Bucket, name: str, fileobj: Any, chunk_size: int, directory: Optional[str], cleanup_timeout: float
) -> ResumeSession:
    """The session of a resumable put of ``fileobj`` (the whole file) as ``name``: an earlier
    attempt's nuid with its stored prefix verified (``stored`` chunks, the file positioned after
    them and ``session.prefix`` the SHA-256 of them), or a fresh one. See the module docstring."""
    ident = _identity(fileobj)
    root = state_dir(directory)
    root.mkdir(parents=True, exist_ok=True)
    where = ident["path"] or f"{ident['dev']}:{ident['ino']}"  # a changed file finds its old state
    key = hashlib.sha256(json.dumps([bucket.name, name, where]).encode()).hexdigest()[:32]
    path = root / f"{key}.json"
    fd = _lock(path)
    try:
        doc = _load(path)
        fresh = {"version": _VERSION, "bucket": bucket.name, "name": name, "source": ident, "chunk_size": chunk_size,
                 "nuid": next_nuid(), "chunks": 0, "digest": "", "seq": 0, "created": time.time()}
        why = _mismatch(doc, bucket.name, name, ident, chunk_size)
        session = ResumeSession(path, doc if why is None else fresh, fd)
        if why is None:
            why = await _verify(bucket, name, session, fileobj, chunk_size)
        if why is not None:
            old = doc.get("nuid") if doc is not None else None
            if isinstance(old, str) and old and not session.live and why != "no earlier attempt":
                await purge_replaced(bucket, old, cleanup_timeout)
            session = ResumeSession(path, fresh, fd)
            session.discarded = why
        if session.complete is not None:
            return session
        await asyncio.to_thread(fileobj.seek, session.stored * chunk_size)
        session._write()
        return session
    except BaseException:
        if fd is not None:
            os.close(fd)
        raise


def _load(path: Path) -> Optional[dict[str, Any]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("version") == _VERSION else None


def _mismatch(doc: Optional[dict[str, Any]], bucket: str, name: str, ident: dict[str, Any], chunk_size: int) -> Optional[str]:
    if doc is None:
        return "no earlier attempt"
    if doc.get("bucket") != bucket or doc.get("name") != name or doc.get("source") != ident:
        return "the file changed"
    if doc.get("chunk_size") != chunk_size:
        return "another chunk size"
    if not isinstance(doc.get("nuid"), str) or not isinstance(doc.get("chunks"), int) or not isinstance(doc.get("seq"), int):
        return "unreadable state"
    return None


async def _verify(bucket: Bucket, name: str, session: ResumeSession, fileobj: Any, cs: int) -> Optional[str]:
    """Check the earlier attempt's stored chunks against the file; None when they match (then
    ``session.stored``/``prefix`` are set, or ``complete`` when it had finished), else why not."""
    doc = session.doc
    fd = fileobj.fileno()
    meta = await bucket.last_on_leader(bucket.meta_subject(name))
    if meta is not None:
        try:
            info = parse_meta(meta.data)
        except BadObjectMetaError:
            info = None
        if info is not None and info.nuid == session.nuid and not info.deleted:
            session.live = True
            sha = hashlib.sha256()
            await asyncio.to_thread(_hash_range, fd, sha, 0, doc["source"]["size"])
            if encode_digest(sha.digest()) != info.digest:
                return "the earlier attempt finished with other content"
            info.mtime = meta.time or info.mtime
            session.complete = info
            return None
    subject = bucket.chunk_subject(session.nuid)
    si = await bucket.info(subjects_filter=subject)
    stored = int((si.state.subjects or {}).get(subject, 0))
    checkpoint = doc["chunks"]
    if stored == 0:
        return "nothing of the earlier attempt is stored"
    if stored < checkpoint:
        return f"the stream holds {stored} of its {checkpoint} checkpointed chunks (swept, purged or expired)"
    if stored > -(-doc["source"]["size"] // cs):
        return "more chunks are stored than the file has"
    sha = hashlib.sha256()
    digest = await asyncio.to_thread(_hash_range, fd, sha, 0, checkpoint * cs)
    if checkpoint and digest != doc["digest"]:
        return "the file's prefix differs from what was uploaded"
    seq = doc["seq"]
    for index in range(checkpoint, stored):
        try:
            msg = await bucket.js.get_msg(bucket.stream, seq=seq + 1, next_by_subj=subject)
        except MessageNotFoundError:
            return "a stored chunk after the checkpoint is missing"
        local = await asyncio.to_thread(os.pread, fd, cs, index * cs)
        session.verified_bytes += len(msg.data)
        if msg.data != local:
            return f"stored chunk {index} differs from the file"
        sha.update(local)
        seq = msg.seq
    session.stored = stored
    session.skipped_bytes = min(stored * cs, doc["source"]["size"])
    session.prefix = sha  # type: ignore[attr-defined]
    return None


def _hash_range(fd: int, sha: Any, offset: int, length: int) -> str:
    end = offset + length
    while offset < end:
        block = os.pread(fd, min(_READ_BLOCK, end - offset), offset)
        if not block:
            break
        sha.update(block)
        offset += len(block)
    return sha.copy().hexdigest()
