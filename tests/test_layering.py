"""Import contract: fashion_desktop.core and trainer import (every module) with Qt unavailable."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.conftest import ROOT

_PROBE = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys

    BLOCKED = ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6", "qtpy")

    class BlockQt:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is blocked: core and trainer must not import Qt")
            return None

    sys.meta_path.insert(0, BlockQt())
    imported, failed = [], {}
    for package in ("fashion_desktop.core", "trainer"):
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


def test_core_and_trainer_import_without_qt() -> None:
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
        "fashion_desktop.core.images",
        "trainer.bundle",
        "trainer.archs",
    ):
        assert expected in result["imported"]


def test_the_probe_really_blocks_qt() -> None:
    """Guard against a probe that cannot fail: with the blocker on, importing PySide6 must fail."""
    code = _PROBE.split("imported, failed")[0] + "import PySide6\n"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "blocked" in proc.stderr
