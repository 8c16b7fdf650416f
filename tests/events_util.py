"""Test helper: wait for a connection status event."""

from __future__ import annotations

import asyncio

from protocol import StatusEvent


async def wait_event(events, kind: str, timeout: float = 10.0) -> list[StatusEvent]:
    """Consume ``events`` until one of ``kind``; return everything seen (that one last)."""
    seen: list[StatusEvent] = []

    async def run() -> None:
        async for ev in events:
            seen.append(ev)
            if ev.kind == kind:
                return
        raise AssertionError(f"event stream ended before {kind!r}: {seen}")

    try:
        await asyncio.wait_for(run(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"no {kind!r} event within {timeout}s; saw {seen}") from None
    return seen
