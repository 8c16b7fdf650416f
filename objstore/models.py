"""The object meta's data types (``ObjectInfo``, ``ObjectMeta``, ``ObjectLink``, options), named as
in the nats-py seed, with their ADR-20 JSON shapes and the tolerant parse of foreign metas. Must
not do I/O; checking what we write is ``validate``, bucket config and status are ``config``.

Wire facts (wire.md 3.4): ObjectMeta fields are inlined in ObjectInfo; ``headers`` is a map of
string lists (nats.go's shape); ``metadata`` a map of strings; ``options`` holds ``link`` and
``max_chunk_size``; ``mtime`` is written as a real RFC 3339 UTC time and read from the stored
message's timestamp; ``deleted`` only when true. Unknown keys are kept (``_extra``) so a
read-modify-write (``update_meta``, ``delete``) never drops what another client wrote.

Foreign metas (issue 10, point 4): :func:`parse_meta` raises only :class:`BadObjectMetaError`,
whatever the payload. Known fields are type-checked (a wrong type is an error, never coerced:
``"deleted": "false"`` is not truthy); missing optional fields and ``mtime`` of any shape are
tolerated (``mtime`` is read from the message timestamp anyway). Input we write is checked by
:func:`validate_object_meta` before anything is published, so we never store what we would refuse
to read.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import abc
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Optional, Union

from jetstream.codec import format_time, parse_time
from protocol import Headers, NatsError

from .chunks import decode_digest
from .errors import BadObjectMetaError
from .subjects import VALID_BUCKET_RE

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MAX_CHUNK_SIZE",
    "ObjectLink",
    "ObjectMetaOptions",
    "ObjectMeta",
    "ObjectInfo",
    "headers_from_json",
    "headers_to_json",
    "parse_meta",
]

DEFAULT_CHUNK_SIZE = 128 * 1024
MAX_CHUNK_SIZE = 1024 * 1024

HeadersLike = Union[Headers, Mapping[str, Any], None]

# JetStream's sizes and counts are Go int64/uint64 on the wire; a larger number is not a size.
_MAX_COUNT = 2**63 - 1


# Reading foreign JSON: strict types, one error class --------------------------------------------
def type_name(value: Any) -> str:
    """A JSON-ish name of ``value``'s type for error messages (``null`` for None)."""
    return "null" if value is None else type(value).__name__


def _opt_str(data: Mapping[str, Any], key: str) -> Optional[str]:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise BadObjectMetaError(f"object meta field {key!r} must be a string, not {type_name(value)}")


def _opt_count(data: Mapping[str, Any], key: str) -> Optional[int]:
    """A non-negative integer field; an integral float (``5.0``, JavaScript writers) is taken as
    the integer, anything else (bool, string, 1e400, negative, > int64) is an error."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():  # False for inf and nan
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadObjectMetaError(f"object meta field {key!r} must be an integer, not {value!r:.40}")
    if not 0 <= value <= _MAX_COUNT:
        raise BadObjectMetaError(f"object meta field {key!r} is out of range: {value!r:.40}")
    return value


def _str_map(value: Any, what: str) -> Optional[dict[str, str]]:
    if value is None:
        return None
    if not _is_map(value):
        raise BadObjectMetaError(f"object {what} must be a JSON object, not {type_name(value)}")
    for k, v in value.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise BadObjectMetaError(f"object {what} must map strings to strings ({k!r:.40}: {type_name(v)})")
    return dict(value) or None


def _is_map(value: Any) -> bool:
    # A JSON object is a dict: skip the (slow) ABC check for it; list() parses one meta per object.
    return type(value) is dict or isinstance(value, abc.Mapping)


# Printable ASCII (33..126) but '.', '*' and '>'.
_TOKEN_RE = re.compile(r"[!-)+-\-/-=?-~]*")


def _valid_token(nuid: str) -> bool:
    # The nuid becomes one subject token ($O.<bucket>.C.<nuid>); a '.', '*' or '>' in it would
    # make get read, and delete/put purge, other objects' chunks (wire.md 3.1: tokens are
    # printable, no whitespace, no wildcards).
    return _TOKEN_RE.fullmatch(nuid) is not None


def headers_from_json(value: Any) -> Optional[Headers]:
    """Accept nats.go's ``{"K": ["v"]}`` and nats-py's buggy flat ``{"K": "v"}``; a ``null``
    value is skipped. Any other shape raises :class:`BadObjectMetaError`. Names and values are
    not held to :func:`validate_headers` here: what another client stored is read as it is."""
    if value is None:
        return None
    if not _is_map(value):
        raise BadObjectMetaError(f"object headers must be a JSON object, not {type_name(value)}")
    if not value:
        return None
    h = Headers()
    for k, v in value.items():
        if not isinstance(k, str):
            raise BadObjectMetaError(f"object header name must be a string, not {type_name(k)}")
        for one in v if isinstance(v, list) else (v,):
            if one is None and not isinstance(v, list):
                continue
            if not isinstance(one, str):
                raise BadObjectMetaError(f"object header {k!r:.40} value must be a string, not {type_name(one)}")
            h.add(k, one)
    return h


def headers_to_json(headers: HeadersLike) -> Optional[dict[str, list[str]]]:
    if not headers:
        return None
    return Headers(headers).to_lists()


@dataclass
class ObjectLink:
    """A link to an object (``name`` set) or to a whole bucket (``name`` empty)."""

    bucket: str
    name: Optional[str] = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bucket": self.bucket}
        if self.name:
            out["name"] = self.name
        return out

    @classmethod
    def from_json(cls, data: Any) -> "ObjectLink":
        """Raises :class:`BadObjectMetaError` unless ``bucket`` is a valid bucket name and
        ``name`` a string (or absent: a bucket link)."""
        if not _is_map(data):
            raise BadObjectMetaError(f"object link must be a JSON object, not {type_name(data)}")
        bucket = data.get("bucket")
        if not isinstance(bucket, str) or not VALID_BUCKET_RE.fullmatch(bucket):
            raise BadObjectMetaError(f"object link has an invalid bucket: {bucket!r:.60}")
        return cls(bucket=bucket, name=_opt_str(data, "name") or None)


@dataclass
class ObjectMetaOptions:
    link: Optional[ObjectLink] = None
    max_chunk_size: Optional[int] = None
    chunk_size: Optional[int] = None  # seed alias of max_chunk_size

    @property
    def effective_chunk_size(self) -> Optional[int]:
        return self.max_chunk_size or self.chunk_size

    def to_json(self) -> Optional[dict[str, Any]]:
        out: dict[str, Any] = {}
        if self.link is not None:
            out["link"] = self.link.to_json()
        if self.effective_chunk_size:
            out["max_chunk_size"] = self.effective_chunk_size
        return out or None

    @classmethod
    def from_json(cls, data: Any) -> Optional["ObjectMetaOptions"]:
        """``null``, ``{}`` and ``"link": null`` / ``{}`` (nats-py writes those) mean "none";
        a link of any other shape, or a non-integer ``max_chunk_size``, is an error."""
        if data is None:
            return None
        if not _is_map(data):
            raise BadObjectMetaError(f"object options must be a JSON object, not {type_name(data)}")
        if not data:
            return None
        link = data.get("link")
        return cls(
            link=ObjectLink.from_json(link) if link is not None and link != {} else None,
            max_chunk_size=_opt_count(data, "max_chunk_size"),
        )


@dataclass
class ObjectMeta:
    """What ``update_meta`` changes. A field left ``None`` keeps the object's current value."""

    name: Optional[str] = None
    description: Optional[str] = None
    headers: HeadersLike = None
    options: Optional[ObjectMetaOptions] = None
    metadata: Optional[dict[str, str]] = None


@dataclass
class ObjectInfo:
    """An object's metadata as stored in its meta message."""

    name: str
    bucket: str = ""
    nuid: str = ""
    size: int = 0
    chunks: int = 0
    digest: str = ""
    deleted: bool = False
    mtime: Optional[datetime] = None
    description: Optional[str] = None
    headers: Optional[Headers] = None
    options: Optional[ObjectMetaOptions] = None
    metadata: Optional[dict[str, str]] = None
    links: Optional[list[str]] = None  # seed field; not on the wire
    # How put() sent the chunks: "single" (one chunk), "pipelined" or "fast_ingest"; not on the wire.
    put_path: Optional[str] = field(default=None, repr=False, compare=False)
    # Per-object TTL (objstore.ttl), from the meta message's Nats-TTL header; not in the JSON.
    # ``ttl`` None: no TTL of its own ("never" also gives None, with ``expires`` None).
    ttl: Optional[timedelta] = field(default=None, repr=False, compare=False)
    expires: Optional[datetime] = field(default=None, repr=False, compare=False)
    # What put() moved (sent, resent after a lost connection, skipped by a resume); not on the wire.
    transfer: Optional[dict[str, int]] = field(default=None, repr=False, compare=False)
    _extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    # Convenience ---------------------------------------------------------------------------
    @property
    def meta(self) -> ObjectMeta:
        return ObjectMeta(
            name=self.name,
            description=self.description,
            headers=self.headers,
            options=self.options,
            metadata=self.metadata,
        )

    @property
    def link(self) -> Optional[ObjectLink]:
        return self.options.link if self.options is not None else None

    def is_link(self) -> bool:
        return self.link is not None

    @property
    def is_bucket_link(self) -> bool:
        link = self.link
        return link is not None and not link.name

    @property
    def chunk_size(self) -> Optional[int]:
        return self.options.effective_chunk_size if self.options else None

    @property
    def digest_hex(self) -> str:
        """The digest as lowercase hex (what ``hashlib.sha256(data).hexdigest()`` gives)."""
        return decode_digest(self.digest).hex() if self.digest else ""

    def verify(self, data: bytes) -> bool:
        """True when ``data`` has this object's size and SHA-256 digest."""
        if len(data) != self.size:
            return False
        return bool(self.digest) and hashlib.sha256(data).digest() == decode_digest(self.digest)

    # Wire -----------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        hdrs = headers_to_json(self.headers)
        if hdrs:
            out["headers"] = hdrs
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        if self.options is not None:
            opts = self.options.to_json()
            if opts:
                out["options"] = opts
        out["bucket"] = self.bucket
        out["nuid"] = self.nuid
        out["size"] = self.size
        mtime = self.mtime or datetime.now(timezone.utc)
        out["mtime"] = format_time(mtime)
        out["chunks"] = self.chunks
        if self.digest:
            out["digest"] = self.digest
        if self.deleted:
            out["deleted"] = True
        for k, v in self._extra.items():
            out.setdefault(k, v)
        return out

    @classmethod
    def from_json(cls, data: Any, mtime: Any = None) -> "ObjectInfo":
        """Parse a meta's JSON. Raises :class:`BadObjectMetaError` (only) on a malformed one.

        Errors: not an object; ``name`` missing or not a non-empty string; ``size``/``chunks``
        not a non-negative integer (``"x"``, ``1e400``, ``-1``); ``nuid`` not one subject token;
        ``digest`` undecodable; ``deleted`` not a boolean; ``bucket``/``description`` not strings;
        ``headers``/``metadata``/``options``/``options.link`` of the wrong shape. Tolerated
        (wire.md trap 25): missing optional fields, ``null`` for any of them, and any ``mtime``
        (``""``, Go's zero time, a number: it becomes ``None``; the message timestamp is used).
        """
        if not _is_map(data):
            raise BadObjectMetaError(f"object meta is not a JSON object but {type_name(data)}")
        try:
            name = data.get("name")
            if not isinstance(name, str) or not name:
                raise BadObjectMetaError("object meta has no name")
            nuid = _opt_str(data, "nuid") or ""
            if not _valid_token(nuid):
                raise BadObjectMetaError(f"object meta nuid is not a subject token: {nuid!r:.40}")
            digest = _opt_str(data, "digest") or ""
            if digest:
                decode_digest(digest)
            deleted = data.get("deleted")
            if deleted is not None and not isinstance(deleted, bool):
                raise BadObjectMetaError(f"object meta field 'deleted' must be a boolean, not {deleted!r:.40}")
            return cls(
                name=name,
                bucket=_opt_str(data, "bucket") or "",
                nuid=nuid,
                size=_opt_count(data, "size") or 0,
                chunks=_opt_count(data, "chunks") or 0,
                digest=digest,
                deleted=bool(deleted),
                mtime=mtime if mtime is not None else _tolerant_time(data.get("mtime")),
                description=_opt_str(data, "description") or None,
                headers=headers_from_json(data.get("headers")),
                options=ObjectMetaOptions.from_json(data.get("options")),
                metadata=_str_map(data.get("metadata"), "metadata"),
                _extra={k: v for k, v in data.items() if k not in _KNOWN},
            )
        except BadObjectMetaError:
            raise
        except (TypeError, ValueError, OverflowError, RecursionError) as err:  # defensive
            raise BadObjectMetaError(f"invalid object meta: {err}") from err


_KNOWN = frozenset(("name", "description", "headers", "metadata", "options", "bucket", "nuid", "size", "mtime",
                    "chunks", "digest", "deleted", "revision"))  # fields from_json reads (or drops: revision)


def _tolerant_time(raw: Any) -> Optional[datetime]:
    if not isinstance(raw, str) or not raw or raw.startswith("0001-01-01"):
        return None
    try:
        return parse_time(raw)
    except (ValueError, OverflowError, NatsError):
        return None


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadObjectMetaError(f"object meta holds a number out of range: {text[:40]}")
    return value


def _no_constant(text: str) -> Any:
    raise BadObjectMetaError(f"object meta holds {text}, which is not JSON")


def parse_meta(data: bytes, mtime: Optional[datetime] = None) -> ObjectInfo:
    """A stored meta message's payload -> :class:`ObjectInfo`.

    Raises :class:`BadObjectMetaError` and nothing else, whatever ``data`` holds: not JSON,
    not UTF-8, nested too deep, ``NaN``/``Infinity`` or a number too large for a float (those
    could not be written back as JSON by a read-modify-write), or a malformed field."""
    try:
        # One decoder for every meta (json.loads with hooks builds a new one per call).
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray, memoryview)) else data
        obj = _META_DECODER.decode(text)
    except BadObjectMetaError:
        raise
    except (ValueError, TypeError, RecursionError) as err:  # JSONDecodeError, UnicodeDecodeError
        raise BadObjectMetaError(f"object meta is not valid JSON: {str(err)[:200]}") from None
    return ObjectInfo.from_json(obj, mtime)  # a given mtime (the message's time) is not parsed from the JSON


_META_DECODER = json.JSONDecoder(parse_float=_finite_float, parse_constant=_no_constant)
