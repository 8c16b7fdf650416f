"""Owns ``objstore serve [--stop|--status]``: runs the embedded nats-server in the foreground
until Ctrl-C / SIGTERM (stopping it then only if this command started it), stops it, or shows it.

The one command with no connection: it must not connect; the process and its files belong to
:mod:`..embedded`.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from typing import Any

from .. import embedded
from ..registry import command
from ..runtime import EXIT_ERROR, EXIT_OK, PROG


def _arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--stop", action="store_true", help="stop the running embedded server")
    g.add_argument("--status", action="store_true", help="print its URL, or 'not running' (exit code 1)")


def _description() -> str:
    return ("Run the embedded nats-server in the foreground until Ctrl-C (it is stopped then, if this "
            f"command started it). Data lives in {embedded.data_dir()}.")


@command("serve", 150, "run the embedded nats-server in the foreground", arguments=_arguments,
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
