"""Owns the ``objstore`` application: the command line for JetStream object stores
(``objstore``, ``python -m objstore``). The library never imports this package.

Every command talks to one server: ``--server`` / ``$NATS_URL`` or, with neither, the embedded
``nats-server`` (reused when running, e.g. after ``objstore serve``; else started on first use). Built on the
``objstore`` public API only. Exit codes: 0 success, 1 runtime error (not found, digest
mismatch, server error, connection refused ...), 2 usage error, 130 interrupted (Ctrl-C),
143 terminated (SIGTERM); ``watch`` and ``serve`` end with 0 on Ctrl-C / SIGTERM.

What it does better than ``nats object``:

- ``get`` writes into a temporary file beside the target and renames it into place only after
  the SHA-256 digest, size and chunk count are verified (and the file fsync'ed): a failed or
  interrupted get never leaves a corrupt or partial target. ``get`` can also write to stdout.
  Devices, FIFOs and sockets are written in place, symlinks followed, object names that could
  leave ``-o DIR/`` refused, binary data kept off a terminal (see :mod:`.output`).
- ``put`` reads a file or stdin and reports what the server acknowledged, not what was read.
- Timeouts apply to each request and to pauses in a transfer, never to a whole transfer.
- Object ``--metadata`` and headers can be set on put; ``--json`` everywhere for scripts.
- ``sync`` moves only what differs (size, then SHA-256; local digests cached), both ways, and
  ``put``/``get``/``ls``/``rm`` work on many objects by prefix; ``cp`` copies between buckets.

Layout: :mod:`.app` (``main()``, errors to exit codes), :mod:`.parser` (the parser, built from
:mod:`.registry`), :mod:`.values` (sizes, durations), :mod:`.runtime` (the command context,
connecting), :mod:`.format` (output), :mod:`.progress` (the progress bar), :mod:`.output` (where
``get`` writes), :mod:`.explain` (errors in the user's words, ``--json`` error documents),
:mod:`.embedded` (the embedded server), :mod:`.demo` (``make run``), :mod:`.local_tree`,
:mod:`.digest_cache` and :mod:`.sync_run` (``sync``'s local side, cache and transfers),
:mod:`.bulk` (many-object ``put``/``get``), :mod:`.prompt` (the y/N question), and
:mod:`.commands`: one module per command group, each registering its commands, so a new command
is one new file there.
"""

from .app import main
from .parser import build_parser
from .values import parse_duration, parse_size

__all__ = ["main", "build_parser", "parse_size", "parse_duration"]
