"""Owns the CLI's value syntax: sizes (``10MB``, ``1GiB``), durations (``1h30m``) and
``KEY=VALUE`` / ``KEY:VALUE`` pairs, as plain parsers and as argparse ``type=`` functions.

Pure functions: no server, no output; an invalid value is a ``ValueError`` (or argparse's
``ArgumentTypeError``, which argparse turns into a usage error, exit code 2).
"""

from __future__ import annotations

import argparse
import re
from typing import Callable

__all__ = [
    "parse_size", "parse_duration",
    "arg_size", "arg_positive_size", "arg_duration", "arg_positive_duration", "arg_kv",
]


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*$")
_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1024, "kib": 1024, "kb": 1000,
    "m": 1024**2, "mib": 1024**2, "mb": 1000**2,
    "g": 1024**3, "gib": 1024**3, "gb": 1000**3,
    "t": 1024**4, "tib": 1024**4, "tb": 1000**4,
}


def parse_size(text: str) -> int:
    """``'10MB'`` -> 10_000_000, ``'1GiB'``/``'1G'`` -> 2**30, ``'4096'`` -> 4096.

    KB/MB/GB/TB are decimal, KiB/MiB/GiB/TiB and the one-letter K/M/G/T binary."""
    m = _SIZE_RE.match(str(text))
    if not m or m.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"invalid size {text!r} (examples: 4096, 512KiB, 10MB, 1GiB)")
    value = float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]
    if value != int(value):
        raise ValueError(f"invalid size {text!r}: not a whole number of bytes")
    return int(value)


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d|w)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """``'1h'``, ``'30m'``, ``'10s'``, ``'2d'``, ``'1h30m'``, ``'1w'`` or plain seconds -> seconds."""
    s = str(text).strip().lower()
    try:
        value = float(s)
    except ValueError:
        pos, value = 0, 0.0
        for m in _DURATION_PART.finditer(s):
            if m.start() != pos:
                break
            value += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
            pos = m.end()
        if pos != len(s) or not s:
            raise ValueError(f"invalid duration {text!r} (examples: 90, 10s, 30m, 1h30m, 2d, 1w)") from None
    if value < 0 or value != value or value == float("inf"):
        raise ValueError(f"invalid duration {text!r}")
    return value


def arg_size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def arg_positive_size(text: str) -> int:
    n = arg_size(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"size must be positive, not {text!r}")
    return n


def arg_duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def arg_positive_duration(text: str) -> float:
    value = arg_duration(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text!r}")
    return value


def arg_kv(sep: str, what: str) -> Callable[[str], tuple[str, str]]:
    def parse(text: str) -> tuple[str, str]:
        key, found, value = text.partition(sep)
        key = key.strip()
        if not found or not key:
            raise argparse.ArgumentTypeError(f"{what} must look like KEY{sep}VALUE, not {text!r}")
        return key, value.strip() if sep == ":" else value
    return parse
