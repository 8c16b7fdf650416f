"""jetstream.subjects: API subject builders, prefixes/domains, name validation."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from jetstream import subjects as S
from jetstream.errors import InvalidArgumentError, InvalidNameError, JetStreamError
from protocol.errors import BadSubjectError


def test_api_prefix() -> None:
    assert S.api_prefix() == "$JS.API" == S.DEFAULT_API_PREFIX
    assert S.api_prefix(domain="hub") == "$JS.hub.API"
    assert S.api_prefix(domain="") == "$JS.API"
    assert S.api_prefix(prefix="$JS.acc.API") == "$JS.acc.API"
    assert S.api_prefix(prefix="imported.js.") == "imported.js"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"domain": "hub", "prefix": "x.API"},
        {"domain": "h b"},
        {"domain": "a.*"},
        {"domain": ">"},
        {"prefix": "a..b"},
        {"prefix": "a b"},
        {"prefix": "..."},
    ],
)
def test_api_prefix_rejects(kwargs: dict) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        S.api_prefix(**kwargs)
    assert isinstance(info.value, ValueError)


CASES: list[tuple[Callable[..., str], tuple[Any, ...], str]] = [
    (S.account_info, (), "INFO"),
    (S.stream_create, ("OBJ_b",), "STREAM.CREATE.OBJ_b"),
    (S.stream_update, ("OBJ_b",), "STREAM.UPDATE.OBJ_b"),
    (S.stream_info, ("OBJ_b",), "STREAM.INFO.OBJ_b"),
    (S.stream_delete, ("OBJ_b",), "STREAM.DELETE.OBJ_b"),
    (S.stream_purge, ("OBJ_b",), "STREAM.PURGE.OBJ_b"),
    (S.stream_names, (), "STREAM.NAMES"),
    (S.stream_list, (), "STREAM.LIST"),
    (S.stream_msg_get, ("OBJ_b",), "STREAM.MSG.GET.OBJ_b"),
    (S.stream_msg_delete, ("OBJ_b",), "STREAM.MSG.DELETE.OBJ_b"),
    (S.direct_get, ("OBJ_b",), "DIRECT.GET.OBJ_b"),
    (S.direct_get_last, ("OBJ_b", "$O.b.M.YS5wZGY="), "DIRECT.GET.OBJ_b.$O.b.M.YS5wZGY="),
    (S.consumer_create, ("OBJ_b", "oc1"), "CONSUMER.CREATE.OBJ_b.oc1"),
    (S.consumer_create, ("OBJ_b", "oc1", "$O.b.C.>"), "CONSUMER.CREATE.OBJ_b.oc1.$O.b.C.>"),
    (S.consumer_create, ("OBJ_b", "oc1", None), "CONSUMER.CREATE.OBJ_b.oc1"),
    (S.consumer_create_legacy, ("OBJ_b",), "CONSUMER.CREATE.OBJ_b"),
    (S.consumer_create_durable, ("OBJ_b", "d1"), "CONSUMER.DURABLE.CREATE.OBJ_b.d1"),
    (S.consumer_info, ("OBJ_b", "oc1"), "CONSUMER.INFO.OBJ_b.oc1"),
    (S.consumer_delete, ("OBJ_b", "oc1"), "CONSUMER.DELETE.OBJ_b.oc1"),
    (S.consumer_names, ("OBJ_b",), "CONSUMER.NAMES.OBJ_b"),
    (S.consumer_list, ("OBJ_b",), "CONSUMER.LIST.OBJ_b"),
    (S.consumer_msg_next, ("OBJ_b", "pull"), "CONSUMER.MSG.NEXT.OBJ_b.pull"),
]


@pytest.mark.parametrize("fn,args,tail", CASES, ids=[f"{c[0].__name__}-{len(c[1])}" for c in CASES])
@pytest.mark.parametrize("prefix", ["$JS.API", "$JS.hub.API", "imported.js"])
def test_builders(fn: Callable[..., str], args: tuple, tail: str, prefix: str) -> None:
    assert fn(prefix, *args) == f"{prefix}.{tail}"


def test_builders_with_default_prefix() -> None:
    assert S.account_info() == "$JS.API.INFO"
    assert S.stream_names() == "$JS.API.STREAM.NAMES"
    assert S.stream_list() == "$JS.API.STREAM.LIST"
    assert S.stream_info(S.api_prefix(domain="hub"), "S") == "$JS.hub.API.STREAM.INFO.S"


def test_every_builder_is_exported() -> None:
    for name in S.__all__:
        assert hasattr(S, name)
    assert {fn.__name__ for fn, _, _ in CASES} <= set(S.__all__)


BAD_NAMES = [
    "",
    "a b",
    "a\tb",
    "a\nb",
    "a\rb",
    "a.b",
    "a*",
    "a>",
    "a/b",
    "a\\b",
    "x" * 256,
    "é" * 128,  # 256 UTF-8 bytes
    None,
    5,
]


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_invalid_names(name: Any) -> None:
    with pytest.raises(InvalidNameError) as info:
        S.validate_name(name)
    assert isinstance(info.value, ValueError) and isinstance(info.value, JetStreamError)
    with pytest.raises(ValueError):
        S.stream_info("$JS.API", name)
    with pytest.raises(ValueError):
        S.consumer_info("$JS.API", "S", name)


@pytest.mark.parametrize("name", ["OBJ_b", "KV_x-y", "x" * 255, "é" * 127, "名前", "a=b", "$weird"])
def test_valid_names(name: str) -> None:
    assert S.validate_stream_name(name) == name
    assert S.validate_consumer_name(name) == name


def test_error_message_names_the_kind() -> None:
    with pytest.raises(InvalidNameError, match="stream name"):
        S.stream_create("$JS.API", "a.b")
    with pytest.raises(InvalidNameError, match="consumer name"):
        S.consumer_create("$JS.API", "S", "c*")


@pytest.mark.parametrize("subject", ["", "a b", "a\r\nPUB x 1"])
def test_appended_subjects_are_checked(subject: str) -> None:
    with pytest.raises(BadSubjectError):
        S.direct_get_last("$JS.API", "S", subject)
    with pytest.raises(BadSubjectError):
        S.consumer_create("$JS.API", "S", "c", subject or " ")
