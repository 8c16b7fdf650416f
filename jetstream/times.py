"""Durations and times at the JetStream API's JSON edge: seconds <-> nanoseconds, server time text.

Owns:
- durations: Python ``float`` seconds or ``timedelta`` <-> integer nanoseconds on the wire (the server's
  Go ``time.Duration``);
- times: Go RFC3339Nano (0-9 fractional digits, ``Z`` or an offset) and Go's ``time.String()`` layout
  (``2022-08-06 00:29:27.587861324 +0000 UTC``, used in ADR-31's examples) -> aware ``datetime``;
  ``datetime`` -> RFC 3339 UTC ``Z``. Parsing is done here, not with ``datetime.fromisoformat``, which
  cannot read ``Z`` or 9 digits before Python 3.11 (wire.md trap 18).

Rule: no I/O, no models (the dataclass codec is ``jetstream.codec``); imports only ``jetstream.errors``.
Conversion failures raise :class:`~jetstream.errors.CodecError` (a ``ValueError``).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from jetstream.errors import CodecError

__all__ = [
    "duration_to_ns",
    "ns_to_seconds",
    "ns_to_timedelta",
    "parse_time",
    "parse_time_ns",
    "format_time",
    "format_time_ns",
]

_NS = 1_000_000_000
_UTC = timezone.utc
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)

# --- durations ---------------------------------------------------------------------------------


def duration_to_ns(value: float | int | timedelta) -> int:
    """Seconds (``int``/``float``) or a ``timedelta`` -> integer nanoseconds.

    Raises CodecError for booleans, NaN/infinity and non-numbers.
    """
    if isinstance(value, timedelta):
        return (value.days * 86_400 + value.seconds) * _NS + value.microseconds * 1_000
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CodecError(f"a duration must be seconds (int/float) or a timedelta, not {value!r}")
    if isinstance(value, int):
        return value * _NS
    try:
        if value.is_integer():
            return int(value) * _NS  # exact for whole seconds of any size
        return round(value * _NS)
    except (ValueError, OverflowError):
        raise CodecError(f"invalid duration {value!r}") from None


def ns_to_seconds(ns: int) -> float:
    """Integer nanoseconds -> float seconds (``duration_to_ns`` inverts it for real-world values)."""
    return ns / _NS


def ns_to_timedelta(ns: int) -> timedelta:
    """Integer nanoseconds -> ``timedelta`` (sub-microsecond digits are truncated)."""
    return timedelta(microseconds=ns // 1_000)


# --- times -------------------------------------------------------------------------------------

# RFC 3339 (``T``/``t``/space separator, ``Z`` or ``+hh:mm``) and Go time.String()
# (`` +hhmm ZONE`` with an optional monotonic `` m=+1.23`` suffix). ASCII digits only.
_TIME_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:([Zz])"
    r"|([+-])([0-9]{2}):([0-9]{2})"
    r"| ([+-])([0-9]{2})([0-9]{2})(?: [A-Za-z0-9+-]+)?(?: m=[+-][0-9]+(?:\.[0-9]+)?)?)"
)


def _split_time(text: str) -> tuple[int, int, int, int, int, int, int, int]:
    """-> (year, month, day, hour, minute, second, nanosecond, utc offset in seconds)."""
    m = _TIME_RE.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise CodecError(f"invalid RFC 3339 time: {text!r}")
    g = m.groups()
    frac = g[6] or ""
    nanos = int(frac[:9].ljust(9, "0")) if frac else 0
    if g[7]:
        offset = 0
    else:
        sign, oh, om = (g[8], g[9], g[10]) if g[8] else (g[11], g[12], g[13])
        offset = (int(oh) * 3600 + int(om) * 60) * (-1 if sign == "-" else 1)
    hour, minute, second = int(g[3]), int(g[4]), int(g[5])
    if hour > 23 or minute > 59 or second > 59:
        raise CodecError(f"invalid RFC 3339 time: {text!r}")
    return int(g[0]), int(g[1]), int(g[2]), hour, minute, second, nanos, offset


def parse_time(text: str) -> datetime:
    """Parse a server time into an aware ``datetime`` (UTC, or the fixed offset it was written with).

    Accepts RFC3339Nano with 0-9 (or more, truncated) fractional digits and ``Z`` or ``+hh:mm``, and the
    Go ``time.String()`` layout. Nanoseconds are truncated to microseconds; use :func:`parse_time_ns`
    for the exact value. Raises CodecError.
    """
    year, month, day, hour, minute, second, nanos, offset = _split_time(text)
    tz = _UTC if offset == 0 else timezone(timedelta(seconds=offset))
    try:
        return datetime(year, month, day, hour, minute, second, nanos // 1_000, tzinfo=tz)
    except ValueError:
        raise CodecError(f"invalid RFC 3339 time: {text!r}") from None


def parse_time_ns(text: str) -> int:
    """Parse a server time into exact integer nanoseconds since the Unix epoch. Raises CodecError."""
    year, month, day, hour, minute, second, nanos, offset = _split_time(text)
    try:
        days = date(year, month, day).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        raise CodecError(f"invalid RFC 3339 time: {text!r}") from None
    return (days * 86_400 + hour * 3600 + minute * 60 + second - offset) * _NS + nanos


def format_time(dt: datetime) -> str:
    """Format as RFC 3339 in UTC with ``Z``; trailing fractional zeros trimmed (Go RFC3339Nano style).

    A naive ``datetime`` is taken to be UTC already. Raises CodecError if UTC is out of range.
    """
    if dt.tzinfo is not None and dt.utcoffset():
        try:
            dt = dt.astimezone(_UTC)
        except OverflowError:
            raise CodecError(f"time out of range: {dt!r}") from None
    head = f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    if dt.microsecond:
        return f"{head}.{dt.microsecond:06d}".rstrip("0") + "Z"
    return head + "Z"


def format_time_ns(ns: int) -> str:
    """Format integer nanoseconds since the epoch exactly, as Go's ``time.RFC3339Nano`` in UTC."""
    seconds, nanos = divmod(ns, _NS)
    try:
        dt = _EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        raise CodecError(f"time out of range: {ns} ns") from None
    head = f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    if nanos:
        return f"{head}.{nanos:09d}".rstrip("0") + "Z"
    return head + "Z"
