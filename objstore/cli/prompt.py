"""Owns asking the user before a destructive bulk step (``sync --delete``, ``rm --prefix``): only
when stdin is a terminal and ``-f/--force`` was not given; scripts (stdin not a terminal) are
never asked. The question goes to stderr; the answer is read without blocking the event loop,
so Ctrl-C still stops the command while it waits.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from .output import isatty
from .runtime import CliError, Ctx

__all__ = ["confirm_or_stop", "must_ask"]


def must_ask(args: Any) -> bool:
    return not getattr(args, "force", False) and isatty(sys.stdin)


async def _read_line() -> str:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    fd = sys.stdin.fileno()

    def on_ready() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, on_ready)
    try:
        await ready
    finally:
        loop.remove_reader(fd)
    return sys.stdin.readline()


async def confirm_or_stop(ctx: Ctx, question: str) -> None:
    """Ask ``question`` when :func:`must_ask`; anything but ``y``/``yes`` is a CliError (exit 1,
    nothing done). Without a terminal, or with ``-f``, it returns at once."""
    if not must_ask(ctx.args):
        return
    ctx.err.write(f"{question} [y/N] ")
    ctx.err.flush()
    answer = (await _read_line()).strip().lower()
    if answer not in ("y", "yes"):
        raise CliError("not confirmed: nothing was changed (-f/--force skips the question)")
