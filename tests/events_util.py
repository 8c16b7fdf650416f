"""Test helpers shared by the async test files: bounded waits for status events, conditions and
messages. Every helper fails with an ``AssertionError`` naming what it waited for instead of
hanging; none of them checks speed (the limits are generous hang guards)."""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any, AsyncIterable, Callable

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


async def kinds_until(events, last: str | None, timeout: float = 10.0) -> list[str]:
    """Event kinds up to and including ``last`` (or to the end of the stream), bounded in time
    (``asyncio.wait_for``: also on Python 3.10, which lacks ``asyncio.timeout``)."""
    kinds: list[str] = []

    async def run() -> None:
        async for ev in events:
            kinds.append(ev.kind)
            if ev.kind == last:
                return

    await asyncio.wait_for(run(), timeout)
    return kinds


async def eventually(
    predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition", interval: float = 0.02
) -> None:
    """Poll ``predicate`` (a plain or an async function) until it is true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"{what} not reached within {timeout}s"
        await asyncio.sleep(interval)


async def roundtrip(nc, subject: str, payload: bytes = b"ping") -> None:
    """Subscribe, publish, receive it back: the connection works end to end."""
    sub = await nc.subscribe(subject)
    await nc.publish(subject, payload)
    assert (await sub.next_msg(timeout=2)).data == payload
    await sub.unsubscribe()


async def take(items: AsyncIterable[Any], n: int, timeout: float = 5.0) -> list[Any]:
    """The first ``n`` items of an async iterable (fewer if it ends first), within ``timeout``."""

    async def run() -> list[Any]:
        out: list[Any] = []
        if n <= 0:
            return out
        async for item in items:
            out.append(item)
            if len(out) == n:
                break
        return out

    return await asyncio.wait_for(run(), timeout)
