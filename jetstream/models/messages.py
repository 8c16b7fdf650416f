"""Message-level bodies: the publish ack, a stored message, and the small API requests and replies.

Owns ``PubAck`` (wire.md 2.7), ``StoredMsg`` (``STREAM.MSG.GET`` and direct get, 2.6) and the request
bodies the client sends instead of hand-built dicts: ``PurgeRequest``, ``MsgGetRequest`` (also the
batched direct get, ADR-31) and ``PullRequest`` (``CONSUMER.MSG.NEXT``, 2.10). Conventions: see
``jetstream.models``.

Rule: no I/O; imports only ``jetstream.codec``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jetstream.codec import JSONModel, extra_field, from_json

__all__ = [
    "PubAck",
    "StoredMsg",
    "PurgeRequest",
    "PurgeResponse",
    "MsgGetRequest",
    "PullRequest",
]

_NS = {"unit": "ns"}  # a duration: float seconds here, integer nanoseconds on the wire

# --- publish and stored messages (wire.md 2.6, 2.7) --------------------------------------------


@dataclass(slots=True, kw_only=True)
class PubAck(JSONModel):
    """A successful publish acknowledgement. Check the reply's ``error`` before building one."""

    stream: str
    seq: int
    domain: str | None = None
    duplicate: bool | None = None
    batch: str | None = None  # ADR-50: the batch id and how many messages it stored (final ack)
    count: int | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class StoredMsg(JSONModel):
    """A message read with ``STREAM.MSG.GET``; ``headers`` is the raw ``NATS/1.0`` header block."""

    subject: str
    seq: int
    headers: bytes = field(default=b"", metadata={"json": "hdrs", "unit": "base64"})
    data: bytes = field(default=b"", metadata={"unit": "base64"})
    time: datetime | None = None
    _extra: dict[str, Any] = extra_field()

    @classmethod
    def from_message(cls, message: Mapping[str, Any]) -> StoredMsg:
        """Build from the ``message`` object of a ``STREAM.MSG.GET`` reply (``hdrs``/``data`` base64).

        Raises CodecError (bad base64, bad time, missing ``subject``/``seq``).
        """
        return from_json(cls, message)

    @classmethod
    def from_response(cls, resp: Mapping[str, Any]) -> StoredMsg:
        """Build from a whole ``STREAM.MSG.GET`` reply whose ``error`` was already checked."""
        return from_json(cls, resp.get("message"))  # type: ignore[arg-type]


# --- small request / response bodies (wire.md 2.2, 2.6) ----------------------------------------


@dataclass(slots=True, kw_only=True)
class PurgeRequest(JSONModel):
    """``STREAM.PURGE`` body: ``filter`` subject (wildcards ok), and ``seq`` (purge below) or ``keep``."""

    filter: str | None = None
    seq: int | None = None
    keep: int | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class PurgeResponse(JSONModel):
    success: bool = False
    purged: int = 0
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class MsgGetRequest(JSONModel):
    """``STREAM.MSG.GET`` / ``DIRECT.GET`` body: ``seq``, ``last_by_subj`` or ``next_by_subj`` (+ ``seq``).

    ``batch`` and ``max_bytes`` make it a batched direct get (server 2.11+, ADR-31), answered by up to
    ``batch`` messages and a ``204`` end-of-batch status.
    """

    seq: int | None = None
    last_by_subj: str | None = None
    next_by_subj: str | None = None
    batch: int | None = None
    max_bytes: int | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class PullRequest(JSONModel):
    """``CONSUMER.MSG.NEXT`` body (wire.md 2.10): up to ``batch`` messages and ``max_bytes``, the
    request living ``expires`` seconds, or ``no_wait`` (a 404 at once when nothing is pending)."""

    batch: int
    max_bytes: int | None = None
    no_wait: bool | None = None
    expires: float | None = field(default=None, metadata=_NS)
    idle_heartbeat: float | None = field(default=None, metadata=_NS)
    _extra: dict[str, Any] = extra_field()
