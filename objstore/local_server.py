"""Owns finding the local (embedded) nats-server that ``objstore serve`` runs: its data directory
and its state files, read only. ``objstore.connect()`` with no URL uses :func:`default_url`:
``$NATS_URL``, else this server when it runs, else ``nats://127.0.0.1:4222``.

The data directory is ``$OBJSTORE_DATA_DIR``, else ``$XDG_DATA_HOME/natsobj``, else
``~/.local/share/natsobj``. Its state files are ``server.pid`` (the process) and ``server.port``
(the loopback port); the server counts as running only while that PID is alive, its command line
names this directory's ``server.conf`` (never a recycled PID) and the port answers with INFO.

Must not start, stop or configure a server (``objstore.cli.embedded`` does) and never speaks the
protocol beyond reading the first bytes a server sends.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Optional

__all__ = ["DEFAULT_URL", "data_dir", "default_url", "running_url", "running_pid", "read_int", "pid_alive",
           "port_answers"]

DEFAULT_URL = "nats://127.0.0.1:4222"


def data_dir() -> Path:
    """The embedded server's data directory (created by whoever starts the server)."""
    env = os.environ.get("OBJSTORE_DATA_DIR")
    if env:
        return Path(env).expanduser().absolute()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return (Path(base) / "natsobj").absolute()


def read_int(path: Path) -> Optional[int]:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def port_answers(port: int, timeout: float = 0.5) -> bool:
    """Whether a NATS server answers on 127.0.0.1:``port`` (its first bytes are ``INFO``)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(4).startswith(b"INFO")
    except OSError:
        return False


def _is_ours(pid: int, d: Path) -> bool:
    """Whether process ``pid`` is the nats-server of ``d`` (its command line names ``d``'s
    server.conf), so a recycled PID is never reused or signalled. Without /proc: trusted."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return not Path("/proc/self").exists() and pid_alive(pid)
    except OSError:
        return pid_alive(pid)
    return os.fsencode(str(d / "server.conf")) in args


def running_pid(directory: Optional[Path] = None) -> Optional[int]:
    """The process id of the embedded server of ``directory`` if that process is alive."""
    d = directory or data_dir()
    pid = read_int(d / "server.pid")
    return pid if pid and pid_alive(pid) and _is_ours(pid, d) else None


def running_url(directory: Optional[Path] = None) -> Optional[str]:
    """The URL of the embedded server of ``directory`` if it is running and answering."""
    d = directory or data_dir()
    pid = running_pid(d)
    port = read_int(d / "server.port")
    if pid and port and port_answers(port):
        return f"nats://127.0.0.1:{port}"
    return None


def default_url() -> str:
    """Where ``objstore.connect()`` goes with no URL: ``$NATS_URL``, else the running embedded
    server (``objstore serve``), else :data:`DEFAULT_URL`."""
    return os.environ.get("NATS_URL") or running_url() or DEFAULT_URL
