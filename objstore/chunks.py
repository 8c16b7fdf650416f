"""Chunk arithmetic and chunk verification, sans-I/O: ``ChunkPlan``, ``ChunkVerifier`` and the
digest's wire form. Must not do I/O or import asyncio: it is fed sizes and bytes, and answers.

- :class:`ChunkPlan`: the chunk size a put uses (the requested size bounded by the server's
  ``max_payload`` and the stream's ``max_msg_size``: a chunk is one message, ADR-20), and the
  mapping between chunk index and byte span of an object of a given size.
- :class:`ChunkVerifier`: the running SHA-256, byte count and chunk count of chunks as they
  pass, and the check of those against what the meta says. The writer uses it to compute a new
  object's digest; the reader to verify one as it is read.
- The digest's wire form (ADR-20, wire.md 3.5): ``SHA-256=`` + URL-safe base64 **with**
  padding. Parsing is tolerant of what other writers produced (lowercase prefix, unpadded or
  standard base64, hex). This module is its single home.

Where the SHA-256 runs (inline, or overlapped in one worker thread on machines with cores to
spare) is :mod:`objstore.hashing`'s business; this module only feeds it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any, Optional, Union

from .errors import BadObjectMetaError, ChunkMissingError, DigestMismatchError
from .hashing import Hasher

__all__ = [
    "ChunkPlan",
    "ChunkVerifier",
    "DIGEST_PREFIX",
    "EMPTY_DIGEST",
    "decode_digest",
    "digest_of",
    "encode_digest",
]

Chunk = Union[bytes, bytearray, memoryview]

# The digest's wire form ------------------------------------------------------------------------
DIGEST_PREFIX = "SHA-256="


def encode_digest(raw: bytes) -> str:
    """32 raw SHA-256 bytes -> ``SHA-256=<urlsafe base64, padded>`` (what nats.go writes)."""
    return DIGEST_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii")


def digest_of(data: bytes) -> str:
    """The wire digest of a whole object's bytes."""
    return encode_digest(hashlib.sha256(data).digest())


EMPTY_DIGEST = digest_of(b"")


def decode_digest(value: str) -> bytes:
    """The 32 raw bytes of a digest string. Raises :class:`BadObjectMetaError`."""
    algo, sep, body = value.partition("=")
    if not sep or algo.upper() != "SHA-256":
        raise BadObjectMetaError(f"unsupported object digest {value[:24]!r}")
    body = body.strip()
    raw = b""
    if len(body) == 64:  # hex, as some early writers stored it
        try:
            raw = bytes.fromhex(body)
        except ValueError:
            raw = b""
    if not raw:
        padded = body + "=" * (-len(body) % 4)
        for decoder in (base64.urlsafe_b64decode, base64.standard_b64decode):
            try:
                raw = decoder(padded)
                break
            except (binascii.Error, ValueError):
                continue
    if len(raw) != 32:
        raise BadObjectMetaError(f"object digest has an invalid format: {value[:60]!r}")
    return raw


# Chunk sizes and spans -------------------------------------------------------------------------
class ChunkPlan:
    """How an object is cut: every chunk ``chunk_size`` bytes, the last one shorter (or equal).

    ``size`` may be unknown (``None``) while a put reads a stream of unknown length; the span
    methods need it. Chunk ``i`` covers bytes ``[i * chunk_size, min((i + 1) * chunk_size, size))``.
    """

    __slots__ = ("chunk_size", "size")

    def __init__(self, chunk_size: int, size: Optional[int] = None) -> None:
        if chunk_size < 1:
            raise BadObjectMetaError("chunk size must be positive")
        self.chunk_size = chunk_size
        self.size = size

    @classmethod
    def bound(cls, requested: int, max_payload: int, max_msg_size: Optional[int] = None, size: Optional[int] = None) -> "ChunkPlan":
        """The plan of a put: ``requested`` bounded by the server's ``max_payload`` (a chunk is
        one message; the server refuses a larger one) and the stream's ``max_msg_size`` (the
        stream refuses a larger one). Raises :class:`BadObjectMetaError` when that leaves < 1."""
        return cls(min(requested, max_payload, max_msg_size or requested), size)

    def __repr__(self) -> str:
        return f"ChunkPlan(chunk_size={self.chunk_size}, size={self.size})"

    @property
    def chunks(self) -> int:
        """The number of chunks of an object of ``size`` bytes (0 for an empty object)."""
        return -(-self._size() // self.chunk_size)

    def fits_one(self) -> bool:
        """Whether the object is known to take at most one chunk (a put then needs no pipeline)."""
        return self.size is not None and self.size <= self.chunk_size

    def span(self, index: int) -> tuple[int, int]:
        """Chunk ``index`` -> ``(offset, length)``. Raises IndexError outside the object."""
        size = self._size()
        if not 0 <= index < self.chunks:
            raise IndexError(f"chunk {index} is outside an object of {self.chunks} chunks")
        offset = index * self.chunk_size
        return offset, min(self.chunk_size, size - offset)

    def index_of(self, offset: int) -> int:
        """The chunk that holds byte ``offset``. Raises IndexError outside the object."""
        if not 0 <= offset < self._size():
            raise IndexError(f"offset {offset} is outside an object of {self.size} bytes")
        return offset // self.chunk_size

    def covering(self, offset: int, length: int) -> range:
        """The chunk indexes that hold bytes ``[offset, offset + length)`` (empty for length 0)."""
        if length <= 0:
            return range(0)
        return range(self.index_of(offset), self.index_of(offset + length - 1) + 1)

    def _size(self) -> int:
        if self.size is None:
            raise ValueError("the object's size is not known")
        return self.size


# Verification -----------------------------------------------------------------------------------
class ChunkVerifier:
    """Running SHA-256, byte count and chunk count of chunks fed in order, and their check.

    ``take(chunk)`` on every chunk, ``finish()`` after the last one: it raises
    :class:`ChunkMissingError` when fewer chunks came than expected, :class:`DigestMismatchError`
    when more, a different size, or another SHA-256. ``take`` raises DigestMismatchError as soon
    as more bytes came than ``size`` (a corrupt or foreign object never grows a buffer without
    bound). With no expectation given (the writer's use), ``take`` only counts and hashes and
    ``wire_digest()`` gives the digest to store.

    Range mode (:meth:`for_range`): when only a byte range of an object is read, its SHA-256 cannot
    be checked (the digest covers the whole object), so only the chunk count and byte count of
    the range are: a truncated or oversized chunk is caught, a same-sized corruption is not.
    """

    __slots__ = ("name", "size", "chunks", "digest", "bytes", "count", "verified", "_hasher")

    def __init__(
        self, *, size: Optional[int] = None, chunks: Optional[int] = None, digest: str = "", name: str = "", hashing: bool = True
    ) -> None:
        self.name = name
        self.size = size  # expected bytes (None: not checked)
        self.chunks = chunks  # expected chunks (None: not checked)
        self.digest = digest  # expected wire digest ("" : not checked)
        self.bytes = 0
        self.count = 0
        self.verified = False
        self._hasher: Optional[Hasher] = Hasher() if hashing else None

    @classmethod
    def for_object(cls, name: str, size: int, chunks: int, digest: str) -> "ChunkVerifier":
        """Verifies a whole object against its meta: size, chunk count and SHA-256."""
        return cls(size=size, chunks=chunks, digest=digest, name=name)

    @classmethod
    def for_range(cls, name: str, plan: ChunkPlan, offset: int, length: int) -> "ChunkVerifier":
        """Verifies the chunks that cover ``[offset, offset + length)``: their count and total
        size only (no SHA-256: the digest covers the whole object; see the class docstring)."""
        covering = plan.covering(offset, length)
        size = 0
        if covering:
            first, _ = plan.span(covering[0])
            last_off, last_len = plan.span(covering[-1])
            size = last_off + last_len - first
        return cls(size=size, chunks=len(covering), name=name, hashing=False)

    def take(self, chunk: Chunk) -> None:
        """Count and hash one chunk. Raises DigestMismatchError when the bytes exceed ``size``."""
        hasher = self._hasher
        if hasher is not None:
            hasher.update(chunk)
        self.bytes += len(chunk)
        self.count += 1
        if self.size is not None and self.bytes > self.size:
            raise DigestMismatchError(f"object {self.name!r}: more data than its size {self.size}")

    def snapshot(self) -> Any:
        """A copy of the running SHA-256 (``hashlib`` object) of what was taken so far."""
        if self._hasher is None:
            raise ValueError("a range verifier computes no digest")
        return self._hasher.snapshot()

    def continue_from(self, sha: Any, nbytes: int, count: int) -> None:
        """Go on from a prefix of ``count`` chunks and ``nbytes`` bytes hashed into ``sha``
        elsewhere (a resumed put: the prefix was rehashed from the file, not sent again)."""
        self._hasher = Hasher.continuing(sha)
        self.bytes, self.count = nbytes, count

    def finish(self) -> None:
        """Check what was taken against what was expected; sets ``verified``."""
        if (self.chunks is not None and self.count != self.chunks) or (self.size is not None and self.bytes != self.size):
            cls = ChunkMissingError if self.chunks is not None and self.count < self.chunks else DigestMismatchError
            raise cls(
                f"object {self.name!r}: read {self.bytes} bytes in {self.count} chunks, "
                f"expected {self.size} bytes in {self.chunks} chunks"
            )
        if self.digest and self._hasher is not None and self._hasher.digest() != decode_digest(self.digest):
            raise DigestMismatchError(f"object {self.name!r}: received data does not match its SHA-256 digest")
        self.verified = True

    def wire_digest(self) -> str:
        """The SHA-256 of what was taken, in its wire form."""
        if self._hasher is None:
            raise ValueError("a range verifier computes no digest")
        return encode_digest(self._hasher.digest())
