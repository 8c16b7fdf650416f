"""Per-object TTL (ADR-43 ``Nats-TTL``): the values a put's chunks and meta carry, so that the
whole object expires together and a reader never sees a half object. Sans-I/O: no publishing
(the writer and ``metas`` do that), only durations, header values and the ordering rule.

The rule. The server expires each message ``Nats-TTL`` after its own stream timestamp (whole
seconds: a fraction is dropped, so values here are whole seconds). Chunks are published before
the meta, so with equal TTLs the first chunks would go before the meta and a reader could find
a meta whose chunks are gone. Instead:

- the meta carries the requested TTL ``T``: the object is readable for ``T`` after ``put``
  returns, then ``get`` raises ObjectNotFoundError and ``list()`` hides it;
- every chunk carries ``T + grace``, where ``grace`` covers the upload (``GRACE_BASE`` plus the
  size at ``SLOW_RATE``; ``GRACE_UNKNOWN`` when the size is not known up front);
- before the meta is published, its TTL is bounded by what the oldest chunk has left, minus
  ``MARGIN``: an upload slower than its grace shortens the object's life rather than let the
  meta outlive a chunk (``meta_seconds``); if nothing is left, the put fails and its chunks are
  purged like any failed put.

So chunks outlive their meta by up to ``grace``: in that window they are unreferenced chunks
(``store.orphans()`` lists them; they expire by themselves). ``"never"`` (ADR-43) is also
accepted: the object then also survives the bucket's own ``max_age``. Without ``"never"``, the
bucket's ``max_age`` still applies: the object goes at whichever limit comes first.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any, Optional, Union

from jetstream import HDR_TTL
from protocol import Headers, parse_headers

from .errors import InvalidTTLError, ObjectNotFoundError

__all__ = ["NEVER", "ObjectTTL", "TTLInput", "apply_ttl", "is_marker", "remaining_headers", "parse_ttl", "seconds_of_value", "ttl_of_headers", "GRACE_BASE", "GRACE_UNKNOWN", "MARGIN", "SLOW_RATE"]

TTLInput = Union[timedelta, float, int, str, None]

NEVER = "never"
HDR_MARKER_REASON = "Nats-Marker-Reason"
GRACE_BASE = 10  # seconds chunks outlive their meta, at least
SLOW_RATE = 2 * 1024 * 1024  # bytes/s: the slowest upload the grace is sized for
GRACE_UNKNOWN = 120  # seconds of grace when the size is not known before the upload
MARGIN = 2  # seconds kept between the meta's expiry and the oldest chunk's (clock tick, timers)
_MIN = 1  # ADR-43: the server refuses a Nats-TTL under one second


class ObjectTTL:
    """One put's TTL: ``seconds`` for the meta (None: ``never``), ``chunk_seconds`` for the chunks."""

    __slots__ = ("seconds", "chunk_seconds")

    def __init__(self, seconds: Optional[int], chunk_seconds: Optional[int]) -> None:
        self.seconds = seconds
        self.chunk_seconds = chunk_seconds

    @classmethod
    def plan(cls, ttl: TTLInput, size: Optional[int], floor: int = 0) -> "ObjectTTL":
        """Validate ``ttl`` (a ``timedelta``, seconds, or ``"never"``; rounded up to whole
        seconds) and size the chunks' grace for an object of ``size`` bytes (None: unknown).
        ``floor``: the stream's least TTL (ADR-43: with ``subject_delete_marker_ttl`` set, the
        server raises any shorter ``Nats-TTL`` to it, chunks' and meta's alike, which would let
        chunks go first): the meta gets at least that, the chunks that plus the grace.
        Raises InvalidTTLError."""
        seconds = parse_ttl(ttl)
        if seconds is None:
            return cls(None, None)
        seconds = max(seconds, floor)
        grace = GRACE_UNKNOWN if size is None else GRACE_BASE + math.ceil(size / SLOW_RATE)
        return cls(seconds, seconds + grace)

    @property
    def never(self) -> bool:
        return self.seconds is None

    def chunk_headers(self) -> Headers:
        return Headers({HDR_TTL: _value(self.chunk_seconds)})

    def meta_seconds(self, elapsed: float) -> Optional[int]:
        """The meta's TTL when it is published ``elapsed`` seconds after the first chunk was:
        the requested one, bounded by what the oldest chunk has left minus ``MARGIN``. Raises
        InvalidTTLError when nothing is left (the upload outlasted the chunks' TTL)."""
        if self.seconds is None or self.chunk_seconds is None:
            return None
        left = self.chunk_seconds - math.ceil(max(0.0, elapsed)) - MARGIN
        if left < _MIN:
            raise InvalidTTLError(
                f"the upload took {elapsed:.0f}s, longer than its chunks' TTL of {self.chunk_seconds}s allows "
                f"for a meta of at least {_MIN}s; the put was abandoned (use a longer ttl)"
            )
        return min(self.seconds, left)

    def meta_headers(self, elapsed: float) -> dict[str, str]:
        return {HDR_TTL: _value(self.meta_seconds(elapsed))}


def parse_ttl(ttl: TTLInput) -> Optional[int]:
    """Whole seconds (rounded up) of a per-object TTL; None for ``"never"``. Raises InvalidTTLError."""
    if isinstance(ttl, str):
        if ttl.strip().lower() == NEVER:
            return None
        raise InvalidTTLError(f"ttl must be a timedelta, a number of seconds or 'never', not {ttl!r}")
    if isinstance(ttl, bool) or not isinstance(ttl, (timedelta, int, float)):
        raise InvalidTTLError(f"ttl must be a timedelta, a number of seconds or 'never', not {type(ttl).__name__}")
    seconds = ttl.total_seconds() if isinstance(ttl, timedelta) else float(ttl)
    if not math.isfinite(seconds) or seconds < _MIN:
        raise InvalidTTLError(f"ttl must be at least {_MIN} second (ADR-43), not {seconds!r}")
    return math.ceil(seconds)


def _value(seconds: Optional[int]) -> str:
    return NEVER if seconds is None else f"{seconds}s"


def is_marker(headers: Any) -> bool:
    """Whether a stored meta message is a server-placed marker (ADR-43 ``Nats-Marker-Reason``,
    streams with ``subject_delete_marker_ttl``): the meta was removed, the object is gone."""
    if not headers:
        return False
    if type(headers) is bytes:
        return HDR_MARKER_REASON.encode() in headers
    return HDR_MARKER_REASON in headers


def ttl_of_headers(raw: Any) -> Optional[str]:
    """The ``Nats-TTL`` value of a stored message's header block (bytes), if any."""
    if not raw or HDR_TTL.encode() not in raw:
        return None
    value = parse_headers(raw).get(HDR_TTL) if type(raw) is bytes else raw.get(HDR_TTL)
    return value or None


def seconds_of_value(value: str) -> Optional[float]:
    """Seconds of a stored ``Nats-TTL`` value: ``"30s"``, ``"30"``, Go durations like ``"1m0s"``
    or ``"1h2m3.5s"``; None for ``never`` or a value this does not parse."""
    value = value.strip().lower()
    if value == NEVER:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    total, num = 0.0, ""
    i = 0
    while i < len(value):
        c = value[i]
        if c.isdigit() or c == ".":
            num += c
            i += 1
            continue
        unit = "ms" if value.startswith("ms", i) else c
        if unit not in units or not num:
            return None
        total += float(num) * units[unit]
        num = ""
        i += len(unit)
    return total if not num else None


def apply_ttl(info: Any, raw: Any, stored_at: Optional[datetime]) -> None:
    """Set ``info.ttl`` and ``info.expires`` from a stored meta's header block and timestamp."""
    value = ttl_of_headers(raw)
    if value is None:
        return
    seconds = seconds_of_value(value)
    if seconds is None:
        return
    info.ttl = timedelta(seconds=seconds)
    if stored_at is not None:
        info.expires = stored_at + info.ttl


def remaining_headers(info: Any, now: Optional[datetime] = None) -> Optional[dict[str, str]]:
    """The ``Nats-TTL`` header for a new meta of an object that expires at ``info.expires``
    (update_meta, rename): what is left, rounded down, so that it never outlives its chunks.
    None when the object has no TTL. Raises ObjectNotFoundError when less than 1 s is left."""
    expires = getattr(info, "expires", None)
    if expires is None:
        return None
    now = now or datetime.now(timezone.utc)
    left = math.floor((expires - now).total_seconds())
    if left < _MIN:
        raise ObjectNotFoundError(f"object {info.name!r} expires now (its TTL ran out)")
    return {HDR_TTL: _value(left)}
