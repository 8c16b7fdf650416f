"""The object digest: ``SHA-256=`` + URL-safe base64 **with** padding (wire.md 3.5).

This module is the single home of the digest's wire form. Parsing is tolerant of what other
writers produced (lowercase prefix, unpadded or standard base64, hex).
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from .errors import BadObjectMetaError

__all__ = ["PREFIX", "encode_digest", "decode_digest", "digest_of", "EMPTY_DIGEST"]

PREFIX = "SHA-256="


def encode_digest(raw: bytes) -> str:
    return PREFIX + base64.urlsafe_b64encode(raw).decode("ascii")


def digest_of(data: bytes) -> str:
    return encode_digest(hashlib.sha256(data).digest())


EMPTY_DIGEST = digest_of(b"")


def decode_digest(value: str) -> bytes:
    """The 32 raw bytes of a digest string. Raises :class:`BadObjectMetaError`."""
    algo, sep, body = value.partition("=")
    if not sep or algo.upper() != "SHA-256":
        raise BadObjectMetaError(f"unsupported object digest {value[:24]!r}")
    body = body.strip()
    raw = b""
    if len(body) == 64:
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
