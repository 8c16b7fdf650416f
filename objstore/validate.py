"""Checking what a put or a meta update writes, before anything is published: object headers,
the filename, description and metadata. What passes here, :func:`objstore.models.parse_meta`
reads back. Must not do I/O or touch the wire form itself (``models`` owns that).
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Optional

from protocol import BadHeaderError, Headers, encode_headers

from .errors import BadObjectHeaderError, BadObjectMetaError
from .models import type_name

__all__ = ["validate_headers", "validate_object_meta"]


def validate_headers(headers: Any) -> Optional[Headers]:
    """Object headers as :class:`Headers` (``None`` when empty), or :class:`BadObjectHeaderError`.

    The name and CR/LF rules are protocol's (``encode_headers``, ADR-4: names are printable
    ASCII without ``:``, so no space, control character or NUL, and not empty; values are
    strings without CR or LF); NUL in a value is refused here as well, since other clients
    hand object headers to HTTP and C APIs where it ends the string."""
    if headers is None:
        return None
    try:
        h = headers if isinstance(headers, Headers) else Headers(headers)
    except (TypeError, ValueError) as err:
        raise BadObjectHeaderError(f"object headers must map names to strings or lists of strings: {err}") from None
    try:
        encode_headers(h)
    except BadHeaderError as err:
        raise BadObjectHeaderError(f"object header refused: {err}") from None
    for name, value in h.multi_items():
        if "\x00" in value:
            raise BadObjectHeaderError(f"object header {name!r} value contains NUL")
    return h or None


def _check_filename(filename: Any) -> None:
    # put writes ``Content-Disposition: attachment; filename="<filename>"``: a quote or a
    # backslash would end or escape the quoted-string (RFC 6266), a control character the line.
    try:
        text = os.fspath(filename)
    except TypeError:
        text = filename
    if not isinstance(text, str):
        raise BadObjectHeaderError(f"filename must be a string, not {type_name(filename)}")
    bad = next((c for c in text if c in '"\\' or ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise BadObjectHeaderError(f"filename {text!r:.60} contains {bad!r}, which cannot go in Content-Disposition")


def validate_object_meta(
    *, description: Any = None, headers: Any = None, metadata: Any = None, filename: Any = None
) -> None:
    """Refuse, before anything is published, what :func:`parse_meta` would not read back:
    headers (:func:`validate_headers`) and ``filename`` raise :class:`BadObjectHeaderError`; a
    ``description`` that is not a string or ``metadata`` that is not a map of strings to
    strings raise :class:`BadObjectMetaError`. ``None`` means "not given" for each."""
    validate_headers(headers)
    if filename:
        _check_filename(filename)
    if description is not None and not isinstance(description, str):
        raise BadObjectMetaError(f"description must be a string, not {type_name(description)}")
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise BadObjectMetaError(f"metadata must be a mapping of strings to strings, not {type_name(metadata)}")
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise BadObjectMetaError(f"metadata must map strings to strings ({k!r:.40}: {type_name(v)})")
