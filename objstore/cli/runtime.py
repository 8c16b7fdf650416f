"""Owns how a connected ``objstore`` command runs: the exit codes, the two expected failures
(``UsageError``, ``CliError``) and their one-line text (:func:`describe_error`), the :class:`Ctx`
handed to every command (parsed arguments, the JetStream context, output helpers, the signal
that interrupted it), and connecting (options from the arguments or ``$NATS_*``, else the
embedded nats-server, started on first use) with SIGINT / SIGTERM turned into a cancellation.

It must not know any command: commands register themselves (:mod:`.registry`) and get a Ctx.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from typing import Any, Awaitable, Callable, Optional

from protocol import NatsError
from protocol.trace import stderr_sink

from .. import connect
from . import embedded
from .progress import ProgressBar

PROG = "objstore"
DEFAULT_TIMEOUT = 10.0
MIN_IDLE_TIMEOUT = 30.0
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143

# Environment fallbacks for the connection options (the nats CLI's names).
ENV = {
    "server": "NATS_URL",
    "user": "NATS_USER",
    "password": "NATS_PASSWORD",
    "token": "NATS_TOKEN",
    "creds": "NATS_CREDS",
    "nkey": "NATS_NKEY",
    "tls_ca": "NATS_CA",
    "tls_cert": "NATS_CERT",
    "tls_key": "NATS_KEY",
}


class UsageError(Exception):
    """A bad combination of arguments found after parsing: exit code 2."""


class CliError(Exception):
    """An expected runtime failure with a ready message: exit code 1. ``err_code`` / ``code``:
    the JetStream codes of the server error it restates (kept in ``--json`` and ``-v`` output);
    ``kind``: the error's name in ``--json``; ``details``: more ``--json`` fields."""

    def __init__(self, message: str, *, err_code: Optional[int] = None, code: Optional[int] = None,
                 kind: Optional[str] = None, details: Optional[dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.err_code = err_code
        self.code = code
        self.kind = kind
        self.details = details


def describe_error(err: BaseException) -> str:
    """An error as one line: an OSError as ``path: reason`` (or its reason), others as text."""
    if isinstance(err, OSError) and not isinstance(err, NatsError):
        if err.filename is not None and err.strerror:
            return f"{err.filename}: {err.strerror}"
        return err.strerror or str(err) or type(err).__name__
    return str(err).strip() or type(err).__name__


# The command context ---------------------------------------------------------------------------------

class Ctx:
    """What a command handler gets: parsed args, the JetStream context, output helpers."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.json = bool(getattr(args, "json", False))
        self.quiet = bool(getattr(args, "quiet", False))
        self.verbose = bool(getattr(args, "verbose", False))
        self.timeout = float(args.timeout)
        self.idle_timeout = max(self.timeout, MIN_IDLE_TIMEOUT)
        self.out = sys.stdout
        self.err = sys.stderr
        self.js: Any = None
        self.embedded = False  # connected to the embedded server (no --server / $NATS_URL)
        self.interrupted: Optional[int] = None  # the signal (SIGINT / SIGTERM) that asked us to stop
        self.put_size: Optional[int] = None  # the size of the object being put, when known (error texts)

    def check_interrupted(self) -> None:
        """Raise CancelledError once a signal arrived. Transfer loops call it for every chunk:
        a task's cancel() alone can be lost on Python < 3.12 when it lands while
        ``asyncio.wait_for`` completes (gh-86296), which is common at full transfer speed."""
        if self.interrupted is not None:
            raise asyncio.CancelledError()

    def say(self, text: str) -> None:
        """A human result line on stdout (suppressed by --quiet)."""
        if not self.quiet:
            self.out.write(text + "\n")
            self.out.flush()

    def note(self, text: str) -> None:
        """A diagnostic line on stderr (suppressed by --quiet)."""
        if not self.quiet:
            self.err.write(f"{PROG}: {text}\n")
            self.err.flush()

    def emit_json(self, doc: Any) -> None:
        self.out.write(json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False) + "\n")
        self.out.flush()

    def bar(self, total: Optional[int], label: str) -> ProgressBar:
        return ProgressBar(total, self.err, label=label, enabled=False if self.quiet else None)

    async def store(self, bucket: str) -> Any:
        return await self.js.object_store(bucket)


# Running a connected command ------------------------------------------------------------------------------

def _option(args: argparse.Namespace, key: str) -> Optional[str]:
    value = getattr(args, key, None)
    if value:
        return value
    return os.environ.get(ENV[key]) or None


def server_url(args: argparse.Namespace, ctx: Ctx) -> str:
    url = _option(args, "server")
    if url:
        return url
    url, started = embedded.ensure_running()
    ctx.embedded = True
    if started:
        ctx.note(f"started the embedded nats-server at {url} (data in {embedded.data_dir()}; "
                 f"'{PROG} serve --stop' stops it)")
    return url


async def run_connected(ctx: Ctx, url: str, handler: Callable[[Ctx], Awaitable[int]],
                        explain: Optional[Callable[[Ctx, BaseException], Awaitable[BaseException]]] = None) -> int:
    """Connect, run ``handler(ctx)`` and close. A NatsError the handler raises is passed, while
    still connected, through ``explain`` (which may restate it in the user's words)."""
    args = ctx.args
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def on_signal(signum: int) -> None:
        if ctx.interrupted is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop waiting for a clean exit
        ctx.interrupted = signum
        if task is not None:
            task.cancel()

    handled = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, on_signal, signum)
            handled.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    try:
        nc = await connect(
            url,
            name=f"{PROG}-cli",
            user=_option(args, "user"),
            password=_option(args, "password"),
            token=_option(args, "token"),
            nkey_seed=_option(args, "nkey"),
            creds=_option(args, "creds"),
            tls_ca=_option(args, "tls_ca"),
            tls_cert=_option(args, "tls_cert"),
            tls_key=_option(args, "tls_key"),
            connect_timeout=ctx.timeout,
            max_reconnect_attempts=3,
            trace=stderr_sink if getattr(args, "trace", False) else None,
        )
        try:
            ctx.js = nc.jetstream(timeout=ctx.timeout)
            try:
                return await handler(ctx)
            except NatsError as err:
                better = await explain(ctx, err) if explain is not None and ctx.interrupted is None else err
                if better is err:
                    raise
                raise better from err
        finally:
            try:
                await asyncio.wait_for(nc.close(), 5.0)
            except (NatsError, OSError, asyncio.TimeoutError):
                pass
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
