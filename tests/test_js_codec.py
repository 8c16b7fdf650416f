"""jetstream.codec: durations, times, and the dataclass <-> JSON machinery."""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any, Optional

import pytest

from jetstream import codec
from jetstream.codec import (
    JSONModel,
    duration_to_ns,
    extra_field,
    format_time,
    format_time_ns,
    from_json,
    ns_to_seconds,
    ns_to_timedelta,
    parse_time,
    parse_time_ns,
    to_json,
)
from jetstream.errors import CodecError, JetStreamError

UTC = timezone.utc

# --- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value,ns",
    [
        (0, 0),
        (1, 1_000_000_000),
        (120, 120_000_000_000),
        (0.1, 100_000_000),
        (1.5, 1_500_000_000),
        (0.000000001, 1),
        (79200.0, 79_200_000_000_000),
        (-1, -1_000_000_000),
        (10**12, 10**21),  # whole seconds stay exact beyond float precision
        (timedelta(seconds=5), 5_000_000_000),
        (timedelta(microseconds=1), 1_000),
        (timedelta(days=1, milliseconds=250), 86_400_250_000_000),
        (timedelta(hours=-1), -3_600_000_000_000),
    ],
)
def test_duration_to_ns(value: Any, ns: int) -> None:
    got = duration_to_ns(value)
    assert got == ns and type(got) is int


@pytest.mark.parametrize("bad", [True, "5", None, float("nan"), float("inf"), [1]])
def test_duration_to_ns_rejects(bad: Any) -> None:
    with pytest.raises(CodecError):
        duration_to_ns(bad)


@pytest.mark.parametrize("ns", [0, 1, 999, 100_000_000, 1_234_567_891, 120_000_000_000, 79_200_000_000_000, 2**52])
def test_ns_seconds_round_trip(ns: int) -> None:
    assert duration_to_ns(ns_to_seconds(ns)) == ns


def test_ns_to_timedelta() -> None:
    assert ns_to_timedelta(5_000_000_000) == timedelta(seconds=5)
    assert ns_to_timedelta(1_500) == timedelta(microseconds=1)  # sub-microsecond truncated
    assert duration_to_ns(ns_to_timedelta(86_400_250_000_000)) == 86_400_250_000_000
    assert ns_to_seconds(1_500_000_000) == 1.5


# --- times -------------------------------------------------------------------------------------


@pytest.mark.parametrize("digits", range(10))
def test_rfc3339nano_fraction_digits(digits: int) -> None:
    frac = "123456789"[:digits]
    text = "2023-08-23T19:53:05" + (f".{frac}" if digits else "") + "Z"
    dt = parse_time(text)
    micro = int(frac[:6].ljust(6, "0")) if digits else 0
    assert dt == datetime(2023, 8, 23, 19, 53, 5, micro, tzinfo=UTC)
    assert dt.tzinfo is UTC
    nanos = int(frac.ljust(9, "0")) if digits else 0
    assert parse_time_ns(text) == int(datetime(2023, 8, 23, 19, 53, 5, tzinfo=UTC).timestamp()) * 10**9 + nanos


def test_rfc3339_variants() -> None:
    base = datetime(2023, 8, 23, 19, 53, 5, 762416, tzinfo=UTC)
    assert parse_time("2023-08-23T19:53:05.762416Z") == base
    assert parse_time("2023-08-23t19:53:05.762416z") == base
    assert parse_time("2023-08-23T21:53:05.762416+02:00") == base
    assert parse_time("2023-08-23T14:23:05.762416-05:30") == base
    assert parse_time("2023-08-23T19:53:05.762416+00:00").tzinfo is UTC
    off = parse_time("2023-08-23T21:53:05+02:00")
    assert off.utcoffset() == timedelta(hours=2)
    assert parse_time_ns("2023-08-23T21:53:05.5+02:00") == parse_time_ns("2023-08-23T19:53:05.5Z")
    # more than 9 digits: truncated, not rejected
    assert parse_time_ns("1970-01-01T00:00:00.1234567891Z") == 123_456_789


def test_go_zero_time() -> None:
    dt = parse_time("0001-01-01T00:00:00Z")
    assert dt == datetime(1, 1, 1, tzinfo=UTC)
    assert format_time(dt) == "0001-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "text,expected_ns",
    [
        ("2022-08-06 00:29:27.587861324 +0000 UTC", 1659745767_587861324),
        ("2022-08-06 02:29:27.587861324 +0200 CEST", 1659745767_587861324),
        ("2022-08-05 17:29:27.587861324 -0700 MST", 1659745767_587861324),
        ("2022-08-06 00:29:27 +0000 UTC", 1659745767_000000000),
        ("2022-08-06 00:29:27.5 +0000 UTC m=+0.001234567", 1659745767_500000000),
        ("2022-08-06 03:29:27.5 +0300 +03", 1659745767_500000000),
    ],
)
def test_go_string_layout(text: str, expected_ns: int) -> None:
    assert parse_time_ns(text) == expected_ns
    assert parse_time(text) == datetime(2022, 8, 6, 0, 29, 27, (expected_ns % 10**9) // 1000, tzinfo=UTC)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "2023-08-23",
        "2023-08-23T19:53:05",  # no zone
        "2023-08-23T19:53:05.Z",
        "2023-13-01T00:00:00Z",
        "2023-02-30T00:00:00Z",
        "2023-08-23T24:00:00Z",
        "2023-08-23T19:60:00Z",
        "2023-08-23T19:53:05Zjunk",
        "2023-08-23T19:53:05+0200",  # RFC 3339 needs the colon
        "２０２３-08-23T19:53:05Z",  # non-ASCII digits
        "2022-08-06 00:29:27.5 UTC",
        None,
        12345,
    ],
)
def test_parse_time_rejects(bad: Any) -> None:
    with pytest.raises(CodecError):
        parse_time(bad)
    with pytest.raises(ValueError):
        parse_time_ns(bad)


def test_format_time() -> None:
    assert format_time(datetime(2023, 8, 23, 19, 53, 5, tzinfo=UTC)) == "2023-08-23T19:53:05Z"
    assert format_time(datetime(2023, 8, 23, 19, 53, 5, 762410, tzinfo=UTC)) == "2023-08-23T19:53:05.76241Z"
    assert format_time(datetime(2023, 8, 23, 19, 53, 5, 762410)) == "2023-08-23T19:53:05.76241Z"  # naive = UTC
    cest = timezone(timedelta(hours=2))
    assert format_time(datetime(2023, 8, 23, 21, 53, 5, 1, tzinfo=cest)) == "2023-08-23T19:53:05.000001Z"


@pytest.mark.parametrize("ns", [0, 1, 1659745767_587861324, 1659745767_500000000, 1659745767_000000000, -1])
def test_format_time_ns_exact(ns: int) -> None:
    text = format_time_ns(ns)
    assert text.endswith("Z")
    assert parse_time_ns(text) == ns
    if "." in text:  # Go RFC3339Nano trims trailing fractional zeros
        assert not text[:-1].endswith("0")


def test_format_time_ns_examples() -> None:
    assert format_time_ns(1659745767_587861324) == "2022-08-06T00:29:27.587861324Z"
    assert format_time_ns(1659745767_500000000) == "2022-08-06T00:29:27.5Z"
    assert format_time_ns(0) == "1970-01-01T00:00:00Z"


def test_format_time_out_of_range() -> None:
    with pytest.raises(CodecError):
        format_time(parse_time("0001-01-01T00:00:00+01:00"))
    with pytest.raises(CodecError):
        format_time_ns(10**30)


def test_time_round_trip_through_format() -> None:
    dt = datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_time(format_time(dt)) == dt


# --- the dataclass codec -----------------------------------------------------------------------


class Color(str, Enum):
    RED = "red"
    BLUE = "blue"


@dataclass(slots=True, kw_only=True)
class Leaf(JSONModel):
    label: str | None = None
    wait: float | None = field(default=None, metadata={"unit": "ns"})
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class Root(JSONModel):
    name: str
    display_name: Optional[str] = field(default=None, metadata={"json": "display"})
    count: int | None = None
    color: Color | None = None
    timeout: float | None = field(default=None, metadata={"unit": "ns"})
    backoff: list[float] | None = field(default=None, metadata={"unit": "ns"})
    when: datetime | None = None
    leaf: Leaf | None = None
    leaves: list[Leaf] | None = None
    by_key: dict[str, Leaf] | None = None
    tags: list[str] | None = None
    labels: dict[str, str] | None = None
    blob: bytes = field(default=b"", metadata={"unit": "base64"})
    anything: Any = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class NoExtra(JSONModel):
    a: int | None = None


WIRE = {
    "name": "r",
    "display": "Root",
    "count": 3,
    "color": "blue",
    "timeout": 5_000_000_000,
    "backoff": [1_000_000_000, 2_500_000_000],
    "when": "2023-08-23T19:53:05.762416Z",
    "leaf": {"label": "one", "wait": 100_000_000, "leaf_future": [1, 2]},
    "leaves": [{"label": "a"}, {"label": "b", "wait": 0}],
    "by_key": {"k": {"label": "v"}},
    "tags": ["x", "y"],
    "labels": {"a": "b"},
    "blob": "aGk=",
    "anything": {"deep": [1, {"x": 2}]},
    "future_key": {"nested": ["v"]},
}


def test_from_json_decodes_everything() -> None:
    r = Root.from_json(WIRE)
    assert r.name == "r" and r.display_name == "Root" and r.count == 3
    assert r.color is Color.BLUE
    assert r.timeout == 5.0 and r.backoff == [1.0, 2.5]
    assert r.when == datetime(2023, 8, 23, 19, 53, 5, 762416, tzinfo=UTC)
    assert r.leaf == Leaf(label="one", wait=0.1)
    assert r.leaf._extra == {"leaf_future": [1, 2]}
    assert r.leaves == [Leaf(label="a"), Leaf(label="b", wait=0.0)]
    assert r.by_key == {"k": Leaf(label="v")}
    assert r.blob == b"hi"
    assert r._extra == {"future_key": {"nested": ["v"]}}


def test_round_trip_is_exact() -> None:
    assert Root.from_json(WIRE).to_json() == WIRE


def test_from_json_never_mutates_and_never_aliases_input() -> None:
    data = copy.deepcopy(WIRE)
    r = from_json(Root, data)
    assert data == WIRE
    r.tags.append("z")
    r.labels["c"] = "d"
    r.anything["deep"].append(3)
    r._extra["future_key"]["nested"].append("w")
    r.leaf._extra["leaf_future"].append(3)
    assert data == WIRE
    out = to_json(r)
    out["tags"].append("again")
    out["future_key"]["nested"].append("again")
    assert "again" not in r.tags and "again" not in r._extra["future_key"]["nested"]


def test_to_json_omits_none_and_keeps_declared_order() -> None:
    assert Root(name="x").to_json() == {"name": "x"}
    out = Root(name="x", count=0, tags=[], color=Color.RED).to_json()
    assert out == {"name": "x", "count": 0, "color": "red", "tags": []}
    assert list(out) == ["name", "count", "color", "tags"]


def test_to_json_accepts_python_conveniences() -> None:
    r = Root(
        name="x",
        timeout=timedelta(milliseconds=250),  # type: ignore[arg-type]
        backoff=[1, timedelta(seconds=2)],  # type: ignore[list-item]
        color="red",  # type: ignore[arg-type]
        when=datetime(2023, 1, 2, 3, 4, 5),
        leaf={"label": "raw", "wait": 7},  # type: ignore[arg-type]
    )
    assert r.to_json() == {
        "name": "x",
        "color": "red",
        "timeout": 250_000_000,
        "backoff": [1_000_000_000, 2_000_000_000],
        "when": "2023-01-02T03:04:05Z",
        "leaf": {"label": "raw", "wait": 7},
    }


def test_enums_never_null_or_empty() -> None:
    assert "color" not in Root(name="x", color=None).to_json()
    assert "color" not in Root(name="x", color="").to_json()  # type: ignore[arg-type]
    r = Root.from_json({"name": "x", "color": ""})
    assert r.color is None and "color" not in r.to_json()
    assert Root.from_json({"name": "x", "color": None}).color is None


def test_unknown_enum_value_survives() -> None:
    r = Root.from_json({"name": "x", "color": "ultraviolet"})
    assert r.color == "ultraviolet"
    assert r.to_json() == {"name": "x", "color": "ultraviolet"}


def test_null_values_use_defaults() -> None:
    r = Root.from_json({"name": "x", "tags": None, "blob": None, "leaf": None})
    assert r.tags is None and r.blob == b"" and r.leaf is None
    assert r.to_json() == {"name": "x"}


def test_extra_never_overrides_declared_fields() -> None:
    r = Root(name="x", _extra={"name": "evil", "count": 9, "other": 1})
    assert r.to_json() == {"name": "x", "other": 1}


def test_extra_is_not_in_repr_or_eq_but_survives_replace() -> None:
    a = Root.from_json({"name": "x", "new": 1})
    b = Root(name="x")
    assert a == b
    assert "new" not in repr(a) and "_extra" not in repr(a)
    c = dataclasses.replace(a, count=2)
    assert c.to_json() == {"name": "x", "count": 2, "new": 1}


def test_model_without_extra_drops_unknown_keys() -> None:
    assert NoExtra.from_json({"a": 1, "b": 2}).to_json() == {"a": 1}


@pytest.mark.parametrize(
    "data,match",
    [
        ({}, "required key 'name'"),
        ({"name": None}, "required key 'name'"),
        ({"name": "x", "timeout": "5s"}, r"Root\.timeout"),
        ({"name": "x", "when": "yesterday"}, r"Root\.when"),
        ({"name": "x", "leaf": "nope"}, r"Root\.leaf"),
        ({"name": "x", "leaves": {"a": 1}}, r"Root\.leaves"),
        ({"name": "x", "leaves": [{"wait": "x"}]}, r"Leaf\.wait"),
        ({"name": "x", "by_key": [1]}, r"Root\.by_key"),
        ({"name": "x", "blob": "not base64!"}, r"Root\.blob"),
        ({"name": "x", "blob": 5}, r"Root\.blob"),
    ],
)
def test_from_json_errors(data: dict, match: str) -> None:
    with pytest.raises(CodecError, match=match) as info:
        Root.from_json(data)
    assert isinstance(info.value, ValueError) and isinstance(info.value, JetStreamError)


@pytest.mark.parametrize("bad", [None, [], "x", 3])
def test_from_json_rejects_non_objects(bad: Any) -> None:
    with pytest.raises(CodecError):
        Root.from_json(bad)


def test_to_json_errors() -> None:
    with pytest.raises(CodecError, match=r"Root\.timeout"):
        Root(name="x", timeout="5s").to_json()  # type: ignore[arg-type]
    with pytest.raises(CodecError, match=r"Root\.when"):
        Root(name="x", when=5).to_json()  # type: ignore[arg-type]
    with pytest.raises(CodecError, match=r"Root\.leaf"):
        Root(name="x", leaf=5).to_json()  # type: ignore[arg-type]


def test_not_a_dataclass() -> None:
    with pytest.raises(TypeError):
        from_json(dict, {})  # type: ignore[arg-type]


def test_plan_is_cached_once_per_class() -> None:
    Root.from_json(WIRE)
    plan = codec._PLANS[Root]
    Root.from_json(WIRE)
    Root(name="x").to_json()
    assert codec._PLANS[Root] is plan


def test_float_seconds_from_wire_are_exact_enough() -> None:
    r = Root.from_json({"name": "x", "timeout": 1_234_567_891})
    assert math.isclose(r.timeout, 1.234567891)
    assert r.to_json()["timeout"] == 1_234_567_891
