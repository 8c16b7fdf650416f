"""``Hasher``: where an object's SHA-256 runs, inline or overlapped with network I/O in one worker
thread where the machine has cores to spare. Must not know about chunks, sizes or the digest's
wire form (``chunks.ChunkVerifier`` feeds it and encodes what it returns).

``hashlib`` releases the GIL while hashing buffers of 2 KiB and more, so with more than two
cores large chunks are hashed in one worker thread (a single worker keeps the updates in order)
while the event loop goes on sending or receiving. On one or two cores the server and the client
already use them all: measured on 2 cores, inline hashing was 10-25% faster for 64 MiB puts, so
there everything is hashed inline. Small inputs are always hashed inline. At most ``max_queued``
chunks wait for the worker; beyond that the caller waits for the oldest (bounded memory).
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Optional

__all__ = ["Hasher"]

_POOL: Optional[ThreadPoolExecutor] = None
_THREAD_MIN = 32 * 1024 if (os.cpu_count() or 1) > 2 else 1 << 62


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="objstore-sha256")
    return _POOL


class Hasher:
    """A running SHA-256: ``update(chunk)`` in order, then ``digest()`` (waits for the worker)."""

    __slots__ = ("_sha", "_queued", "_max_queued")

    def __init__(self, max_queued: int = 16) -> None:
        self._sha = hashlib.sha256()
        self._queued: deque[Future] = deque()
        self._max_queued = max_queued

    def update(self, chunk: bytes) -> None:
        queued = self._queued
        if len(chunk) < _THREAD_MIN:
            if queued:
                self._wait_all()
            self._sha.update(chunk)
            return
        while queued and queued[0].done():
            queued.popleft().result()
        if len(queued) >= self._max_queued:
            queued.popleft().result()
        queued.append(_pool().submit(self._sha.update, chunk))

    def _wait_all(self) -> None:
        queued = self._queued
        while queued:
            queued.popleft().result()

    def digest(self) -> bytes:
        self._wait_all()
        return self._sha.digest()

    def snapshot(self) -> "hashlib._Hash":
        """A copy of the running SHA-256 as it is now (waits for the worker): resumable puts
        keep one per chunk in flight, to record the digest of the acknowledged prefix."""
        self._wait_all()
        return self._sha.copy()

    @classmethod
    def continuing(cls, sha: "hashlib._Hash") -> "Hasher":
        """A hasher that goes on from ``sha`` (a prefix already hashed elsewhere)."""
        hasher = cls()
        hasher._sha = sha
        return hasher
