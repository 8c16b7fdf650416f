"""Owns the table of ``objstore`` commands: :func:`command` registers one, :func:`registered`
lists them in help order.

natscli's pattern (``registerCommand(name, order, configure)`` in each command's file): a command
module declares itself with the :func:`command` decorator on its handler, and the parser is
built from this table (:mod:`.parser`), so a new command is one new file in
``objstore/cli/commands/`` and no central list is edited. This module imports nothing of the
CLI and knows no command; it must not build the parser or run anything.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

__all__ = ["Command", "command", "registered"]

Arguments = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Command:
    """One command as the parser and ``main`` see it.

    ``handler`` is ``async handler(ctx) -> exit code`` for a connected command, or
    ``handler(args) -> exit code`` when ``connected`` is false (``serve``: no connection).
    ``check(args)`` runs before connecting and may raise ``UsageError``. A command with
    ``until_signal`` runs until Ctrl-C / SIGTERM and then exits 0 (``watch``, ``serve``).
    ``description`` may be a callable, evaluated when the parser is built.
    """

    name: str
    order: int
    help: str
    handler: Callable[..., Any]
    arguments: Optional[Arguments] = None
    description: Union[str, Callable[[], str], None] = None
    connected: bool = True
    until_signal: bool = False
    check: Optional[Callable[[argparse.Namespace], None]] = None

    def describe(self) -> str:
        text = self.description() if callable(self.description) else self.description
        return text or self.help


_COMMANDS: dict[str, Command] = {}


def command(
    name: str,
    order: int,
    help: str,
    *,
    arguments: Optional[Arguments] = None,
    description: Union[str, Callable[[], str], None] = None,
    connected: bool = True,
    until_signal: bool = False,
    check: Optional[Callable[[argparse.Namespace], None]] = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated handler as command ``name``; ``order`` places it in ``--help``."""

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        if name in _COMMANDS and _COMMANDS[name].handler is not handler:
            raise ValueError(f"objstore command {name!r} is registered twice")
        _COMMANDS[name] = Command(name, order, help, handler, arguments, description, connected, until_signal, check)
        return handler

    return register


def registered() -> list[Command]:
    """Every registered command, in help order (``order``, then name)."""
    return sorted(_COMMANDS.values(), key=lambda c: (c.order, c.name))
