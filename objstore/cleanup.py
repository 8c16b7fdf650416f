"""Removing chunks: a failed put's, a replaced version's and a deleted object's chunk subject,
purged through reconnects and leader elections within a bound.

Owns the one rule of cleanup: purge a failed put's nuid only after every chunk publish of that
put has settled (the caller settles its Publisher first: acked, refused, withdrawn from the
outbox, or of unknown fate), retry the purge while the server or the stream leader is away,
and look again after the purge when some chunk's fate was unknown, since such a chunk can still
be stored after the purge (a paused server reads its socket when it resumes; the stream's
ingest queue and the API's work queue are separate in nats-server, so even on one connection a
purge can overtake a chunk published just before it). Does no publishing of its own, and
never decides *whether* to purge: the writer and the store do.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Optional

from jetstream import APIError, JetStream, JetStreamNotEnabledError, MessageNotFoundError, StreamNotFoundError
from protocol import ConnectionClosedError, NatsTimeoutError
from protocol.wire import STATUS_NO_RESPONDERS

from .bucket import Bucket
from .errors import CleanupFailedError

__all__ = [
    "DEFAULT_CLEANUP_TIMEOUT",
    "purge_until_gone",
    "purge_failed_put",
    "clean_failed_put",
    "purge_replaced",
    "purge_deleted",
]

log = logging.getLogger("objstore")

# How long a failed put keeps trying to purge its chunks (reconnects, elections) before it
# gives up and raises CleanupFailedError naming the nuid.
DEFAULT_CLEANUP_TIMEOUT = 30.0
# After a purge, when some chunk's fate was unknown: look again after these pauses (seconds).
_RECHECKS = (0.25, 1.0, 2.0)
_MAX_BACKOFF = 1.0
# A JetStream API error with code 503 (stream or cluster temporarily unavailable, e.g. during a
# leader election) uses the same number as the protocol's no-responders status.
_UNAVAILABLE = int(STATUS_NO_RESPONDERS)


def _retryable(err: BaseException, js: JetStream) -> bool:
    """Errors that a later try can get past: the server or the stream leader is away."""
    if isinstance(err, ConnectionClosedError):
        return not js.connection.is_closed  # lost, and reconnecting
    if isinstance(err, (NatsTimeoutError, JetStreamNotEnabledError)):
        return True  # no answer, or no API responder (server restarting, meta leader election)
    return isinstance(err, APIError) and err.code == _UNAVAILABLE


async def purge_until_gone(js: JetStream, stream: str, subject: str, deadline: float) -> int:
    """Purge ``subject`` from ``stream``, retrying with backoff until loop time ``deadline``.
    Returns the number of messages purged; 0 when the stream is gone. Raises the last error
    when the bound runs out, or at once for an error no retry can get past (permissions)."""
    loop = asyncio.get_running_loop()
    delay = 0.1
    while True:
        timeout = max(0.5, min(js.timeout, deadline - loop.time()))
        try:
            return await asyncio.wait_for(js.purge_stream(stream, subject=subject), timeout)
        except StreamNotFoundError:
            return 0  # the bucket itself is gone: nothing of it is left
        except Exception as err:  # noqa: BLE001 - classified below
            if not (isinstance(err, asyncio.TimeoutError) or _retryable(err, js)):
                raise
            if loop.time() + delay >= deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, _MAX_BACKOFF)


async def _stored(js: JetStream, stream: str, subject: str) -> bool:
    """Whether any message may be stored on ``subject`` (asks the stream leader); an error
    counts as "may be" (the purge that follows retries through it)."""
    try:
        await js.get_msg(stream, last_by_subj=subject)
    except (MessageNotFoundError, StreamNotFoundError):
        return False
    except Exception:  # noqa: BLE001 - unknown: purge again
        return True
    return True


async def purge_failed_put(
    bucket: Bucket,
    nuid: str,
    *,
    unknown: bool,
    timeout: float,
    cause: Optional[BaseException],
) -> None:
    """Purge a failed put's chunk subject within ``timeout`` seconds. With ``unknown`` (some chunk
    may still land), look again after the purge and purge again what arrived late.

    Raises :class:`CleanupFailedError` (naming the nuid, chained to ``cause``) when the purge
    could not run within the bound or was refused.
    """
    js, stream, subject = bucket.js, bucket.stream, bucket.chunk_subject(nuid)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        await purge_until_gone(js, stream, subject, deadline)
        if unknown:
            for pause in _RECHECKS:
                await asyncio.sleep(pause)
                if await _stored(js, stream, subject):
                    log.info("late chunks of failed put %s in bucket %s purged", nuid, bucket.name)
                    await purge_until_gone(js, stream, subject, max(deadline, loop.time() + 5.0))
    except asyncio.CancelledError:
        raise
    except Exception as err:  # noqa: BLE001 - reported as CleanupFailedError below
        raise CleanupFailedError(
            f"put failed ({_describe(cause)}) and its partial chunks could not be purged within "
            f"{timeout:g}s ({_describe(err)}): chunk subject {subject} is left behind; "
            "store.orphans() lists it and store.sweep() removes it",
            nuid=nuid,
            bucket=bucket.name,
            put_error=cause,
        ) from (cause if isinstance(cause, Exception) else err)


async def clean_failed_put(bucket: Bucket, nuid: str, *, unknown: bool, timeout: float, cause: BaseException) -> None:
    """:func:`purge_failed_put` for a put that failed with ``cause``. A put that was cancelled
    stays cancelled: a cleanup failure is then logged (naming the nuid), not raised."""
    try:
        await purge_failed_put(bucket, nuid, unknown=unknown, timeout=timeout, cause=cause)
    except CleanupFailedError as err:
        if not isinstance(cause, Exception):
            log.warning("%s", err)
            return
        raise


async def purge_replaced(bucket: Bucket, nuid: str, timeout: float) -> None:
    """Purge a replaced version's chunks. The put itself succeeded, so a failure here is
    logged (naming the nuid, which ``orphans()``/``sweep()`` then find), not raised."""
    loop = asyncio.get_running_loop()
    try:
        await purge_until_gone(bucket.js, bucket.stream, bucket.chunk_subject(nuid), loop.time() + timeout)
    except Exception as err:  # noqa: BLE001 - logged, see docstring
        log.warning("chunks of replaced version %s in bucket %s could not be purged (%s); store.sweep() removes them", nuid, bucket.name, err)


async def purge_deleted(bucket: Bucket, name: str, nuid: str, timeout: float) -> None:
    """Purge a deleted object's chunks (its delete marker is written). Raises
    :class:`CleanupFailedError` naming what is left when that cannot be done within ``timeout``."""
    subject = bucket.chunk_subject(nuid)
    loop = asyncio.get_running_loop()
    try:
        await purge_until_gone(bucket.js, bucket.stream, subject, loop.time() + timeout)
    except Exception as err:  # noqa: BLE001 - the delete marker is written: say what is left
        raise CleanupFailedError(
            f"object {name!r} is deleted but its chunks ({subject}) could not be purged: {err}; store.sweep() removes them",
            nuid=nuid,
            bucket=bucket.name,
            put_error=err,
        ) from err


def _describe(err: Optional[BaseException]) -> str:
    if err is None:
        return "unknown error"
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
