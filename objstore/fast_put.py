"""``FastChunks``: a put's chunks sent as one ADR-50 fast-ingest batch (``jetstream.FastBatch``)
instead of pipelined acknowledged publishes. Used by ``writer.ObjectWriter`` for buckets whose
stream has ``allow_batched`` (``create_object_store(..., fast_ingest=True)``).

The batch runs in ``gap: fail`` mode and ends with an end-of-batch commit (nothing extra is
stored); the put goes on to its meta only when the commit's ack counts every chunk sent. What is
guaranteed: the same as the pipelined path (every chunk stored, in order, before the meta). What
is not: fast ingest is not atomic, so a failed batch may leave a prefix of the chunks stored:
``stored``/``unknown`` tell the writer's one failure path what to purge. Must not publish the meta,
purge, or pick between the paths (the writer does).
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Callable, Optional

from jetstream import APIError, FastBatch, NoStreamResponseError

from .bucket import Bucket

__all__ = ["FastChunks", "fast_flow"]

# The bytes in flight a fast batch allows: flow (messages per flow ack) x 2 outstanding acks x
# chunk size stays near this bound (the server may lower the flow, never raise it).
_WINDOW_BYTES = 16 * 1024 * 1024
_OUTSTANDING = 2


def fast_flow(chunk_size: int, window: int = _WINDOW_BYTES) -> int:
    """Messages per flow ack for ``chunk_size`` chunks within ``window`` bytes in flight."""
    return max(1, min(500, window // (_OUTSTANDING * max(1, chunk_size))))


class FastChunks:
    """Sends the chunks of one put as one fast-ingest batch. After ``send`` (raised or not),
    ``stored`` says whether some chunk may be stored and ``unknown`` whether some chunk's fate
    is unknown (it may be stored even after a purge: a timeout, a lost connection)."""

    __slots__ = ("bucket", "stored", "unknown", "window", "headers")

    def __init__(self, bucket: Bucket, window: int = _WINDOW_BYTES, headers: Any = None) -> None:
        self.bucket = bucket
        self.headers = headers  # the same on every chunk (a per-object TTL), or None
        self.window = window
        self.stored = False
        self.unknown = False

    async def send(
        self,
        subject: str,
        chunks: AsyncIterator[Any],
        take: Callable[[Any], Any],
        chunk_size: int,
        progress: Optional[Callable[[int, Optional[int]], Any]] = None,
        total: Optional[int] = None,
    ) -> None:
        batch = FastBatch(self.bucket.js, flow=fast_flow(chunk_size, self.window), outstanding=_OUTSTANDING)
        await batch.start()
        try:
            reported = -1
            headers = self.headers
            async for chunk in chunks:
                take(chunk)
                self.unknown = True
                await batch.add(subject, chunk, headers=headers)
                if progress is not None and batch.acked != reported and batch.acked > 0:
                    reported = batch.acked
                    progress(min(reported * chunk_size, total or reported * chunk_size), total)
            if batch.sent:
                await batch.commit(subject)
            self.stored, self.unknown = batch.sent > 0, False
        except BaseException as err:
            if batch.pub_ack is not None:
                # The batch is over on the server: what it stored is final.
                self.stored, self.unknown = True, False
            elif batch.acked < 0 and isinstance(err, (APIError, NoStreamResponseError)):
                # Refused at the first chunk (no stream, batches disabled): nothing stored.
                self.stored, self.unknown = False, False
            else:
                self.stored = self.unknown = batch.sent > 0
            raise
        finally:
            await batch.close()
