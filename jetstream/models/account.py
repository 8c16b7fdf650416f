"""Account models: the ``$JS.API.INFO`` reply with its limits, tiers and API stats (wire.md 2.5).

Rule: no I/O; imports only ``jetstream.codec``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jetstream.codec import JSONModel, extra_field

__all__ = [
    "AccountLimits",
    "APIStats",
    "Tier",
    "AccountInfo",
]

# --- account (wire.md 2.5) ---------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class AccountLimits(JSONModel):
    max_memory: int | None = None
    max_storage: int | None = None
    max_streams: int | None = None
    max_consumers: int | None = None
    max_ack_pending: int | None = None
    memory_max_stream_bytes: int | None = None
    storage_max_stream_bytes: int | None = None
    max_bytes_required: bool | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class APIStats(JSONModel):
    level: int | None = None
    total: int = 0
    errors: int = 0
    inflight: int | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class Tier(JSONModel):
    memory: int = 0
    storage: int = 0
    reserved_memory: int | None = None
    reserved_storage: int | None = None
    streams: int = 0
    consumers: int = 0
    limits: AccountLimits | None = None
    _extra: dict[str, Any] = extra_field()


@dataclass(slots=True, kw_only=True)
class AccountInfo(JSONModel):
    """``$JS.API.INFO`` reply."""

    memory: int = 0
    storage: int = 0
    reserved_memory: int | None = None
    reserved_storage: int | None = None
    streams: int = 0
    consumers: int = 0
    limits: AccountLimits | None = None
    domain: str | None = None
    api: APIStats | None = None
    tiers: dict[str, Tier] | None = None
    _extra: dict[str, Any] = extra_field()
