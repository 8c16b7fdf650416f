"""Chunking a source for ``put``: every accepted input kind becomes an async iterator of
``bytes`` chunks of at most ``chunk_size`` (the last may be shorter).

``bytes`` become read-only memoryview slices (no copy: the connection passes views over
immutable bytes to the transport as they are); bytearray and memoryview sources are copied once
per chunk, since the caller may change them;
files are read in large blocks in a worker thread so the event loop never blocks on disk;
async and sync iterables are re-chunked through one reused ``bytearray``.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Union

from .errors import BadObjectMetaError

__all__ = ["iter_chunks", "Source"]

Source = Union[bytes, bytearray, memoryview, str, Any]

_FILE_BLOCK = 4 * 1024 * 1024


async def _as_async(items: Any) -> AsyncIterator[Any]:
    for item in items:
        yield item


async def iter_chunks(data: Source, chunk_size: int) -> AsyncIterator[Union[bytes, memoryview]]:
    if chunk_size < 1:
        raise BadObjectMetaError("chunk size must be positive")
    if isinstance(data, str):
        data = data.encode("utf-8")
    if isinstance(data, bytes):
        n = len(data)
        if n <= chunk_size:
            if n:
                yield data
            return
        # Read-only views over the immutable bytes: no copy here, and the publish path passes
        # such views through to the transport untouched.
        view = memoryview(data)
        for i in range(0, n, chunk_size):
            yield view[i : i + chunk_size]
        return
    if isinstance(data, (bytearray, memoryview)):
        view = memoryview(data).cast("B") if isinstance(data, memoryview) else memoryview(data)
        try:
            for i in range(0, len(view), chunk_size):
                yield bytes(view[i : i + chunk_size])
        finally:
            view.release()
        return
    read = getattr(data, "read", None)
    if callable(read):
        loop = asyncio.get_running_loop()
        block = max(chunk_size, (_FILE_BLOCK // chunk_size) * chunk_size)
        while True:
            buf = await loop.run_in_executor(None, read, block)
            if isinstance(buf, str):
                raise BadObjectMetaError("file objects must be opened in binary mode")
            if not buf:
                return
            async for chunk in iter_chunks(bytes(buf) if not isinstance(buf, bytes) else buf, chunk_size):
                yield chunk
    if hasattr(data, "__aiter__") or hasattr(data, "__iter__"):
        pieces = data if hasattr(data, "__aiter__") else _as_async(data)
        pending = bytearray()
        async for piece in pieces:
            if isinstance(piece, str):
                piece = piece.encode("utf-8")
            pending += piece
            while len(pending) >= chunk_size:
                yield bytes(pending[:chunk_size])
                del pending[:chunk_size]
        if pending:
            yield bytes(pending)
        return
    raise BadObjectMetaError(
        f"cannot put {type(data).__name__}: use bytes, bytearray, memoryview, str, a binary file or an (async) iterable of bytes"
    )
