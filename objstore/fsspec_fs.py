"""``NatsObjFileSystem``: the object store as an fsspec filesystem, ``natsobj://bucket/path/to/obj``
(the optional extra ``natsobj[fsspec]``). The only module that imports fsspec; nothing in the
library imports this one, so the runtime keeps zero dependencies.

``fsspec.filesystem("natsobj", servers="nats://host:4222")``, ``fsspec.open("natsobj://b/x.csv")``,
``pandas.read_csv("natsobj://b/x.csv", storage_options={"servers": ...})``. The connection comes
from storage options (``servers=`` or ``url=``, ``user``/``password``, ``token``, ``creds``,
``nkey_seed``, any other ``protocol.connect`` keyword in ``connect_options={...}``), else the
environment variable ``NATS_URL``, else ``nats://127.0.0.1:4222``.

Async model: a subclass of ``fsspec.asyn.AsyncFileSystem``, fsspec's own pattern. The sync
methods (``ls``, ``cat_file``, ``open``...) run the ``_``-prefixed coroutines on fsspec's shared
IO-loop thread, where the connection lives (made on first use, one per filesystem instance,
which fsspec caches per storage options); ``asynchronous=True`` runs them on the caller's loop.
``fs.close()`` (``await fs._close()``) closes the connection.

Directories come from ``/`` in object names, as in S3 filesystems: ``a/b/c`` makes pseudo-
directories ``bucket/a`` and ``bucket/a/b``, which exist while an object is under them. The root
lists the buckets. ``mkdir``/``makedirs`` of a bucket creates it; of anything deeper they do
nothing. ``rm(path, recursive=True)`` deletes every object under the prefix (the bucket stays).

Reads: a whole-object ``cat_file`` is verified (size, chunk count, SHA-256). A range
(``cat_file(start=, end=)``, ``open('rb')`` + ``seek``/``read``) is the store's ranged
``get(offset=, length=)``: only the chunks covering it are fetched, checked chunk by chunk
(count, sequence, sizes) but not against the whole-object digest, which a range cannot be; a
range covering the whole object is verified like a full get. Writes (``open('wb')``) spool to
a temporary file (memory up to 8 MiB, then disk) and put the object on ``close()``: leaving the
``with`` block with an exception, or a file never closed, writes nothing.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from contextlib import contextmanager
from typing import Any, Iterator, Optional

import fsspec
from fsspec.asyn import AsyncFileSystem, sync
from fsspec.callbacks import DEFAULT_CALLBACK

from .errors import BadRangeError, BucketNotFoundError, ObjectNotFoundError
from .fs_listing import dir_entry, file_entry, find_names, ls_names, split_path
from .fsspec_file import NatsObjFile
from .manager import Client, JetStreamContext, connect
from .models import ObjectInfo
from .store import ObjectStore

__all__ = ["NatsObjFile", "NatsObjFileSystem", "register"]

PROTOCOL = "natsobj"


@contextmanager
def _as_fs_errors(path: str) -> Iterator[None]:
    """Missing objects and buckets as FileNotFoundError (what fsspec, pandas, pyarrow expect)."""
    try:
        yield
    except (ObjectNotFoundError, BucketNotFoundError) as err:  # ObjectDeletedError included
        raise FileNotFoundError(f"{PROTOCOL}://{path}: {err}") from err


class NatsObjFileSystem(AsyncFileSystem):
    """fsspec filesystem over the object store: paths ``bucket/name``, URLs ``natsobj://bucket/name``."""

    protocol = (PROTOCOL,)
    root_marker = ""

    def __init__(
        self,
        servers: Any = None,
        *,
        url: Any = None,
        user: Optional[str] = None,
        password: Optional[str] = None,
        token: Optional[str] = None,
        creds: Optional[str] = None,
        nkey_seed: Optional[str] = None,
        connect_options: Optional[dict[str, Any]] = None,
        js_timeout: float = 5.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.servers = servers or url or os.environ.get("NATS_URL") or None
        given = {"user": user, "password": password, "token": token, "creds": creds, "nkey_seed": nkey_seed}
        self.connect_options = {k: v for k, v in given.items() if v is not None}
        self.connect_options.update(connect_options or {})
        self.js_timeout = js_timeout
        self._client: Optional[Client] = None
        self._js: Optional[JetStreamContext] = None
        self._stores: dict[str, ObjectStore] = {}
        self._lock: Optional[asyncio.Lock] = None

    # Connection ---------------------------------------------------------------------------
    async def _jetstream(self) -> JetStreamContext:
        if self._js is not None and self._client is not None and not self._client.is_closed:
            return self._js
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._js is None or self._client is None or self._client.is_closed:
                self._client = await connect(self.servers, **self.connect_options)
                self._js = self._client.jetstream(timeout=self.js_timeout)
                self._stores.clear()
        return self._js

    async def _store(self, bucket: str) -> ObjectStore:
        js = await self._jetstream()
        store = self._stores.get(bucket)
        if store is None:
            with _as_fs_errors(bucket):
                store = self._stores[bucket] = await js.object_store(bucket)
        return store

    async def _close(self) -> None:
        client, self._client, self._js = self._client, None, None
        self._stores.clear()
        if client is not None and not client.is_closed:
            await client.close()

    def store(self, bucket: str) -> ObjectStore:
        """The bucket's :class:`ObjectStore` on this filesystem's connection (its loop: use it
        from the filesystem's own coroutines, or read plain attributes such as ``fetch_stats``)."""
        return sync(self.loop, self._store, bucket)

    def close(self) -> None:
        """Close the connection (a later call reconnects)."""
        if self.asynchronous:
            raise RuntimeError("use `await fs._close()` on an asynchronous filesystem")
        sync(self.loop, self._close)

    # Paths and listing (the directory logic is objstore.fs_listing) ----------------------------
    def split_path(self, path: str) -> tuple[str, str]:
        """``("bucket", "name/of/object")`` for ``natsobj://bucket/name/of/object``."""
        return split_path(self._strip_protocol(path))

    async def _entry(self, bucket: str, info: ObjectInfo) -> dict[str, Any]:
        """A file entry; a link's carries its target's size, digest and mtime."""
        link = info.link
        if link is None or not link.name:
            return file_entry(bucket, info)
        return file_entry(bucket, info, await (await self._store(link.bucket)).get_info(link.name))

    async def _objects(self, bucket: str) -> dict[str, ObjectInfo]:
        store = await self._store(bucket)
        with _as_fs_errors(bucket):
            infos = await store.list()
        return {i.name: i for i in infos if not i.is_bucket_link}

    async def _ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        bucket, key = self.split_path(path)
        if not bucket:
            out = [dir_entry(name) for name in await (await self._jetstream()).object_store_names()]
        else:
            objects = await self._objects(bucket)
            listing = ls_names(key, objects)
            out = [await self._entry(bucket, objects[n]) for n in listing.files]
            out = sorted(out + [dir_entry(f"{bucket}/{d}") for d in listing.dirs], key=lambda e: e["name"])
            if not out and listing.exact:
                out = [await self._entry(bucket, objects[key])]  # ls of a file: the file
            elif not out and key:
                raise FileNotFoundError(f"{PROTOCOL}://{bucket}/{key}")
        return out if detail else [e["name"] for e in out]

    async def _info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        bucket, key = self.split_path(path)
        if not bucket:
            return dir_entry("")
        store = await self._store(bucket)
        if not key:
            return dir_entry(bucket)
        try:
            info = await store.get_info(key)
        except ObjectNotFoundError:
            prefix = key + "/"
            if any(name.startswith(prefix) for name in await self._objects(bucket)):
                return dir_entry(f"{bucket}/{key}")
            raise FileNotFoundError(f"{PROTOCOL}://{bucket}/{key}") from None
        with _as_fs_errors(path):
            return await self._entry(bucket, info)

    async def _find(self, path: str, maxdepth: Optional[int] = None, withdirs: bool = False, **kwargs: Any) -> Any:
        """One listing per bucket (not one per pseudo-directory)."""
        detail = kwargs.pop("detail", False)
        bucket, key = self.split_path(path)
        buckets = [bucket] if bucket else await (await self._jetstream()).object_store_names()
        out: dict[str, dict[str, Any]] = {}
        for b in buckets:
            objects = await self._objects(b)
            listing = find_names(key, objects, maxdepth)
            base = f"{b}/{key}" if key else b
            if listing.exact:
                out[base] = await self._entry(b, objects[key])
            elif withdirs and (listing.files or listing.dirs or not key):
                out[base] = dir_entry(base)  # the path itself, when it is a directory
            for name in listing.files:
                out[f"{b}/{name}"] = await self._entry(b, objects[name])
            if withdirs:
                out.update((f"{b}/{d}", dir_entry(f"{b}/{d}")) for d in listing.dirs)
        names = sorted(out)
        return {n: out[n] for n in names} if detail else names

    # Reading ----------------------------------------------------------------------------------
    async def _cat_file(self, path: str, start: Optional[int] = None, end: Optional[int] = None, **kwargs: Any) -> bytes:
        try:
            return await self._cat_object(path, start, end)
        except FileNotFoundError:
            if await self._isdir(path):
                raise IsADirectoryError(f"{PROTOCOL}://{self._strip_protocol(path)} is a directory") from None
            raise

    async def _cat_object(self, path: str, start: Optional[int], end: Optional[int]) -> bytes:
        bucket, key = self.split_path(path)
        store = await self._store(bucket)
        with _as_fs_errors(path):
            if not start and end is None:
                return await store.get(key)  # the whole object, verified
            if (start or 0) < 0 or (end is not None and end < 0):
                size = (await self._info(path))["size"]
                start = max(0, size + start) if start and start < 0 else start
                end = max(0, size + end) if end is not None and end < 0 else end
            start = start or 0
            if end is not None and end <= start:
                return b""
            return await self._read_range(store, key, start, end)

    @staticmethod
    async def _read_range(store: ObjectStore, key: str, start: int, end: Optional[int]) -> bytes:
        """Bytes ``[start, end)`` (to the end when ``end`` is None) by the store's ranged get, which
        fetches only the chunks covering them; past the end: ``b""``, as fsspec expects."""
        start = int(start)
        try:
            return await store.get(key, offset=start, length=None if end is None else int(end) - start)
        except BadRangeError:
            if start > 0:  # the only bad range left after the checks above: offset past the end
                return b""
            raise

    async def _get_file(self, rpath: str, lpath: str, callback: Any = DEFAULT_CALLBACK, **kwargs: Any) -> None:
        """Download to ``lpath`` through a temporary file beside it, renamed when verified."""
        if os.path.isdir(lpath):
            return
        bucket, key = self.split_path(rpath)
        store = await self._store(bucket)
        folder = os.path.dirname(os.path.abspath(lpath))
        fd, tmp = tempfile.mkstemp(prefix=".natsobj-", suffix=".part", dir=folder)
        try:
            with _as_fs_errors(rpath), os.fdopen(fd, "wb") as f:
                await store.get(key, writeinto=f, progress=lambda done, total: _progress(callback, done, total))
            os.replace(tmp, lpath)
        except BaseException:
            os.unlink(tmp)
            raise

    # Writing ----------------------------------------------------------------------------------
    async def _refuse_existing(self, path: str, mode: str) -> None:
        """``mode="create"``: FileExistsError when the object exists (checked first: not atomic
        against another writer of the same name)."""
        if mode == "create" and await self._exists(path):
            raise FileExistsError(f"{PROTOCOL}://{self._strip_protocol(path)}")

    async def _pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        await self._refuse_existing(path, mode)
        bucket, key = self.split_path(path)
        store = await self._store(bucket)
        await store.put(key, value)
        self.invalidate_cache(path)

    async def _put_file(self, lpath: str, rpath: str, callback: Any = DEFAULT_CALLBACK, mode: str = "overwrite", **kwargs: Any) -> None:
        if os.path.isdir(lpath):
            return  # pseudo-directories need no creating
        await self._refuse_existing(rpath, mode)
        bucket, key = self.split_path(rpath)
        store = await self._store(bucket)
        with open(lpath, "rb") as f:
            await self._put_fileobj(store, key, f, callback)

    @staticmethod
    async def _put_fileobj(store: ObjectStore, key: str, f: Any, callback: Any = DEFAULT_CALLBACK) -> None:
        await store.put(key, f, progress=lambda done, total: _progress(callback, done, total))

    async def _upload(self, path: str, f: Any) -> None:
        bucket, key = self.split_path(path)
        store = await self._store(bucket)
        await self._put_fileobj(store, key, f)
        self.invalidate_cache(path)

    def put_fileobj(self, path: str, f: Any) -> None:
        """Put an open binary file (an ``open('wb')`` spool) as the object at ``path``."""
        sync(self.loop, self._upload, path, f)

    async def _cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """Copy an object (across buckets too), streamed: read and verified by chunks, put as new.
        A failed read fails the put, which leaves nothing behind; description, headers and
        metadata are copied."""
        (b1, k1), (b2, k2) = self.split_path(path1), self.split_path(path2)
        src, dst = await self._store(b1), await self._store(b2)
        with _as_fs_errors(path1):
            info = await src.get_info(k1)
            await dst.put(k2, src.stream(k1), description=info.description, headers=info.headers, metadata=info.metadata, size_hint=info.size)
        self.invalidate_cache(path2)

    async def _rm_file(self, path: str, **kwargs: Any) -> None:
        bucket, key = self.split_path(path)
        store = await self._store(bucket)
        with _as_fs_errors(path):
            await store.get_info(key)  # a deleted object is gone here (delete() would mark it again)
            await store.delete(key)
        self.invalidate_cache(path)

    async def _rm(self, path: Any, recursive: bool = False, maxdepth: Optional[int] = None, **kwargs: Any) -> None:
        """Delete objects; pseudo-directories go when nothing is left under them. Buckets stay."""
        paths = await self._expand_path(path, recursive=recursive, maxdepth=maxdepth)
        dirs: set[str] = set()
        for q in paths:  # every proper prefix of an expanded path is a (pseudo-)directory
            parent = q.rpartition("/")[0]
            while parent and parent not in dirs:
                dirs.add(parent)
                parent = parent.rpartition("/")[0]
        for p in paths:
            if not self.split_path(p)[1] or p in dirs:
                continue
            try:
                await self._rm_file(p)
            except FileNotFoundError:
                if not await self._isdir(p):
                    raise

    async def _mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        bucket, key = self.split_path(path)
        if bucket and not key:  # a bucket: created when missing; deeper paths need nothing
            try:
                await self._store(bucket)
            except FileNotFoundError:
                await (await self._jetstream()).create_object_store(bucket=bucket, **kwargs)

    async def _makedirs(self, path: str, exist_ok: bool = False) -> None:
        await self._mkdir(path)

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: Any = None,
        autocommit: bool = True,
        cache_options: Optional[dict[str, Any]] = None,
        **kwargs: Any,
    ) -> NatsObjFile:
        if mode not in ("rb", "wb", "xb"):
            raise ValueError(f"{PROTOCOL}: mode {mode!r} is not supported (only 'rb', 'wb' and 'xb')")
        if mode == "xb" and self.exists(path):
            raise FileExistsError(f"{PROTOCOL}://{self._strip_protocol(path)}")
        return NatsObjFile(self, path, mode, block_size=block_size, autocommit=autocommit, cache_options=cache_options, **kwargs)

    def modified(self, path: str) -> Any:
        return self.info(path)["mtime"]


def _progress(callback: Any, done: int, total: Optional[int]) -> None:
    if total is not None:
        callback.set_size(total)
    callback.absolute_update(done)


def register(clobber: bool = True) -> None:
    """Register ``natsobj://`` with fsspec (the ``fsspec.specs`` entry point does it when the
    package is installed; this does it for a source checkout)."""
    fsspec.register_implementation(PROTOCOL, NatsObjFileSystem, clobber=clobber)


register()
