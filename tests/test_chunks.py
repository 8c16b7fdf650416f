"""``objstore.chunks``, sans-I/O: ChunkPlan arithmetic and ChunkVerifier fed bytes directly, no
server. Byte-split and boundary cases: empty objects, exact multiples of the chunk size, one byte
over, a chunk split at every byte, too many / too few chunks and bytes, range mode."""

from __future__ import annotations

import base64
import hashlib

import pytest

from objstore import BadObjectMetaError, ChunkMissingError, DigestMismatchError
from objstore.chunks import EMPTY_DIGEST, ChunkPlan, ChunkVerifier, decode_digest, digest_of, encode_digest


def cut(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# ChunkPlan ------------------------------------------------------------------------------------
def test_plan_bound_takes_the_smallest_limit() -> None:
    assert ChunkPlan.bound(128 * 1024, 1024 * 1024).chunk_size == 128 * 1024
    assert ChunkPlan.bound(128 * 1024, 64 * 1024).chunk_size == 64 * 1024  # server's max_payload
    assert ChunkPlan.bound(128 * 1024, 1024 * 1024, 1000).chunk_size == 1000  # stream's max_msg_size
    assert ChunkPlan.bound(128 * 1024, 1024 * 1024, None).chunk_size == 128 * 1024


def test_plan_refuses_a_chunk_size_below_one() -> None:
    with pytest.raises(BadObjectMetaError):
        ChunkPlan(0)
    with pytest.raises(BadObjectMetaError):
        ChunkPlan.bound(0, 1024)


@pytest.mark.parametrize(
    "size,chunk,count",
    [(0, 10, 0), (1, 10, 1), (9, 10, 1), (10, 10, 1), (11, 10, 2), (20, 10, 2), (21, 10, 3), (1, 1, 1), (5, 1, 5)],
)
def test_plan_chunk_count(size: int, chunk: int, count: int) -> None:
    assert ChunkPlan(chunk, size).chunks == count
    assert ChunkPlan(chunk, size).fits_one() is (size <= chunk)


@pytest.mark.parametrize("size", [1, 9, 10, 11, 29, 30, 31])
def test_plan_spans_cover_the_object_exactly_once(size: int) -> None:
    plan = ChunkPlan(10, size)
    data = bytes(range(size))
    spans = [plan.span(i) for i in range(plan.chunks)]
    assert b"".join(data[o : o + n] for o, n in spans) == data
    assert [data[o : o + n] for o, n in spans] == cut(data, 10)
    for i, (offset, length) in enumerate(spans):
        assert length > 0
        assert plan.index_of(offset) == i
        assert plan.index_of(offset + length - 1) == i


def test_plan_index_and_span_outside_the_object() -> None:
    plan = ChunkPlan(10, 25)
    with pytest.raises(IndexError):
        plan.span(3)
    with pytest.raises(IndexError):
        plan.span(-1)
    with pytest.raises(IndexError):
        plan.index_of(25)
    with pytest.raises(IndexError):
        ChunkPlan(10, 0).index_of(0)


def test_plan_unknown_size() -> None:
    plan = ChunkPlan(10)
    assert plan.fits_one() is False
    with pytest.raises(ValueError):
        plan.chunks


@pytest.mark.parametrize(
    "offset,length,chunks", [(0, 0, []), (0, 1, [0]), (9, 1, [0]), (9, 2, [0, 1]), (10, 10, [1]), (5, 20, [0, 1, 2]), (20, 5, [2])]
)
def test_plan_covering(offset: int, length: int, chunks: list[int]) -> None:
    assert list(ChunkPlan(10, 25).covering(offset, length)) == chunks


# Digest wire form -----------------------------------------------------------------------------
def test_digest_wire_form_is_urlsafe_base64_with_padding() -> None:
    raw = hashlib.sha256(b"hello").digest()
    wire = encode_digest(raw)
    assert wire == "SHA-256=" + base64.urlsafe_b64encode(raw).decode()
    assert wire.endswith("=")
    assert digest_of(b"hello") == wire
    assert decode_digest(wire) == raw
    assert EMPTY_DIGEST == digest_of(b"")


def test_digest_parse_is_tolerant_of_other_writers() -> None:
    raw = hashlib.sha256(b"x").digest()
    body = base64.urlsafe_b64encode(raw).decode()
    assert decode_digest("sha-256=" + body) == raw
    assert decode_digest("SHA-256=" + body.rstrip("=")) == raw
    assert decode_digest("SHA-256=" + base64.standard_b64encode(raw).decode()) == raw
    assert decode_digest("SHA-256=" + raw.hex()) == raw
    for bad in ("MD5=abc", "SHA-256", "SHA-256=abc", ""):
        with pytest.raises(BadObjectMetaError):
            decode_digest(bad)


# ChunkVerifier ----------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, 127, 128, 129, 1000])
@pytest.mark.parametrize("chunk", [1, 7, 128])
def test_verifier_accepts_the_object_whatever_its_cut(size: int, chunk: int) -> None:
    data = bytes((i * 31) & 0xFF for i in range(size))
    pieces = cut(data, chunk)
    v = ChunkVerifier.for_object("o", size, len(pieces), digest_of(data))
    for piece in pieces:
        v.take(piece)
    v.finish()
    assert v.verified and v.bytes == size and v.count == len(pieces)


def test_verifier_as_the_writer_uses_it_gives_the_wire_digest() -> None:
    data = b"abcdefghij" * 1000
    v = ChunkVerifier(name="o")
    for piece in cut(data, 333):
        v.take(memoryview(piece))
    assert v.wire_digest() == digest_of(data)
    assert (v.bytes, v.count) == (len(data), -(-len(data) // 333))


def test_verifier_finds_a_flipped_byte_anywhere() -> None:
    data = bytes(range(256)) * 4
    for at in (0, 511, 512, 1023):
        bad = bytearray(data)
        bad[at] ^= 1
        v = ChunkVerifier.for_object("o", len(data), 2, digest_of(data))
        v.take(bytes(bad[:512]))
        v.take(bytes(bad[512:]))
        with pytest.raises(DigestMismatchError, match="SHA-256"):
            v.finish()
        assert not v.verified


def test_verifier_missing_chunk_is_chunk_missing() -> None:
    data = b"a" * 30
    v = ChunkVerifier.for_object("o", 30, 3, digest_of(data))
    v.take(b"a" * 10)
    v.take(b"a" * 10)
    with pytest.raises(ChunkMissingError, match="20 bytes in 2 chunks"):
        v.finish()


def test_verifier_more_bytes_than_the_size_fail_at_once() -> None:
    v = ChunkVerifier.for_object("o", 10, 2, digest_of(b"a" * 10))
    v.take(b"a" * 10)
    with pytest.raises(DigestMismatchError, match="more data than its size"):
        v.take(b"b")


def test_verifier_extra_empty_chunk_or_short_size_is_a_mismatch() -> None:
    v = ChunkVerifier.for_object("o", 10, 1, digest_of(b"a" * 10))
    v.take(b"a" * 10)
    v.take(b"")
    with pytest.raises(DigestMismatchError) as err:
        v.finish()
    assert not isinstance(err.value, ChunkMissingError)
    v = ChunkVerifier.for_object("o", 10, 1, digest_of(b"a" * 10))
    v.take(b"a" * 9)
    with pytest.raises(DigestMismatchError):
        v.finish()


def test_verifier_without_digest_checks_counts_only() -> None:
    v = ChunkVerifier.for_object("o", 3, 1, "")
    v.take(b"abc")
    v.finish()
    assert v.verified


def test_range_mode_checks_counts_and_sizes_not_the_digest() -> None:
    plan = ChunkPlan(10, 25)
    data = bytes(range(25))
    v = ChunkVerifier.for_range("o", plan, 5, 10)  # bytes 5..14: chunks 0 and 1, 20 bytes
    assert (v.chunks, v.size) == (2, 20)
    v.take(bytes(10))  # same size, other bytes: not detectable without the whole object
    v.take(data[10:20])
    v.finish()
    assert v.verified
    with pytest.raises(ValueError):
        v.wire_digest()
    short = ChunkVerifier.for_range("o", plan, 15, 10)  # chunks 1 and 2: 10 + 5 bytes
    assert (short.chunks, short.size) == (2, 15)
    short.take(data[10:20])
    with pytest.raises(ChunkMissingError):
        short.finish()
    empty = ChunkVerifier.for_range("o", plan, 0, 0)
    empty.finish()
    assert empty.verified
