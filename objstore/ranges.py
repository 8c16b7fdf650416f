"""Byte ranges of an object: argument checks and range arithmetic for ranged reads (pure, no I/O).

``check_args`` refuses a bad ``offset``/``length`` before any request; ``clip`` bounds the range
to the object (``offset > size`` is a :class:`BadRangeError`, ``offset == size`` an empty range, a
``length`` past the end is cut at the end); :class:`RangePlan` says which chunks cover it and how
much of the first and last of them to keep. :class:`FetchStats` counts what ranged and seekable
reads moved, so that tests and benches can show only the covering chunks were fetched.

Must not do I/O or know subjects and sequences (``chunk_layout`` and ``chunk_runs`` do).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .errors import BadRangeError

__all__ = ["FetchStats", "RangePlan", "check_args", "chunk_len", "clip", "is_whole"]


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRangeError(f"{what} must be an int, not {type(value).__name__}")
    if value < 0:
        raise BadRangeError(f"{what} must not be negative, not {value}")
    return value


def check_args(offset: object, length: object) -> tuple[int, Optional[int]]:
    """``(offset, length)`` checked: ints >= 0 (``length`` may be None: to the end).
    Raises :class:`BadRangeError`."""
    return _int(offset, "offset"), None if length is None else _int(length, "length")


def is_whole(offset: int, length: Optional[int]) -> bool:
    """Whether the arguments ask for the whole object whatever its size (the verified path)."""
    return offset == 0 and length is None


def clip(offset: int, length: Optional[int], size: int) -> tuple[int, int]:
    """The range bounded to an object of ``size`` bytes: ``(offset, length)`` with
    ``offset + length <= size``. A ``length`` past the end (or None) is cut at the end;
    ``offset == size`` gives length 0; ``offset > size`` raises :class:`BadRangeError`."""
    if offset > size:
        raise BadRangeError(f"offset {offset} is past the end of an object of {size} bytes")
    end = size if length is None else min(size, offset + length)
    return offset, end - offset


@dataclass(frozen=True)
class RangePlan:
    """The chunks covering ``[offset, offset + length)`` of an object cut in ``chunk_size`` chunks:
    chunk indexes ``first..last`` (inclusive); keep bytes from ``head`` of the first chunk and
    ``tail`` bytes of the last one (for a one-chunk range: ``[head, tail)`` of that chunk)."""

    offset: int
    length: int
    chunk_size: int
    first: int
    last: int
    head: int
    tail: int

    @classmethod
    def of(cls, offset: int, length: int, chunk_size: int) -> "RangePlan":
        """Needs ``length >= 1`` and ``chunk_size >= 1``."""
        if length < 1 or chunk_size < 1:
            raise ValueError("a range plan needs length >= 1 and chunk_size >= 1")
        end = offset + length  # exclusive
        first, last = offset // chunk_size, (end - 1) // chunk_size
        return cls(offset, length, chunk_size, first, last, offset - first * chunk_size, end - last * chunk_size)

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    def cut(self, index: int, chunk: memoryview) -> memoryview:
        """The part of chunk ``index`` (``first <= index <= last``) inside the range."""
        start = self.head if index == self.first else 0
        stop = self.tail if index == self.last else len(chunk)
        return chunk[start:stop]


def chunk_len(index: int, chunks: int, chunk_size: int, size: int) -> int:
    """The length chunk ``index`` must have: ``chunk_size``, the last one the rest."""
    return size - (chunks - 1) * chunk_size if index == chunks - 1 else chunk_size


@dataclass
class FetchStats:
    """Counters of what ranged and seekable reads moved (cumulative per store; ``reset()``).

    ``requests``: direct gets, batched direct gets and consumers created; ``chunks``: chunk
    messages received with their payload; ``payload_bytes``: their payload bytes; ``scans``:
    headers-only scans made to map chunk indexes to stream sequences."""

    requests: int = 0
    chunks: int = 0
    payload_bytes: int = 0
    scans: int = 0

    def reset(self) -> None:
        self.requests = self.chunks = self.payload_bytes = self.scans = 0

    def took(self, payload: int) -> None:
        self.chunks += 1
        self.payload_bytes += payload
