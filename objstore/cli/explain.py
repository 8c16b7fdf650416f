"""Owns errors in the user's words: the server's JetStream errors a command meets, restated for
the bucket and the command at hand ("bucket 'x' is sealed (read-only)", "bucket 'x' is full: ...",
"replicas 3 needs a JetStream cluster; ..."), the checks ``put`` makes before an upload (room
for a known size; ``--name`` for a ``/dev/fd`` path), and the ``--json`` form of any error (``{"error": {...}}`` with the JetStream
``err_code`` kept).

:func:`explain` runs while the command is still connected (it may read the bucket's status to
give numbers); :func:`error_doc` and :func:`human` build the two output forms ``app`` prints. It
must not print, pick exit codes or know a command by name beyond the arguments it reads.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Optional

from jetstream import APIError, StoreFailedError, StreamSealedError
from protocol import NatsError

from ..subjects import OBJ_STREAM_PREFIX, bucket_of_stream
from .progress import format_size
from .runtime import CliError, Ctx, describe_error

__all__ = ["explain", "check_room", "needs_name", "error_doc", "human", "full_message", "ERR_NOT_CLUSTERED"]

ERR_NOT_CLUSTERED = 10074  # "replicas > 1 not supported in non-clustered mode"
_STATUS_TIMEOUT = 5.0


def _bucket(ctx: Ctx, err: BaseException) -> Optional[str]:
    stream = getattr(err, "stream", None)
    if isinstance(stream, str) and stream.startswith(OBJ_STREAM_PREFIX):
        return bucket_of_stream(stream)
    bucket = getattr(ctx.args, "bucket", None)
    return bucket if isinstance(bucket, str) else None


def _codes(err: BaseException) -> dict[str, Any]:
    return {"err_code": getattr(err, "err_code", None), "code": getattr(err, "code", None)}


def full_message(bucket: str, limit: int, used: int, needs: Optional[int]) -> str:
    """``bucket 'x' is full: 200.0 MiB limit, 195.0 MiB used, this object needs 300.0 MiB``."""
    text = f"bucket {bucket!r} is full: {format_size(limit)} limit, {format_size(used)} used"
    if needs is not None:
        return text + f", this object needs {format_size(needs)}"
    return text + ", and this object did not fit"


async def _limits(ctx: Ctx, bucket: str) -> Optional[tuple[int, int]]:
    """The bucket's (max_bytes, bytes used), or None when unlimited or unreadable."""
    try:
        store = await asyncio.wait_for(ctx.store(bucket), _STATUS_TIMEOUT)
        si = store.stream_info
        if si is None:
            return None
        limit = si.config.max_bytes
        return (int(limit), int(si.state.bytes)) if limit and limit > 0 else None
    except (NatsError, OSError, asyncio.TimeoutError):
        return None


async def check_room(ctx: Ctx, store: Any, size: Optional[int]) -> None:
    """Before a put of ``size`` bytes into ``store``: refuse (CliError) when the bucket's
    ``max_bytes`` leaves no room for it (chunk headers are not counted, so this is a lower
    bound). A replaced object frees its old chunks only after the new put, so it counts."""
    ctx.put_size = size
    si = getattr(store, "stream_info", None)
    if size is None or si is None:
        return
    limit = si.config.max_bytes
    if not limit or limit <= 0:
        return
    used = int(si.state.bytes)
    if used + size > limit:
        raise CliError(full_message(store.bucket, int(limit), used, size), err_code=StoreFailedError.err_code, code=503,
                       kind="BucketFullError")


def needs_name(path: str) -> bool:
    """Whether a put of ``path`` needs ``--name``: a ``/dev`` or ``/proc`` path (``<(cmd)`` is
    ``/dev/fd/63``), whose base name says nothing about the data."""
    p = os.path.abspath(path)
    return p.startswith("/dev/") or p.startswith("/proc/")


async def explain(ctx: Ctx, err: BaseException) -> BaseException:
    """``err`` restated in the user's words as a :class:`CliError` carrying its JetStream codes,
    or ``err`` itself when there is nothing better to say."""
    if not isinstance(err, APIError):
        return err
    bucket = _bucket(ctx, err)
    codes = _codes(err)
    kind = type(err).__name__
    if isinstance(err, StreamSealedError) and bucket:
        return CliError(f"bucket {bucket!r} is sealed (read-only)", kind=kind, **codes)
    if err.err_code == ERR_NOT_CLUSTERED:
        replicas = getattr(ctx.args, "replicas", None)
        what = f"replicas {replicas}" if replicas else "more than 1 replica"
        return CliError(f"{what} needs a JetStream cluster; this server is a single node", kind=kind, **codes)
    if isinstance(err, StoreFailedError) and bucket and "bytes" in (err.description or ""):
        limits = await _limits(ctx, bucket)
        if limits is not None:
            needs = getattr(ctx, "put_size", None)
            return CliError(full_message(bucket, limits[0], limits[1], needs), kind="BucketFullError", **codes)
        return CliError(f"bucket {bucket!r} is full (its max_bytes limit is reached)", kind="BucketFullError", **codes)
    return err


def human(err: BaseException, verbose: bool) -> str:
    """The one stderr line's text: the error, with its JetStream code only when ``verbose``."""
    if isinstance(err, APIError):
        text = (err.description or describe_error(err)).strip()
    else:
        text = describe_error(err)
    err_code = getattr(err, "err_code", None)
    if verbose and err_code:
        text += f" (JetStream err_code {err_code}, code {getattr(err, 'code', None)})"
    elif verbose and not isinstance(err, CliError):
        text += f" ({type(err).__name__})"
    return text


def error_doc(err: BaseException) -> dict[str, Any]:
    """The ``--json`` form of a failure (printed on stdout)."""
    kind = getattr(err, "kind", None) if isinstance(err, CliError) else None
    doc: dict[str, Any] = {"message": human(err, verbose=False), "type": kind or type(err).__name__}
    for key in ("err_code", "code"):
        value = getattr(err, key, None)
        if value:
            doc[key] = value
    details = getattr(err, "details", None)
    if details:
        doc.update(details)
    return {"error": doc}
