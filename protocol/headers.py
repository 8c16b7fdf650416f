"""NATS message headers: the ``NATS/1.0`` block (ADR-4), parsed and encoded.

Layout::

    NATS/1.0[ <3-digit status>[ <description>]]\\r\\n
    Name: value\\r\\n          (zero or more; names may repeat, case is preserved)
    \\r\\n

:class:`Headers` is a multimap that reads like ``Dict[str, str]`` (the first value of a name)
and keeps every value (``get_all``). The status line is kept on the object (``status``,
``description``) rather than as fake header entries. This module is the only code that
understands the status line. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Union

from .errors import BadHeaderError, ProtocolError
from .wire import HEADER_LINE, HEADER_LINE_LEN

__all__ = ["Headers", "HeadersInput", "parse_headers", "encode_headers", "parse_status"]

# Printable ASCII 33..126 except ':' (ADR-4).
_NAME_OK = frozenset(range(33, 127)) - {ord(":")}


def _valid_name(name: str) -> bool:
    try:
        raw = name.encode("ascii")
    except UnicodeEncodeError:
        return False
    return bool(raw) and all(b in _NAME_OK for b in raw)


class Headers(MutableMapping[str, str]):
    """Ordered, case-preserving multimap of header names to string values.

    ``h[name]`` is the first value, ``h[name] = v`` replaces all values, ``h.add(name, v)``
    appends one, ``h.get_all(name)`` returns every value. ``status`` and ``description`` hold the
    status line of a status message (``"503"``, ``"100"`` ...) or ``""``.

    The order of header lines is kept exactly, also when names interleave (``A, B, A``), so a
    parsed block encodes back to the same bytes. Equality ignores the order between different
    names (it compares ``to_lists()``), not the order of one name's values.
    """

    __slots__ = ("_map", "_lines", "status", "description")

    def __init__(
        self,
        items: Union["HeadersInput", None] = None,
        *,
        status: str = "",
        description: str = "",
    ) -> None:
        self._map: dict[str, list[str]] = {}
        self._lines: list[tuple[str, str]] = []  # every (name, value) in line order
        self.status = status
        self.description = description
        if items is not None:
            if isinstance(items, Headers):
                for k, vs in items._map.items():
                    self._map[k] = list(vs)
                self._lines = list(items._lines)
                if not status:
                    self.status = items.status
                    self.description = items.description
            else:
                pairs = items.items() if isinstance(items, Mapping) else items
                for k, v in pairs:
                    if isinstance(v, (list, tuple)):
                        for one in v:
                            self.add(k, one)
                    else:
                        self.add(k, v)

    # Mapping protocol -------------------------------------------------------------------------
    def __getitem__(self, name: str) -> str:
        return self._map[name][0]

    def __setitem__(self, name: str, value: str) -> None:
        if name in self._map:
            # The new value takes the place of the first line of ``name``; later ones go.
            lines: list[tuple[str, str]] = []
            seen = False
            for pair in self._lines:
                if pair[0] == name:
                    if seen:
                        continue
                    seen = True
                    pair = (name, value)
                lines.append(pair)
            self._lines = lines
        else:
            self._lines.append((name, value))
        self._map[name] = [value]

    def __delitem__(self, name: str) -> None:
        del self._map[name]
        self._lines = [pair for pair in self._lines if pair[0] != name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return (
                self._map == other._map
                and self.status == other.status
                and self.description == other.description
            )
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        st = f", status={self.status!r}" if self.status else ""
        return f"Headers({self._map!r}{st})"

    # Multimap ---------------------------------------------------------------------------------
    def add(self, name: str, value: str) -> None:
        """Append one value for ``name`` (keeps earlier values)."""
        self._map.setdefault(name, []).append(value)
        self._lines.append((name, value))

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` in order; ``[]`` when absent."""
        return list(self._map.get(name, ()))

    def multi_items(self) -> Iterator[tuple[str, str]]:
        """Every (name, value) pair in line order, one per header line."""
        return iter(list(self._lines))

    def to_lists(self) -> dict[str, list[str]]:
        """A plain ``{name: [values]}`` copy (nats.go's JSON shape for object headers)."""
        return {k: list(vs) for k, vs in self._map.items()}


# Also accepted by Connection.publish: ``bytes``, a block already encoded with encode_headers.
HeadersInput = Union[Headers, Mapping[str, Union[str, list[str], tuple[str, ...]]], Iterable[tuple[str, str]], bytes]


def encode_headers(headers: HeadersInput | None, status: str = "", description: str = "") -> bytes:
    """Encode a header block, ending with the blank line. Raises :class:`BadHeaderError`."""
    if isinstance(headers, Headers):
        if not status:
            status, description = headers.status, headers.description
        pairs: Iterable[tuple[str, str]] = headers.multi_items()
    elif headers is None:
        pairs = ()
    else:
        pairs = Headers(headers).multi_items()
    parts = [HEADER_LINE]
    if status:
        if len(status) != 3 or not (status.isascii() and status.isdigit()):
            raise BadHeaderError(f"status must be 3 digits, got {status!r}")
        parts.append(b" " + status.encode("ascii"))
        if description:
            if "\r" in description or "\n" in description:
                raise BadHeaderError("status description contains CR or LF")
            parts.append(b" " + description.encode("utf-8"))
    parts.append(b"\r\n")
    for name, value in pairs:
        if not isinstance(name, str) or not _valid_name(name):
            raise BadHeaderError(f"invalid header name {name!r}")
        if not isinstance(value, str):
            raise BadHeaderError(f"header {name!r} value must be str, not {type(value).__name__}")
        if "\r" in value or "\n" in value:
            raise BadHeaderError(f"header {name!r} value contains CR or LF")
        parts.append(name.encode("ascii") + b": " + value.encode("utf-8") + b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


def parse_status(raw: bytes) -> tuple[str, str]:
    """Only the status line: ``(status, description)``, both ``""`` for a plain header block."""
    end = raw.find(b"\r\n")
    line = raw[:end] if end >= 0 else raw
    if not line.startswith(HEADER_LINE):
        raise ProtocolError(f"header block does not start with NATS/1.0: {line[:32]!r}")
    rest = line[HEADER_LINE_LEN:].strip()
    if not rest:
        return "", ""
    status = rest[:3].decode("ascii", "replace")
    return status, rest[3:].strip().decode("utf-8", "replace")


def parse_headers(raw: bytes) -> Headers:
    """Parse a header block (as it arrives in HMSG). Raises :class:`ProtocolError`."""
    status, description = parse_status(raw)
    h = Headers(status=status, description=description)
    lines = raw.split(b"\r\n")
    # lines[0] is the NATS/1.0 line; the block ends with an empty line (two trailing empties).
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            raise ProtocolError(f"malformed header line {line[:64]!r}")
        name = name.strip()
        if not name:
            raise ProtocolError(f"header line with empty name {line[:64]!r}")
        h.add(name.decode("utf-8", "replace"), value.strip(b" \t").decode("utf-8", "replace"))
    return h
