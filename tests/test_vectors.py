"""The shared parser test vectors (``tests/vectors/*.json``, format in ``tests/vectors/README.md``).

Every vector is fed to :class:`protocol.parser.Parser` whole, one byte at a time and at seeded
random split points; each way must give exactly the vector's frames, then (for error vectors) a
``ProtocolError`` carrying the frames before it, after which the parser refuses more input. The
files are data another implementation can run as they are; this module keeps them true here.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Iterator

import pytest

from protocol.errors import ProtocolError
from protocol.frames import Err, Info, Msg, Ok, Ping, Pong
from protocol.parser import Parser

VECTOR_DIR = Path(__file__).resolve().parent / "vectors"
FORMAT = "natsobj-parser-vectors/1"
FILES = sorted(VECTOR_DIR.glob("*.json"))
OPS = {"INFO", "MSG", "HMSG", "PING", "PONG", "+OK", "-ERR"}


def _b(text: str) -> bytes:
    return text.encode("latin-1")  # one character per byte (README: "Bytes")


def _s(raw: bytes) -> str:
    return raw.decode("latin-1")


def frame_json(f: Any) -> dict[str, Any]:
    """A parsed frame in the vectors' JSON form."""
    if isinstance(f, Msg):
        out: dict[str, Any] = {
            "op": "HMSG" if f.raw_headers is not None else "MSG",
            "subject": _s(f.subject.encode("utf-8", "surrogateescape")),
            "sid": f.sid,
            "reply": _s(f.reply.encode("utf-8", "surrogateescape")),
        }
        if f.raw_headers is not None:
            out["headers"] = _s(f.raw_headers)
        out["payload"] = _s(f.data)
        if f.raw_headers is not None and f.status:
            out["status"] = f.status
        return out
    if isinstance(f, Info):
        return {"op": "INFO", "json": f.data}
    if isinstance(f, Err):
        return {"op": "-ERR", "text": f.text}
    kinds = {Ping: "PING", Pong: "PONG", Ok: "+OK"}
    return {"op": kinds[type(f)]}


def _load() -> Iterator[Any]:
    for path in FILES:
        doc = json.loads(path.read_text(encoding="utf-8"))
        for v in doc["vectors"]:
            yield pytest.param(v, id=f"{path.stem}:{v['name']}")


VECTORS = list(_load())


def _strategies(data: bytes, seed: str) -> Iterator[tuple[str, list[bytes]]]:
    yield "whole", [data]
    yield "bytewise", [data[i : i + 1] for i in range(len(data))]
    rng = random.Random(seed)
    for k in range(3):
        cuts = sorted(rng.randrange(len(data) + 1) for _ in range(rng.randint(1, 6)))
        yield f"random-{k}", [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]


def _run(v: dict[str, Any], pieces: list[bytes]) -> tuple[list, bool]:
    p = Parser(**v.get("options", {}))
    frames: list = []
    for piece in pieces:
        try:
            frames += p.feed(piece)
        except ProtocolError as err:
            frames += err.frames
            with pytest.raises(ProtocolError):
                p.feed(b"PING\r\n")  # a failed parser refuses further input
            return frames, True
    assert p.buffered == 0, "complete input must leave nothing buffered"
    return frames, False


@pytest.mark.parametrize("vector", VECTORS)
def test_vector(vector: dict[str, Any]) -> None:
    data = _b(vector["input"])
    want_error = "error" in vector
    for how, pieces in _strategies(data, vector["name"]):
        frames, failed = _run(vector, pieces)
        assert failed == want_error, how
        assert [frame_json(f) for f in frames] == vector["frames"], how


def test_files_are_well_formed() -> None:
    assert len(FILES) >= 3
    names: set[str] = set()
    for path in FILES:
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert doc["format"] == FORMAT and doc["title"] and doc["vectors"], path.name
        for v in doc["vectors"]:
            assert set(v) <= {"name", "note", "input", "options", "frames", "error"}, v["name"]
            assert v["name"] not in names, v["name"]
            names.add(v["name"])
            assert set(v.get("options", {})) <= {"max_control_line", "max_payload"}
            assert v.get("error", "ProtocolError") == "ProtocolError"
            assert all(f["op"] in OPS for f in v["frames"])
            _b(v["input"])  # latin-1 only: every character is one byte
    assert len(VECTORS) > 150


def test_both_outcomes_are_covered() -> None:
    errors = sum(1 for p in VECTORS if "error" in p.values[0])
    assert errors > 80 and len(VECTORS) - errors > 60
    ops = {f["op"] for p in VECTORS for f in p.values[0]["frames"]}
    assert ops == OPS
