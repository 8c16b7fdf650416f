"""Object-store data types, named as in the nats-py seed, with their ADR-20 JSON shapes.

Wire facts (wire.md 3.4): ObjectMeta fields are inlined in ObjectInfo; ``headers`` is a map of
string lists (nats.go's shape); ``metadata`` a map of strings; ``options`` holds ``link`` and
``max_chunk_size``; ``mtime`` is written as a real RFC 3339 UTC time and read from the stored
message's timestamp; ``deleted`` only when true. Unknown keys are kept (``_extra``) so a
read-modify-write (``update_meta``, ``delete``) never drops what another client wrote.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Optional, Union

from jetstream import Placement, StreamInfo
from jetstream.codec import format_time, parse_time
from protocol import Headers

from .digest import decode_digest
from .errors import BadObjectMetaError

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MAX_CHUNK_SIZE",
    "ObjectLink",
    "ObjectMetaOptions",
    "ObjectMeta",
    "ObjectInfo",
    "ObjectStoreConfig",
    "ObjectStoreStatus",
    "headers_from_json",
    "headers_to_json",
    "parse_meta",
]

DEFAULT_CHUNK_SIZE = 128 * 1024
MAX_CHUNK_SIZE = 1024 * 1024

HeadersLike = Union[Headers, Mapping[str, Any], None]


def headers_from_json(value: Any) -> Optional[Headers]:
    """Accept nats.go's ``{"K": ["v"]}`` and nats-py's buggy flat ``{"K": "v"}``."""
    if not value:
        return None
    if not isinstance(value, Mapping):
        raise BadObjectMetaError("object headers must be a JSON object")
    h = Headers()
    for k, v in value.items():
        if isinstance(v, list):
            for one in v:
                h.add(str(k), str(one))
        elif v is not None:
            h.add(str(k), str(v))
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
    def from_json(cls, data: Mapping[str, Any]) -> "ObjectLink":
        return cls(bucket=str(data.get("bucket", "")), name=data.get("name") or None)


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
        if not data:
            return None
        if not isinstance(data, Mapping):
            raise BadObjectMetaError("object options must be a JSON object")
        link = data.get("link")
        return cls(link=ObjectLink.from_json(link) if link else None, max_chunk_size=data.get("max_chunk_size"))


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
    def from_json(cls, data: Any) -> "ObjectInfo":
        """Tolerant parse (wire.md trap 25). Raises :class:`BadObjectMetaError`."""
        if not isinstance(data, Mapping):
            raise BadObjectMetaError("object meta is not a JSON object")
        try:
            name = data.get("name")
            if not isinstance(name, str) or not name:
                raise BadObjectMetaError("object meta has no name")
            mtime_raw = data.get("mtime")
            mtime = None
            if isinstance(mtime_raw, str) and mtime_raw and not mtime_raw.startswith("0001-01-01"):
                try:
                    mtime = parse_time(mtime_raw)
                except ValueError:
                    mtime = None
            known = {"name", "description", "headers", "metadata", "options", "bucket", "nuid", "size", "mtime", "chunks", "digest", "deleted"}
            return cls(
                name=name,
                bucket=str(data.get("bucket") or ""),
                nuid=str(data.get("nuid") or ""),
                size=int(data.get("size") or 0),
                chunks=int(data.get("chunks") or 0),
                digest=str(data.get("digest") or ""),
                deleted=bool(data.get("deleted") or False),
                mtime=mtime,
                description=data.get("description") or None,
                headers=headers_from_json(data.get("headers")),
                options=ObjectMetaOptions.from_json(data.get("options")),
                metadata=dict(data["metadata"]) if isinstance(data.get("metadata"), Mapping) and data["metadata"] else None,
                _extra={k: v for k, v in data.items() if k not in known and k != "revision"},
            )
        except (TypeError, ValueError) as err:
            if isinstance(err, BadObjectMetaError):
                raise
            raise BadObjectMetaError(f"invalid object meta: {err}") from err


def parse_meta(data: bytes) -> ObjectInfo:
    """A stored meta message's payload -> :class:`ObjectInfo`. Raises :class:`BadObjectMetaError`."""
    try:
        obj = json.loads(data)
    except ValueError as err:
        raise BadObjectMetaError(f"object meta is not valid JSON: {err}") from err
    return ObjectInfo.from_json(obj)


def _ttl_seconds(ttl: Union[timedelta, float, int, None]) -> Optional[float]:
    if ttl is None:
        return None
    if isinstance(ttl, timedelta):
        return ttl.total_seconds()
    return float(ttl)


@dataclass
class ObjectStoreConfig:
    """Bucket configuration. ``ttl`` is a ``timedelta`` or seconds."""

    bucket: str = ""
    description: Optional[str] = None
    ttl: Union[timedelta, float, None] = None
    max_bytes: int = -1
    storage: str = "file"
    replicas: int = 1
    placement: Optional[Placement] = None
    metadata: Optional[dict[str, str]] = None
    compression: bool = False

    @property
    def ttl_seconds(self) -> Optional[float]:
        return _ttl_seconds(self.ttl)


@dataclass
class ObjectStoreStatus:
    """Bucket status from its stream info. ``count`` is the number of live (not deleted) objects."""

    bucket: str
    description: Optional[str]
    ttl: Optional[timedelta]
    storage: str
    replicas: int
    sealed: bool
    size: int
    count: int
    backing_store: str = "JetStream"
    metadata: Optional[dict[str, str]] = None
    compression: bool = False
    stream_info: Optional[StreamInfo] = field(default=None, repr=False)

    # nats-py names
    @property
    def storage_type(self) -> str:
        return self.storage

    @property
    def is_compressed(self) -> bool:
        return self.compression
