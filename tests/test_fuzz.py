"""Seeded, bounded fuzzing of the parser (style.md 3.3): three invariants.

(a) Any split of a valid stream yields the same frames as feeding it whole.
(b) Any mutated stream yields frames or ``ProtocolError``, never another exception, never a hang;
    and the outcome does not depend on how the bytes were cut.
(c) ``parser.buffered`` never exceeds ``max_control_line + max_payload + 4``.

Stdlib ``random`` with fixed seeds plus a derandomized ``hypothesis`` run; the whole module takes a
few seconds. Parser speed is measured by ``bench/``; the timeout below only guards against a hang.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from frames_factory import random_frame, random_splits, random_stream
from protocol.errors import ProtocolError
from protocol.frames import Msg
from protocol.parser import Parser

MAX_CL = 512
MAX_PAYLOAD = 4096
BOUND = MAX_CL + MAX_PAYLOAD + 4
SEEDS = range(100)

pytestmark = pytest.mark.timeout(120)  # per test: a hang guard, generous for slow CI machines


def _parser() -> Parser:
    return Parser(max_control_line=MAX_CL, max_payload=MAX_PAYLOAD)


def run(pieces: list[bytes]) -> tuple[list, bool, int]:
    """Feed ``pieces``; return (every frame produced, whether ProtocolError was raised, max buffered).

    Any exception other than ProtocolError propagates and fails the test.
    """
    p = _parser()
    frames: list = []
    peak = 0
    failed = False
    for piece in pieces:
        try:
            frames += p.feed(piece)
        except ProtocolError as err:
            frames += err.frames
            failed = True
            break
        peak = max(peak, p.buffered)
        assert p.buffered <= BOUND, (p.buffered, BOUND)
    for f in frames:  # lazily parsed headers may fail too, but only with ProtocolError
        if isinstance(f, Msg) and f.raw_headers is not None:
            try:
                f.headers, f.status, f.description
            except ProtocolError:
                pass
    if failed:
        try:
            p.feed(b"PING\r\n")
        except ProtocolError:
            pass
        else:  # pragma: no cover
            raise AssertionError("parser accepted input after failing")
    return frames, failed, peak


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        i = rng.randrange(len(buf) + 1) if buf else 0
        if op == 0 and buf:  # flip bits of one byte
            i = min(i, len(buf) - 1)
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1:  # insert random bytes (often protocol-significant ones)
            ins = rng.choice([b"\r", b"\n", b"\r\n", b" ", b"\t", b"-", b"9", b"99999", bytes([rng.randrange(256)])])
            buf[i:i] = ins
        elif op == 2 and buf:  # delete a run
            del buf[i : i + rng.randint(1, 8)]
        elif op == 3:  # truncate
            del buf[i:]
        elif op == 4 and buf:  # replace a byte with a digit (changes sizes)
            i = min(i, len(buf) - 1)
            buf[i] = ord(rng.choice("0123456789"))
        elif op == 5 and buf:  # duplicate a slice
            j = rng.randrange(len(buf) + 1)
            buf[j:j] = buf[i : i + rng.randint(1, 32)]
    return bytes(buf)


def test_a_any_split_gives_the_frames_of_whole():
    for seed in SEEDS:
        rng = random.Random(seed)
        data, expected = random_stream(rng, rng.randint(1, 40), max_payload=MAX_PAYLOAD - 64)
        whole, failed, _ = run([data])
        assert not failed and whole == expected, seed
        for k in range(5):
            pieces = random_splits(rng, data, rng.randint(2, 60))
            got, failed, _ = run(pieces)
            assert not failed and got == expected, (seed, k)
        if seed % 8 == 0:  # byte by byte, on some seeds (slow path)
            got, failed, _ = run([data[i : i + 1] for i in range(len(data))])
            assert not failed and got == expected, seed


def test_b_mutations_give_frames_or_protocol_error():
    outcomes = {True: 0, False: 0}
    for seed in SEEDS:
        rng = random.Random(1000 + seed)
        data, _ = random_stream(rng, rng.randint(1, 20), max_payload=MAX_PAYLOAD - 64)
        for _ in range(40):
            bad = mutate(rng, data)
            whole, failed, _ = run([bad])  # only ProtocolError may escape
            outcomes[failed] += 1
            # The outcome is independent of how the mutated bytes were cut.
            split, failed2, _ = run(random_splits(rng, bad, rng.randint(2, 20)))
            assert (split, failed2) == (whole, failed), seed
    # Sanity: mutations produce both outcomes.
    assert outcomes[True] > 100 and outcomes[False] > 10, outcomes


def test_b_mutations_byte_by_byte():
    for seed in range(20):
        rng = random.Random(5000 + seed)
        data, _ = random_stream(rng, rng.randint(1, 8), max_payload=512)
        bad = mutate(rng, data)
        whole = run([bad])[:2]
        assert run([bad[i : i + 1] for i in range(len(bad))])[:2] == whole, seed


def test_b_random_garbage():
    rng = random.Random(99)
    alphabet = b"MSGHPINOKERF+-\r\n \t0123456789{}\"abc."
    for _ in range(400):
        n = rng.randrange(1, 300)
        if rng.random() < 0.5:
            data = bytes(rng.choice(alphabet) for _ in range(n))
        else:
            data = rng.randbytes(n)
        whole = run([data])[:2]
        assert run(random_splits(rng, data, 4))[:2] == whole


def test_c_buffer_bound_with_maximal_frames():
    rng = random.Random(3)
    subject = "s" * (MAX_CL - 40)
    frames = []
    for i in range(10):
        payload = rng.randbytes(MAX_PAYLOAD)
        frames.append(b"MSG %s %d reply.%d %d\r\n" % (subject.encode(), i, i, len(payload)) + payload + b"\r\n")
    data = b"".join(frames)
    for k in range(10):
        got, failed, peak = run(random_splits(rng, data, rng.randint(5, 400)))
        assert not failed and len(got) == 10
        assert peak <= BOUND
    # Control lines that never end: bounded too.
    got, failed, peak = run([b"M" * 100] * 50)
    assert failed and peak <= MAX_CL + 1


def test_c_bound_under_mutation():
    for seed in range(30):
        rng = random.Random(7000 + seed)
        data, _ = random_stream(rng, 10, max_payload=MAX_PAYLOAD - 64)
        # run() asserts the bound after every feed.
        run(random_splits(rng, mutate(rng, data), 30))


@settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(seed=st.integers(0, 2**32 - 1), cuts=st.lists(st.integers(0, 10_000), max_size=12), junk=st.binary(max_size=16))
def test_hypothesis_split_and_splice(seed, cuts, junk):
    rng = random.Random(seed)
    data, expected = random_stream(rng, rng.randint(1, 6), max_payload=1024)
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0] + points, points + [len(data)])]
    got, failed, _ = run(pieces)
    assert not failed and got == expected
    # Splice junk after the first piece: frames or ProtocolError, the same however it is fed.
    spliced = pieces[:1] + [junk] + pieces[1:]
    assert run([b"".join(spliced)])[:2] == run(spliced)[:2]


def test_single_frames_roundtrip_many():
    rng = random.Random(11)
    for _ in range(2000):
        raw, frame = random_frame(rng, max_payload=256)
        assert _parser().feed(raw) == [frame]
