"""How an ``objstore`` command runs: the exit codes and the two expected failures
(``UsageError``, ``CliError``), the :class:`Ctx` handed to every command (parsed arguments, the
JetStream context, output helpers, the signal that interrupted it), connecting (options from the
arguments or ``$NATS_*``, else the embedded nats-server, started on first use) with SIGINT /
SIGTERM turned into a cancellation, and ``serve``, the one command that needs no connection.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from typing import Any, Awaitable, Callable, Optional

from protocol import NatsError

from . import embedded
from .manager import connect
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
    """An expected runtime failure with a ready message: exit code 1."""


# The command context ---------------------------------------------------------------------------------

class Ctx:
    """What a command handler gets: parsed args, the JetStream context, output helpers."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.json = bool(getattr(args, "json", False))
        self.quiet = bool(getattr(args, "quiet", False))
        self.timeout = float(args.timeout)
        self.idle_timeout = max(self.timeout, MIN_IDLE_TIMEOUT)
        self.out = sys.stdout
        self.err = sys.stderr
        self.js: Any = None
        self.embedded = False  # connected to the embedded server (no --server / $NATS_URL)
        self.interrupted: Optional[int] = None  # the signal (SIGINT / SIGTERM) that asked us to stop

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


# serve (no connection) ----------------------------------------------------------------------------------

def cmd_serve(args: argparse.Namespace) -> int:
    directory = embedded.data_dir()
    as_json = bool(args.json)
    quiet = bool(args.quiet)

    def report(doc: dict[str, Any], text: str, stream: Any = None) -> None:
        if as_json:
            sys.stdout.write(json.dumps(doc) + "\n")
            sys.stdout.flush()
        elif not quiet or stream is None:
            (stream or sys.stdout).write(text + "\n")
            (stream or sys.stdout).flush()

    if args.status:
        url = embedded.running_url()
        pid = embedded.running_pid() if url else None
        report({"running": bool(url), "url": url, "pid": pid, "data_dir": str(directory)}, url or "not running", stream=None)
        return EXIT_OK if url else EXIT_ERROR
    if args.stop:
        pid = embedded.running_pid()
        stopped = embedded.stop()
        if stopped:
            report({"stopped": True, "pid": pid, "data_dir": str(directory)}, f"stopped the embedded nats-server (pid {pid})")
        else:
            report({"stopped": False, "pid": None, "data_dir": str(directory)}, "the embedded nats-server is not running")
        return EXIT_OK

    url, started = embedded.ensure_running()
    pid = embedded.running_pid()
    if not started:
        report({"url": url, "pid": pid, "started": False, "data_dir": str(directory)},
               f"the embedded nats-server is already running at {url} (pid {pid}, data in {directory}); "
               f"it was not started by this command and is left running ('{PROG} serve --stop' stops it)")
        return EXIT_OK
    report({"url": url, "pid": pid, "started": True, "data_dir": str(directory)},
           f"embedded nats-server running at {url} (pid {pid}, data in {directory}); Ctrl-C stops it")

    stop_requested = False

    def on_term(signum: int, frame: Any) -> None:
        nonlocal stop_requested
        stop_requested = True

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        while not stop_requested:
            if embedded.running_pid() is None:
                sys.stderr.write(f"{PROG}: the embedded nats-server exited; see {directory / 'server.log'}\n")
                return EXIT_ERROR
            time.sleep(0.25)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, old)
        embedded.stop()
    if not quiet and not as_json:
        sys.stderr.write(f"{PROG}: stopped the embedded nats-server\n")
    return EXIT_OK


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


async def run_connected(ctx: Ctx, url: str, handler: Callable[[Ctx], Awaitable[int]]) -> int:
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
        )
        try:
            ctx.js = nc.jetstream(timeout=ctx.timeout)
            return await handler(ctx)
        finally:
            try:
                await asyncio.wait_for(nc.close(), 5.0)
            except (NatsError, OSError, asyncio.TimeoutError):
                pass
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
