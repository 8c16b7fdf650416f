"""Owns ``make run`` (``python -m objstore.cli.demo``): the object-store demo, driven through the
``objstore`` command-line tool as a subprocess; it never calls the library itself.

With no server given, the CLI starts (or reuses) the embedded ``nats-server`` on loopback with a
persistent store. The demo creates a bucket, puts a generated 64 MiB file (with a progress bar
on a terminal), lists, shows the object's info, gets it back verified into a second file and
prints the bucket status. A server the demo started is stopped at the end; the last line says how
to keep one running for the README's library examples and how to remove the demo bucket.
"""

from __future__ import annotations

import filecmp
import hashlib
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from . import embedded

SIZE_MB = int(os.environ.get("OBJSTORE_DEMO_MB", "64"))


def _run(*args: str) -> None:
    print(f"\n$ objstore {' '.join(shlex.quote(a) for a in args)}", flush=True)
    proc = subprocess.run([sys.executable, "-m", "objstore", *args])
    if proc.returncode != 0:
        raise SystemExit(f"objstore {args[0]} failed with exit code {proc.returncode}")


def _generate(path: str, size_mb: int) -> None:
    seed = os.urandom(32)
    with open(path, "wb") as f:
        for i in range(size_mb):
            block = hashlib.sha256(seed + i.to_bytes(4, "big")).digest()
            f.write(os.urandom(512 * 1024) + block * (512 * 1024 // 32))


def main() -> int:
    was_running = embedded.running_url() is not None
    print(f"embedded server data directory: {embedded.data_dir()}")
    try:
        with tempfile.TemporaryDirectory(prefix="objstore-demo-") as tmp:
            src = os.path.join(tmp, "demo-file.bin")
            out = os.path.join(tmp, "demo-file.copy")
            _generate(src, SIZE_MB)
            print(f"generated {src} ({SIZE_MB} MiB)")
            _run("add", "demo", "--description", "objstore demo bucket", "--metadata", "made-by=make run")
            _run("put", "demo", src, "--name", "files/demo-file.bin", "--description", "generated demo file",
                 "-H", "Content-Type:application/octet-stream")
            _run("ls", "demo")
            _run("info", "demo", "files/demo-file.bin")
            _run("get", "demo", "files/demo-file.bin", "-o", out)
            print(f"  the copy equals the original: {filecmp.cmp(src, out, shallow=False)}")
            _run("status", "demo")
    finally:
        if not was_running and embedded.running_url() is not None:
            embedded.stop()
            print("\nembedded nats-server stopped (it was started by this demo)")
    cli = _cli_name()
    print(f"\nnext: '{cli} serve' keeps a server running for the README's library examples "
          f"('{cli} serve --stop' stops it); '{cli} rm-bucket demo -f' removes the demo bucket")
    return 0


def _cli_name() -> str:
    """How to run the CLI from here: the venv's ``objstore`` script (relative when shorter)."""
    script = Path(sys.executable).parent / "objstore"
    if not script.is_file():
        return f"{sys.executable} -m objstore"
    rel = os.path.relpath(script)
    return rel if len(rel) < len(str(script)) and not rel.startswith("../..") else str(script)


if __name__ == "__main__":
    sys.exit(main())
