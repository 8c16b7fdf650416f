"""NUID: 22-character base62 unique ids (12 random prefix characters + 10 sequential ones).

Used for inboxes, object ids and consumer names. Not cryptographic: the prefix comes from
``secrets`` and is renewed when the sequence wraps, which is what the official clients do.
"""

from __future__ import annotations

import secrets

__all__ = ["NUID", "next_nuid"]

_DIGITS = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE = 62
_PREFIX_LEN = 12
_SEQ_LEN = 10
_MAX_SEQ = _BASE**_SEQ_LEN
_MIN_INC = 33
_MAX_INC = 333


class NUID:
    __slots__ = ("_prefix", "_seq", "_inc")

    def __init__(self) -> None:
        self._randomize_prefix()
        self._seq = secrets.randbelow(_MAX_SEQ)
        self._inc = _MIN_INC + secrets.randbelow(_MAX_INC - _MIN_INC)

    def _randomize_prefix(self) -> None:
        raw = secrets.token_bytes(_PREFIX_LEN)
        self._prefix = bytes(_DIGITS[b % _BASE] for b in raw)

    def next(self) -> str:
        seq = self._seq + self._inc
        if seq >= _MAX_SEQ:
            self._randomize_prefix()
            self._inc = _MIN_INC + secrets.randbelow(_MAX_INC - _MIN_INC)
            seq = secrets.randbelow(_MAX_SEQ)
        self._seq = seq
        out = bytearray(_SEQ_LEN)
        for i in range(_SEQ_LEN - 1, -1, -1):
            seq, r = divmod(seq, _BASE)
            out[i] = _DIGITS[r]
        return (self._prefix + out).decode("ascii")


_GLOBAL = NUID()


def next_nuid() -> str:
    """A fresh NUID from the process-wide generator."""
    return _GLOBAL.next()
