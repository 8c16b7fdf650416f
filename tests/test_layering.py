"""Dependencies point down only: objstore -> jetstream -> protocol (DESIGN.md, "Layers").

Every ``.py`` file of the three packages is parsed with ``ast`` (never imported) and each import,
absolute or relative, is resolved to a dotted module name. Forbidden:

- an upward edge: protocol importing jetstream/objstore, jetstream importing objstore;
- any NATS client library (``nats``, i.e. nats-py) or the distribution name ``natsobj``;
- asyncio / socket / ssl in protocol's sans-I/O modules (they are fed bytes and return frames);
- any third-party import, except ``nkeys`` loaded lazily (inside a function body), and ``fsspec``
  in the fsspec extra's own modules (``objstore.fsspec_fs``, ``objstore.fsspec_file``), which no
  other module imports.

``importlib.import_module("x")`` and ``__import__("x")`` with a literal name count as imports.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"protocol": 0, "jetstream": 1, "objstore": 2}
BANNED_EVERYWHERE = {"nats", "natsobj"}
SANS_IO_MODULES = {
    f"protocol.{name}"
    for name in ("parser", "encoder", "headers", "subjects", "frames", "wire", "nuid", "errors")
}
SANS_IO_BANNED = {"asyncio", "socket", "ssl"}
LAZY_THIRD_PARTY = {"nkeys"}  # optional extras: allowed only inside a function
# An optional extra's own modules: they may import it at module level, and no other module of the
# library may import them (so the runtime imports without the extra installed).
EXTRA_MODULES = {"objstore.fsspec_fs": {"fsspec"}, "objstore.fsspec_file": {"fsspec"}}
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


@dataclass(frozen=True)
class Import:
    target: str  # resolved dotted module name
    lineno: int
    lazy: bool  # inside a function body


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    """``from <level dots><name> import ...`` inside ``module`` -> absolute dotted name.

    Going above the top-level package is kept as a bare name (``from .. import jetstream`` in
    ``protocol/x.py`` resolves to ``jetstream``), so it is still checked rather than ignored.
    """
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: max(len(package) - (level - 1), 0)]
    if name:
        base = base + name.split(".")
    return ".".join(base)


def collect_imports(source: str, module: str, is_package: bool = False) -> list[Import]:
    tree = ast.parse(source)
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            lazy = True
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(alias.name, node.lineno, lazy))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _resolve_relative(module, is_package, node.level, node.module)
            else:
                base = node.module or ""
            if node.module:
                found.append(Import(base, node.lineno, lazy))
            for alias in node.names:
                if alias.name != "*":  # `from pkg import sub` may name a submodule
                    found.append(Import(f"{base}.{alias.name}" if base else alias.name, node.lineno, lazy))
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func):
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.append(Import(node.args[0].value, node.lineno, lazy))
        for child in ast.iter_child_nodes(node):
            visit(child, lazy)

    visit(tree, False)
    return found


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in {"__import__", "import_module"}
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """Human-readable rule violations for one module's source."""
    own_top = module.split(".")[0]
    own_rank = LAYERS.get(own_top)
    problems: list[str] = []
    for imp in collect_imports(source, module, is_package):
        top = imp.target.split(".")[0]
        where = f"{module}:{imp.lineno} imports {imp.target}"
        if module not in EXTRA_MODULES and any(imp.target == m or imp.target.startswith(m + ".") for m in EXTRA_MODULES):
            problems.append(f"{where}: an optional extra's module, imported only by its own modules")
        elif top in BANNED_EVERYWHERE:
            problems.append(f"{where}: no NATS client library / self-distribution import")
        elif top in LAYERS:
            if own_rank is not None and LAYERS[top] > own_rank:
                problems.append(f"{where}: upward import ({own_top} may not depend on {top})")
        elif top in STDLIB:
            if module in SANS_IO_MODULES and top in SANS_IO_BANNED:
                problems.append(f"{where}: sans-I/O module must not use {top}")
        elif top in EXTRA_MODULES.get(module, ()):
            continue
        elif top in LAZY_THIRD_PARTY:
            if not imp.lazy:
                problems.append(f"{where}: optional dependency must be imported lazily (in a function)")
        else:
            problems.append(f"{where}: third-party import (no runtime dependencies allowed)")
    return problems


def project_files() -> list[Path]:
    return sorted(p for pkg in LAYERS for p in (ROOT / pkg).rglob("*.py"))


# ----------------------------------------------------------------------------------------------
# The real check


def test_packages_exist() -> None:
    for pkg in LAYERS:
        assert (ROOT / pkg / "__init__.py").is_file(), f"{pkg}/__init__.py missing"
    assert project_files()


@pytest.mark.parametrize("path", project_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_respects_layering(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    problems = violations(source, module_name(path), is_package=path.name == "__init__.py")
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------------------------
# The checker can fail: synthetic sources


@pytest.mark.parametrize(
    ("module", "is_package", "source", "needle"),
    [
        ("protocol.connection", False, "from jetstream import JetStream", "upward"),
        ("protocol.connection", False, "import objstore.models", "upward"),
        ("protocol", True, "from .. import jetstream", "upward"),
        ("protocol.sub.mod", False, "from ...objstore import x", "upward"),
        ("jetstream.context", False, "from objstore.errors import ObjectNotFoundError", "upward"),
        ("jetstream.context", False, "def f():\n    import objstore\n", "upward"),
        ("jetstream.context", False, "import importlib\nimportlib.import_module('objstore')", "upward"),
        ("objstore.store", False, "import nats", "NATS client"),
        ("objstore.store", False, "from nats.js.object_store import ObjectStore", "NATS client"),
        ("protocol.auth", False, "import natsobj", "NATS client"),
        ("protocol.parser", False, "import asyncio", "sans-I/O"),
        ("protocol.encoder", False, "from socket import socket", "sans-I/O"),
        ("protocol.headers", False, "import ssl", "sans-I/O"),
        ("protocol.auth", False, "import nkeys", "lazily"),
        ("objstore.models", False, "import attrs", "third-party"),
        ("objstore.models", False, "import fsspec", "third-party"),
        ("objstore.store", False, "from .fsspec_fs import NatsObjFileSystem", "optional extra"),
        ("objstore", True, "from .fsspec_file import NatsObjFile", "optional extra"),
    ],
)
def test_checker_flags_forbidden_import(module: str, is_package: bool, source: str, needle: str) -> None:
    problems = violations(source, module, is_package)
    assert problems and any(needle in p for p in problems), problems


@pytest.mark.parametrize(
    ("module", "is_package", "source"),
    [
        ("objstore.store", False, "from jetstream import JetStream\nfrom protocol import Connection"),
        ("objstore", True, "from .store import ObjectStore\nfrom . import models"),
        ("jetstream.context", False, "from protocol.errors import ProtocolError\nfrom .api import x"),
        ("protocol.connection", False, "import asyncio\nimport ssl\nfrom .parser import Parser"),
        ("protocol.parser", False, "from .frames import Msg\nfrom . import errors\nimport json"),
        ("protocol.auth", False, "def load():\n    import nkeys\n    return nkeys"),
        ("objstore.fsspec_fs", False, "import fsspec\nfrom fsspec.asyn import sync\nfrom .fsspec_file import NatsObjFile"),
    ],
)
def test_checker_accepts_allowed_imports(module: str, is_package: bool, source: str) -> None:
    assert violations(source, module, is_package) == []


def test_relative_import_resolution() -> None:
    assert _resolve_relative("protocol.parser", False, 1, "frames") == "protocol.frames"
    assert _resolve_relative("protocol", True, 1, "frames") == "protocol.frames"
    assert _resolve_relative("objstore.cli.main", False, 2, "store") == "objstore.store"
    assert _resolve_relative("protocol.parser", False, 2, None) == ""
