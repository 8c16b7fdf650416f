"""Unit tests (no server) of the object store's pure parts: names and subjects, the digest, the
ObjectInfo JSON shape (wire.md 3.4-3.6, traps 7-10 and 25), bucket validation, the stream config a
bucket is created with (wire.md 3.3), the chunker used by ``put`` and the error hierarchy."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from datetime import datetime, timedelta, timezone

import pytest

import objstore
import protocol
from objstore import (
    BadBucketError,
    BadObjectMetaError,
    ObjectInfo,
    ObjectLink,
    ObjectMeta,
    ObjectMetaOptions,
    ObjectStoreConfig,
    decode_digest,
    digest_of,
    encode_digest,
    stream_config_for,
)
from objstore import subjects as osubj
from objstore.chunks import EMPTY_DIGEST
from objstore.models import headers_from_json, headers_to_json
from objstore.writer import iter_chunks
from protocol import Headers

pytestmark = pytest.mark.timeout(10)

EMPTY_SHA = "SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="


# --- names and subjects ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, token",
    [
        ("a", "YQ=="),
        ("hello.world", "aGVsbG8ud29ybGQ="),
        ("ab", "YWI="),
        ("abc", "YWJj"),
        # URL-safe alphabet: these bytes give '-' and '_' (standard base64 would give '+' and '/').
        ("\xfb\xff", base64.urlsafe_b64encode("\xfb\xff".encode()).decode()),
    ],
)
def test_encode_name_examples(name: str, token: str) -> None:
    assert osubj.encode_name(name) == token
    assert osubj.decode_name(token) == name


@pytest.mark.parametrize(
    "name",
    ["a.b.c", "*", ">", "with space", "a/b/c.pdf", "ünïcødé 名前 🎉", "=", "x" * 1000, "tab\tnew\nline"],
)
def test_encoded_name_is_one_subject_token(name: str) -> None:
    token = osubj.encode_name(name)
    assert token == base64.urlsafe_b64encode(name.encode("utf-8")).decode("ascii")
    assert len(token) % 4 == 0  # padded
    for bad in (".", "*", ">", " ", "\t", "\n", "+", "/"):
        assert bad not in token
    assert osubj.decode_name(token) == name
    assert osubj.decode_name(token.rstrip("=")) == name  # unpadded tokens are still readable
    subject = osubj.meta_subject("bkt", name)
    assert subject == f"$O.bkt.M.{token}"
    assert len(subject.split(".")) == 4


def test_subjects_and_stream_names() -> None:
    assert osubj.stream_name("b") == "OBJ_b"
    assert osubj.bucket_of_stream("OBJ_b") == "b"
    assert osubj.chunk_subject("b", "NUID") == "$O.b.C.NUID"
    assert osubj.meta_subject("b", "a") == "$O.b.M.YQ=="
    assert osubj.all_chunks("b") == "$O.b.C.>"
    assert osubj.all_meta("b") == "$O.b.M.>"
    assert objstore.OBJ_STREAM_TEMPLATE.format(bucket="b") == "OBJ_b"
    assert objstore.OBJ_ALL_CHUNKS_PRE_TEMPLATE.format(bucket="b") == "$O.b.C.>"
    assert objstore.OBJ_ALL_META_PRE_TEMPLATE.format(bucket="b") == "$O.b.M.>"
    assert objstore.DEFAULT_CHUNK_SIZE == 128 * 1024
    assert objstore.MAX_CHUNK_SIZE == 1024 * 1024
    assert objstore.VALID_BUCKET_RE == r"^[a-zA-Z0-9_-]+$"


def test_object_name_validation() -> None:
    assert osubj.validate_object_name("x") == "x"
    for bad in ("", None, 5):
        with pytest.raises(BadObjectMetaError):
            osubj.validate_object_name(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("good", ["b", "B-1_x", "0", "a" * 251, "_", "-"])
def test_valid_bucket_names(good: str) -> None:
    assert osubj.validate_bucket(good) == good


@pytest.mark.parametrize("bad", ["", "a.b", "a b", "a*", "a>", "ä", "a/b", "a" * 252, None, 3, "a\n"])
def test_invalid_bucket_names(bad: object) -> None:
    with pytest.raises(BadBucketError) as ei:
        osubj.validate_bucket(bad)  # type: ignore[arg-type]
    assert isinstance(ei.value, ValueError)
    assert isinstance(ei.value, protocol.NatsError)


# --- digest ------------------------------------------------------------------------------------


def test_digest_of_empty() -> None:
    assert digest_of(b"") == EMPTY_SHA
    assert EMPTY_DIGEST == EMPTY_SHA
    assert decode_digest(EMPTY_SHA) == hashlib.sha256(b"").digest()


def test_digest_known_value() -> None:
    # wire.md 3.18: content "hi".
    assert digest_of(b"hi") == "SHA-256=j0NDRmSPa5bfid2pAcUXaxCm2Dlh3TwayItZstwyeqQ="


def test_digest_round_trip_uses_url_alphabet_with_padding() -> None:
    for n in range(64):
        raw = hashlib.sha256(bytes([n]) * n).digest()
        text = encode_digest(raw)
        assert text.startswith("SHA-256=")
        body = text[len("SHA-256=") :]
        assert len(body) == 44 and body.endswith("=")
        assert "+" not in body and "/" not in body
        assert decode_digest(text) == raw


def _a_digest_with_url_chars() -> bytes:
    for n in range(1000):
        raw = hashlib.sha256(str(n).encode()).digest()
        std = base64.standard_b64encode(raw).decode()
        if "+" in std and "/" in std:
            return raw
    raise AssertionError("no sample")


def test_decode_digest_is_tolerant() -> None:
    raw = _a_digest_with_url_chars()
    url = base64.urlsafe_b64encode(raw).decode()
    std = base64.standard_b64encode(raw).decode()
    for text in (
        "SHA-256=" + url,
        "sha-256=" + url,  # lowercase prefix (ISS-go1042)
        "Sha-256=" + url,
        "SHA-256=" + url.rstrip("="),  # unpadded
        "SHA-256=" + std,  # standard alphabet
        "SHA-256=" + std.rstrip("="),
        "SHA-256=" + raw.hex(),  # hex (nats.js accepts it)
        "SHA-256=" + raw.hex().upper(),
        "sha-256=" + raw.hex(),
        "SHA-256= " + url + " ",
    ):
        assert decode_digest(text) == raw, text


@pytest.mark.parametrize(
    "bad",
    ["", "SHA-256", "SHA-256=", "SHA-512=" + "A" * 44, "MD5=abc", "SHA-256=!!!!", "SHA-256=" + "A" * 40, "SHA-256=" + "ab" * 31],
)
def test_decode_digest_rejects_garbage(bad: str) -> None:
    with pytest.raises(BadObjectMetaError):
        decode_digest(bad)


# --- headers -----------------------------------------------------------------------------------


def test_headers_json_map_of_lists() -> None:
    h = Headers()
    h.add("X-Multi", "1")
    h.add("X-Multi", "2")
    h["Content-Type"] = "application/pdf"
    assert headers_to_json(h) == {"X-Multi": ["1", "2"], "Content-Type": ["application/pdf"]}
    assert headers_to_json({"A": "b"}) == {"A": ["b"]}
    assert headers_to_json({"A": ["b", "c"]}) == {"A": ["b", "c"]}
    assert headers_to_json(None) is None
    assert headers_to_json({}) is None


def test_headers_from_json_both_shapes() -> None:
    go = headers_from_json({"A": ["1", "2"], "B": ["x"]})
    assert go is not None and go["A"] == "1" and go.get_all("A") == ["1", "2"] and go["B"] == "x"
    flat = headers_from_json({"A": "1", "B": "x"})  # nats-py's shape
    assert flat is not None and flat["A"] == "1" and flat.get_all("A") == ["1"] and flat["B"] == "x"
    assert headers_from_json(None) is None
    assert headers_from_json({}) is None
    with pytest.raises(BadObjectMetaError):
        headers_from_json(["A", "1"])


# --- ObjectInfo JSON ---------------------------------------------------------------------------


def _go_meta() -> dict:
    """A meta JSON as nats.go writes it, plus fields from newer/other writers."""
    return {
        "name": "a/b.pdf",
        "description": "desc",
        "headers": {"Content-Type": ["application/pdf"], "X-Multi": ["1", "2"]},
        "metadata": {"owner": "alice", "k": "v"},
        "options": {"max_chunk_size": 131072},
        "bucket": "b",
        "nuid": "AAAAAAAAAAAAAAAAAAAAAA",
        "size": 2,
        "mtime": "0001-01-01T00:00:00Z",
        "chunks": 1,
        "digest": "SHA-256=j0NDRmSPa5bfid2pAcUXaxCm2Dlh3TwayItZstwyeqQ=",
        "future_field": {"nested": [1, 2]},
        "another": 7,
    }


def test_object_info_parses_go_meta() -> None:
    info = ObjectInfo.from_json(_go_meta())
    assert info.name == "a/b.pdf"
    assert info.description == "desc"
    assert info.headers is not None
    assert info.headers["Content-Type"] == "application/pdf"
    assert info.headers.get_all("X-Multi") == ["1", "2"]
    assert info.metadata == {"owner": "alice", "k": "v"}
    assert info.bucket == "b" and info.nuid == "AAAAAAAAAAAAAAAAAAAAAA"
    assert info.size == 2 and info.chunks == 1
    assert info.mtime is None  # Go's zero time means "unknown"
    assert info.deleted is False
    assert info.options is not None and info.options.max_chunk_size == 131072
    assert info.chunk_size == 131072
    assert not info.is_link() and not info.is_bucket_link
    assert info.digest_hex == hashlib.sha256(b"hi").hexdigest()
    assert info.verify(b"hi") and not info.verify(b"ho") and not info.verify(b"hi!")
    meta = info.meta
    assert isinstance(meta, ObjectMeta)
    assert meta.name == "a/b.pdf" and meta.metadata == {"owner": "alice", "k": "v"}


def test_object_info_json_round_trip_keeps_unknown_keys_and_metadata() -> None:
    src = _go_meta()
    info = ObjectInfo.from_json(src)
    out = info.to_json()
    # Every key survives a read-modify-write, unknown ones included.
    for key in ("name", "description", "headers", "metadata", "options", "bucket", "nuid", "size", "chunks", "digest"):
        assert out[key] == src[key], key
    assert out["future_field"] == {"nested": [1, 2]}
    assert out["another"] == 7
    assert "deleted" not in out  # only written when true
    # mtime is always a real RFC 3339 UTC time, never "".
    assert isinstance(out["mtime"], str) and out["mtime"]
    assert out["mtime"].endswith("Z") and not out["mtime"].startswith("0001")
    # A second round trip is stable.
    again = ObjectInfo.from_json(json.loads(json.dumps(out))).to_json()
    assert {k: v for k, v in again.items() if k != "mtime"} == {k: v for k, v in out.items() if k != "mtime"}


def test_object_info_to_json_field_order_and_types() -> None:
    info = ObjectInfo(
        name="x",
        bucket="b",
        nuid="N",
        size=10,
        chunks=2,
        digest=digest_of(b"0123456789"),
        mtime=datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=timezone.utc),
        headers=Headers({"A": ["1", "2"]}),
        options=ObjectMetaOptions(max_chunk_size=5),
    )
    out = info.to_json()
    assert list(out) == ["name", "headers", "options", "bucket", "nuid", "size", "mtime", "chunks", "digest"]
    assert out["headers"] == {"A": ["1", "2"]}
    assert out["options"] == {"max_chunk_size": 5}
    assert out["mtime"] == "2024-05-01T12:00:00.123Z"
    deleted = ObjectInfo(name="x", bucket="b", nuid="N", deleted=True).to_json()
    assert deleted["deleted"] is True
    assert "digest" not in deleted
    assert deleted["mtime"] and deleted["mtime"] != ""


def test_object_info_parses_nats_py_meta_flat_headers() -> None:
    # What nats-py 2.x writes: flat headers, isoformat mtime with +00:00, deleted:false.
    raw = {
        "name": "n",
        "bucket": "b",
        "nuid": "N",
        "size": 3,
        "mtime": "2024-05-01T12:00:00.123456+00:00",
        "chunks": 1,
        "digest": digest_of(b"abc"),
        "deleted": False,
        "headers": {"Content-Type": "text/plain", "X": "y"},
        "options": {"link": None, "max_chunk_size": 131072},
    }
    info = ObjectInfo.from_json(raw)
    assert info.headers is not None and info.headers["Content-Type"] == "text/plain"
    assert info.headers.get_all("X") == ["y"]
    assert info.mtime == datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
    assert info.options is not None and info.options.link is None
    # We write them back as lists (nats.go's shape).
    assert info.to_json()["headers"] == {"Content-Type": ["text/plain"], "X": ["y"]}


def test_object_info_nats_py_tombstone_empty_mtime() -> None:
    raw = {"name": "n", "bucket": "b", "nuid": "N", "size": 0, "mtime": "", "chunks": 0, "digest": "", "deleted": True}
    info = ObjectInfo.from_json(raw)
    assert info.deleted is True and info.mtime is None and info.digest == ""
    assert info.to_json()["mtime"] != ""


@pytest.mark.parametrize("mtime", ["", None, "0001-01-01T00:00:00Z", "garbage", 0, "2024-13-45T99:00:00Z"])
def test_object_info_tolerates_odd_mtimes(mtime: object) -> None:
    raw = {"name": "n", "bucket": "b", "nuid": "N", "mtime": mtime}
    if mtime is None:
        del raw["mtime"]
    info = ObjectInfo.from_json(raw)
    assert info.mtime is None


@pytest.mark.parametrize(
    "mtime, expected",
    [
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=timezone.utc)),
        ("2024-05-01T12:00:00.123Z", datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=timezone.utc)),
        ("2024-05-01T12:00:00.123456789Z", datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)),
        ("2024-05-01T14:00:00+02:00", datetime(2024, 5, 1, 12, tzinfo=timezone.utc)),
    ],
)
def test_object_info_parses_rfc3339_variants(mtime: str, expected: datetime) -> None:
    assert ObjectInfo.from_json({"name": "n", "mtime": mtime}).mtime == expected


def test_object_info_nats_js_revision_is_ignored() -> None:
    raw = {
        "name": "n",
        "bucket": "b",
        "nuid": "N",
        "size": 0,
        "chunks": 0,
        "mtime": "2024-05-01T12:00:00.000Z",
        "deleted": False,
        "description": "",
        "metadata": {},
        "revision": 42,
    }
    info = ObjectInfo.from_json(raw)
    assert info.description is None and info.metadata is None
    out = info.to_json()
    assert "revision" not in out
    assert "description" not in out and "metadata" not in out


def test_object_info_link_without_nuid_and_sizes() -> None:
    # nats.js link(): only name, bucket, options (no nuid, size, chunks, digest, mtime).
    info = ObjectInfo.from_json({"name": "l", "bucket": "b", "options": {"link": {"bucket": "b", "name": "target"}}})
    assert info.is_link() and not info.is_bucket_link
    assert info.link == ObjectLink(bucket="b", name="target")
    assert info.nuid == "" and info.size == 0 and info.chunks == 0 and info.digest == ""
    assert info.digest_hex == ""
    bucket_link = ObjectInfo.from_json({"name": "bl", "bucket": "b", "nuid": "N", "options": {"link": {"bucket": "other"}}})
    assert bucket_link.is_link() and bucket_link.is_bucket_link
    assert bucket_link.link is not None and bucket_link.link.name is None
    out = bucket_link.to_json()
    assert out["options"] == {"link": {"bucket": "other"}}  # no "name" for a bucket link


def test_link_options_json() -> None:
    assert ObjectLink(bucket="b", name="x").to_json() == {"bucket": "b", "name": "x"}
    assert ObjectLink(bucket="b").to_json() == {"bucket": "b"}
    assert ObjectLink(bucket="b", name="").to_json() == {"bucket": "b"}
    assert ObjectLink.from_json({"bucket": "b", "name": ""}) == ObjectLink(bucket="b", name=None)
    opts = ObjectMetaOptions(link=ObjectLink("b", "x"), max_chunk_size=1024)
    assert opts.to_json() == {"link": {"bucket": "b", "name": "x"}, "max_chunk_size": 1024}
    assert ObjectMetaOptions().to_json() is None
    assert ObjectMetaOptions(chunk_size=7).to_json() == {"max_chunk_size": 7}  # seed alias
    assert ObjectMetaOptions(chunk_size=7).effective_chunk_size == 7
    assert ObjectMetaOptions.from_json(None) is None
    assert ObjectMetaOptions.from_json({}) is None
    parsed = ObjectMetaOptions.from_json({"link": {"bucket": "o", "name": "n"}, "max_chunk_size": 9})
    assert parsed is not None and parsed.link == ObjectLink("o", "n") and parsed.max_chunk_size == 9
    with pytest.raises(BadObjectMetaError):
        ObjectMetaOptions.from_json(["x"])


@pytest.mark.parametrize(
    "bad",
    [
        None,
        [],
        "text",
        {},
        {"name": ""},
        {"name": 5},
        {"name": "x", "size": "big"},
        {"name": "x", "chunks": [1]},
        {"name": "x", "headers": "k=v"},
        {"name": "x", "options": "link"},
    ],
)
def test_object_info_bad_meta(bad: object) -> None:
    with pytest.raises(BadObjectMetaError):
        ObjectInfo.from_json(bad)


def test_object_meta_defaults_and_seed_fields() -> None:
    meta = ObjectMeta(name="n")
    assert meta.description is None and meta.headers is None and meta.options is None and meta.metadata is None
    opts = ObjectMetaOptions()
    assert opts.link is None and opts.max_chunk_size is None
    info = ObjectInfo(name="n")
    assert info.links is None  # seed field, never on the wire
    assert "links" not in info.to_json()


# --- bucket configuration ----------------------------------------------------------------------


def test_stream_config_defaults_match_wire_3_3() -> None:
    cfg = stream_config_for(ObjectStoreConfig(bucket="b")).to_json()
    assert cfg["name"] == "OBJ_b"
    assert cfg["subjects"] == ["$O.b.C.>", "$O.b.M.>"]
    assert cfg["discard"] == "new"
    assert cfg["allow_rollup_hdrs"] is True
    assert cfg["allow_direct"] is True
    assert cfg["max_bytes"] == -1
    assert cfg["max_age"] == 0
    assert cfg["storage"] == "file"
    assert cfg["num_replicas"] == 1
    assert cfg["compression"] == "none"
    assert "metadata" not in cfg and "description" not in cfg
    assert None not in cfg.values()
    assert "" not in cfg.values()


def test_stream_config_with_every_option() -> None:
    cfg = stream_config_for(
        ObjectStoreConfig(
            bucket="b",
            description="d",
            ttl=timedelta(hours=1),
            max_bytes=1 << 20,
            storage="memory",
            replicas=3,
            metadata={"team": "x"},
            compression=True,
        )
    ).to_json()
    assert cfg["description"] == "d"
    assert cfg["max_age"] == 3600 * 10**9  # integer nanoseconds
    assert cfg["max_bytes"] == 1 << 20
    assert cfg["storage"] == "memory"
    assert cfg["num_replicas"] == 3
    assert cfg["metadata"] == {"team": "x"}
    assert cfg["compression"] == "s2"
    # ttl as seconds (nats-py style)
    assert stream_config_for(ObjectStoreConfig(bucket="b", ttl=2.5)).to_json()["max_age"] == 2_500_000_000
    assert stream_config_for(ObjectStoreConfig(bucket="b", max_bytes=0)).to_json()["max_bytes"] == -1
    assert stream_config_for(ObjectStoreConfig(bucket="b", replicas=0)).to_json()["num_replicas"] == 1  # as nats.go


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bucket": "a.b"},
        {"bucket": ""},
        {"bucket": "b", "storage": "disk"},
        {"bucket": "b", "replicas": 6},
        {"bucket": "b", "replicas": -1},
        {"bucket": "b", "ttl": -1},
    ],
)
def test_stream_config_rejects_bad_config(kwargs: dict) -> None:
    with pytest.raises(BadBucketError):
        stream_config_for(ObjectStoreConfig(**kwargs))


def test_object_store_config_ttl_seconds() -> None:
    assert ObjectStoreConfig(bucket="b").ttl_seconds is None
    assert ObjectStoreConfig(bucket="b", ttl=timedelta(days=1)).ttl_seconds == 86400.0
    assert ObjectStoreConfig(bucket="b", ttl=3).ttl_seconds == 3.0
    c = ObjectStoreConfig(bucket="b")
    assert c.max_bytes == -1 and c.storage == "file" and c.replicas == 1 and c.compression is False


# --- errors ------------------------------------------------------------------------------------


SEED_ERRORS = [
    "ObjectNotFoundError",
    "ObjectDeletedError",
    "ObjectAlreadyExists",
    "BadObjectMetaError",
    "BucketNotFoundError",
    "BadBucketError",
]
OTHER_ERRORS = [
    "BucketExistsError",
    "DigestMismatchError",
    "ChunkMissingError",
    "LinkIsABucketError",
    "LinkNotAllowedError",
    "ObjectAlreadyExistsError",
    "ObjectStoreError",
]


@pytest.mark.parametrize("name", SEED_ERRORS + OTHER_ERRORS)
def test_errors_share_one_root(name: str) -> None:
    cls = getattr(objstore, name)
    assert issubclass(cls, protocol.NatsError)
    assert issubclass(cls, objstore.ObjectStoreError)
    err = cls("boom")
    assert "boom" in str(err)


def test_error_relationships() -> None:
    assert issubclass(objstore.ObjectDeletedError, objstore.ObjectNotFoundError)
    assert objstore.ObjectAlreadyExistsError is objstore.ObjectAlreadyExists
    assert issubclass(objstore.BadBucketError, ValueError)
    assert issubclass(objstore.BadObjectMetaError, ValueError)
    assert issubclass(objstore.LinkNotAllowedError, objstore.BadObjectMetaError)
    assert issubclass(objstore.ChunkMissingError, objstore.DigestMismatchError)


# --- chunking (writer) -------------------------------------------------------------------------


async def _chunks(data: object, size: int) -> list[bytes]:
    return [c async for c in iter_chunks(data, size)]


@pytest.mark.parametrize("n", [0, 1, 4, 5, 6, 13])
async def test_iter_chunks_every_source_kind(n: int) -> None:
    payload = bytes(range(n))
    expected = [payload[i : i + 5] for i in range(0, n, 5)]

    async def agen():
        for i in range(0, n, 3):
            yield payload[i : i + 3]

    for src in (
        payload,
        bytearray(payload),
        memoryview(payload),
        io.BytesIO(payload),
        agen(),
        iter([payload[i : i + 2] for i in range(0, n, 2)]),
        [payload[i : i + 7] for i in range(0, n, 7)],
    ):
        got = await _chunks(src, 5)
        assert got == expected, type(src)
        # bytes, or (for a bytes source) read-only views of it that nobody can change
        assert all(
            type(c) is bytes or (type(c) is memoryview and c.readonly and type(c.obj) is bytes) for c in got
        ), type(src)


async def test_iter_chunks_str_is_utf8() -> None:
    assert b"".join(await _chunks("héllo ✓", 3)) == "héllo ✓".encode()


async def test_iter_chunks_memoryview_of_other_format() -> None:
    import array

    arr = array.array("I", [1, 2, 3])
    assert b"".join(await _chunks(memoryview(arr), 5)) == arr.tobytes()


async def test_iter_chunks_rejects_bad_input() -> None:
    with pytest.raises(objstore.UnsupportedSourceError):
        await _chunks(12345, 5)
    with pytest.raises(objstore.UnsupportedSourceError):
        await _chunks(io.StringIO("text"), 5)  # text file: binary mode required
    with pytest.raises(BadObjectMetaError):
        await _chunks(b"x", 0)
