"""Object-store names and subjects (ADR-20, wire.md 3.1-3.2): the only home of ``$O.`` subjects
and the only base64 of object names. Must not do I/O.

Object names are encoded as URL-safe base64 **with** padding of their UTF-8 bytes, so any
name (dots, spaces, ``*``, ``>``, unicode) makes a valid single subject token.
"""

from __future__ import annotations

import base64
import re

from .errors import BadBucketError, BadObjectMetaError

__all__ = [
    "validate_bucket",
    "validate_object_name",
    "stream_name",
    "bucket_of_stream",
    "encode_name",
    "decode_name",
    "chunk_subject",
    "meta_subject",
    "all_chunks",
    "all_meta",
    "OBJ_STREAM_PREFIX",
    "ALL_BUCKETS_CHUNKS",
    "ALL_CHUNKS_TEMPLATE",
    "ALL_META_TEMPLATE",
    "STREAM_TEMPLATE",
]

OBJ_STREAM_PREFIX = "OBJ_"
# Every object-store subject is built here (ADR-20): chunks ``$O.<bucket>.C.<nuid>``, metas
# ``$O.<bucket>.M.<base64 name>``, the bucket's stream ``OBJ_<bucket>``.
ALL_CHUNKS_TEMPLATE = "$O.{bucket}.C.>"
ALL_META_TEMPLATE = "$O.{bucket}.M.>"
STREAM_TEMPLATE = OBJ_STREAM_PREFIX + "{bucket}"
ALL_BUCKETS_CHUNKS = ALL_CHUNKS_TEMPLATE.format(bucket="*")  # finds every bucket's stream
VALID_BUCKET_PATTERN = r"^[a-zA-Z0-9_-]+$"
VALID_BUCKET_RE = re.compile(VALID_BUCKET_PATTERN)
MAX_BUCKET_LEN = 255 - len(OBJ_STREAM_PREFIX)


def validate_bucket(bucket: str) -> str:
    if not isinstance(bucket, str) or not VALID_BUCKET_RE.fullmatch(bucket):
        raise BadBucketError(f"invalid bucket name {bucket!r}: use letters, digits, '-' and '_'")
    if len(bucket) > MAX_BUCKET_LEN:
        raise BadBucketError(f"bucket name longer than {MAX_BUCKET_LEN} characters")
    return bucket


def validate_object_name(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise BadObjectMetaError("object name is required")
    return name


def stream_name(bucket: str) -> str:
    return OBJ_STREAM_PREFIX + bucket


def bucket_of_stream(stream: str) -> str:
    return stream[len(OBJ_STREAM_PREFIX) :] if stream.startswith(OBJ_STREAM_PREFIX) else stream


def encode_name(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode("utf-8")).decode("ascii")


def decode_name(token: str) -> str:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8")


def chunk_subject(bucket: str, nuid: str) -> str:
    return f"$O.{bucket}.C.{nuid}"


def meta_subject(bucket: str, name: str) -> str:
    return f"$O.{bucket}.M.{encode_name(name)}"


def all_chunks(bucket: str) -> str:
    return f"$O.{bucket}.C.>"


def all_meta(bucket: str) -> str:
    return f"$O.{bucket}.M.>"
