"""A local server you can reach (issue 13, point 4): ``objstore serve`` starts the embedded
nats-server on a fixed port in the background (recorded in its data directory), and then the
README's library examples run as written with ``objstore.connect()`` and no URL, and every CLI
command finds it; ``--stop`` / ``--status`` find it too. Also ``--version`` and the subcommand
``--help`` layout.

The port comes from ``$OBJSTORE_PORT`` (a free one), so no test takes 4222; every server started
here is stopped by its ``serve --stop`` (by the PID it recorded).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import objstore
from objstore import local_server

from cli_util import ROOT, cli, cli_env, js_out, ok  # noqa: E402 (tests/ is on sys.path via conftest)
from test_readme_examples import BLOCKS, EXAMPLE_URL  # noqa: E402

pytestmark = pytest.mark.timeout(120)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, "-m", "objstore", "serve", *args], capture_output=True, timeout=60,
                         env=cli_env(data_dir, **env), cwd=ROOT, stdin=subprocess.DEVNULL)
    assert b"Traceback" not in res.stderr, res.stderr.decode()
    return res


def _pid_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie waiting for its parent counts as gone
            if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
                return True
        except (OSError, IndexError):
            pass
        time.sleep(0.05)
    return False


def test_serve_in_background_then_readme_examples_with_connect_and_no_url(tmp_path: Path, monkeypatch, capsys) -> None:
    data_dir = tmp_path / "data"
    port = _free_port()
    url = f"nats://127.0.0.1:{port}"
    pid = None
    try:
        res = _serve(data_dir, OBJSTORE_PORT=str(port))
        assert res.returncode == 0, res.stderr.decode()
        out = res.stdout.decode()
        assert f"running at {url}" in out and "background" in out and "serve --stop" in out
        status = json.loads(ok("--json", "serve", "--status", data_dir=data_dir).stdout)
        pid = status["pid"]
        assert status["running"] and status["url"] == url and pid
        assert (data_dir / "server.pid").read_text().strip() == str(pid)  # the state file
        assert (data_dir / "server.port").read_text().strip() == str(port)

        # The library with no URL: no $NATS_URL, so the running embedded server (its state file).
        monkeypatch.setenv("OBJSTORE_DATA_DIR", str(data_dir))
        monkeypatch.delenv("NATS_URL", raising=False)
        assert local_server.default_url() == url
        ran = 0
        for block_id, line, code in BLOCKS:
            if "objstore.connect()" not in code:
                if EXAMPLE_URL not in code:
                    continue
                code = code.replace(EXAMPLE_URL, url)  # the protocol layer has no default server
            exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "__readme_example__"})
            ran += 1
        capsys.readouterr()
        assert ran >= 5

        async def via_default() -> str:
            async with await objstore.connect() as nc:
                await nc.jetstream().create_object_store(bucket="from-lib")
                return nc.connected_url or ""

        assert str(port) in asyncio.run(via_default())
        # ... and $NATS_URL comes first
        monkeypatch.setenv("NATS_URL", "nats://127.0.0.1:1")
        assert local_server.default_url() == "nats://127.0.0.1:1"

        # Every CLI command finds it too (no 'started' note: it is reused).
        res = ok("--json", "buckets", data_dir=data_dir)
        assert b"started" not in res.stderr
        assert "from-lib" in [b["bucket"] for b in json.loads(res.stdout)]
        # A second serve leaves it alone and says where it runs; another port is refused politely.
        res = _serve(data_dir, "--port", str(_free_port()))
        assert res.returncode == 0 and b"already running" in res.stdout and b"another port" in res.stderr
    finally:
        res = _serve(data_dir, "--stop")
    assert res.returncode == 0 and f"pid {pid}".encode() in res.stdout
    assert _pid_gone(pid)
    assert local_server.running_url(data_dir) is None


def test_serve_on_a_port_in_use_fails_clearly(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        res = _serve(tmp_path / "data", "--port", str(port))
        assert res.returncode == 1
        assert res.stderr.decode().strip() == (f"objstore: port {port} on 127.0.0.1 is in use "
                                               "(another nats-server?); choose one with --port")
        res = _serve(tmp_path / "data", OBJSTORE_PORT=str(port))
        assert res.returncode == 1 and f"port {port}" in res.stderr.decode()
    assert _serve(tmp_path / "data", "--port", "70000").returncode == 2
    assert local_server.running_url(tmp_path / "data") is None


def test_version_and_subcommand_help_layout() -> None:
    out = ok("--version").stdout.decode()
    assert out.startswith("objstore ") and len(out.split()) >= 2
    text = ok("put", "--help").stdout.decode()
    usage = text.split("\n\n")[0]
    assert "--server" not in usage and "[connection and output options]" in usage and "BUCKET FILE|-" in usage
    own, conn = text.index("put options:"), text.index("connection and output options:")
    assert own < conn
    assert text.index("--if-absent") < conn < text.index("--server")
    assert "-v, --verbose" in text[conn:]
    text = ok("edit", "--help").stdout.decode()
    assert text.index("--max-bytes") < text.index("connection and output options:")


def test_cli_honours_nats_url_before_the_embedded_server(nats_url: str, tmp_path: Path) -> None:
    env = cli_env(tmp_path / "unused-data", NATS_URL=nats_url)
    res = subprocess.run([sys.executable, "-m", "objstore", "add", "via-env"], capture_output=True, timeout=60,
                         env=env, cwd=ROOT, stdin=subprocess.DEVNULL)
    assert res.returncode == 0 and b"started" not in res.stderr
    assert not (tmp_path / "unused-data").exists()  # no embedded server was started
    assert "via-env" in [b["bucket"] for b in js_out("buckets", url=nats_url)]
    assert cli("serve", "--status", data_dir=tmp_path / "unused-data").returncode == 1
