"""Every ```python block of README.md runs as written against a real nats-server.

The object-store examples call ``objstore.connect()`` with no URL ($NATS_URL, else the running
``objstore serve`` server, else 4222): the test sets ``$NATS_URL`` to the test server's. The
protocol-layer examples connect to ``nats://127.0.0.1:4222``; that URL is replaced by the test
server's. (tests/test_cli_serve.py runs them against ``objstore serve`` instead.) Each block is a
complete program (it ends with ``asyncio.run(main())``), executed in a fresh namespace
from a synchronous test so it owns its event loop.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
EXAMPLE_URL = "nats://127.0.0.1:4222"
OPTIONAL_MODULES = {"fsspec", "pandas", "pyarrow"}  # the fsspec section's example skips without them
DEFAULT_CONNECT = "objstore.connect()"

pytestmark = pytest.mark.timeout(60)


def _blocks() -> list[tuple[str, int, str]]:
    """(id, line number, code) of every python code block, named after the nearest heading."""
    if not README.exists():
        return []
    out: list[tuple[str, int, str]] = []
    heading = "readme"
    lines = README.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = re.sub(r"[^a-z0-9]+", "-", line.lstrip("#").strip().lower()).strip("-")
        if line.strip().startswith("```python"):
            start = i + 1
            j = start
            while j < len(lines) and not lines[j].strip().startswith("```"):
                j += 1
            out.append((f"{heading}-L{start}", start, "\n".join(lines[start:j]) + "\n"))
            i = j
        i += 1
    return out


# The seed document's snippets, printed unchanged in "Porting from nats-py", are not complete
# programs: tests/test_porting.py runs them with the state each one assumes.
PORTING_HEADING = "porting-from-nats-py"
BLOCKS = [b for b in _blocks() if not b[0].startswith(PORTING_HEADING + "-L")]


def test_readme_has_examples() -> None:
    # Without this, a README that lost its examples (or went missing) would leave the test below
    # with no cases, and nothing would fail.
    assert BLOCKS, f"{README} has no ```python examples"
    assert any("objstore" in code for _, _, code in BLOCKS)


@pytest.mark.parametrize("line, code", [(line, code) for _, line, code in BLOCKS], ids=[b[0] for b in BLOCKS])
def test_readme_example_runs(nats_server, line: int, code: str, capsys, monkeypatch) -> None:
    monkeypatch.setenv("NATS_URL", nats_server.url)
    if EXAMPLE_URL in code:
        code = code.replace(EXAMPLE_URL, nats_server.url)
    elif "connect(" in code and DEFAULT_CONNECT not in code:
        pytest.fail(f"README.md:{line}: the example connects neither with {DEFAULT_CONNECT} nor to {EXAMPLE_URL}")
    try:
        exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "__readme_example__"})
    except ModuleNotFoundError as err:
        if err.name not in OPTIONAL_MODULES:
            raise
        pytest.skip(f"README.md:{line} needs {err.name} (a test extra), not installed")
    capsys.readouterr()
