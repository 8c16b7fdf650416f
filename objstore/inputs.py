"""Input adapters for ``put``: what ``put`` accepts (:func:`check_source`, the one rule) and how
each accepted kind becomes ``bytes`` chunks of at most ``chunk_size`` (:func:`resolve_source`,
picked once per put). Must not publish, hash or know about subjects: the writer does that.

Accepted (``put``'s docstring and the README say the same): bytes-like objects (``bytes``,
``bytearray``, ``memoryview`` and anything else with the buffer protocol, e.g. ``array.array``);
``str`` (stored as UTF-8); a binary file object (``read(n)`` returning bytes-likes); an iterable or
async iterable whose items are bytes-likes. Everything else raises
:class:`UnsupportedSourceError` before anything is published: ``None``, numbers, a dict or any
mapping (iterating it gives keys), a set (no order), a text-mode file (``io.TextIOBase`` or a
``mode`` without ``"b"``), a closed or write-only file, and items that are not bytes-likes (ints
from a list of ints, ``str`` items: encode them yourself). Lists and tuples are checked item by
item up front; a generator's items are checked as they come, and the first bad one fails the
put before it is published (the chunks before it are purged like any failed put's).

``bytes`` become read-only memoryview slices (no copy: the connection passes views over
immutable bytes to the transport as they are); other bytes-likes are copied once per chunk,
since the caller may change them; files are read in large blocks in a worker thread so the event
loop never blocks on disk; async and sync iterables are re-chunked through one reused
``bytearray``.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping, Set
from typing import Any, AsyncIterator, Callable, Iterator, Optional, Union

from .errors import BadObjectMetaError, UnsupportedSourceError

__all__ = ["Chunk", "ResolvedSource", "Source", "check_source", "iter_chunks", "resolve_source"]

Source = Union[bytes, bytearray, memoryview, str, Any]
Chunk = Union[bytes, memoryview]

_FILE_BLOCK = 4 * 1024 * 1024
_ACCEPTED = "bytes, bytearray, memoryview (or another bytes-like), str, a binary file or an (async) iterable of bytes-likes"


def _is_bytes_like(obj: Any) -> bool:
    """Has the buffer protocol (bytes-like), whatever else it is (array.array is iterable too)."""
    try:
        memoryview(obj).release()
    except TypeError:
        return False
    return True


def _bytes_view(obj: Any) -> memoryview:
    """A flat byte view of a bytes-like ``obj``, or UnsupportedSourceError."""
    try:
        view = memoryview(obj)
    except TypeError:
        raise UnsupportedSourceError(f"cannot put {type(obj).__name__}: use {_ACCEPTED}") from None
    try:
        return view.cast("B") if view.format != "B" or view.ndim != 1 else view
    except TypeError:  # not C-contiguous: one copy makes it flat
        return memoryview(view.tobytes())
    except ValueError as err:  # a released view
        raise UnsupportedSourceError(f"cannot put this memoryview: {err}") from None


def _piece(item: Any) -> Union[bytes, bytearray, memoryview]:
    """One item of an (async) iterable source, checked before it is used."""
    if isinstance(item, (bytes, bytearray)):
        return item
    if isinstance(item, str):
        raise UnsupportedSourceError("items of an iterable source must be bytes-likes, not str: encode them first")
    try:
        return _bytes_view(item)
    except UnsupportedSourceError:
        raise UnsupportedSourceError(
            f"items of an iterable source must be bytes-likes, not {type(item).__name__}"
        ) from None


def _check_file(data: Any) -> None:
    if isinstance(data, io.TextIOBase):
        raise UnsupportedSourceError("cannot put a text-mode file: open it in binary mode ('rb')")
    mode = getattr(data, "mode", None)
    binary = isinstance(data, (io.BufferedIOBase, io.RawIOBase))  # e.g. zipfile's, whose mode is "r"
    if not binary and isinstance(mode, str) and "b" not in mode:
        raise UnsupportedSourceError(f"cannot put a file opened with mode {mode!r}: open it in binary mode ('rb')")
    if getattr(data, "closed", False) is True:
        raise UnsupportedSourceError("cannot put a closed file")
    readable = getattr(data, "readable", None)
    if callable(readable):
        try:
            ok = readable()
        except (OSError, ValueError):
            ok = False
        if ok is False:
            raise UnsupportedSourceError("cannot put a file that is not open for reading")


def check_source(data: Any) -> None:
    """Raise :class:`UnsupportedSourceError` (a ``TypeError``) unless ``put`` accepts ``data``.

    Reads nothing and does not start iterators; list and tuple items are checked here (they are
    in memory already), a generator's items by :func:`iter_chunks` as they come."""
    if isinstance(data, (bytes, bytearray, str)):
        return
    if data is None:
        raise UnsupportedSourceError("cannot put None: use b'' for an empty object")
    if callable(getattr(data, "read", None)):
        _check_file(data)
        return
    if isinstance(data, Mapping):
        raise UnsupportedSourceError(f"cannot put a {type(data).__name__}: a mapping is not bytes (serialize it first)")
    if isinstance(data, Set):
        raise UnsupportedSourceError(f"cannot put a {type(data).__name__}: a set has no order; use {_ACCEPTED}")
    if _is_bytes_like(data):
        return
    if isinstance(data, (list, tuple)):
        for item in data:
            _piece(item)
        return
    if hasattr(data, "__aiter__") or hasattr(data, "__iter__"):
        return
    raise UnsupportedSourceError(f"cannot put {type(data).__name__}: use {_ACCEPTED}")


async def _as_async(items: Any) -> AsyncIterator[Any]:
    for item in items:
        yield item


def _total_of(data: Any) -> Optional[int]:
    """The size known up front: for bytes, bytearray and memoryview only (a str's is not
    counted without encoding it, a file's or an iterable's is not known)."""
    if isinstance(data, (bytes, bytearray)):
        return len(data)
    if isinstance(data, memoryview):
        return data.nbytes
    return None


class ResolvedSource:
    """A checked ``put`` input, its adapter picked once. ``total``: its size when known up front.
    ``chunks(chunk_size)`` is the async iterator of its chunks (one pass)."""

    __slots__ = ("data", "total", "chunks")

    def __init__(self, data: Any, total: Optional[int], chunks: Callable[[Any, int], AsyncIterator[Chunk]]) -> None:
        self.data = data
        self.total = total
        self.chunks: Callable[[int], AsyncIterator[Chunk]] = lambda chunk_size: chunks(data, chunk_size)


def resolve_source(data: Source) -> ResolvedSource:
    """Check ``data`` (:func:`check_source`) and pick its adapter. Raises UnsupportedSourceError."""
    check_source(data)
    total = _total_of(data)
    if isinstance(data, str):
        return ResolvedSource(data.encode("utf-8"), total, _bytes_chunks)
    if isinstance(data, bytes):
        return ResolvedSource(data, total, _bytes_chunks)
    if callable(getattr(data, "read", None)):
        return ResolvedSource(data, total, _file_chunks)
    if _is_bytes_like(data):
        return ResolvedSource(data, total, _buffer_chunks)
    return ResolvedSource(data, total, _iterable_chunks)


def iter_chunks(data: Source, chunk_size: int) -> AsyncIterator[Chunk]:
    """The chunks of ``data``. Raises :class:`UnsupportedSourceError` for a source or an item
    ``put`` does not accept (for the source at once, for an item before that item's bytes)."""
    if chunk_size < 1:
        raise BadObjectMetaError("chunk size must be positive")
    return resolve_source(data).chunks(chunk_size)


def _slices(data: bytes, chunk_size: int) -> Iterator[Chunk]:
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


async def _bytes_chunks(data: bytes, chunk_size: int) -> AsyncIterator[Chunk]:
    for chunk in _slices(data, chunk_size):
        yield chunk


async def _file_chunks(data: Any, chunk_size: int) -> AsyncIterator[Chunk]:
    loop = asyncio.get_running_loop()
    read = data.read
    block = max(chunk_size, (_FILE_BLOCK // chunk_size) * chunk_size)
    while True:
        buf = await loop.run_in_executor(None, read, block)
        if isinstance(buf, str):
            raise UnsupportedSourceError("the file returned str: open it in binary mode ('rb')")
        if not buf:
            return
        buf = _piece(buf)
        for chunk in _slices(buf if isinstance(buf, bytes) else bytes(buf), chunk_size):
            yield chunk


async def _buffer_chunks(data: Any, chunk_size: int) -> AsyncIterator[Chunk]:
    """bytearray, memoryview, other buffers: one copy per chunk (the caller may change them)."""
    view = _bytes_view(data)
    try:
        for i in range(0, len(view), chunk_size):
            yield bytes(view[i : i + chunk_size])
    finally:
        view.release()


async def _iterable_chunks(data: Any, chunk_size: int) -> AsyncIterator[Chunk]:
    pieces = data if hasattr(data, "__aiter__") else _as_async(data)
    pending = bytearray()
    async for piece in pieces:
        pending += _piece(piece)
        while len(pending) >= chunk_size:
            yield bytes(pending[:chunk_size])
            del pending[:chunk_size]
    if pending:
        yield bytes(pending)
