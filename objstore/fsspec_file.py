"""``NatsObjFile``: a file opened on a :class:`~objstore.fsspec_fs.NatsObjFileSystem` ('rb', 'wb'
or 'xb'), part of the optional fsspec extra (imports fsspec; only ``fsspec_fs`` imports it).

Reading fetches byte ranges through fsspec's read-ahead cache (``_fetch_range`` calls the
filesystem's ``cat_file``). Writing spools to a temporary file (in memory up to 8 MiB, then on
disk) and puts the whole object at ``close()``, or at ``commit()`` inside an fsspec transaction;
``discard()``, an exception leaving the ``with`` block, or an unclosed file being garbage
collected write nothing, so a half-written object never appears.
"""

from __future__ import annotations

import tempfile
from typing import Any

from fsspec.spec import AbstractBufferedFile

__all__ = ["SPOOL_IN_MEMORY", "NatsObjFile"]

SPOOL_IN_MEMORY = 8 * 1024 * 1024


class NatsObjFile(AbstractBufferedFile):
    """A file of a :class:`NatsObjFileSystem`. Reading fetches ranges (``_fetch_range``) through
    fsspec's read-ahead cache; writing spools to a temporary file, put on ``close()`` (or on
    ``commit()`` in a transaction) and dropped by ``discard()``, an exception in the ``with``
    block, or garbage collection of an unclosed file."""

    _spool: Any = None

    def _fetch_range(self, start: int, end: int) -> bytes:
        return self.fs.cat_file(self.path, start=start, end=end)

    def _initiate_upload(self) -> None:
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)

    def _upload_chunk(self, final: bool = False) -> bool:
        self.buffer.seek(0)
        self._spool.write(self.buffer.read())
        if final and self.autocommit:
            self.commit()
        return True

    def commit(self) -> None:
        spool, self._spool = self._spool, None
        if spool is None:
            return
        with spool:
            spool.seek(0)
            self.fs.put_fileobj(self.path, spool)

    def discard(self) -> None:
        spool, self._spool = getattr(self, "_spool", None), None
        if spool is not None:
            spool.close()
        if self.mode != "rb":
            self.closed = True
            self.buffer = None

    def __exit__(self, exc_type: Any, *args: Any) -> None:
        if exc_type is not None and self.mode != "rb":
            self.discard()  # nothing half-written
        else:
            self.close()

    def __del__(self) -> None:
        if not getattr(self, "closed", True) and self.mode != "rb":
            self.discard()
        elif not getattr(self, "closed", True):
            self.close()
