"""Object-store errors: one branch of the project's single hierarchy (``NatsError`` ->
``JetStreamError`` -> ``ObjectStoreError``). The names the nats-py seed document uses exist under
those names. Caller mistakes are also ``ValueError``. No I/O here."""

from __future__ import annotations

from jetstream import JetStreamError

__all__ = [
    "ObjectStoreError",
    "BucketNotFoundError",
    "BadBucketError",
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
]


class ObjectStoreError(JetStreamError):
    """Root of object-store errors."""


class BucketNotFoundError(ObjectStoreError):
    """The bucket (stream ``OBJ_<bucket>``) does not exist."""


class BadBucketError(ObjectStoreError, ValueError):
    """Invalid bucket name or configuration."""


class BucketExistsError(ObjectStoreError):
    """A bucket of that name exists with a different configuration."""


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
