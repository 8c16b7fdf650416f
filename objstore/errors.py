"""Object-store errors: one branch of the project's single hierarchy (``NatsError`` ->
``JetStreamError`` -> ``ObjectStoreError``). The names the nats-py seed document uses exist under
those names. Caller mistakes are also ``ValueError``. No I/O here."""

from __future__ import annotations

from jetstream import JetStreamError

__all__ = [
    "ObjectStoreError",
    "BucketNotFoundError",
    "BadBucketError",
    "BadBufferError",
    "BucketExistsError",
    "ObjectNotFoundError",
    "ObjectDeletedError",
    "ObjectAlreadyExists",
    "ObjectAlreadyExistsError",
    "BadObjectMetaError",
    "DigestMismatchError",
    "LinkIsABucketError",
    "LinkNotAllowedError",
    "ChunkMissingError",
    "BadObjectHeaderError",
    "UnsupportedSourceError",
    "MetaTooLargeError",
    "CleanupFailedError",
    "InvalidTTLError",
    "TTLNotAllowedError",
    "BadRangeError",
]


class ObjectStoreError(JetStreamError):
    """Root of object-store errors."""


class BucketNotFoundError(ObjectStoreError):
    """The bucket (stream ``OBJ_<bucket>``) does not exist."""


class BadBucketError(ObjectStoreError, ValueError):
    """Invalid bucket name or configuration."""


class BucketExistsError(ObjectStoreError):
    """A bucket of that name exists with a different configuration.

    ``differences``: ``(setting, existing value, asked value)`` for each bucket setting that
    differs (``config.config_differences``), empty when unknown; ``sealed``: the bucket is sealed."""

    def __init__(self, message: str, *, differences: "list[tuple[str, object, object]] | None" = None,
                 sealed: bool = False) -> None:
        super().__init__(message)
        self.differences = list(differences or [])
        self.sealed = sealed


class ObjectNotFoundError(ObjectStoreError):
    """No object of that name (or it was deleted and deleted entries were not asked for)."""


class ObjectDeletedError(ObjectNotFoundError):
    """The object exists only as a delete marker."""


class ObjectAlreadyExists(ObjectStoreError):
    """An object already exists with that name (rename or link target taken)."""


ObjectAlreadyExistsError = ObjectAlreadyExists


class BadObjectMetaError(ObjectStoreError, ValueError):
    """Object metadata is invalid: empty name, malformed JSON, missing nuid, bad link."""


class DigestMismatchError(ObjectStoreError):
    """The data read does not match the stored SHA-256 digest (or size / chunk count)."""


class LinkIsABucketError(ObjectStoreError):
    """The object is a link to a whole bucket: bind that bucket instead of getting data."""


class LinkNotAllowedError(BadObjectMetaError):
    """A link cannot be put, point to a deleted object, or point to another link."""


class ChunkMissingError(DigestMismatchError):
    """A chunk of the object is gone (expired or purged): the object cannot be read whole."""


class BadObjectHeaderError(BadObjectMetaError):
    """An object header name or value cannot be stored (CR, LF, NUL, a colon or space in a name,
    an empty name): refused at put/update_meta time, before anything is published."""


class UnsupportedSourceError(ObjectStoreError, TypeError):
    """``put`` was given data it does not accept (a dict, a list of ints, a text-mode file...):
    refused before the first chunk is published."""


class BadBufferError(ObjectStoreError, ValueError):
    """``get_into``'s buffer is not a writable, contiguous byte buffer of the object's size."""


class MetaTooLargeError(BadObjectMetaError):
    """The meta message (name, description, headers, metadata) would exceed the connection's
    max_payload or the bucket's max_msg_size: refused before the first chunk is published."""


class CleanupFailedError(ObjectStoreError):
    """A put failed, and the purge of its partial chunks could not run within its bound.

    ``nuid`` names the chunk subject left behind (``$O.<bucket>.C.<nuid>``); ``store.orphans()``
    lists it and ``store.sweep()`` removes it. ``__cause__`` is the put's own error."""

    def __init__(self, message: str, *, nuid: str, bucket: str, put_error: BaseException | None = None) -> None:
        super().__init__(message)
        self.nuid = nuid
        self.bucket = bucket
        self.put_error = put_error


class InvalidTTLError(ObjectStoreError, ValueError):
    """A per-object ``ttl`` that is not a duration of at least one second (ADR-43: the server
    refuses a ``Nats-TTL`` under 1 s), or not a number, ``timedelta`` or ``"never"``."""


class TTLNotAllowedError(ObjectStoreError):
    """``put(..., ttl=...)`` on a bucket whose stream does not allow per-message TTLs (created
    without ``allow_msg_ttl=True``, or on a server before 2.11): refused before any upload."""


class BadRangeError(ObjectStoreError, ValueError):
    """A ranged read was given a bad ``offset``/``length``: not an int, negative, or an offset
    past the object's end (``offset == size`` is an empty range, not an error)."""
