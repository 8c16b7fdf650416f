"""Owns the ``objstore`` argument parser: the global connection and output options (accepted
before or after the command name), the help epilog, ``--version``, and one subparser per registered command (its own options
first in ``--help`` and in its usage line, then the connection options as a separate group),
built from :mod:`.registry` after every module of :mod:`.commands` has been imported.

It must not name a command: the commands declare their own arguments.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import pkgutil
from typing import Any

from . import commands, embedded
from .registry import Command, registered
from .runtime import DEFAULT_TIMEOUT, MIN_IDLE_TIMEOUT, PROG
from .values import arg_positive_duration

__all__ = ["build_parser", "load_commands"]


def load_commands() -> list[Command]:
    """Import every module of ``objstore.cli.commands`` (each registers its commands) and return
    the registered commands in help order."""
    for found in pkgutil.iter_modules(commands.__path__):
        importlib.import_module(f"{commands.__name__}.{found.name}")
    return registered()


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
    g.add_argument("--timeout", metavar="DURATION", type=arg_positive_duration, default=d(DEFAULT_TIMEOUT),
                   help=f"timeout of connecting and of each request (default {DEFAULT_TIMEOUT:g}s); a transfer "
                        f"fails only when no data moves for max(TIMEOUT, {MIN_IDLE_TIMEOUT:g}s), never for its total length")
    g.add_argument("--json", action="store_true", default=d(False), help="print results as one JSON document")
    g.add_argument("-q", "--quiet", action="store_true", default=d(False),
                   help="no progress bars, notes or result lines (data, tables and JSON still print)")
    g.add_argument("--trace", action="store_true", default=d(False),
                   help="print every protocol frame in and out to stderr (credentials redacted)")
    g.add_argument("-v", "--verbose", action="store_true", default=d(False),
                   help="errors also name the server's JetStream error code (--json output always does)")


def version() -> str:
    """The installed distribution's version (``natsobj``), or the source tree's when not installed."""
    try:
        return importlib.metadata.version("natsobj")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _own_usage(p: argparse.ArgumentParser) -> str:
    """The usage line of a command's own arguments, with the connection options as one mention
    (their list follows the command's options in ``--help``)."""
    text = p.format_usage().rstrip("\n")
    if text.startswith("usage: "):
        text = text[len("usage: "):]
    indent = " " * (len("usage: ") + len(p.prog) + 1)
    return (text + "\n" + indent + "[connection and output options]").replace("%", "%%")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Store and fetch files in NATS JetStream object stores.",
        epilog=EPILOG.format(prog=PROG, data_dir=embedded.data_dir()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_global_options(parser, sub=False)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in load_commands():
        p = subs.add_parser(cmd.name, help=cmd.help, description=cmd.describe())
        p.set_defaults(spec=cmd, subparser=p)
        if cmd.arguments is not None:
            cmd.arguments(p)
        p.usage = _own_usage(p)
        p._optionals.title = f"{cmd.name} options"  # argparse has no public setter for it
        _add_global_options(p, sub=True)
    return parser
