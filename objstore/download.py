"""Downloads into a file that survive being killed: :func:`download` (CLI ``get -o FILE --resume``).

The bytes go to ``FILE.part`` beside the target, with a small state file ``FILE.part.json`` that
names the object version (bucket, name, nuid, digest, size, chunk size). A later call with
``resume=True`` finds them, keeps the whole chunks of the part file (a torn last chunk is cut
off), rehashes them, and fetches the rest with a ranged read (``store.stream(name, offset=...)``,
only the chunks from there on). The final check covers the whole object: the SHA-256 of the part
file, old bytes and new, must be the meta's digest, and its size the object's; only then is the
part file fsync'ed and renamed onto FILE. A part file of another version (the object was
replaced: other nuid or digest), or one whose final digest does not match, is thrown away and the
object fetched whole (a mismatch raises DigestMismatchError after removing it). Links are
followed; a link's target is what the state names.

Must not choose where to write (the caller gives the path) nor verify chunks itself (the reader
and the ranged read do that; here only the whole-file digest is checked).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from typing import Any, Callable, Optional

from .chunks import encode_digest
from .errors import DigestMismatchError
from .models import ObjectInfo

__all__ = ["download", "PART_SUFFIX"]

PART_SUFFIX = ".part"
_STATE_SUFFIX = ".part.json"
_VERSION = 1
_READ_BLOCK = 4 * 1024 * 1024
_WRITE_BATCH = 4 * 1024 * 1024


async def download(
    store: Any,
    name: str,
    path: str,
    *,
    resume: bool = False,
    progress: Optional[Callable[[int, Optional[int]], Any]] = None,
) -> ObjectInfo:
    """Fetch object ``name`` into ``path`` through ``path.part``; with ``resume``, carry on from
    an earlier part file of the same version. Returns the object's info with ``transfer``
    (``resumed_bytes`` kept from the part file, ``received_bytes`` fetched now). Raises what a
    get raises; on a failure other than a digest mismatch the part file and state stay."""
    reader = await store.reader(name)  # resolves links; reads nothing until iterated
    info: ObjectInfo = reader.info
    part, state_path = path + PART_SUFFIX, path + _STATE_SUFFIX
    want = {"version": _VERSION, "bucket": info.bucket, "name": info.name, "nuid": info.nuid,
            "digest": info.digest, "size": info.size, "chunk_size": info.chunk_size}
    sha = hashlib.sha256()
    offset = 0
    if resume and _load(state_path) == want and os.path.exists(part):
        offset = await asyncio.to_thread(_keep_whole_chunks, part, sha, info.chunk_size or 0, info.size)
    else:
        with open(part, "wb"):
            pass
    _save(state_path, want)
    received = 0
    with open(part, "r+b") as f:
        f.seek(offset)
        pending: list[bytes] = []
        npending = 0
        if offset == 0:  # the whole object: the ordinary verified read
            pieces: Any = reader
        else:
            pieces = store.stream(name, offset)
        try:
            async for piece in pieces:
                data = bytes(piece)
                sha.update(data)
                pending.append(data)
                npending += len(data)
                received += len(data)
                if npending >= _WRITE_BATCH:
                    await asyncio.to_thread(f.writelines, pending)
                    pending, npending = [], 0
                if progress is not None:
                    progress(offset + received, info.size)
            if pending:
                await asyncio.to_thread(f.writelines, pending)
            f.truncate()
        finally:
            if offset == 0:
                await reader.close()
        if offset + received != info.size or encode_digest(sha.digest()) != info.digest:
            f.close()
            _discard(part, state_path)
            raise DigestMismatchError(
                f"object {info.name!r}: the downloaded file does not match its digest and size "
                f"({offset} bytes resumed, {received} fetched); the part file was removed"
            )
        f.flush()
        os.fsync(f.fileno())
    os.replace(part, path)
    _discard(state_path)
    info.transfer = {"resumed_bytes": offset, "received_bytes": received}
    return info


def _keep_whole_chunks(part: str, sha: Any, chunk_size: int, size: int) -> int:
    """Cut the part file to whole chunks (or to the object's size when it has all of it), hash
    what stays; returns its length."""
    have = os.path.getsize(part)
    if have >= size:  # all there (killed before the rename): the final digest decides
        keep = size
    else:
        keep = have - have % chunk_size if chunk_size > 0 else 0
    with open(part, "r+b") as f:
        f.truncate(keep)
        done = 0
        while done < keep:
            block = f.read(min(_READ_BLOCK, keep - done))
            if not block:
                break
            sha.update(block)
            done += len(block)
    return done


def _load(path: str) -> Optional[dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _save(path: str, doc: dict[str, Any]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    os.replace(tmp, path)


def _discard(*paths: str) -> None:
    for p in paths:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
