"""Owns ``objstore serve [--port N] [--foreground] [--stop|--status]``: starts the embedded
nats-server on a fixed loopback port (``--port``, else ``$OBJSTORE_PORT``, else 4222 when free,
else a free port, said so) and leaves it running in the background (its PID and port recorded in
the data directory, so later commands, ``objstore.connect()`` with no URL and ``serve --stop`` /
``--status`` find it); with ``--foreground`` it runs until Ctrl-C / SIGTERM (stopping the server
then only if this command started it).

The one command with no connection: it must not connect; the process and its files belong to
:mod:`..embedded`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from typing import Any

from .. import embedded
from ..registry import command
from ..runtime import EXIT_ERROR, EXIT_OK, PROG


DEFAULT_PORT = 4222
PORT_ENV = "OBJSTORE_PORT"


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1-65535, not {text!r}")
    return port


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=_port, metavar="N",
                   help=f"port on 127.0.0.1 (default: ${PORT_ENV}, else {DEFAULT_PORT} when free, else a free one)")
    p.add_argument("--foreground", action="store_true",
                   help="run in the foreground until Ctrl-C (the server stops then, if this command started it)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--stop", action="store_true", help="stop the running embedded server")
    g.add_argument("--status", action="store_true", help="print its URL, or 'not running' (exit code 1)")


def _description() -> str:
    return ("Start the embedded nats-server on 127.0.0.1 and leave it running in the background, so the "
            f"objstore commands and objstore.connect() with no URL use it ('{PROG} serve --stop' stops it); "
            "--foreground runs it until Ctrl-C instead (it is stopped then, if this command started it). "
            f"Data lives in {embedded.data_dir()}.")


def _choose_port(args: argparse.Namespace, note: Any) -> "int | None":
    """The port to start on: --port or $OBJSTORE_PORT (used as given), else 4222 when free, else
    None (a free one), which ``note`` says."""
    if args.port:
        return int(args.port)
    env = os.environ.get(PORT_ENV)
    if env:
        try:
            return _port(env)
        except argparse.ArgumentTypeError as e:
            raise embedded.EmbeddedServerError(f"${PORT_ENV}: {e}") from None
    if embedded.port_free(DEFAULT_PORT):
        return DEFAULT_PORT
    note(f"port {DEFAULT_PORT} is in use (another nats-server?); using a free port instead")
    return None


@command("serve", 150, "start the embedded nats-server (background; --foreground, --stop, --status)", arguments=_arguments,
         description=_description, connected=False, until_signal=True)
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

    def note(text: str) -> None:
        if not quiet:
            sys.stderr.write(f"{PROG}: {text}\n")
            sys.stderr.flush()

    url = embedded.running_url()
    port = None if url else _choose_port(args, note)
    url, started = embedded.ensure_running(port=port)
    pid = embedded.running_pid()
    doc = {"url": url, "pid": pid, "started": started, "foreground": bool(args.foreground), "data_dir": str(directory)}
    if not started:
        asked = args.port or os.environ.get(PORT_ENV)
        if asked and not url.endswith(f":{asked}"):
            note(f"it runs on another port than {asked}: '{PROG} serve --stop', then serve again, moves it")
        report(doc, f"the embedded nats-server is already running at {url} (pid {pid}, data in {directory}); "
                    f"it was not started by this command and is left running ('{PROG} serve --stop' stops it)")
        return EXIT_OK
    if not args.foreground:
        report(doc, f"embedded nats-server running at {url} (pid {pid}, data in {directory}); it keeps running "
                    f"in the background for objstore commands and objstore.connect(); '{PROG} serve --stop' stops it")
        return EXIT_OK
    report(doc, f"embedded nats-server running at {url} (pid {pid}, data in {directory}); Ctrl-C stops it")

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
