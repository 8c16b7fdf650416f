"""``objstore``: the command line for JetStream object stores (``python -m objstore``).

Every command talks to one server: ``--server`` / ``$NATS_URL`` or, with neither, the embedded
``nats-server`` (started on first use, reused afterwards; see ``objstore serve``). Built on the
``objstore`` public API only. Exit codes: 0 success, 1 runtime error (not found, digest
mismatch, server error, connection refused ...), 2 usage error, 130 interrupted (Ctrl-C),
143 terminated (SIGTERM); ``watch`` and ``serve`` end with 0 on Ctrl-C / SIGTERM.

What it does better than ``nats object``:

- ``get`` writes into a temporary file beside the target and renames it into place only after
  the SHA-256 digest, size and chunk count are verified (and the file fsync'ed): a failed or
  interrupted get never leaves a corrupt or partial target. ``get`` can also write to stdout.
  Devices, FIFOs and sockets are written in place, symlinks followed, object names that could
  leave ``-o DIR/`` refused, binary data kept off a terminal (see ``cli_objects``).
- ``put`` reads a file or stdin and reports what the server acknowledged, not what was read.
- Timeouts apply to each request and to pauses in a transfer, never to a whole transfer.
- Object ``--metadata`` and headers can be set on put; ``--json`` everywhere for scripts.

This module owns the argument parser (with its size and duration values), ``main()`` and the
mapping of errors to exit codes. The commands live in ``cli_buckets`` and ``cli_objects``, their
context, connection and ``serve`` in ``cli_runtime``, the output formatting in ``cli_format``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sys
from typing import Any, Callable, Optional

from protocol import NatsError

from . import embedded
from .cli_buckets import cmd_add, cmd_buckets, cmd_rm_bucket, cmd_seal, cmd_status
from .cli_doctor import DOCTOR_DESCRIPTION, cmd_doctor
from .cli_objects import cmd_get, cmd_info, cmd_link, cmd_ls, cmd_mv, cmd_put, cmd_rm, cmd_watch
from .cli_runtime import (
    DEFAULT_TIMEOUT,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    MIN_IDLE_TIMEOUT,
    PROG,
    CliError,
    Ctx,
    UsageError,
    cmd_serve,
    run_connected,
    server_url,
)

__all__ = ["main", "build_parser", "parse_size", "parse_duration"]


# Parsing values --------------------------------------------------------------------------------

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*$")
_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1024, "kib": 1024, "kb": 1000,
    "m": 1024**2, "mib": 1024**2, "mb": 1000**2,
    "g": 1024**3, "gib": 1024**3, "gb": 1000**3,
    "t": 1024**4, "tib": 1024**4, "tb": 1000**4,
}


def parse_size(text: str) -> int:
    """``'10MB'`` -> 10_000_000, ``'1GiB'``/``'1G'`` -> 2**30, ``'4096'`` -> 4096.

    KB/MB/GB/TB are decimal, KiB/MiB/GiB/TiB and the one-letter K/M/G/T binary."""
    m = _SIZE_RE.match(str(text))
    if not m or m.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"invalid size {text!r} (examples: 4096, 512KiB, 10MB, 1GiB)")
    value = float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]
    if value != int(value):
        raise ValueError(f"invalid size {text!r}: not a whole number of bytes")
    return int(value)


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d|w)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """``'1h'``, ``'30m'``, ``'10s'``, ``'2d'``, ``'1h30m'``, ``'1w'`` or plain seconds -> seconds."""
    s = str(text).strip().lower()
    try:
        value = float(s)
    except ValueError:
        pos, value = 0, 0.0
        for m in _DURATION_PART.finditer(s):
            if m.start() != pos:
                break
            value += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
            pos = m.end()
        if pos != len(s) or not s:
            raise ValueError(f"invalid duration {text!r} (examples: 90, 10s, 30m, 1h30m, 2d, 1w)") from None
    if value < 0 or value != value or value == float("inf"):
        raise ValueError(f"invalid duration {text!r}")
    return value


def _arg_size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _arg_positive_size(text: str) -> int:
    n = _arg_size(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"size must be positive, not {text!r}")
    return n


def _arg_duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _arg_positive_duration(text: str) -> float:
    value = _arg_duration(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text!r}")
    return value


def _arg_kv(sep: str, what: str) -> Callable[[str], tuple[str, str]]:
    def parse(text: str) -> tuple[str, str]:
        key, found, value = text.partition(sep)
        key = key.strip()
        if not found or not key:
            raise argparse.ArgumentTypeError(f"{what} must look like KEY{sep}VALUE, not {text!r}")
        return key, value.strip() if sep == ":" else value
    return parse


# The parser ------------------------------------------------------------------------------------

EPILOG = """\
server:
  Every command uses --server (or $NATS_URL). With neither, it uses the embedded nats-server:
  started on first use (loopback only, JetStream on) and left running for the next command;
  its data lives in {data_dir}
  ($OBJSTORE_DATA_DIR, else $XDG_DATA_HOME/natsobj, else ~/.local/share/natsobj).
  '{prog} serve' runs it in the foreground, '{prog} serve --stop' stops it.
  Credentials also come from $NATS_USER, $NATS_PASSWORD, $NATS_TOKEN, $NATS_CREDS, $NATS_NKEY,
  $NATS_CA, $NATS_CERT, $NATS_KEY.

values:
  sizes: 4096, 512KiB, 1MiB, 1GiB (also K, M, G = KiB, MiB, GiB; KB, MB, GB = powers of 1000)
  durations: 90 (seconds), 10s, 30m, 1h, 2d, 1w, 1h30m

exit codes:
  0 success, 1 runtime error (not found, digest mismatch, server error, connection refused),
  2 usage error, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM); watch and serve exit 0
  when stopped with Ctrl-C or SIGTERM.
"""


def _add_global_options(p: argparse.ArgumentParser, sub: bool) -> None:
    """The connection/output options; accepted before or after the command name."""

    def d(value: Any) -> Any:
        return argparse.SUPPRESS if sub else value

    g = p.add_argument_group("connection and output options")
    g.add_argument("-s", "--server", metavar="URL", default=d(None),
                   help="server URL(s), comma-separated (default: $NATS_URL, else the embedded server)")
    g.add_argument("--creds", metavar="FILE", default=d(None), help="user credentials (.creds) file")
    g.add_argument("--user", default=d(None), help="user name")
    g.add_argument("--password", default=d(None), help="password (prefer $NATS_PASSWORD)")
    g.add_argument("--token", default=d(None), help="authentication token (prefer $NATS_TOKEN)")
    g.add_argument("--nkey", metavar="SEED", default=d(None), help="nkey seed, or a file holding it")
    g.add_argument("--tls-ca", metavar="FILE", default=d(None), help="CA certificate(s) to verify the server")
    g.add_argument("--tls-cert", metavar="FILE", default=d(None), help="client certificate")
    g.add_argument("--tls-key", metavar="FILE", default=d(None), help="client certificate's key")
    g.add_argument("--timeout", metavar="DURATION", type=_arg_positive_duration, default=d(DEFAULT_TIMEOUT),
                   help=f"timeout of connecting and of each request (default {DEFAULT_TIMEOUT:g}s); a transfer "
                        f"fails only when no data moves for max(TIMEOUT, {MIN_IDLE_TIMEOUT:g}s), never for its total length")
    g.add_argument("--json", action="store_true", default=d(False), help="print results as one JSON document")
    g.add_argument("-q", "--quiet", action="store_true", default=d(False),
                   help="no progress bars, notes or result lines (data, tables and JSON still print)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Store and fetch files in NATS JetStream object stores.",
        epilog=EPILOG.format(prog=PROG, data_dir=embedded.data_dir()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_global_options(parser, sub=False)
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def sub(name: str, help: str, handler: Any, description: Optional[str] = None) -> argparse.ArgumentParser:
        p = subs.add_parser(name, help=help, description=description or help)
        p.set_defaults(handler=handler, subparser=p)
        return p

    p = sub("add", "create a bucket (no change if it exists with the same settings)", cmd_add)
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("--description", help="bucket description")
    p.add_argument("--ttl", type=_arg_duration, default=0, metavar="DURATION",
                   help="remove objects older than this (1h, 30m, 10s, 2d or seconds; default: never)")
    p.add_argument("--max-bytes", type=_arg_size, default=0, metavar="SIZE",
                   help="maximum bucket size (10MB, 1GiB ...; default: unlimited)")
    p.add_argument("--storage", choices=("file", "memory"), default="file", help="storage backend (default file)")
    p.add_argument("--replicas", type=int, default=1, choices=range(1, 6), metavar="N", help="replicas, 1-5 (default 1)")
    p.add_argument("--compression", action="store_true", help="compress stored data (S2)")
    p.add_argument("--metadata", type=_arg_kv("=", "--metadata"), action="append", metavar="KEY=VALUE",
                   help="bucket metadata (repeatable)")
    _add_global_options(p, sub=True)

    p = sub("buckets", "list buckets", cmd_buckets)
    _add_global_options(p, sub=True)

    p = sub("status", "show a bucket's status", cmd_status)
    p.add_argument("bucket", metavar="BUCKET")
    _add_global_options(p, sub=True)

    p = sub("seal", "make a bucket read-only (cannot be undone)", cmd_seal)
    p.add_argument("bucket", metavar="BUCKET")
    _add_global_options(p, sub=True)

    p = sub("rm-bucket", "delete a bucket and all its objects", cmd_rm_bucket,
            description="Delete a bucket and all its objects. Asks no question: when stdin is a "
                        "terminal, -f/--force is required; in scripts (stdin not a terminal) it proceeds.")
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("-f", "--force", action="store_true", help="really delete (required when stdin is a terminal)")
    _add_global_options(p, sub=True)

    p = sub("put", "store a file (or stdin) as an object", cmd_put,
            description="Store FILE (or stdin with '-') as an object, replacing any previous version only "
                        "once every chunk is acknowledged. Reports the bytes the server acknowledged.")
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("file", metavar="FILE|-")
    p.add_argument("-n", "--name", help="object name (default: the file's base name; required for '-')")
    p.add_argument("--description", help="object description")
    p.add_argument("-H", "--header", type=_arg_kv(":", "-H"), action="append", metavar="KEY:VALUE",
                   help="object header (repeatable)")
    p.add_argument("--metadata", type=_arg_kv("=", "--metadata"), action="append", metavar="KEY=VALUE",
                   help="object metadata (repeatable)")
    p.add_argument("--chunk-size", type=_arg_positive_size, metavar="SIZE",
                   help="chunk size (default 128KiB; capped at the server's max payload)")
    p.add_argument("--if-absent", action="store_true",
                   help="skip (exit 0, 'skipped') when the object already exists instead of replacing it")
    _add_global_options(p, sub=True)

    p = sub("get", "fetch an object, verified", cmd_get,
            description="Fetch an object. With -o FILE it is written to a temporary file beside FILE and "
                        "renamed into place only after its SHA-256 digest, size and chunk count are verified; "
                        "on any error FILE is left untouched. An existing FILE is replaced (as cp does), a "
                        "symlink's target is replaced (the link stays); a device, FIFO or socket is written in "
                        "place. With -o DIR/ the file is DIR/<last part of NAME>; names that could leave DIR are "
                        "refused. Without -o (or with '-o -') it goes to stdout; binary data is not printed to a "
                        "terminal unless '-o -' is given.")
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("name", metavar="NAME")
    p.add_argument("-o", "--output", metavar="FILE", help="target file or directory ('-' = stdout, the default)")
    p.add_argument("-n", "--no-clobber", action="store_true", help="do not replace an existing file (exit 1 instead)")
    _add_global_options(p, sub=True)

    p = sub("ls", "list a bucket's objects", cmd_ls)
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("--deleted", action="store_true", help="include deleted objects")
    _add_global_options(p, sub=True)

    p = sub("info", "show an object's info", cmd_info)
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--deleted", action="store_true", help="also show a deleted object's last info")
    _add_global_options(p, sub=True)

    p = sub("rm", "delete an object", cmd_rm)
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("name", metavar="NAME")
    _add_global_options(p, sub=True)

    p = sub("mv", "rename an object (NEW must not exist)", cmd_mv)
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")
    _add_global_options(p, sub=True)

    p = sub("link", "make NAME a link to object TARGET (or, with --bucket-link, to bucket TARGET)", cmd_link)
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("name", metavar="NAME")
    p.add_argument("target", metavar="TARGET")
    p.add_argument("--bucket", dest="target_bucket", metavar="OTHER", help="TARGET is in bucket OTHER (default: BUCKET)")
    p.add_argument("--bucket-link", action="store_true", help="link to the whole bucket TARGET")
    _add_global_options(p, sub=True)

    p = sub("watch", "print a line per object update until Ctrl-C", cmd_watch,
            description="Print the latest entry of every object, then one line per update, until Ctrl-C "
                        "(with --json: one JSON document per line).")
    p.add_argument("bucket", metavar="BUCKET")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--history", action="store_true", help="start with every stored entry, not the latest per object")
    g.add_argument("--updates-only", action="store_true", help="print only updates made from now on")
    _add_global_options(p, sub=True)

    p = sub("doctor", "check a bucket's health (orphaned chunks, metas that disagree with the stream); --fix sweeps orphans",
            cmd_doctor, description=DOCTOR_DESCRIPTION)
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("--fix", action="store_true", help="remove the orphans older than --older-than")
    p.add_argument("--older-than", type=_arg_duration, default=3600.0, metavar="DURATION",
                   help="age guard: only orphans whose newest chunk is at least this old count as problems "
                        "and are removed by --fix (default 1h; 0 takes every orphan, also a put in progress)")
    _add_global_options(p, sub=True)

    p = sub("serve", "run the embedded nats-server in the foreground", None,
            description="Run the embedded nats-server in the foreground until Ctrl-C (it is stopped then, if this "
                        f"command started it). Data lives in {embedded.data_dir()}.")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--stop", action="store_true", help="stop the running embedded server")
    g.add_argument("--status", action="store_true", help="print its URL, or 'not running' (exit code 1)")
    _add_global_options(p, sub=True)
    return parser


# Errors and main -------------------------------------------------------------------------------------

def describe_error(err: BaseException) -> str:
    if isinstance(err, OSError) and not isinstance(err, NatsError):
        if err.filename is not None and err.strerror:
            return f"{err.filename}: {err.strerror}"
        return err.strerror or str(err) or type(err).__name__
    text = str(err).strip()
    return text or type(err).__name__


def _stdout_gone() -> None:
    # Keep Python from complaining again while flushing stdout at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command
    ends_on_signal = command in ("watch", "serve")
    err = sys.stderr
    ctx: Optional[Ctx] = None
    try:
        if command == "serve":
            return cmd_serve(args)
        if command == "rm-bucket" and not args.force and sys.stdin.isatty():
            args.subparser.error(f"rm-bucket deletes {args.bucket!r} and all its objects: add -f/--force to confirm")
        ctx = Ctx(args)
        url = server_url(args, ctx)
        return asyncio.run(run_connected(ctx, url, args.handler))
    except UsageError as e:
        getattr(args, "subparser", parser).error(str(e))
    except KeyboardInterrupt:
        if ends_on_signal:
            return EXIT_OK
        err.write(f"\n{PROG}: interrupted\n")
        return EXIT_INTERRUPTED
    except asyncio.CancelledError:
        if ends_on_signal:
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
        err.write(f"{PROG}: {describe_error(e)}\n")
        return EXIT_ERROR
    except Exception as e:  # noqa: BLE001 - a bug: one line, the traceback on request
        if os.environ.get("OBJSTORE_DEBUG"):
            raise
        err.write(f"{PROG}: internal error: {type(e).__name__}: {e} (set OBJSTORE_DEBUG=1 for a traceback)\n")
        return EXIT_ERROR
    return EXIT_OK  # pragma: no cover (parser.error exits)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
