"""``objstore``: the JetStream Object Store (ADR-20), wire-compatible with the official clients
and API-compatible with nats-py's object store.

``nc = await objstore.connect(url); js = nc.jetstream(); store = await js.create_object_store(bucket="b")``.
Imports only the public APIs of ``jetstream`` and ``protocol``. This module only re-exports: it
must not define behaviour.
"""

from .chunks import ChunkPlan, ChunkVerifier, decode_digest, digest_of, encode_digest
from .errors import (
    BadBucketError,
    BadBufferError,
    BadObjectHeaderError,
    BadObjectMetaError,
    BadRangeError,
    BucketExistsError,
    BucketNotFoundError,
    ChunkMissingError,
    CleanupFailedError,
    DigestMismatchError,
    InvalidTTLError,
    LinkIsABucketError,
    LinkNotAllowedError,
    MetaTooLargeError,
    ObjectAlreadyExists,
    ObjectAlreadyExistsError,
    ObjectDeletedError,
    ObjectNotFoundError,
    ObjectStoreError,
    TTLNotAllowedError,
    UnsupportedSourceError,
)
from .config import ObjectStoreConfig, ObjectStoreStatus
from .findings import DEFAULT_SWEEP_AGE, HealthReport, MalformedMeta, MetaMismatch, Orphan
from .manager import Client, JetStreamContext, bind_object_store, connect, open_sync, stream_config_for
from .chunk_layout import ChunkLayout, LayoutCache
from .ranges import FetchStats
from .rawio import SyncObjectFile
from .seekable import ObjectFile
from .models import (
    DEFAULT_CHUNK_SIZE,
    MAX_CHUNK_SIZE,
    ObjectInfo,
    ObjectLink,
    ObjectMeta,
    ObjectMetaOptions,
)
from .reader import ObjectReader
from .result import ObjectResult
from .store import ObjectStore
from .subjects import ALL_CHUNKS_TEMPLATE as OBJ_ALL_CHUNKS_PRE_TEMPLATE  # seed constants (nats-py names)
from .subjects import ALL_META_TEMPLATE as OBJ_ALL_META_PRE_TEMPLATE
from .subjects import STREAM_TEMPLATE as OBJ_STREAM_TEMPLATE
from .subjects import VALID_BUCKET_PATTERN as VALID_BUCKET_RE
from .watch import ObjectWatcher

__all__ = [
    "BadBucketError",
    "BadBufferError",
    "BadObjectHeaderError",
    "BadObjectMetaError",
    "BadRangeError",
    "BucketExistsError",
    "BucketNotFoundError",
    "ChunkMissingError",
    "InvalidTTLError",
    "TTLNotAllowedError",
    "ChunkLayout",
    "ChunkPlan",
    "ChunkVerifier",
    "CleanupFailedError",
    "Client",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_SWEEP_AGE",
    "DigestMismatchError",
    "FetchStats",
    "HealthReport",
    "JetStreamContext",
    "LayoutCache",
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
    "ObjectFile",
    "ObjectInfo",
    "ObjectLink",
    "ObjectMeta",
    "ObjectMetaOptions",
    "ObjectNotFoundError",
    "ObjectReader",
    "ObjectResult",
    "ObjectStore",
    "ObjectStoreConfig",
    "ObjectStoreError",
    "ObjectStoreStatus",
    "ObjectWatcher",
    "Orphan",
    "SyncObjectFile",
    "UnsupportedSourceError",
    "VALID_BUCKET_RE",
    "bind_object_store",
    "connect",
    "decode_digest",
    "digest_of",
    "encode_digest",
    "open_sync",
    "stream_config_for",
]
