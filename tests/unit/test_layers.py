"""The dependency rule (docs/architecture.md): a module imports only from its own layer or below, and
no two packages import each other. Read from the code's own imports (ast), so the rule cannot drift."""

from __future__ import annotations

import ast
import itertools
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "service"

# Lowest first. A module's layer is that of its longest listed prefix.
LAYERS: list[set[str]] = [
    {"service.config", "service.errors", "service.runtime"},
    {"service.model", "service.schemas", "service.sealing"},
    {"service.rules"},
    {"service.store"},
    {"service.catalog"},
    {"service.dialects"},
    {"service.pipeline"},
    {"service.kafka", "service.imports", "service.frontdoor"},
    {"service.app"},
    {"service.cli", "service.__main__"},
]


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every ``service.*`` module or name the file imports, at any depth (imports inside functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return {name for name in found if name.startswith("service.")}


def _layer(name: str) -> int | None:
    best: tuple[int, int] | None = None
    for level, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), level)
    return None if best is None else best[1]


def _package(name: str) -> str:
    return ".".join(name.split(".")[:2])


def _graph() -> dict[str, set[str]]:
    return {_module(path): _imports(path) for path in sorted(ROOT.rglob("*.py"))}


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(module for module in _graph() if module != "service" and _layer(module) is None)
    assert not unplaced, f"modules on no layer of the rule (add them to LAYERS and docs/architecture.md): {unplaced}"


def test_no_import_runs_up() -> None:
    upward = sorted(
        f"{module} (layer {_layer(module)}) imports {name} (layer {_layer(name)})"
        for module, names in _graph().items()
        for name in names
        if (mine := _layer(module)) is not None and (theirs := _layer(name)) is not None and theirs > mine
    )
    assert not upward, "imports that run up:\n" + "\n".join(upward)


def _reach(ties: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(ties[start])
    while todo:
        if (package := todo.pop()) not in seen:
            seen.add(package)
            todo.extend(ties[package])
    return seen


def test_no_package_cycles() -> None:
    """No package reaches itself through the imports of others, however long the way round."""
    ties: dict[str, set[str]] = defaultdict(set)
    for module, names in _graph().items():
        for name in names:
            if _package(name) != _package(module):
                ties[_package(module)].add(_package(name))
    reach = {package: _reach(ties, package) for package in list(ties)}
    cycles = sorted(
        f"{a} <-> {b}" for a, b in itertools.combinations(sorted(reach), 2) if b in reach[a] and a in reach[b]
    )
    assert not cycles, f"packages that reach each other: {cycles}"


def test_the_rule_sees_imports() -> None:
    """The walk is not vacuous: the pipeline's processor is seen importing the store it writes through."""
    graph = _graph()
    assert any(name.startswith("service.store") for name in graph["service.pipeline.processor"])
    assert _layer("service.pipeline.processor") == 6 and _layer("service.store.db") == 3
