"""``objstore``: the JetStream Object Store (ADR-20), wire-compatible with the official clients
and API-compatible with nats-py's object store.

``nc = await objstore.connect(url); js = nc.jetstream(); store = await js.create_object_store(bucket="b")``.
Imports only the public APIs of ``jetstream`` and ``protocol``.
"""

from .digest import decode_digest, digest_of, encode_digest
from .errors import (
    BadBucketError,
    BadObjectHeaderError,
    BadObjectMetaError,
    BucketExistsError,
    BucketNotFoundError,
    ChunkMissingError,
    CleanupFailedError,
    DigestMismatchError,
    LinkIsABucketError,
    LinkNotAllowedError,
    MetaTooLargeError,
    ObjectAlreadyExists,
    ObjectAlreadyExistsError,
    ObjectDeletedError,
    ObjectNotFoundError,
    ObjectStoreError,
    UnsupportedSourceError,
)
from .health import DEFAULT_SWEEP_AGE, HealthReport, MalformedMeta, MetaMismatch, Orphan
from .manager import Client, JetStreamContext, bind_object_store, connect, stream_config_for
from .models import (
    DEFAULT_CHUNK_SIZE,
    MAX_CHUNK_SIZE,
    ObjectInfo,
    ObjectLink,
    ObjectMeta,
    ObjectMetaOptions,
    ObjectStoreConfig,
    ObjectStoreStatus,
)
from .reader import ObjectReader
from .store import ObjectStore
from .subjects import VALID_BUCKET_PATTERN as VALID_BUCKET_RE
from .watch import ObjectWatcher

# Seed constants (nats-py names).
OBJ_ALL_CHUNKS_PRE_TEMPLATE = "$O.{bucket}.C.>"
OBJ_ALL_META_PRE_TEMPLATE = "$O.{bucket}.M.>"
OBJ_STREAM_TEMPLATE = "OBJ_{bucket}"

__all__ = [
    "BadBucketError",
    "BadObjectHeaderError",
    "BadObjectMetaError",
    "BucketExistsError",
    "BucketNotFoundError",
    "ChunkMissingError",
    "CleanupFailedError",
    "Client",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_SWEEP_AGE",
    "DigestMismatchError",
    "HealthReport",
    "JetStreamContext",
    "LinkIsABucketError",
    "LinkNotAllowedError",
    "MAX_CHUNK_SIZE",
    "MalformedMeta",
    "MetaMismatch",
    "MetaTooLargeError",
    "OBJ_ALL_CHUNKS_PRE_TEMPLATE",
    "OBJ_ALL_META_PRE_TEMPLATE",
    "OBJ_STREAM_TEMPLATE",
    "ObjectAlreadyExists",
    "ObjectAlreadyExistsError",
    "ObjectDeletedError",
    "ObjectInfo",
    "ObjectLink",
    "ObjectMeta",
    "ObjectMetaOptions",
    "ObjectNotFoundError",
    "ObjectReader",
    "ObjectStore",
    "ObjectStoreConfig",
    "ObjectStoreError",
    "ObjectStoreStatus",
    "ObjectWatcher",
    "Orphan",
    "UnsupportedSourceError",
    "VALID_BUCKET_RE",
    "bind_object_store",
    "connect",
    "decode_digest",
    "digest_of",
    "encode_digest",
    "stream_config_for",
]
