"""``SyncObjectFile``: an object as a synchronous, seekable ``io.RawIOBase`` for code that wants a
plain binary file (``zipfile``, ``tarfile``, ``pyarrow``); wrap it in ``io.BufferedReader``.

It owns a private event loop running in a daemon thread, and its own connection on that loop
(asyncio objects belong to one loop, so it cannot borrow the caller's): ``store.open_sync(name)``
copies the store's connection options (servers, auth, TLS) and JetStream prefix, and
``objstore.open_sync(url, bucket, name, **connect_options)`` takes what ``objstore.connect``
takes; both hand this class an ``opener`` coroutine function that connects on the private loop. Every call (``readinto``, ``seek``, ``tell``) hands a coroutine to that loop and
blocks for its result, at most ``timeout`` seconds. ``close()`` closes the object file and the
connection, then stops the loop and joins the thread. Reads are those of
:class:`~objstore.seekable.ObjectFile` (chunks checked, no SHA-256, sequential prefetch).

Must not be used from inside its own loop, hold object logic (``seekable`` does) or import the
store or the manager (they import this module).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import threading
from typing import Any, Awaitable, Callable, Optional, TypeVar

from protocol import NatsTimeoutError

from .ranges import FetchStats
from .seekable import ObjectFile

__all__ = ["SyncObjectFile"]

T = TypeVar("T")


class SyncObjectFile(io.RawIOBase):
    """``with store.open_sync(name) as raw: zipfile.ZipFile(io.BufferedReader(raw))``.

    ``opener`` is a coroutine function run on the private loop that connects and returns
    ``(object_file, connection)``; ``store.open_sync`` and ``objstore.open_sync(url, bucket,
    name)`` build it. Raises what the opener raises (ObjectNotFoundError ...) from the constructor."""

    def __init__(self, opener: Callable[[], Awaitable[tuple[ObjectFile, Any]]], *, timeout: float = 60.0) -> None:
        super().__init__()
        self._timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="objstore-sync-file", daemon=True)
        self._thread.start()
        self._nc: Any = None
        self._file: Optional[ObjectFile] = None
        try:
            self._file, self._nc = self._call(opener())
            self._stats: FetchStats = self._file.fetch_stats
        except BaseException:
            self._stop()
            raise

    def _call(self, coro: Awaitable[T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)  # type: ignore[arg-type]
        try:
            return future.result(self._timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise NatsTimeoutError(f"object file call took more than {self._timeout}s") from None

    # What callers read -------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return self._obj.size

    @property
    def info(self) -> Any:
        return self._obj.info

    @property
    def name(self) -> str:  # type: ignore[override]
        return self._obj.name

    @property
    def fetch_stats(self) -> FetchStats:
        """What this file's reads moved (its own store's counters; readable after close)."""
        return self._stats

    @property
    def _obj(self) -> ObjectFile:
        if self._file is None:
            raise ValueError("I/O operation on a closed object file")
        return self._file

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        self._checkClosed()  # type: ignore[attr-defined]
        return self._call(self._obj.readinto(buffer))

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        self._checkClosed()  # type: ignore[attr-defined]
        return self._call(_sync(self._obj.seek, pos, whence))

    def tell(self) -> int:
        self._checkClosed()  # type: ignore[attr-defined]
        return self._obj.tell()  # a plain attribute read: no loop hop needed

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._loop.is_running():
                self._call(self._aclose())
        finally:
            self._stop()
            super().close()

    async def _aclose(self) -> None:
        file, self._file = self._file, None
        try:
            if file is not None:
                await file.close()
        finally:
            if self._nc is not None:
                await self._nc.close()

    def _stop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(self._timeout)
        if not self._thread.is_alive():
            self._loop.close()


async def _sync(fn: Any, *args: Any) -> Any:
    return fn(*args)
