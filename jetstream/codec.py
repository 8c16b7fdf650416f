"""The generic dataclass <-> JSON codec of the JetStream API models.

Owns :func:`from_json` / :func:`to_json`: the Go struct-tag idea for dataclasses. A field declares
``field(metadata={"json": "wire_name", "unit": "ns"})`` (``unit`` is ``"ns"`` for durations or
``"base64"`` for bytes); the codec reads the tags and type hints once per class and caches a plan.
It handles nested dataclasses, ``list``/``dict`` of them, ``Optional``, ``str`` enums, durations,
datetimes and base64 bytes, ignores unknown keys on read but keeps them in the model's private
``_extra`` field (see :func:`extra_field`) and merges them back on write, and omits ``None``.
Durations and times are converted by ``jetstream.times`` (re-exported here for older importers).

Rule: no I/O, no asyncio; imports only ``jetstream.errors`` and ``jetstream.times``. Conversion
failures raise :class:`~jetstream.errors.CodecError` (a ``ValueError``).
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar, Union

from jetstream.errors import CodecError
from jetstream.times import (  # noqa: F401  (re-exported: objstore and older code import them from here)
    duration_to_ns,
    format_time,
    format_time_ns,
    ns_to_seconds,
    ns_to_timedelta,
    parse_time,
    parse_time_ns,
)

__all__ = [
    "duration_to_ns",
    "ns_to_seconds",
    "ns_to_timedelta",
    "parse_time",
    "parse_time_ns",
    "format_time",
    "format_time_ns",
    "extra_field",
    "from_json",
    "to_json",
    "JSONModel",
]

_NS = 1_000_000_000

T = TypeVar("T")

# --- dataclass codec ---------------------------------------------------------------------------

_EXTRA_TAG = "json_extra"
_OMIT = object()  # an encoder's way to say "leave this key out"

Decoder = Callable[[Any], Any]
Encoder = Callable[[Any], Any]


def extra_field() -> Any:
    """The ``_extra`` field every model declares: unknown JSON keys, kept for read-modify-write.

    It is an ``__init__`` keyword (so ``dataclasses.replace`` keeps it) but is left out of ``repr`` and
    ``==``.
    """
    return dataclasses.field(default_factory=dict, repr=False, compare=False, metadata={_EXTRA_TAG: True})


class _Plan:
    __slots__ = ("fields", "by_wire", "required", "extra_name")

    def __init__(self) -> None:
        # (python name, wire name, decoder or None, encoder or None)
        self.fields: list[tuple[str, str, Decoder | None, Encoder | None]] = []
        self.by_wire: dict[str, tuple[str, Decoder | None]] = {}
        self.required: list[tuple[str, str]] = []
        self.extra_name: str | None = None


_PLANS: dict[type, _Plan] = {}


def _plan_for(cls: type) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is not None:
        return plan
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    plan = _Plan()
    for f in dataclasses.fields(cls):
        if f.metadata.get(_EXTRA_TAG):
            plan.extra_name = f.name
            continue
        wire = f.metadata.get("json", f.name)
        dec, enc = _converters(hints.get(f.name, Any), f.metadata.get("unit"))
        plan.fields.append((f.name, wire, dec, enc))
        plan.by_wire[wire] = (f.name, dec)
        if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            plan.required.append((f.name, wire))
    _PLANS[cls] = plan
    return plan


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else Any
    return tp


def _converters(tp: Any, unit: str | None) -> tuple[Decoder | None, Encoder | None]:
    """(decoder, encoder) for one annotated type; ``None`` means "use the value as it is"."""
    tp = _strip_optional(tp)
    origin = typing.get_origin(tp)
    if unit == "ns":
        if origin is list:
            return _list_of(_dec_duration, _enc_duration)
        return _dec_duration, _enc_duration
    if unit == "base64":
        return _dec_base64, _enc_base64
    if unit is not None:
        raise TypeError(f"unknown codec unit {unit!r}")
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return _model_decoder(tp), _enc_model
        if issubclass(tp, Enum):
            return _enum_decoder(tp), _enc_enum
        if issubclass(tp, datetime):
            return _dec_time, _enc_time
    if origin is list:
        (item,) = typing.get_args(tp) or (Any,)
        return _list_of(*_converters(item, None))
    if origin is dict:
        args = typing.get_args(tp)
        return _dict_of(*_converters(args[1] if len(args) == 2 else Any, None))
    if tp in (str, int, bool, float):
        return None, None
    return _deep_copy, _deep_copy


def _deep_copy(value: Any) -> Any:
    return copy.deepcopy(value) if isinstance(value, (dict, list)) else value


def _list_of(dec: Decoder | None, enc: Encoder | None) -> tuple[Decoder, Encoder]:
    def decode(value: Any) -> Any:
        if not isinstance(value, list):
            raise CodecError(f"expected a JSON array, got {value!r}")
        return [v if v is None or dec is None else dec(v) for v in value]

    def encode(value: Any) -> Any:
        return [v if v is None or enc is None else enc(v) for v in value]

    return decode, encode


def _dict_of(dec: Decoder | None, enc: Encoder | None) -> tuple[Decoder, Encoder]:
    def decode(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise CodecError(f"expected a JSON object, got {value!r}")
        return {k: v if v is None or dec is None else dec(v) for k, v in value.items()}

    def encode(value: Any) -> Any:
        return {k: v if v is None or enc is None else enc(v) for k, v in value.items()}

    return decode, encode


def _dec_duration(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CodecError(f"expected a duration in nanoseconds, got {value!r}")
    return value / _NS


def _enc_duration(value: Any) -> int:
    return duration_to_ns(value)


def _dec_base64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise CodecError(f"expected base64 text, got {value!r}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CodecError(f"invalid base64: {value[:40]!r}") from None


def _enc_base64(value: Any) -> Any:
    if not value:
        return _OMIT  # Go omits empty []byte
    return base64.b64encode(bytes(value)).decode("ascii")


def _dec_time(value: Any) -> datetime:
    return parse_time(value)


def _enc_time(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, str):
        return value if value else _OMIT
    raise CodecError(f"expected a datetime, got {value!r}")


def _enum_decoder(enum_cls: type[Enum]) -> Decoder:
    def decode(value: Any) -> Any:
        if value == "":
            return None  # never re-emit "" (the server rejects e.g. "compression": "")
        try:
            return enum_cls(value)
        except ValueError:
            return value  # a value newer than this client: keep the raw string for round trips

    return decode


def _enc_enum(value: Any) -> Any:
    if isinstance(value, Enum):
        value = value.value
    # Never send "" or null for an enum: the server's unmarshalers only accept listed strings.
    return _OMIT if value == "" else value


def _model_decoder(model: type) -> Decoder:
    return lambda value: from_json(model, value)


def _enc_model(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json(value)
    if isinstance(value, Mapping):
        return copy.deepcopy(dict(value))
    raise CodecError(f"expected a model or a mapping, got {value!r}")


def from_json(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build ``cls`` from a decoded JSON object without modifying ``data``.

    Unknown keys go (deep-copied) into the model's ``_extra`` field if it declares one; ``null``
    values leave the field at its default. Raises CodecError for a non-object, a missing required key,
    or a value of the wrong shape.
    """
    plan = _plan_for(cls)
    if not isinstance(data, Mapping):
        raise CodecError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    by_wire = plan.by_wire
    for key, value in data.items():
        entry = by_wire.get(key)
        if entry is None:
            extra[key] = _deep_copy(value)
            continue
        if value is None:
            continue
        name, dec = entry
        if dec is None:
            kwargs[name] = value
        else:
            try:
                kwargs[name] = dec(value)
            except CodecError as exc:
                raise CodecError(f"{cls.__name__}.{name}: {exc}") from None
    for name, wire in plan.required:
        if name not in kwargs:
            raise CodecError(f"{cls.__name__}: required key {wire!r} is missing")
    if extra and plan.extra_name is not None:
        kwargs[plan.extra_name] = extra
    return cls(**kwargs)


def to_json(obj: Any) -> dict[str, Any]:
    """The JSON object for a model: wire names, ``None`` fields omitted, unknown keys merged back.

    Kept unknown keys never override a declared field (even one set to ``None``). Raises CodecError
    for values that cannot be encoded (e.g. a string where a duration is expected).
    """
    plan = _plan_for(type(obj))
    out: dict[str, Any] = {}
    for name, wire, _dec, enc in plan.fields:
        value = getattr(obj, name)
        if value is None:
            continue
        if enc is not None:
            try:
                value = enc(value)
            except CodecError as exc:
                raise CodecError(f"{type(obj).__name__}.{name}: {exc}") from None
            if value is _OMIT:
                continue
        elif isinstance(value, (dict, list)):
            value = copy.deepcopy(value)
        out[wire] = value
    if plan.extra_name is not None:
        extra = getattr(obj, plan.extra_name)
        if extra:
            for key, value in extra.items():
                if key not in plan.by_wire and key not in out:
                    out[key] = _deep_copy(value)
    return out


class JSONModel:
    """Mixin for dataclass models: ``Model.from_json(data)`` and ``model.to_json()``.

    It has no fields; a model that wants to keep unknown keys declares
    ``_extra: dict[str, Any] = extra_field()``.
    """

    __slots__ = ()

    @classmethod
    def from_json(cls: type[T], data: Mapping[str, Any]) -> T:
        return from_json(cls, data)

    def to_json(self) -> dict[str, Any]:
        return to_json(self)
