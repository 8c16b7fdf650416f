"""Running the ``objstore`` CLI as a subprocess in tests: ``cli`` (any outcome), ``ok`` (must exit
0), ``fails`` (must exit 1 with one ``objstore: ...`` line), ``js_out`` (``--json`` output).

Never the user's own embedded server: each run gets a private ``OBJSTORE_DATA_DIR`` (or an
unusable one where ``--server`` is given), and no ``NATS_*`` variable of the caller's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024
NO_EMBEDDED = "/dev/null/no-embedded-server-in-tests"


def cli_env(data_dir: Optional[Path] = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NATS_") and k not in ("OBJSTORE_DEBUG", "OBJSTORE_PORT")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["OBJSTORE_DATA_DIR"] = str(data_dir) if data_dir else NO_EMBEDDED
    env.update(extra)
    return env


def cli_cmd(args: tuple[str, ...], url: Optional[str]) -> list[str]:
    return [sys.executable, "-m", "objstore", *(["--server", url] if url else []), *args]


def cli(*args: str, url: Optional[str] = None, input: Optional[bytes] = None, data_dir: Optional[Path] = None,
        timeout: float = 60, **popen: Any) -> subprocess.CompletedProcess:
    popen.setdefault("stdin", subprocess.DEVNULL if input is None else None)
    res = subprocess.run(cli_cmd(args, url), input=input, capture_output=True, timeout=timeout,
                         env=cli_env(data_dir), cwd=ROOT, **popen)
    assert b"Traceback" not in res.stderr, res.stderr.decode()
    return res


def ok(*args: str, **kw: Any) -> subprocess.CompletedProcess:
    res = cli(*args, **kw)
    assert res.returncode == 0, (args, res.returncode, res.stderr.decode())
    return res


def fails(*args: str, **kw: Any) -> str:
    """Run a command that must fail with exit code 1 and one clear ``objstore: ...`` line."""
    res = cli(*args, **kw)
    assert res.returncode == 1, (args, res.returncode, res.stdout[:200], res.stderr.decode())
    lines = res.stderr.decode().strip().splitlines()
    assert lines and lines[-1].startswith("objstore: "), res.stderr
    return lines[-1]


def js_out(*args: str, **kw: Any) -> Any:
    return json.loads(ok("--json", *args, **kw).stdout)
