"""Label mapping files (source label -> target names): the one reader and writer, for the trainer and the app."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .fileio import WriteError, atomic_write_bytes, os_reason

TARGET_SEPARATOR = "|"  # several targets in one CSV cell (label names may hold commas: "shirt, blouse")


def mapping_key(label: str) -> str:
    """How a mapping matches a source label: case, spaces and underscores do not matter."""
    return re.sub(r"[\s_]+", " ", str(label).strip().casefold())


class MappingFileError(ValueError):
    """A mapping file that cannot be read or written; the message names the file and the problem."""


@dataclass(frozen=True)
class MappingRow:
    """One source label and its targets (empty: excluded on purpose); ``where`` is "row 4" / "entry 'x'"."""

    source: str
    targets: tuple[str, ...]
    where: str = ""


def read_mapping_rows(path: str | os.PathLike) -> list[MappingRow]:
    """The rows of a mapping file, in file order: a CSV (first column the source label, second the
    target names separated by ``|``, empty = exclude; the first line is a header) or a YAML/JSON
    dictionary ``{source: target | [targets]}``.

    Raises MappingFileError for a missing or unreadable file, a CSV of fewer than two columns, or a
    YAML/JSON file that is not a dictionary.
    """
    path = Path(path)
    if not path.is_file():
        raise MappingFileError(f"label mapping file not found: {path}")
    rows: list[MappingRow] = []
    try:
        if path.suffix.lower() in (".yaml", ".yml", ".json"):
            text = path.read_text(encoding="utf-8")
            if path.suffix.lower() == ".json":
                raw = json.loads(text) if text.strip() else {}
            else:
                import yaml

                raw = yaml.safe_load(text) or {}
            if not isinstance(raw, dict):
                raise MappingFileError(
                    f"{path}: a mapping file must be a dictionary of source label -> target"
                )
            for src, tgt in raw.items():
                items = [tgt] if isinstance(tgt, str) else list(tgt or [])
                targets = tuple(str(t).strip() for t in items if str(t).strip())
                rows.append(MappingRow(str(src), targets, f"entry {str(src)!r}"))
        else:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                reader = csv.reader(fh)
                header = next(reader, [])
                if len(header) < 2:
                    raise MappingFileError(
                        f"{path}: a mapping CSV needs two columns (source label, target name)"
                    )
                for row in reader:
                    if not row or not row[0].strip():
                        continue
                    tgt = row[1] if len(row) > 1 else ""
                    targets = tuple(t.strip() for t in tgt.split(TARGET_SEPARATOR) if t.strip())
                    rows.append(MappingRow(row[0].strip(), targets, f"row {reader.line_num}"))
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as exc:
        if isinstance(exc, MappingFileError):
            raise
        raise MappingFileError(f"cannot read label mapping {path}: {exc}") from None
    _refuse_conflicts(path, rows)
    return rows


def _refuse_conflicts(path: Path, rows: Sequence[MappingRow]) -> None:
    """Rows for one source label (as matched: ``dress``, ``Dress`` and ``dress `` are one) must agree: a
    silent last-row-wins let a dress folder train as a hat."""
    by_key: dict[str, list[MappingRow]] = {}
    for row in rows:
        by_key.setdefault(mapping_key(row.source), []).append(row)
    for same in by_key.values():
        if len({tuple(sorted(mapping_key(t) for t in r.targets)) for r in same}) > 1:
            listed = "; ".join(
                f"{r.where} {r.source!r} -> {TARGET_SEPARATOR.join(r.targets) or '(left out)'}"
                for r in same[:5]
            )
            raise MappingFileError(
                f"{path}: rows for one source label disagree ({listed}); case, spaces and underscores do not "
                "matter when matching, so keep one row"
            )


def write_mapping_csv(path: str | os.PathLike, rows: Iterable[tuple[str, Sequence[str]]]) -> None:
    """Write ``(source label, targets)`` rows as a mapping CSV ``read_mapping_rows`` reads back (no
    targets: excluded), atomically. Raises MappingFileError when the file cannot be written."""
    path = Path(path)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["source", "target"])
    for source, targets in rows:
        writer.writerow([source, TARGET_SEPARATOR.join(t.strip() for t in targets if t.strip())])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buf.getvalue().encode("utf-8"))
    except WriteError as exc:
        raise MappingFileError(str(exc)) from None
    except OSError as exc:
        raise MappingFileError(f"cannot write label mapping {path}: {os_reason(exc)}") from None
