"""The library's shape (issue "One clear shape", point 8), checked on every run.

Beside ``test_layering.py`` (dependencies point down only), for ``protocol``, ``jetstream`` and
``objstore``, parsed with ``ast`` and never imported:

- no import of an underscore name across modules (``from .x import _y``): what another module
  needs gets a public name in the module that owns it;
- no import cycle inside a package, counting ``TYPE_CHECKING`` back-references and imports inside
  functions: a module that needs its caller takes a narrow object instead;
- no file over 400 lines;
- every module opens with a docstring whose first line says what it owns.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("protocol", "jetstream", "objstore")
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(module: str, path: Path) -> list[tuple[str, str, int]]:
    """(target module, imported name or "", line) for every import, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    out: list[tuple[str, str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((alias.name, "", node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: max(len(package) - (node.level - 1), 0)]
                target = ".".join(base + (node.module.split(".") if node.module else []))
            else:
                target = node.module or ""
            out.extend((target, alias.name, node.lineno) for alias in node.names)
    return out


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for target, name, _ in _imports(module, path):
            full = f"{target}.{name}" if name else target
            dest = full if full in MODULES else target
            if dest in MODULES and dest != module and dest.split(".")[0] == module.split(".")[0]:
                # A package's __init__ re-exporting its modules is the package's face, not a
                # dependency of theirs: only edges into a package from outside it count there.
                if not (MODULES[module].name == "__init__.py" and dest.startswith(module + ".")):
                    edges[module].add(dest)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_packages_are_found() -> None:
    assert {m.split(".")[0] for m in MODULES} == set(PACKAGES)
    assert len(MODULES) > 30


def test_no_underscore_name_imported_across_modules() -> None:
    bad = [
        f"{module}:{line} imports {name} from {target}"
        for module, path in MODULES.items()
        for target, name, line in _imports(module, path)
        if name.startswith("_") and not name.startswith("__") and target.split(".")[0] in PACKAGES
    ]
    assert bad == []


def test_no_import_cycle_inside_a_package() -> None:
    assert _cycles(_edges()) == []


def test_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}}) == [["a.x", "a.y", "a.z"]]
    assert _cycles({"a.x": {"a.y"}, "a.y": set()}) == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_file_size_and_opening_docstring(module: str) -> None:
    path = MODULES[module]
    source = path.read_text(encoding="utf-8")
    lines = source.count("\n")
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines (max {MAX_LINES}): split it by ownership"
    doc = ast.get_docstring(ast.parse(source))
    assert doc and doc.strip().splitlines()[0].strip(), f"{path.relative_to(ROOT)} opens with no docstring saying what it owns"
