"""The JetStream error root, ``APIError`` and the translation of an API reply's ``error`` object.

Owns :class:`JetStreamError` (itself a ``protocol`` ``NatsError``), :class:`APIError` with its
``err_code`` registry (a subclass registers itself by declaring ``err_code`` in its own body: the
asyncpg ``sqlstate`` pattern, so the table and the classes cannot drift; duplicates are rejected),
and the one place an API ``error`` object becomes an exception: :func:`api_error_from_json`, which
picks the class by the stable ``err_code`` (wire.md 2.12). The ``description`` text may change
between server versions and is never matched. The registered classes are in ``errors.api``.

Rule: no I/O; imports only ``protocol.errors``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from protocol.errors import NatsError

__all__ = ["JetStreamError", "APIError", "ERR_CODE_TO_CLASS", "api_error_from_json", "raise_for_api_response"]


class JetStreamError(NatsError):
    """Root of JetStream errors."""


# err_code -> class. Filled by APIError.__init_subclass__; read by api_error_from_json.
ERR_CODE_TO_CLASS: dict[int, type[APIError]] = {}


class APIError(JetStreamError):
    """An ``error`` object returned by the JetStream API.

    Instance attributes: ``code`` (HTTP-like status), ``err_code`` (the stable JetStream code),
    ``description`` (server text), and ``stream`` / ``seq`` when the reply carried them (PubAck
    errors do). The class attributes of the same names are the defaults a subclass declares; the
    class attribute ``err_code`` also registers the subclass (see the module docstring).
    """

    err_code: ClassVar[int | tuple[int, ...] | None] = None  # type: ignore[misc]
    code: ClassVar[int] = 0  # type: ignore[misc]
    description: ClassVar[str] = ""  # type: ignore[misc]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared = cls.__dict__.get("err_code")
        if declared is None:
            return  # grouping class or a subclass that inherits its parent's code: not registered
        codes = declared if isinstance(declared, tuple) else (declared,)
        if not codes or not all(isinstance(c, int) and not isinstance(c, bool) for c in codes):
            raise TypeError(f"{cls.__name__}.err_code must be an int or a non-empty tuple of ints")
        for c in codes:
            other = ERR_CODE_TO_CLASS.get(c)
            if other is not None:
                raise TypeError(f"err_code {c} of {cls.__name__} is already registered to {other.__name__}")
        for c in codes:
            ERR_CODE_TO_CLASS[c] = cls

    def __init__(
        self,
        code: int | None = None,
        err_code: int | None = None,
        description: str | None = None,
        *,
        stream: str | None = None,
        seq: int | None = None,
    ) -> None:
        cls = type(self)
        if code is None:
            code = cls.code
        if err_code is None:
            declared = cls.err_code
            err_code = (declared[0] if isinstance(declared, tuple) else declared) or 0
        if description is None:
            description = cls.description
        super().__init__(f"{description or 'JetStream API error'} (code={code}, err_code={err_code})")
        # Instance attributes shadow the class-level defaults of the same name.
        self.code = code  # type: ignore[misc]
        self.err_code = err_code  # type: ignore[misc]
        self.description = description  # type: ignore[misc]
        self.stream = stream
        self.seq = seq

    def __reduce__(self) -> Any:
        # Exception pickling replays ``args`` (the message); rebuild from the fields instead.
        return (
            type(self),
            (self.code, self.err_code, self.description),
            {"stream": self.stream, "seq": self.seq, **self.__dict__},
        )


def api_error_from_json(
    obj: Mapping[str, Any], *, stream: str | None = None, seq: int | None = None
) -> APIError:
    """Build the exception for an API reply's ``error`` object (never raises it).

    The class is chosen by ``err_code``; an unknown or missing code gives a plain :class:`APIError`
    that still carries ``code``, ``err_code`` and ``description``. A malformed ``obj`` (not a mapping,
    non-integer codes) is tolerated: the result is an :class:`APIError` describing what was received.
    """
    if not isinstance(obj, Mapping):
        return APIError(0, 0, f"malformed API error: {obj!r}", stream=stream, seq=seq)
    code = _as_int(obj.get("code"))
    err_code = _as_int(obj.get("err_code"))
    description = obj.get("description")
    if not isinstance(description, str):
        description = "" if description is None else str(description)
    cls = ERR_CODE_TO_CLASS.get(err_code, APIError)
    return cls(code, err_code, description, stream=stream, seq=seq)


def raise_for_api_response(resp: Mapping[str, Any]) -> Mapping[str, Any]:
    """Raise the mapped :class:`APIError` if the reply has an ``error`` object; else return ``resp``.

    ``error`` is tested first because PubAck error replies also carry ``stream`` and ``seq``
    (wire.md 2.7); those keys are copied onto the exception.
    """
    err = resp.get("error")
    if err:
        stream = resp.get("stream")
        seq = resp.get("seq")
        raise api_error_from_json(
            err,
            stream=stream if isinstance(stream, str) else None,
            seq=seq if isinstance(seq, int) else None,
        )
    return resp


def _as_int(value: Any) -> int:
    if isinstance(value, int):
        return 0 if isinstance(value, bool) else value
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
