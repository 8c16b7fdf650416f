"""Issue 10, point 4: metas other clients wrote never break the bucket.

``parse_meta`` raises only BadObjectMetaError, whatever the payload (table-driven cases and a
hypothesis fuzz of every field). Against a real server: malformed metas published raw next to good
objects give BadObjectMetaError from get/get_info/delete/update_meta of their name and no builtin
exception from any call; ``list()``, ``watch()`` and ``status()`` skip and report them (a warning on
the ``objstore`` logger, ``ObjectWatcher.bad_entries``, ``ObjectStoreStatus.bad_metas``) without
losing the good ones; ``put()`` of the same name replaces a malformed meta.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import objstore
from harness import NatsServer
from objstore import BadObjectMetaError, MalformedMeta, ObjectInfo, ObjectMeta
from objstore.chunks import digest_of
from objstore.models import parse_meta
from objstore.subjects import meta_subject
from protocol import NatsError

pytestmark = pytest.mark.timeout(60)

ROLLUP = {"Nats-Rollup": "sub"}


def good_meta(name: str = "n", **fields: Any) -> dict[str, Any]:
    meta = {
        "name": name,
        "bucket": "b",
        "nuid": "AAAAAAAAAAAAAAAAAAAAAA",
        "size": 3,
        "chunks": 1,
        "mtime": "2024-05-01T12:00:00Z",
        "digest": digest_of(b"abc"),
        "headers": {"Content-Type": ["text/plain"]},
        "metadata": {"k": "v"},
        "options": {"max_chunk_size": 131072},
        "description": "d",
    }
    meta.update(fields)
    return meta


def as_json(**fields: Any) -> bytes:
    return json.dumps(good_meta(**fields)).encode()


# Malformed payloads: (id, bytes). The name inside is filled in per object by the server tests.
MALFORMED: list[tuple[str, bytes]] = [
    ("not-json", b"{not json"),
    ("empty", b""),
    ("json-array", b"[1, 2]"),
    ("json-string", b'"meta"'),
    ("json-null", b"null"),
    ("no-name", json.dumps({k: v for k, v in good_meta().items() if k != "name"}).encode()),
    ("name-int", as_json(name=5)),
    ("size-str", as_json(size="x")),
    ("size-1e400", b'{"name": "@", "nuid": "N", "size": 1e400, "chunks": 1}'),
    ("size-1e300", as_json(size=1e300)),
    ("size-2^64", as_json(size=2**64)),
    ("size-negative", as_json(size=-5)),
    ("size-fraction", as_json(size=2.5)),
    ("size-bool", as_json(size=True)),
    ("size-nan", b'{"name": "@", "nuid": "N", "size": NaN}'),
    ("size-5000-digits", b'{"name": "@", "nuid": "N", "size": 1' + b"0" * 5000 + b"}"),
    ("chunks-negative", as_json(chunks=-1)),
    ("chunks-list", as_json(chunks=[1])),
    ("options-link-str", as_json(options={"link": "x"})),
    ("options-link-bad-bucket", as_json(options={"link": {"bucket": "a.b", "name": "x"}})),
    ("options-link-no-bucket", as_json(options={"link": {"name": "x"}})),
    ("options-str", as_json(options="x")),
    ("options-max-chunk-str", as_json(options={"max_chunk_size": "big"})),
    ("deleted-str-false", as_json(deleted="false")),
    ("deleted-int", as_json(deleted=1)),
    ("headers-list", as_json(headers=[1])),
    ("headers-int-value", as_json(headers={"A": [1]})),
    ("headers-dict-value", as_json(headers={"A": {"b": "c"}})),
    ("metadata-int-value", as_json(metadata={"a": 1})),
    ("metadata-list", as_json(metadata=["a"])),
    ("nuid-wildcard", as_json(nuid=">")),  # would make delete/put purge every object's chunks
    ("nuid-dotted", as_json(nuid="a.b")),
    ("nuid-int", as_json(nuid=5)),
    ("digest-bad", as_json(digest="MD5=abc")),
    ("digest-int", as_json(digest=5)),
    ("description-int", as_json(description=5)),
    ("bucket-list", as_json(bucket=["b"])),
    ("not-utf8", b'{"name": "\xff\xfe", "nuid": "N"}'),
    ("deep-nesting", b'{"name": "@", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    ("infinity-elsewhere", b'{"name": "@", "nuid": "N", "extra": Infinity}'),
]

# Odd but tolerated: these parse.
TOLERATED: list[tuple[str, dict[str, Any]]] = [
    ("nats-py-empty-mtime", {"mtime": ""}),
    ("mtime-number", {"mtime": 5}),
    ("mtime-garbage", {"mtime": "yesterday"}),
    ("mtime-object", {"mtime": {"a": 1}}),
    ("nulls", {"description": None, "headers": None, "metadata": None, "options": None, "deleted": None, "digest": None}),
    ("nats-py-link-null", {"options": {"link": None, "max_chunk_size": 131072}}),
    ("empty-maps", {"headers": {}, "metadata": {}, "options": {}}),
    ("flat-headers", {"headers": {"A": "1", "B": None}}),
    ("integral-float-size", {"size": 3.0, "chunks": 1.0}),
    ("deleted-false", {"deleted": False}),
    ("unknown-fields", {"future": {"nested": [1, 2.5, None]}}),
]


def _with_name(raw: bytes, name: str) -> bytes:
    """Put ``name`` where the payload has a name (``"n"`` from good_meta, or ``"@"``)."""
    return raw.replace(b'"name": "n"', json.dumps({"name": name})[1:-1].encode()).replace(b'"name": "@"', json.dumps({"name": name})[1:-1].encode())


@pytest.mark.parametrize("raw", [r for _, r in MALFORMED], ids=[i for i, _ in MALFORMED])
def test_parse_meta_refuses_malformed(raw: bytes) -> None:
    with pytest.raises(BadObjectMetaError):
        parse_meta(raw)


@pytest.mark.parametrize("fields", [f for _, f in TOLERATED], ids=[i for i, _ in TOLERATED])
def test_parse_meta_tolerates(fields: dict[str, Any]) -> None:
    info = parse_meta(as_json(**fields))
    assert info.name == "n" and isinstance(info.size, int) and isinstance(info.deleted, bool)
    # What was read can be written back as strict JSON and read again (a read-modify-write).
    assert parse_meta(json.dumps(info.to_json(), allow_nan=False).encode()).name == "n"


def test_parse_meta_minimal_and_types() -> None:
    info = parse_meta(b'{"name": "x"}')
    assert (info.size, info.chunks, info.nuid, info.digest, info.deleted, info.mtime) == (0, 0, "", "", False, None)
    assert parse_meta(as_json(size=3.0)).size == 3 and type(parse_meta(as_json(size=3.0)).size) is int
    assert parse_meta(as_json(mtime="")).mtime is None


# --- fuzz ------------------------------------------------------------------------------------------

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
FIELDS = ["name", "bucket", "nuid", "size", "chunks", "digest", "deleted", "mtime", "description", "headers", "metadata", "options"]
# Values shaped like a field's sub-structure, so the fuzz also reaches links, header lists etc.
SHAPED = st.one_of(
    JSONISH,
    st.fixed_dictionaries({"link": JSONISH}),
    st.fixed_dictionaries({"link": st.fixed_dictionaries({"bucket": JSONISH | st.sampled_from(["b", "x_y-1"]), "name": JSONISH})}),
    st.fixed_dictionaries({"max_chunk_size": JSONISH}),
    st.dictionaries(st.text(max_size=4), st.lists(JSONISH, max_size=3), max_size=3),
)


def _check_outcome(parse: Any) -> None:
    try:
        info = parse()
    except BadObjectMetaError:
        return
    # Success: the info is well typed and can be written back as strict JSON.
    assert isinstance(info, ObjectInfo) and isinstance(info.name, str) and info.name
    for value in (info.size, info.chunks):
        assert type(value) is int and 0 <= value < 2**63
    assert type(info.deleted) is bool and isinstance(info.nuid, str) and isinstance(info.digest, str)
    assert info.metadata is None or all(isinstance(k, str) and isinstance(v, str) for k, v in info.metadata.items())
    if info.options is not None and info.options.link is not None:
        assert isinstance(info.options.link.bucket, str) and info.options.link.bucket
    again = parse_meta(json.dumps(info.to_json(), allow_nan=False).encode())
    assert again.name == info.name and again.size == info.size and again.nuid == info.nuid


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(FIELDS), value=SHAPED, drop=st.booleans())
def test_fuzz_one_field(field: str, value: Any, drop: bool) -> None:
    meta = good_meta()
    if drop:
        meta.pop(field, None)
    else:
        meta[field] = value
    # Through JSON text (what arrives on the wire; NaN/Infinity become their JSON-ish literals)
    _check_outcome(lambda: parse_meta(json.dumps(meta).encode()))
    # And the Python values as they are (ObjectInfo.from_json is public too)
    _check_outcome(lambda: ObjectInfo.from_json(meta))


@settings(max_examples=200, deadline=None)
@given(meta=st.dictionaries(st.sampled_from(FIELDS + ["extra"]), SHAPED, max_size=8))
def test_fuzz_whole_meta(meta: dict[str, Any]) -> None:
    _check_outcome(lambda: parse_meta(json.dumps(meta).encode()))


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=200) | st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_fuzz_raw_bytes(raw: bytes) -> None:
    _check_outcome(lambda: parse_meta(raw))


def test_huge_and_special_numbers() -> None:
    for raw in (b'{"name":"x","size":1e400}', b'{"name":"x","size":-0.0e1}', b'{"name":"x","size":9223372036854775808}'):
        try:
            info = parse_meta(raw)
        except BadObjectMetaError:
            continue
        assert info.size == 0  # -0.0 is an integral float: 0
    assert math.isfinite(float(parse_meta(b'{"name":"x","x":1.5e300}')._extra["x"]))


# --- against a real server ------------------------------------------------------------------------


@pytest.fixture
def nats_url(module_server: NatsServer) -> str:  # overrides conftest's: one server for the module
    return module_server.url


_BUCKETS = iter(range(10**6))


@pytest.fixture
async def store(js: objstore.JetStreamContext) -> Any:
    bucket = f"fm{next(_BUCKETS)}"
    s = await js.create_object_store(bucket=bucket)
    try:
        yield s
    finally:
        await js.delete_object_store(bucket)


BAD_NAMES = [f"bad/{i}" for i, _ in MALFORMED]
GOOD = {"good/1": b"one" * 1000, "good/2": b"two", "good/empty": b""}


async def publish_bad(js: objstore.JetStreamContext, store: objstore.ObjectStore) -> None:
    for name, (_, raw) in zip(BAD_NAMES, MALFORMED):
        await js.publish(meta_subject(store.bucket, name), _with_name(raw, name), headers=ROLLUP)


async def fill(js: objstore.JetStreamContext, store: objstore.ObjectStore) -> None:
    """Good objects, with the malformed metas published between them."""
    await store.put("good/1", GOOD["good/1"], chunk_size=1000)
    await publish_bad(js, store)
    await store.put("good/2", GOOD["good/2"])
    await store.put("good/empty", GOOD["good/empty"])


async def assert_goods_intact(store: objstore.ObjectStore) -> None:
    for name, data in GOOD.items():
        assert await store.get(name) == data, name


async def test_get_and_get_info_raise_bad_meta(store: objstore.ObjectStore, js) -> None:
    await fill(js, store)
    for name in BAD_NAMES:
        with pytest.raises(BadObjectMetaError) as ei:
            await store.get_info(name)
        assert name in str(ei.value)
        with pytest.raises(BadObjectMetaError):
            await store.get(name)
        with pytest.raises(BadObjectMetaError):
            await store.get_info(name, show_deleted=True)
    await assert_goods_intact(store)


async def test_no_builtin_exception_from_any_call(store: objstore.ObjectStore, js) -> None:
    await fill(js, store)
    other = await js.create_object_store(bucket=f"{store.bucket}-other")
    try:
        for name in BAD_NAMES:
            calls = {
                "get_info": lambda: store.get_info(name),
                "get": lambda: store.get(name),
                "reader": lambda: store.reader(name),
                "stream": lambda: _drain(store.stream(name)),
                "delete": lambda: store.delete(name),
                "update_meta": lambda: store.update_meta(name, ObjectMeta(description="x")),
                "rename-onto": lambda: store.update_meta("good/2", ObjectMeta(name=name)),
                "add_link-over": lambda: store.add_link(name, ObjectInfo(name="good/1", bucket=store.bucket, nuid="N")),
            }
            for what, call in calls.items():
                try:
                    await call()
                except NatsError as err:
                    assert isinstance(err, objstore.ObjectStoreError), (name, what, err)
                except Exception as err:  # pragma: no cover - the failure this test is for
                    pytest.fail(f"{what}({name!r}) raised {type(err).__name__}: {err}")
        # Nothing above damaged the good objects (a nuid '>' purged through delete or a link
        # would have removed every chunk).
        await assert_goods_intact(store)
        assert sorted(i.name for i in await store.list()) == sorted(GOOD)
    finally:
        await js.delete_object_store(other.bucket)


async def _drain(agen: Any) -> None:
    async for _ in agen:
        pass


async def test_list_and_status_skip_and_report(store: objstore.ObjectStore, js, caplog: pytest.LogCaptureFixture) -> None:
    await fill(js, store)
    with caplog.at_level(logging.WARNING, logger="objstore"):
        names = sorted(i.name for i in await store.list())
    assert names == sorted(GOOD)
    warned = " ".join(r.getMessage() for r in caplog.records if r.name == "objstore")
    for name in BAD_NAMES:
        assert meta_subject(store.bucket, name) in warned, name
    st_ = await store.status()
    assert st_.count == len(GOOD) and st_.bad_metas == len(BAD_NAMES)
    # A bad newest version hides the good older one; a good newest version repairs the count.
    await js.publish(meta_subject(store.bucket, "good/2"), b"{broken", headers=ROLLUP)
    assert sorted(i.name for i in await store.list()) == ["good/1", "good/empty"]
    assert (await store.status()).bad_metas == len(BAD_NAMES) + 1
    # list(show_deleted) and a delete of a good object still work around them
    assert await store.delete("good/1")
    assert [i.name for i in await store.list()] == ["good/empty"]
    assert sorted(i.name for i in await store.list(show_deleted=True)) == ["good/1", "good/empty"]


async def test_watch_yields_good_entries_and_keeps_going(store: objstore.ObjectStore, js, caplog: pytest.LogCaptureFixture) -> None:
    await fill(js, store)
    async with store.watch() as w:
        initial = [info.name async for info in w.initial()]
        assert sorted(initial) == sorted(GOOD)
        assert w.bad_count == len(BAD_NAMES)
        assert sorted(b.name for b in w.bad_entries if b.name) == sorted(BAD_NAMES)
        assert all(isinstance(b, MalformedMeta) and b.seq > 0 and b.error for b in w.bad_entries)
        # Updates: a malformed one is skipped, the good one after it arrives.
        with caplog.at_level(logging.WARNING, logger="objstore"):
            await js.publish(meta_subject(store.bucket, "later-bad"), b"\xff\xff", headers=ROLLUP)
            await store.put("later-good", b"fine")
            info = await asyncio.wait_for(w.__anext__(), timeout=10)
        assert info.name == "later-good"
        assert w.bad_count == len(BAD_NAMES) + 1 and w.bad_entries[-1].name == "later-bad"
        assert any(meta_subject(store.bucket, "later-bad") in r.getMessage() for r in caplog.records)
    # include_history and updates() (None at the end of the initial entries) as well
    async with store.watch(include_history=True) as w:
        seen = []
        while (info := await w.updates(timeout=10)) is not None:
            seen.append(info.name)
        assert set(seen) == set(GOOD) | {"later-good"}


@pytest.mark.parametrize("fresh_binding", [False, True], ids=["name-known", "name-unknown"])
async def test_put_replaces_malformed_meta(store: objstore.ObjectStore, js, fresh_binding: bool) -> None:
    # put looks up the previous version differently for names it has seen (get first) and for
    # names it has not (compare-and-set conflict): both cope with an unreadable previous meta.
    await fill(js, store)
    target = await js.object_store(store.bucket) if fresh_binding else store
    for name in BAD_NAMES:
        if not fresh_binding:
            with pytest.raises(BadObjectMetaError):
                await target.get_info(name)
        data = name.encode() * 50
        info = await target.put(name, data, chunk_size=128)
        assert info.name == name
        assert await target.get(name) == data
    assert sorted(i.name for i in await store.list()) == sorted(set(GOOD) | set(BAD_NAMES))
    assert (await store.status()).bad_metas == 0
    await assert_goods_intact(store)
