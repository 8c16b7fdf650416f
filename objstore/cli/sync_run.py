"""Owns carrying out a directory-sync plan: hashing the local files a comparison needs (digest
cache first), then uploading, downloading and deleting with ``N`` transfers at a time, one
overall progress bar, and per-file failures collected instead of ending the run.

A download goes to a temp file beside its target (:data:`~.local_tree.SYNC_TEMP_SUFFIX`), is
verified by the library's reader, gets the recorded mode and mtime, is fsync'ed and only then
renamed into place; any failure or Ctrl-C removes the temp file. An upload records the file's
mode and mtime as object metadata. It must not decide what to transfer (``sync_plan`` does)
nor parse arguments (``commands/sync.py`` does).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable, Optional

from jetstream import StreamSealedError
from protocol import ConnectionClosedError, NatsError

from .. import BucketNotFoundError, DigestMismatchError, ObjectInfo
from ..reader import write_all
from ..sync_plan import Entry, file_metadata, parse_file_metadata
from .digest_cache import DigestCache
from .local_tree import SYNC_TEMP_SUFFIX, UnsafeTarget, hash_file, target_path
from .output import file_mode, fsync_dir
from .runtime import CliError, Ctx, describe_error

__all__ = ["FATAL", "MAX_FAILURES_IN_A_ROW", "Stats", "Syncer", "run_bounded"]

MAX_FAILURES_IN_A_ROW = 20  # then the rest is not attempted (a lost server fails everything)
# Errors that end a bulk run at once instead of being collected per object.
FATAL = (StreamSealedError, BucketNotFoundError, ConnectionClosedError)


@dataclass
class Stats:
    copied: int = 0
    copied_bytes: int = 0
    deleted: int = 0
    hashed: int = 0
    hashed_bytes: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    not_synced: list[tuple[str, str]] = field(default_factory=list)  # unsafe targets: reported, skipped
    changed_while_read: list[str] = field(default_factory=list)


async def run_bounded(ctx: Ctx, items: Iterable[Any], concurrency: int, fn: Callable[[Any], Awaitable[None]]) -> None:
    """``await fn(item)`` for every item, ``concurrency`` at a time. The first exception stops
    the workers from taking more items; the transfers already under way finish (a put cut off
    half-way would only leave chunks to purge), then it is raised. A signal
    (:meth:`Ctx.check_interrupted`, or the command's task cancelled) stops everything at once.
    No TaskGroup: Python 3.10 is supported."""
    it = iter(items)
    errors: list[Exception] = []

    async def worker() -> None:
        for item in it:
            if errors:
                return
            ctx.check_interrupted()
            try:
                await fn(item)
            except Exception as e:  # noqa: BLE001 - kept and raised below (CancelledError is not one)
                errors.append(e)
                return

    tasks = [asyncio.ensure_future(worker()) for _ in range(max(1, concurrency))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()  # only still running when this task itself was cancelled (Ctrl-C)
        await asyncio.gather(*tasks, return_exceptions=True)
    if errors:
        raise errors[0]
    ctx.check_interrupted()


def _mtime_ns(info: ObjectInfo) -> Optional[int]:
    """The mtime a download gives the file: the one a sync recorded, else the object's."""
    _, mtime_ns = parse_file_metadata(info.metadata)
    if mtime_ns is None and info.mtime is not None:
        mtime_ns = int(info.mtime.timestamp()) * 1_000_000_000 + info.mtime.microsecond * 1000
    return mtime_ns


class Syncer:
    """One sync run between local ``root`` and ``store`` under ``prefix`` (``""`` or ``p/``)."""

    def __init__(self, ctx: Ctx, store: Any, root: str, prefix: str, cache: Optional[DigestCache],
                 concurrency: int, follow: bool = False) -> None:
        self.ctx = ctx
        self.store = store
        self.root = root
        self.prefix = prefix
        self.cache = cache
        self.concurrency = max(1, concurrency)
        self.follow = follow
        self.stats = Stats()
        self._done: dict[str, int] = {}
        self._moved = 0
        self._bar: Any = None
        self._in_a_row = 0
        self._directories: set[str] = set()

    # Running items N at a time ----------------------------------------------------------------
    async def _pool(self, items: Iterable[Any], fn: Callable[[Any], Awaitable[None]], what: Callable[[Any], str]) -> None:
        async def one(item: Any) -> None:
            try:
                await fn(item)
                self._in_a_row = 0
            except UnsafeTarget as e:
                self.stats.not_synced.append((what(item), str(e)))
            except FATAL:
                raise  # every other transfer would fail the same way: the error in the user's words
            except (NatsError, OSError, CliError) as e:
                self.stats.failed.append((what(item), describe_error(e)))
                self._in_a_row += 1
                if self._in_a_row >= MAX_FAILURES_IN_A_ROW:
                    raise CliError(f"{self._in_a_row} transfers failed in a row (last: {what(item)}: "
                                   f"{describe_error(e)}); stopped") from e

        await run_bounded(self.ctx, items, self.concurrency, one)

    # Local digests -----------------------------------------------------------------------------
    async def fill_digests(self, names: list[str], local: dict[str, Entry], paths: dict[str, str]) -> None:
        """Give the named local entries their digest: from the cache when size and mtime match,
        else by reading the file (in worker threads)."""
        assert self.cache is not None, "fill_digests needs the digest cache"
        todo = []
        for name in names:
            e = local[name]
            cached = self.cache.get(name, e.size, e.mtime_ns or 0)
            if cached:
                local[name] = Entry(e.name, e.size, cached, e.mtime_ns, e.mode)
            else:
                todo.append(name)

        async def one(name: str) -> None:
            e = local[name]
            digest, size, mtime_ns = await asyncio.to_thread(hash_file, paths[name], stop)
            self.cache.put(name, size, mtime_ns, digest)
            self.stats.hashed += 1
            self.stats.hashed_bytes += size
            local[name] = Entry(e.name, size, digest, mtime_ns, e.mode)

        stop = threading.Event()
        try:
            await self._pool(todo, one, str)
        except BaseException:
            stop.set()  # threads still reading a large file end at their next block
            raise

    # Progress ------------------------------------------------------------------------------------
    def start(self, total: int, label: str) -> None:
        self._bar = self.ctx.bar(total, label)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def _progress(self, name: str) -> Callable[[int, Optional[int]], None]:
        def progress(done: int, _total: Optional[int]) -> None:
            self.ctx.check_interrupted()
            self._moved += done - self._done.get(name, 0)
            self._done[name] = done
            if self._bar is not None:
                self._bar(self._moved)
        return progress

    def _finished(self, name: str, size: int) -> None:
        self._moved += size - self._done.pop(name, 0)
        if self._bar is not None:
            self._bar(self._moved)
        self.stats.copied += 1
        self.stats.copied_bytes += size

    # Upload ----------------------------------------------------------------------------------------
    async def upload_all(self, entries: list[Entry], paths: dict[str, str]) -> None:
        await self._pool(entries, lambda e: self._upload(e, paths[e.name]), lambda e: e.name)

    async def _upload(self, entry: Entry, path: str) -> None:
        name = self.prefix + entry.name
        if entry.is_folder:
            st = os.stat(path)
            await self.store.put(name, b"", metadata=file_metadata(st.st_mode, st.st_mtime_ns))
            self._finished(entry.name, 0)
            return
        flags = os.O_RDONLY | os.O_CLOEXEC | (0 if self.follow else os.O_NOFOLLOW)
        with open(os.open(path, flags), "rb") as f:
            before = os.fstat(f.fileno())
            info = await self.store.put(
                name, f, metadata=file_metadata(before.st_mode, before.st_mtime_ns),
                size_hint=before.st_size, progress=self._progress(entry.name),
            )
            after = os.fstat(f.fileno())
        unchanged = (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)
        if unchanged and info.size == after.st_size:
            if self.cache is not None:
                self.cache.put(entry.name, info.size, after.st_mtime_ns, info.digest)
        else:
            self.stats.changed_while_read.append(entry.name)
            if self.cache is not None:
                self.cache.forget(entry.name)
        self._finished(entry.name, info.size)

    async def delete_remote(self, entries: list[Entry]) -> None:
        async def one(e: Entry) -> None:
            await self.store.delete(self.prefix + e.name)
            self.stats.deleted += 1
        await self._pool(entries, one, lambda e: e.name)

    # Download --------------------------------------------------------------------------------------
    async def download_all(self, entries: list[Entry], infos: dict[str, ObjectInfo]) -> None:
        await self._pool(entries, lambda e: self._download(e, infos[e.name]), lambda e: infos[e.name].name)

    async def _download(self, entry: Entry, listed: ObjectInfo) -> None:
        path = target_path(self.root, entry.name)
        if entry.is_folder:
            mtime_ns = _mtime_ns(listed)
            if mtime_ns is not None:
                os.utime(path, ns=(mtime_ns, mtime_ns))
            self._finished(entry.name, 0)
            return
        directory = os.path.dirname(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)[:80]}.", suffix=SYNC_TEMP_SUFFIX, dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                # The version read now (it may have been replaced since the listing): its info
                # gives the mode, mtime and digest recorded below.
                reader = await self.store.reader(listed.name, idle_timeout=self.ctx.idle_timeout)
                info = reader.info
                async with reader:
                    await write_all(reader, f, self._progress(entry.name))
                if not reader.verified:
                    raise DigestMismatchError(f"object {info.name!r}: the transfer ended before it could be verified")
                f.flush()
                await asyncio.to_thread(os.fsync, f.fileno())  # fsyncs of parallel downloads overlap
            mode, _ = parse_file_metadata(info.metadata)
            mtime_ns = _mtime_ns(info)
            os.chmod(tmp, (mode & 0o777) if mode is not None else file_mode(path))
            if mtime_ns is not None:
                os.utime(tmp, ns=(mtime_ns, mtime_ns))
            self.ctx.check_interrupted()
            target_path(self.root, entry.name)  # still safe: no symlink appeared meanwhile
            os.replace(tmp, path)
            self._directories.add(directory)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        if self.cache is not None:
            st = os.stat(path)
            self.cache.put(entry.name, st.st_size, st.st_mtime_ns, info.digest, time.time_ns())
        self._finished(entry.name, info.size)

    def sync_directories(self) -> None:
        """fsync each directory downloads were renamed into (once each, at the end)."""
        for directory in sorted(self._directories):
            fsync_dir(directory)
        self._directories.clear()

    def delete_local(self, entries: list[Entry]) -> None:
        for e in entries:
            self.ctx.check_interrupted()
            try:
                path = target_path(self.root, e.name, create=False)
                if e.is_folder:
                    try:
                        os.rmdir(path)
                    except OSError:
                        continue  # not empty any more: keep it
                else:
                    os.unlink(path)
                if self.cache is not None:
                    self.cache.forget(e.name)
                self.stats.deleted += 1
            except UnsafeTarget as err:
                self.stats.not_synced.append((e.name, str(err)))
            except OSError as err:
                self.stats.failed.append((e.name, describe_error(err)))
