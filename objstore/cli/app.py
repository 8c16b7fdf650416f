"""Owns ``main()``: parse, run the chosen command (connected or not) and map what ends it to an
exit code and at most one ``objstore: ...`` line on stderr.

It must not know any command by name: what differs between commands (a connection, a check
before connecting, ending with 0 on a signal) is declared in their :class:`~.registry.Command`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from typing import Optional

from protocol import NatsError

from .. import BadBucketError
from ..subjects import validate_bucket
from .explain import error_doc, explain, human
from .parser import build_parser
from .registry import Command
from .runtime import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    PROG,
    CliError,
    Ctx,
    UsageError,
    run_connected,
    server_url,
)

__all__ = ["main"]


def _stdout_gone() -> None:
    # Keep Python from complaining again while flushing stdout at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _check_bucket(args: object) -> None:
    """A malformed BUCKET argument is a usage error, found before connecting (or starting the
    embedded server). ``BUCKET/PREFIX`` forms are left to their command."""
    bucket = getattr(args, "bucket", None)
    if isinstance(bucket, str) and "/" not in bucket:
        try:
            validate_bucket(bucket)
        except BadBucketError as e:
            raise UsageError(str(e)) from None


def _report(args: object, e: BaseException) -> None:
    """The one ``objstore: ...`` stderr line, and with ``--json`` the error document on stdout."""
    if getattr(args, "json", False):
        try:
            sys.stdout.write(json.dumps(error_doc(e), ensure_ascii=False) + "\n")
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
    sys.stderr.write(f"{PROG}: {human(e, bool(getattr(args, 'verbose', False)))}\n")


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    cmd: Command = args.spec
    err = sys.stderr
    ctx: Optional[Ctx] = None
    try:
        if not cmd.connected:
            return cmd.handler(args)
        if cmd.check is not None:
            cmd.check(args)
        _check_bucket(args)
        ctx = Ctx(args)
        url = server_url(args, ctx)
        return asyncio.run(run_connected(ctx, url, cmd.handler, explain))
    except (UsageError, BadBucketError) as e:
        getattr(args, "subparser", parser).error(str(e))
    except KeyboardInterrupt:
        if cmd.until_signal:
            return EXIT_OK
        err.write(f"\n{PROG}: interrupted\n")
        return EXIT_INTERRUPTED
    except asyncio.CancelledError:
        if cmd.until_signal:
            return EXIT_OK
        if ctx is not None and ctx.interrupted == signal.SIGTERM:
            err.write(f"{PROG}: terminated\n")
            return EXIT_TERMINATED
        err.write(f"\n{PROG}: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _stdout_gone()
        return EXIT_ERROR
    except (NatsError, OSError, CliError, ValueError) as e:
        _report(args, e)
        return EXIT_ERROR
    except Exception as e:  # noqa: BLE001 - a bug: one line, the traceback on request
        if os.environ.get("OBJSTORE_DEBUG"):
            raise
        err.write(f"{PROG}: internal error: {type(e).__name__}: {e} (set OBJSTORE_DEBUG=1 for a traceback)\n")
        return EXIT_ERROR
    return EXIT_OK  # pragma: no cover (parser.error exits)
