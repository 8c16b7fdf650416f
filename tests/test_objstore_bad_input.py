"""Issue 10, point 3: input ``put`` and ``update_meta`` cannot store is refused before a single
chunk is published, against a real server.

Each refusal is checked on the stream: a barrier message published afterwards gets sequence 1, so
nothing was ever stored (not merely purged again), and a good put then works on the same
connection. Bad headers and filenames raise BadObjectHeaderError (a ValueError), bad sources
UnsupportedSourceError (a TypeError); update_meta with bad input leaves the stored meta as it was.
"""

from __future__ import annotations

import array
import io
import itertools
import zipfile
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

import objstore
from events_util import eventually
from harness import NatsServer
from objstore import (
    BadObjectHeaderError,
    BadObjectMetaError,
    ObjectMeta,
    UnsupportedSourceError,
)
from objstore.subjects import chunk_subject, meta_subject

pytestmark = pytest.mark.timeout(30)

_bucket_ids = itertools.count()


@pytest.fixture
def nats_url(module_server: NatsServer) -> str:  # overrides conftest's: one server for the module
    return module_server.url


@pytest.fixture
async def store(js: objstore.JetStreamContext) -> AsyncIterator[objstore.ObjectStore]:
    """A fresh bucket per test (the server is shared by the module)."""
    bucket = f"in{next(_bucket_ids)}"
    s = await js.create_object_store(bucket=bucket)
    try:
        yield s
    finally:
        await js.delete_object_store(bucket)


async def assert_nothing_ever_stored(js: objstore.JetStreamContext, store: objstore.ObjectStore, since: int = 0) -> int:
    """Nothing was published to the bucket's stream after sequence ``since``, not even something
    purged again: the next message stored gets ``since + 1`` (the server stores one connection's
    messages in order). The barrier is removed again; its sequence is returned (the next ``since``)."""
    ack = await js.publish(chunk_subject(store.bucket, "barrier"), b"")
    assert ack.seq == since + 1, f"{ack.seq - since - 1} message(s) were published to the stream"
    assert await js.delete_msg(store.stream_name, ack.seq)
    assert (await js.stream_info(store.stream_name)).state.messages == 0
    return ack.seq


async def assert_good_put_works(store: objstore.ObjectStore) -> None:
    data = b"good data " * 100
    info = await store.put("good", data, headers={"Content-Type": "text/plain"}, chunk_size=256)
    assert info.chunks == 4
    assert await store.get("good") == data


# --- headers, filename, metadata ------------------------------------------------------------------

BAD_HEADERS: list[Any] = [
    {"": "v"},  # empty name
    {"A:B": "v"},  # colon in name
    {"A B": "v"},  # space in name
    {"A\tB": "v"},  # control character in name
    {"A\x01": "v"},
    {"A\x7f": "v"},  # DEL
    {"A\r": "v"},
    {"A\n": "v"},
    {"A\x00": "v"},  # NUL in name
    {"Ä": "v"},  # not ASCII (ADR-4 names are printable ASCII)
    {"A": "v\r"},  # CR in value
    {"A": "v\nX-Injected: y"},  # LF in value
    {"A": "v\r\n"},
    {"A": "v\x00w"},  # NUL in value
    {"A": ["ok", "bad\r\n"]},  # one bad value of several
    {"A": 5},  # value not a string
    {"A": None},
    {5: "v"},  # name not a string
    "A: v",  # not a mapping
    [("A", "v\n")],  # pairs, a bad value
]


@pytest.mark.parametrize("headers", BAD_HEADERS, ids=[repr(h)[:30] for h in BAD_HEADERS])
async def test_bad_headers_refused_before_upload(store: objstore.ObjectStore, js, headers: Any) -> None:
    # A multi-chunk source: a refusal after the first chunk would show in the stream.
    with pytest.raises(BadObjectHeaderError) as ei:
        await store.put("obj", b"x" * 1000, headers=headers, chunk_size=100)
    assert isinstance(ei.value, ValueError) and isinstance(ei.value, BadObjectMetaError)
    with pytest.raises(BadObjectHeaderError):
        await store.put("obj", b"x" * 1000, meta=ObjectMeta(name="obj", headers=headers), chunk_size=100)
    await assert_nothing_ever_stored(js, store)
    await assert_good_put_works(store)


BAD_FILENAMES = ['a"b.txt', "a\r\nb.txt", "a\nb", "a\rb", "a\x00b", "a\\b", "tab\there", 5]


@pytest.mark.parametrize("filename", BAD_FILENAMES, ids=[repr(f) for f in BAD_FILENAMES])
async def test_bad_filename_refused_before_upload(store: objstore.ObjectStore, js, filename: Any) -> None:
    with pytest.raises(BadObjectHeaderError):
        await store.put("obj", b"x" * 1000, filename=filename, chunk_size=100)
    await assert_nothing_ever_stored(js, store)
    await assert_good_put_works(store)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"metadata": {"a": 1}},
        {"metadata": {1: "a"}},
        {"metadata": "a=b"},
        {"description": 5},
        {"description": b"bytes"},
    ],
    ids=["metadata-int-value", "metadata-int-key", "metadata-str", "description-int", "description-bytes"],
)
async def test_bad_meta_fields_refused_before_upload(store: objstore.ObjectStore, js, kwargs: dict) -> None:
    # parse_meta would refuse these on the way back: they are never written.
    with pytest.raises(BadObjectMetaError):
        await store.put("obj", b"x" * 1000, chunk_size=100, **kwargs)
    await assert_nothing_ever_stored(js, store)
    await assert_good_put_works(store)


async def test_good_headers_and_filename_still_stored(store: objstore.ObjectStore) -> None:
    headers = {"Content-Type": "text/plain; charset=utf-8", "X-Value": "héllo\tworld ✓", "X-Multi": ["1", "2"]}
    await store.put("obj", b"data", headers=headers, filename="report 2024 (final).pdf")
    info = await store.get_info("obj")
    assert info.headers is not None
    assert info.headers["X-Value"] == "héllo\tworld ✓" and info.headers.get_all("X-Multi") == ["1", "2"]
    assert info.headers["Content-Disposition"] == 'attachment; filename="report 2024 (final).pdf"'
    await store.put("path", b"data", filename=Path("dir/name.txt"))  # an os.PathLike is fine
    assert (await store.get_info("path")).headers["Content-Disposition"] == 'attachment; filename="dir/name.txt"'


@pytest.mark.parametrize("headers", [{"A\r": "v"}, {"A": "v\n"}, {"A": "\x00"}, {"": "v"}, {"A B": "v"}], ids=repr)
async def test_update_meta_bad_headers_leave_meta_unchanged(store: objstore.ObjectStore, js, headers: dict) -> None:
    await store.put("obj", b"data", description="d", headers={"A": "1"})
    before = await js.get_msg(store.stream_name, last_by_subj=meta_subject(store.bucket, "obj"))
    with pytest.raises(BadObjectHeaderError):
        await store.update_meta("obj", ObjectMeta(description="changed", headers=headers))
    for bad in (ObjectMeta(metadata={"k": 1}), ObjectMeta(description=7), ObjectMeta(name=5)):  # type: ignore[arg-type]
        with pytest.raises(BadObjectMetaError):
            await store.update_meta("obj", bad)
    after = await js.get_msg(store.stream_name, last_by_subj=meta_subject(store.bucket, "obj"))
    assert (after.seq, after.data) == (before.seq, before.data)
    info = await store.get_info("obj")
    assert info.description == "d" and info.headers is not None and dict(info.headers) == {"A": "1"}
    # A good update on the same connection still works.
    await store.update_meta("obj", ObjectMeta(headers={"B": "2"}))
    assert dict((await store.get_info("obj")).headers or {}) == {"B": "2"}


# --- sources -------------------------------------------------------------------------------------


def _str_gen() -> Iterator[str]:
    yield "text"


def _int_gen() -> Iterator[int]:
    yield from (1, 2, 3)


async def _str_agen() -> AsyncIterator[str]:
    yield "text"


def _bad_sources(tmp_path: Path) -> list[tuple[str, Any]]:
    text_path = tmp_path / "t.txt"
    text_path.write_text("text mode file")
    closed = open(text_path, "rb")
    closed.close()
    return [
        ("dict", {b"key": b"value"}),  # used to store the keys
        ("dict-str", {"a": 1}),
        ("set", {b"a", b"b"}),
        ("frozenset", frozenset({b"a"})),
        ("list-of-ints", [1, 2, 3]),
        ("tuple-of-ints", (1, 2)),
        ("list-bytes-then-int", [b"ok", 5]),
        ("list-of-str", ["a", "b"]),
        ("int", 12345),
        ("float", 1.5),
        ("None", None),
        ("object", object()),
        ("text-file", open(text_path, "r")),
        ("stringio", io.StringIO("text")),
        ("write-only-file", open(tmp_path / "w.bin", "wb")),
        ("closed-file", closed),
        ("generator-of-str", _str_gen()),
        ("generator-of-int", _int_gen()),
        ("async-generator-of-str", _str_agen()),
        ("dict-keys", {b"k": b"v"}.keys()),
    ]


async def test_unsupported_sources_refused_before_upload(store: objstore.ObjectStore, js, tmp_path: Path) -> None:
    since = 0
    for kind, source in _bad_sources(tmp_path):
        try:
            with pytest.raises(UnsupportedSourceError) as ei:
                await store.put("obj", source, chunk_size=100)
            assert isinstance(ei.value, TypeError), kind
            since = await assert_nothing_ever_stored(js, store, since)
        finally:
            if hasattr(source, "close") and not hasattr(source, "__anext__"):
                source.close()
            elif hasattr(source, "aclose"):
                await source.aclose()
    await assert_good_put_works(store)


async def test_generator_with_a_late_bad_item_leaves_nothing(store: objstore.ObjectStore, js) -> None:
    # The first chunks are published before the bad item shows up; the put fails at that item
    # (before it is published) and the failed put's cleanup removes what was sent.
    def gen() -> Iterator[Any]:
        yield b"a" * 1000
        yield b"b" * 1000
        yield "not bytes"
        yield b"never read"

    with pytest.raises(UnsupportedSourceError):
        await store.put("obj", gen(), chunk_size=256)

    async def empty() -> bool:
        return (await js.stream_info(store.stream_name)).state.messages == 0

    await eventually(empty, timeout=10, what="the failed put's chunks purged")
    await assert_good_put_works(store)


async def test_other_bytes_likes_and_readers_accepted(store: objstore.ObjectStore) -> None:
    arr = array.array("I", range(1000))
    assert (await store.put("array", arr, chunk_size=1000)).size == len(arr.tobytes())
    assert await store.get("array") == arr.tobytes()

    def mixed() -> Iterator[Any]:
        yield bytearray(b"ab")
        yield memoryview(b"cd")
        yield array.array("B", b"ef")

    await store.put("mixed", mixed())
    assert await store.get("mixed") == b"abcdef"

    class Reader:  # read() only, no mode: a binary reader by duck typing
        def __init__(self) -> None:
            self.left = [b"12345", b"678"]

        def read(self, n: int = -1) -> bytes:
            return self.left.pop(0) if self.left else b""

    await store.put("reader", Reader())
    assert await store.get("reader") == b"12345678"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("member", b"zipped " * 100)
    with zipfile.ZipFile(buf) as zf, zf.open("member") as member:  # binary, though its mode is "r"
        await store.put("zip", member)
    assert await store.get("zip") == b"zipped " * 100
    await store.put("str", "héllo")  # str is documented: stored as UTF-8
    assert await store.get("str") == "héllo".encode()
