"""``Bucket``: the narrow handle to one bucket's stream that the writer, reader, watcher, health
checks and the store take: stream name, subjects, the JetStream context, direct-get ability and
the bound chunk size. Binding a bucket by name happens here, and this is the one place where
"stream not found" becomes :class:`BucketNotFoundError`.

Must not hold object-level logic (verbs, chunking, verification) or any state that changes
after binding (one exception: ``msg_ttl`` may turn true, as the server allows): it is shared by
every operation on the bucket.
"""

from __future__ import annotations

from typing import Any, Optional

from jetstream import JetStream, JetStreamNotEnabledError, MessageNotFoundError, StoredMsg, StreamInfo, StreamNotFoundError

from .chunks import ChunkPlan
from .errors import BucketNotFoundError
from .subjects import all_chunks, all_meta, chunk_subject, meta_subject, stream_name, validate_bucket

__all__ = ["Bucket", "delete_bucket"]


class _Missing:
    """``with bucket.missing:`` turns the stream's :class:`StreamNotFoundError` into
    :class:`BucketNotFoundError` (chained). Stateless, so one instance is reused per bucket."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ: Any, err: Any, tb: Any) -> bool:
        if typ is not None and issubclass(typ, StreamNotFoundError):
            raise BucketNotFoundError(f"bucket {self.name!r} not found") from err
        return False


class Bucket:
    """One bucket's stream, as bound. ``name`` is the bucket name, ``stream`` its stream
    (``OBJ_<name>``, ADR-20). ``direct``: reads may use direct get (allow_direct on a
    single-replica stream: a replica's direct get may lag behind the leader, so replicated
    buckets read through the leader for read-after-write consistency)."""

    __slots__ = ("name", "stream", "js", "nc", "replicas", "direct", "max_msg_size", "missing", "fast_ingest", "msg_ttl", "duplicate_window", "ttl_floor", "allow_direct", "parallel")

    def __init__(self, js: JetStream, name: str, info: StreamInfo) -> None:
        cfg = info.config
        self.name = name
        self.stream = stream_name(name)
        self.js = js
        self.nc = js.connection
        self.replicas = cfg.num_replicas or 1
        self.direct = self.replicas == 1 and bool(cfg.allow_direct)
        # The stream answers direct gets at all (any replica): parallel chunk fetch may use them
        # where the meta was read through the leader first (objstore.parallel_fetch).
        self.allow_direct = bool(cfg.allow_direct)
        self.max_msg_size: Optional[int] = cfg.max_msg_size if cfg.max_msg_size and cfg.max_msg_size > 0 else None
        self.missing = _Missing(name)
        # Whole-object reads' objstore.parallel_fetch.ParallelPolicy (None: its DEFAULT_POLICY,
        # parallel fetch off): ``store.handle.parallel = ParallelPolicy(enabled=True, ...)``.
        self.parallel: Any = None
        # ADR-50: the stream allows fast-ingest batches. A server that predates them drops the
        # unknown field, so a true value here also means the server supports them.
        self.fast_ingest = bool(cfg.allow_batched)
        # ADR-43: the stream allows per-message TTLs. The server refuses to turn it off again,
        # so a true value never goes stale; a false one is read again before a put is refused
        # (``allows_msg_ttl``), the only state here that may change after binding.
        self.msg_ttl = bool(cfg.allow_msg_ttl)
        # Seconds the server remembers a Nats-Msg-Id (server default 2 minutes): a resend after
        # a lost connection is dropped as a duplicate only within it.
        self.duplicate_window = float(cfg.duplicate_window or 120.0)
        # ADR-43: with subject delete markers (and not one message per subject), the server
        # raises a shorter Nats-TTL to subject_delete_marker_ttl (objstore.ttl plans around it).
        marker_ttl = cfg.subject_delete_marker_ttl or 0
        self.ttl_floor = -int(-marker_ttl // 1) if marker_ttl > 0 and cfg.max_msgs_per_subject != 1 else 0

    @classmethod
    async def bind(cls, js: JetStream, name: str) -> tuple["Bucket", StreamInfo]:
        """Bind an existing bucket by its stream name (works on mirrors); returns the handle and
        the stream info it was bound from. Raises BucketNotFoundError, BadBucketError."""
        validate_bucket(name)
        with _Missing(name):
            info = await js.stream_info(stream_name(name))
        return cls(js, name, info), info

    def __repr__(self) -> str:
        return f"<Bucket {self.name!r} stream={self.stream!r} replicas={self.replicas}>"

    # Subjects ($O. subjects are built by objstore.subjects only) ---------------------------
    def chunk_subject(self, nuid: str) -> str:
        return chunk_subject(self.name, nuid)

    def meta_subject(self, name: str) -> str:
        return meta_subject(self.name, name)

    @property
    def all_chunks(self) -> str:
        return all_chunks(self.name)

    @property
    def all_meta(self) -> str:
        return all_meta(self.name)

    # Sizes ---------------------------------------------------------------------------------
    @property
    def max_payload(self) -> int:
        """The connected server's max_payload (read at each use: a reconnect may change it)."""
        return self.nc.max_payload

    def chunk_plan(self, requested: int, size: Optional[int] = None, header_room: int = 0) -> ChunkPlan:
        """A put's chunk plan: ``requested`` bounded by max_payload and the stream's max_msg_size,
        less ``header_room`` for the chunks' headers (msg id, TTL): both limits count them."""
        limit = self.max_msg_size - header_room if self.max_msg_size else None
        return ChunkPlan.bound(requested, self.nc.max_payload - header_room, limit, size)

    async def allows_msg_ttl(self) -> bool:
        """Whether the stream allows ``Nats-TTL`` (cached once true; see ``msg_ttl``)."""
        if not self.msg_ttl:
            self.msg_ttl = bool((await self.info()).config.allow_msg_ttl)
        return self.msg_ttl

    # Reads ---------------------------------------------------------------------------------
    async def info(self, subjects_filter: Optional[str] = None) -> StreamInfo:
        """The stream's info (with a paged subject listing under ``subjects_filter``)."""
        with self.missing:
            return await self.js.stream_info(self.stream, subjects_filter=subjects_filter)

    async def last(self, subject: str) -> StoredMsg:
        """The last message on ``subject``: direct get where this bucket allows it, else the
        leader (read-after-write consistent). Raises MessageNotFoundError, BucketNotFoundError."""
        js = self.js
        with self.missing:
            if self.direct:
                try:
                    return await js.direct_get(self.stream, last_by_subj=subject)
                except JetStreamNotEnabledError:
                    # No direct-get responder (a mirror without allow_direct, or the stream is
                    # gone): ask the leader, which also tells "stream not found" apart.
                    pass
            return await js.get_msg(self.stream, last_by_subj=subject)

    async def last_on_leader(self, subject: str) -> Optional[StoredMsg]:
        """The last message on ``subject`` read through the stream leader; ``None`` when there
        is none. Raises BucketNotFoundError."""
        try:
            with self.missing:
                return await self.js.get_msg(self.stream, last_by_subj=subject)
        except MessageNotFoundError:
            return None


async def delete_bucket(js: JetStream, name: str) -> bool:
    """Delete a bucket's stream and every object in it. Raises BucketNotFoundError."""
    validate_bucket(name)
    with _Missing(name):
        return await js.delete_stream(stream_name(name))
