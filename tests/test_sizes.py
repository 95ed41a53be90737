"""Size rules read from the AST: no class over 600 lines, no function over 80, main_window.py at most 450.

Run ``python -m tests.test_sizes`` from the repository root to print the ten largest classes and
functions of fashion_desktop/ and trainer/ and every offender.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("fashion_desktop", "trainer")
MAX_CLASS_LINES = 600
MAX_FUNCTION_LINES = 80
MAIN_WINDOW = Path("fashion_desktop/gui/main_window.py")
MAX_MAIN_WINDOW_LINES = 450


@dataclass(frozen=True)
class Block:
    """One class or function: where it starts and how many lines it spans (``def`` line to last line)."""

    kind: str  # "class" or "function"
    name: str  # qualified: Class.method, outer.inner
    path: Path  # relative to the root
    line: int
    lines: int

    def __str__(self) -> str:
        return f"{self.path.as_posix()}:{self.line} {self.kind} {self.name}: {self.lines} lines"


def blocks(root: Path = ROOT) -> list[Block]:
    """Every class and function (methods and nested ones included) of the packages under ``root``."""
    found: list[Block] = []
    for top in PACKAGES:
        for path in sorted((root / top).rglob("*.py")):
            rel = path.relative_to(root)
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            todo: list[tuple[ast.AST, str]] = [(tree, "")]
            while todo:
                node, prefix = todo.pop()
                for child in ast.iter_child_nodes(node):
                    name = prefix
                    if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                        name = f"{prefix}{child.name}"
                        kind = "class" if isinstance(child, ast.ClassDef) else "function"
                        size = (child.end_lineno or child.lineno) - child.lineno + 1
                        found.append(Block(kind, name, rel, child.lineno, size))
                        name += "."
                    todo.append((child, name))
    return sorted(found, key=lambda b: (b.path.as_posix(), b.line))


def offenders(root: Path = ROOT) -> list[str]:
    """Each broken size rule, as 'file:line what: size (limit)'."""
    bad: list[str] = []
    main_window = root / MAIN_WINDOW
    if main_window.is_file():
        count = len(main_window.read_text(encoding="utf-8").splitlines())
        if count > MAX_MAIN_WINDOW_LINES:
            bad.append(f"{MAIN_WINDOW.as_posix()}:1 file: {count} lines (at most {MAX_MAIN_WINDOW_LINES})")
    for block in blocks(root):
        limit = MAX_CLASS_LINES if block.kind == "class" else MAX_FUNCTION_LINES
        if block.lines > limit:
            bad.append(f"{block} (at most {limit})")
    return bad


def largest(root: Path = ROOT, n: int = 10) -> tuple[list[Block], list[Block]]:
    """The ``n`` largest classes and the ``n`` largest functions."""
    ranked = sorted(blocks(root), key=lambda b: (-b.lines, str(b.path), b.line))
    return (
        [b for b in ranked if b.kind == "class"][:n],
        [b for b in ranked if b.kind == "function"][:n],
    )


def test_no_class_function_or_main_window_over_its_limit() -> None:
    bad = offenders()
    assert not bad, "over the size limits:\n" + "\n".join(bad)


def _plant(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _function(name: str, body_lines: int, indent: str = "") -> str:
    return f"{indent}def {name}():\n" + f"{indent}    x = 1\n" * (body_lines - 1) + f"{indent}    return x\n"


def test_the_check_names_each_offender_with_file_line_and_size(tmp_path: Path) -> None:
    """The checker can fail: a planted tree with one offender of each kind is caught, limits are inclusive."""
    _plant(tmp_path, "fashion_desktop/gui/main_window.py", "x = 1\n" * 451)
    _plant(tmp_path, "fashion_desktop/ok.py", _function("fits", 79) + "x = 1\n" * 500)  # 80 lines: allowed
    big_class = "class Big:\n" + "".join(_function(f"m{i}", 59, "    ") for i in range(10))  # 601 lines
    _plant(tmp_path, "fashion_desktop/core/big.py", "import os\n" + big_class)
    _plant(tmp_path, "trainer/long.py", "\n\n" + _function("outer", 10) + _function("too_long", 80))
    nested = "class Host:\n    def method(self):\n" + _function("inner", 81, "        ")
    _plant(tmp_path, "trainer/nested.py", nested)
    bad = offenders(tmp_path)
    assert bad == [
        "fashion_desktop/gui/main_window.py:1 file: 451 lines (at most 450)",
        "fashion_desktop/core/big.py:2 class Big: 601 lines (at most 600)",
        "trainer/long.py:14 function too_long: 81 lines (at most 80)",
        "trainer/nested.py:2 function Host.method: 83 lines (at most 80)",
        "trainer/nested.py:3 function Host.method.inner: 82 lines (at most 80)",
    ]
    classes, functions = largest(tmp_path, 2)
    assert [str(b) for b in classes] == [
        "fashion_desktop/core/big.py:2 class Big: 601 lines",
        "trainer/nested.py:1 class Host: 84 lines",
    ]
    assert [b.name for b in functions] == ["Host.method", "Host.method.inner"]
    _plant(tmp_path, "fashion_desktop/gui/main_window.py", "x = 1\n" * 450)
    assert not [line for line in offenders(tmp_path) if "main_window" in line]


def main(argv: list[str] | None = None) -> int:
    """Print the ten largest classes and functions and the offenders; exit 1 when there are any."""
    root = Path(argv[0]).resolve() if argv else ROOT
    classes, functions = largest(root)
    for title, rows in (("largest classes", classes), ("largest functions", functions)):
        print(f"{title}:")
        for block in rows:
            print(f"  {block.lines:5d}  {block.path.as_posix()}:{block.line} {block.name}")
    bad = offenders(root)
    print(f"over the limits ({len(bad)}):" if bad else "nothing over the limits")
    for line in bad:
        print(f"  {line}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
