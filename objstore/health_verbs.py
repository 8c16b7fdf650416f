"""``HealthVerbs``: the doctor's verbs of ``ObjectStore`` (``orphans``, ``sweep``, ``check``), mixed
into it. Each is one call into :mod:`objstore.health`, which owns the logic; this module only
exposes it on the store.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from . import health
from .findings import HealthReport, Orphan

__all__ = ["HealthVerbs"]


class HealthVerbs:
    """Orphans, sweep and check; expects ``ObjectStore``'s ``handle``."""

    handle: Any

    async def orphans(self) -> list[Orphan]:
        """Chunk subjects no live meta names (a killed writer's leftovers, or a put still in
        progress), from the stream's subject listing; see :mod:`objstore.health`."""
        return await health.find_orphans(self.handle)

    async def sweep(self, older_than: "timedelta | float" = timedelta(hours=1), dry_run: bool = False) -> list[Orphan]:
        """Purge orphans whose newest chunk is at least ``older_than`` old (default 1 hour, on the
        server's clock), which keeps another client's put in progress safe. Returns them."""
        return await health.sweep(self.handle, older_than, dry_run)

    async def check(self, older_than: "timedelta | float" = timedelta(hours=1)) -> HealthReport:
        """The bucket's health: orphans, metas whose chunk count or size disagrees with the stream,
        live metas whose chunks are gone, malformed metas. See :mod:`objstore.health`."""
        return await health.check(self.handle, older_than)
