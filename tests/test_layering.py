"""Import contract: gui -> core -> model <- trainer, read from the source (imports inside functions count)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT

QT = ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6", "qtpy")
# The one core module the trainer may read a person's library through (read-only).
TRAINER_CORE_GATE = "fashion_desktop.core.training_table"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _load_time_nodes(tree: ast.Module) -> list[ast.AST]:
    """The statements that run when the module is imported (not those inside functions or classes)."""
    out: list[ast.AST] = []
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        out.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return out


def imports_of(path: Path, root: Path, load_time_only: bool = False) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (functions included) unless
    ``load_time_only``, made absolute."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in _load_time_nodes(tree) if load_time_only else ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                prefix = ".".join(base)
                mod = f"{prefix}.{node.module}" if node.module else prefix
            else:
                mod = node.module or ""
            found.add(mod)
            # ``from pkg import mod`` imports the submodule when there is one
            found.update(f"{mod}.{alias.name}" for alias in node.names)
    return found


def import_graph(root: Path, load_time_only: bool = False) -> dict[str, set[str]]:
    """Project module -> the project modules and third-party top-level names it imports."""
    files = [p for top in ("fashion_desktop", "trainer") for p in (root / top).rglob("*.py")]
    files = [p for p in files if "resources" not in p.relative_to(root).parts]
    modules = {module_name(p, root): p for p in files}
    graph: dict[str, set[str]] = {}
    for mod, path in modules.items():
        deps = set()
        for imp in imports_of(path, root, load_time_only):
            if imp in modules:
                deps.add(imp)
            elif imp.split(".")[0] not in ("fashion_desktop", "trainer"):
                deps.add(imp.split(".")[0])
            else:  # ``from pkg import name`` where name is not a module: the package itself
                deps.add(imp.rpartition(".")[0] if imp.rpartition(".")[0] in modules else imp)
        graph[mod] = {d for d in deps if d != mod}
    return graph


def reaches(graph: dict[str, set[str]], start: str, target: str) -> list[str] | None:
    """The import chain from ``start`` to ``target`` (top-level name or module), or None."""
    seen = {start}
    stack = [(start, [start])]
    while stack:
        mod, chain = stack.pop()
        for dep in graph.get(mod, ()):
            if dep == target or dep.startswith(target + "."):
                return [*chain, dep]
            if dep in graph and dep not in seen:
                seen.add(dep)
                stack.append((dep, [*chain, dep]))
    return None


def layer(mod: str) -> str:
    parts = mod.split(".")
    if parts[0] == "trainer":
        return "trainer"
    if len(parts) > 1 and parts[1] in ("core", "gui", "model"):
        return parts[1]
    return "top"  # fashion_desktop, cli, __main__: on top of everything


def violations(root: Path) -> list[str]:
    """Each import that points the wrong way, as 'module -> import: rule'."""
    graph = import_graph(root)
    at_load = import_graph(root, load_time_only=True)
    bad: list[str] = []
    for mod, deps in sorted(graph.items()):
        here = layer(mod)
        for dep in sorted(deps):
            there = layer(dep) if dep.split(".")[0] in ("fashion_desktop", "trainer") else dep
            rule = None
            if here in ("core", "model", "trainer") and there in QT:
                rule = f"{here} must not import Qt"
            elif here == "model" and there in ("core", "gui", "trainer", "top"):
                rule = "model imports none of core, gui, trainer"
            elif here == "core" and there in ("gui", "trainer", "top"):
                rule = "core imports neither gui nor trainer"
            elif here == "trainer" and there in ("gui", "top"):
                rule = "trainer imports no gui"
            elif here == "trainer" and there == "core" and dep != TRAINER_CORE_GATE:
                rule = f"trainer reaches core only through {TRAINER_CORE_GATE}"
            elif here == "gui" and there == "torch":
                rule = "gui imports no torch"
            elif here == "gui" and there == "trainer":
                rule = (
                    "gui imports no trainer module (it starts the trainer as a child; contracts are in model)"
                )
            elif here == "gui" and there in ("model", "core", "trainer"):
                chain = reaches(at_load, dep, "torch")  # importing ``dep`` would load torch
                if chain:
                    rule = "gui imports no torch through " + " -> ".join(chain)
            if rule:
                bad.append(f"{mod} -> {dep}: {rule}")
    return bad


def test_layers_import_one_way() -> None:
    assert violations(ROOT) == []


@pytest.mark.slow
def test_a_bad_import_inside_a_function_fails_the_check(tmp_path: Path) -> None:
    """The checker can fail: a copy of the tree with one hidden wrong-way import is caught."""
    for top in ("fashion_desktop", "trainer"):
        for src in (ROOT / top).rglob("*.py"):
            dst = tmp_path / src.relative_to(ROOT)
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    assert violations(tmp_path) == []
    scan = tmp_path / "fashion_desktop" / "core" / "scan.py"
    scan.write_text(scan.read_text() + "\n\ndef _hidden():\n    from trainer import engine\n")
    data = tmp_path / "trainer" / "data.py"
    data.write_text(
        data.read_text() + "\n\ndef _hidden():\n    from fashion_desktop.core.catalog import Catalog\n"
    )
    model = tmp_path / "fashion_desktop" / "model" / "metrics.py"
    model.write_text(model.read_text() + "\n\ndef _hidden():\n    from ..core import scan\n")
    gui = tmp_path / "fashion_desktop" / "gui" / "settings.py"
    gui.write_text(gui.read_text() + "\n\ndef _hidden():\n    from ..model import scoring\n")
    worker = tmp_path / "fashion_desktop" / "gui" / "worker.py"
    worker.write_text(worker.read_text() + "\n\ndef _hidden():\n    from trainer.cli import main\n")
    found = "\n".join(violations(tmp_path))
    assert "fashion_desktop.core.scan -> trainer.engine: core imports neither gui nor trainer" in found
    assert "trainer.data -> fashion_desktop.core.catalog: trainer reaches core only through" in found
    assert "fashion_desktop.model.metrics -> fashion_desktop.core.scan: model imports none" in found
    assert "fashion_desktop.gui.settings -> fashion_desktop.model.scoring: gui imports no torch" in found
    assert "fashion_desktop.gui.worker -> trainer.cli: gui imports no trainer module" in found


_PROBE = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys

    BLOCKED = ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6", "qtpy")

    class BlockQt:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is blocked: core, model and trainer must not import Qt")
            return None

    sys.meta_path.insert(0, BlockQt())
    imported, failed = [], {}
    for package in ("fashion_desktop.model", "fashion_desktop.core", "trainer"):
        pkg = importlib.import_module(package)
        names = [package] + [
            m.name for m in pkgutil.walk_packages(pkg.__path__, package + ".")
            if not m.name.endswith("__main__")  # running it would start work
        ]
        for name in names:
            try:
                importlib.import_module(name)
                imported.append(name)
            except Exception as exc:
                failed[name] = f"{type(exc).__name__}: {exc}"
    qt = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    print(json.dumps({"imported": imported, "failed": failed, "qt": qt}))
    """
)


@pytest.mark.slow
def test_core_model_and_trainer_import_without_qt() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not result["failed"], result["failed"]
    assert not result["qt"]
    for expected in (
        "fashion_desktop.core.scan",
        "fashion_desktop.core.catalog",
        "fashion_desktop.core.export",
        "fashion_desktop.model.images",
        "fashion_desktop.model.bundle",
        "fashion_desktop.model.archs",
        "trainer.engine",
    ):
        assert expected in result["imported"]


@pytest.mark.slow
def test_the_probe_really_blocks_qt() -> None:
    """Guard against a probe that cannot fail: with the blocker on, importing PySide6 must fail."""
    code = _PROBE.split("imported, failed")[0] + "import PySide6\n"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "blocked" in proc.stderr


def package_edges(root: Path) -> dict[tuple[str, str], int]:
    """(from layer, to layer) -> number of module-level import edges between the top packages."""
    graph = import_graph(root)
    edges: dict[tuple[str, str], int] = {}
    for mod, deps in graph.items():
        for dep in deps:
            if dep.split(".")[0] in ("fashion_desktop", "trainer") and layer(dep) != layer(mod):
                key = (layer(mod), layer(dep))
                edges[key] = edges.get(key, 0) + 1
    return edges


if __name__ == "__main__":  # python -m tests.test_layering [ROOT]: the import graph between the layers
    where = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT
    for (a, b), n in sorted(package_edges(where).items()):
        print(f"{a:8s} -> {b:8s} {n:3d} module imports")
    print("violations:", *violations(where) or ["none"], sep="\n  ")
