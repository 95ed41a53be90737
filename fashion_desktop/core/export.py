"""Tags out of and back into the catalog: CSV / XLSX tables, the seed's spreadsheet layout, imports."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from ..model.fileio import WriteError, atomic_write, os_reason
from ..model.resources import taxonomy_labels
from .catalog import Catalog, ImageRecord
from .scan import CancelFlag, is_cancelled
from .tags import decision_matrix, default_thresholds, final_tag_matrix, tag_lists
from .thresholds import ThresholdPolicy

PATH_COLUMN = "path"
TAGS_COLUMN = "tags"
REVIEWED_COLUMN = "reviewed"
SPLIT_COLUMN = "split"
SCORE_PREFIX = "score:"
TAG_SEPARATOR = "|"  # label names may contain commas ("shirt, blouse"), never a bar
SEED_COLUMNS = ("ImageId", "Category", "CategoryName", "Split")

# A cell starting with one of these is a formula to Excel / LibreOffice (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CHUNK_ROWS = 2000
_XLSX_MAX_ROWS = 1_048_576

Progress = Callable[[int, int], None] | None


class ExportError(RuntimeError):
    """An export or import that cannot be done; the message names the file and the problem."""


class ExportCancelled(ExportError):
    """The person cancelled a long export; no file was written."""


@dataclass(frozen=True)
class ExportColumns:
    """Which optional columns an app-layout export has (``path`` and ``tags`` are always there)."""

    groups: bool = True
    scores: bool = False
    review: bool = False
    split: bool = False


@dataclass(frozen=True)
class TaggedImage:
    """One image with its final tags (decision if any, else score against threshold)."""

    image: ImageRecord
    tags: list[str]
    scores: np.ndarray | None
    split: str | None


# -- final tags from the catalog ------------------------------------------------------------------
def iter_final_tags(
    catalog: Catalog,
    model_key: str | None = None,
    policy: ThresholdPolicy | None = None,
    image_ids: Sequence[int] | None = None,
    defaults: Sequence[float] | None = None,
    cancel: CancelFlag = None,
) -> Iterator[TaggedImage]:
    """Yield each image (all present ones, or exactly ``image_ids``) with its final tags, in path order.

    ``model_key`` names the model whose scores count (None: decisions only); ``defaults`` are the
    model's per-label thresholds (None: as the catalog recorded them, ``core.tags.default_thresholds``).
    Tags follow the one rule of ``core.tags``. Raises ExportError for an unknown model and
    ExportCancelled when ``cancel`` is set.
    """
    policy = policy or ThresholdPolicy()
    labels: tuple[str, ...] = ()
    model = None
    if model_key is not None:
        model = catalog.model(model_key)
        if model is None:
            raise ExportError(
                f"{catalog.path}: model {model_key!r} is not in this catalog (no photo tagged with it)"
            )
        labels = model.labels
    if defaults is None or len(defaults) != len(labels):
        defaults = default_thresholds(model)
    thresholds = policy.thresholds(labels, defaults)
    if image_ids is None:
        images = catalog.images()
    else:
        wanted = set(image_ids)
        images = [r for r in catalog.images(include_missing=True) if r.id in wanted]
    splits = catalog.splits()
    # Scores and decisions are read a chunk at a time so memory stays flat for big libraries.
    for start in range(0, len(images), _CHUNK_ROWS):
        if is_cancelled(cancel):
            raise ExportCancelled("export cancelled")
        chunk = images[start : start + _CHUNK_ROWS]
        ids = [r.id for r in chunk]
        scores = catalog.scores(model_key, ids) if model_key is not None else {}
        decisions = catalog.decisions_for(ids)
        found = [scores.get(rec.id) for rec in chunk]
        # Scores from an older label list cannot be trusted label by label: such a photo is unscored.
        found = [s if s is not None and len(s) == len(labels) else None for s in found]
        matrix = np.full((len(chunk), len(labels)), np.nan, np.float32)
        for i, s in enumerate(found):
            if s is not None:
                matrix[i] = s
        decided = [decisions.get(rec.id, {}) for rec in chunk]
        final = final_tag_matrix(matrix, decision_matrix(labels, decided), thresholds, policy)
        for rec, tags, s in zip(chunk, tag_lists(labels, final, decided), found, strict=True):
            yield TaggedImage(rec, tags, s, splits.get(rec.id))


def _group_columns(groups: Mapping[str, str], labels: Sequence[str]) -> dict[str, str]:
    """Group name -> column name, in label order; a group named like a fixed column gets a prefix."""
    out: dict[str, str] = {}
    fixed = {PATH_COLUMN, TAGS_COLUMN, REVIEWED_COLUMN, SPLIT_COLUMN}
    for label in labels:
        g = groups.get(label)
        if g and g not in out:
            out[g] = f"group:{g}" if g in fixed or g.startswith(SCORE_PREFIX) else g
    return out


def export_table(
    catalog: Catalog,
    model_key: str | None = None,
    policy: ThresholdPolicy | None = None,
    image_ids: Sequence[int] | None = None,
    *,
    defaults: Sequence[float] | None = None,
    columns: ExportColumns = ExportColumns(),
    progress: Progress = None,
    cancel: CancelFlag = None,
) -> pd.DataFrame:
    """The app's export table: one row per image (``path``, ``tags`` joined with ``|``, then optional
    one column per label group, ``reviewed``, ``split`` and ``score:<label>`` columns).

    Takes the scope as ``image_ids`` (None: every present image). Calls ``progress(done, total)``.
    Raises ExportError (unknown model) or ExportCancelled.
    """
    model = catalog.model(model_key) if model_key else None
    labels = model.labels if model else ()
    group_cols = _group_columns(model.groups, labels) if model and columns.groups else {}
    total = len(image_ids) if image_ids is not None else catalog.count()
    records: list[dict[str, object]] = []
    for n, item in enumerate(iter_final_tags(catalog, model_key, policy, image_ids, defaults, cancel)):
        row: dict[str, object] = {PATH_COLUMN: item.image.path, TAGS_COLUMN: TAG_SEPARATOR.join(item.tags)}
        for group, col in group_cols.items():
            row[col] = TAG_SEPARATOR.join(t for t in item.tags if model and model.groups.get(t) == group)
        if columns.review:
            row[REVIEWED_COLUMN] = item.image.reviewed
        if columns.split:
            row[SPLIT_COLUMN] = item.split or ""
        if columns.scores and model:
            for i, label in enumerate(labels):
                row[SCORE_PREFIX + label] = (
                    round(float(item.scores[i]), 4) if item.scores is not None else math.nan
                )
        records.append(row)
        if progress is not None and n % 500 == 0:
            progress(n, total)
    order = [PATH_COLUMN, TAGS_COLUMN, *group_cols.values()]
    if columns.review:
        order.append(REVIEWED_COLUMN)
    if columns.split:
        order.append(SPLIT_COLUMN)
    if columns.scores and model:
        order += [SCORE_PREFIX + label for label in labels]
    if progress is not None:
        progress(len(records), len(records))
    return pd.DataFrame.from_records(records, columns=order)


def seed_table(
    catalog: Catalog,
    model_key: str | None = None,
    policy: ThresholdPolicy | None = None,
    image_ids: Sequence[int] | None = None,
    *,
    defaults: Sequence[float] | None = None,
    taxonomy: Sequence[str] | None = None,
    progress: Progress = None,
    cancel: CancelFlag = None,
) -> pd.DataFrame:
    """The seed's spreadsheet layout: ``ImageId`` (file stem), ``Category`` (comma-joined taxonomy ids,
    id = position in the 46-category taxonomy), ``CategoryName`` (``|``-joined), ``Split``.

    Tags outside the taxonomy cannot be expressed in this layout and are left out. Two photos with the
    same stem get their folder-relative path (without extension) as ImageId so ids stay unique.
    Raises ExportError (unknown model) or ExportCancelled.
    """
    taxonomy = list(taxonomy) if taxonomy is not None else taxonomy_labels()
    index = {name: i for i, name in enumerate(taxonomy)}
    items = list(iter_final_tags(catalog, model_key, policy, image_ids, defaults, cancel))
    stems: dict[str, int] = {}
    for item in items:
        stem = _stem(item.image.path)
        stems[stem] = stems.get(stem, 0) + 1
    folders = _folder_roots(catalog)
    rows = []
    for n, item in enumerate(items):
        ids = sorted(index[t] for t in item.tags if t in index)
        stem = _stem(item.image.path)
        if stems[stem] > 1:
            rel = _relative(item.image.path, folders)
            stem = str(PurePosixPath(rel).with_suffix("")) if rel else item.image.path
        rows.append(
            {
                "ImageId": stem,
                "Category": ",".join(str(i) for i in ids),
                "CategoryName": TAG_SEPARATOR.join(taxonomy[i] for i in ids),
                "Split": item.split or "",
            }
        )
        if progress is not None and n % 500 == 0:
            progress(n, len(items))
    if progress is not None:
        progress(len(rows), len(rows))
    return pd.DataFrame.from_records(rows, columns=list(SEED_COLUMNS))


# -- writers --------------------------------------------------------------------------------------
def neutralise(value: object) -> object:
    """Prefix ``'`` to a string a spreadsheet would run as a formula; other values pass through."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def unneutralise(value: str) -> str:
    """Undo :func:`neutralise` on a cell read back from a file."""
    if value.startswith("'") and value[1:].startswith(_FORMULA_START):
        return value[1:]
    return value


def _safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out.columns = [neutralise(str(c)) for c in df.columns]
    for col in out.columns:
        # pandas >= 3 stores text as its "str" dtype, older ones as object: check "not numeric" instead.
        if not (pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col])):
            out[col] = out[col].map(neutralise)
    return out


def _atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """``fileio.atomic_write`` with its WriteError as an ExportError (same message)."""
    try:
        return atomic_write(path, write)
    except WriteError as exc:
        raise ExportError(str(exc)) from exc


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, then ``os.replace``).

    Raises ExportError naming the file when the folder is missing, unwritable, full or the target locked.
    """
    return _atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_csv(
    df: pd.DataFrame, path: str | os.PathLike, progress: Progress = None, cancel: CancelFlag = None
) -> Path:
    """Write ``df`` as UTF-8 CSV with a BOM (so Excel reads accents right), formulas neutralised, atomically.

    Raises ExportError (the existing file untouched) or ExportCancelled.
    """
    safe = _safe_frame(df)
    total = len(safe)

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
            safe.iloc[:0].to_csv(fh, index=False)
            for start in range(0, total, _CHUNK_ROWS):
                if is_cancelled(cancel):
                    raise ExportCancelled(f"{path}: export cancelled; nothing was written")
                safe.iloc[start : start + _CHUNK_ROWS].to_csv(fh, index=False, header=False)
                if progress is not None:
                    progress(min(start + _CHUNK_ROWS, total), total)

    return _atomic_write(path, write)


def _xlsx_value(value: object) -> object:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return value


def _discard_sheet(ws: object) -> None:
    """Close an abandoned write-only sheet and delete its scratch file (else it leaks until exit)."""
    try:
        ws.close()  # type: ignore[attr-defined]
        ws._writer.cleanup()  # type: ignore[attr-defined]
    except Exception:
        pass


def write_xlsx(
    df: pd.DataFrame,
    path: str | os.PathLike,
    progress: Progress = None,
    cancel: CancelFlag = None,
    sheet_name: str = "Tags",
) -> Path:
    """Write ``df`` as a formatted workbook (bold frozen header, column widths, autofilter), atomically.

    Formulas are neutralised. Raises ExportError (the existing file untouched) or ExportCancelled.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    if len(df) + 1 > _XLSX_MAX_ROWS:
        raise ExportError(
            f"{path}: {len(df)} rows do not fit in an Excel sheet ({_XLSX_MAX_ROWS - 1}); use .csv"
        )
    safe = _safe_frame(df)
    total = len(safe)

    def write(tmp: Path) -> None:
        wb = Workbook(write_only=True)  # streams rows: memory stays flat for 100k-row exports
        ws = wb.create_sheet(sheet_name[:31])
        ws.freeze_panes = "A2"
        ncols = len(safe.columns)
        sample = safe.head(1000)
        for i, col in enumerate(safe.columns, start=1):
            lengths = [len(str(col))] + [len(str(v)) for v in sample[col] if v is not None]
            ws.column_dimensions[get_column_letter(i)].width = max(8, min(60, max(lengths) + 2))
        if ncols:
            ws.auto_filter.ref = f"A1:{get_column_letter(ncols)}{total + 1}"
        bold = Font(bold=True)
        header = []
        for col in safe.columns:
            cell = WriteOnlyCell(ws, value=_xlsx_value(col))
            cell.font = bold
            header.append(cell)
        ws.append(header)
        try:
            for n, row in enumerate(safe.itertuples(index=False, name=None)):
                if n % _CHUNK_ROWS == 0:
                    if is_cancelled(cancel):
                        raise ExportCancelled(f"{path}: export cancelled; nothing was written")
                    if progress is not None and n:
                        progress(n, total)
                ws.append([_xlsx_value(v) for v in row])
        except BaseException:
            _discard_sheet(ws)
            raise
        wb.save(tmp)
        if progress is not None:
            progress(total, total)

    return _atomic_write(path, write)


def write_table(
    df: pd.DataFrame, path: str | os.PathLike, progress: Progress = None, cancel: CancelFlag = None
) -> Path:
    """Write ``df`` as CSV or XLSX according to the file's extension. Raises ExportError / ExportCancelled."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return write_csv(df, path, progress, cancel)
    if suffix in (".xlsx", ".xlsm"):
        return write_xlsx(df, path, progress, cancel)
    raise ExportError(f"{path}: unsupported file type {suffix or '(none)'}; use .csv or .xlsx")


def export_file(
    catalog: Catalog,
    path: str | os.PathLike,
    model_key: str | None = None,
    policy: ThresholdPolicy | None = None,
    image_ids: Sequence[int] | None = None,
    *,
    layout: str = "app",
    defaults: Sequence[float] | None = None,
    columns: ExportColumns = ExportColumns(),
    progress: Progress = None,
    cancel: CancelFlag = None,
) -> int:
    """Build the table (``layout`` ``"app"`` or ``"seed"``) and write it to ``path`` (.csv / .xlsx).

    Returns the number of rows. ``progress(done, total)`` covers both stages (total = 2 x rows).
    Raises ExportError (nothing written, catalog untouched) or ExportCancelled.
    """
    if Path(path).suffix.lower() not in (".csv", ".xlsx", ".xlsm"):
        raise ExportError(f"{path}: unsupported file type; use .csv or .xlsx")
    first = (lambda d, t: progress(d, 2 * t)) if progress else None
    if layout == "seed":
        df = seed_table(
            catalog, model_key, policy, image_ids, defaults=defaults, progress=first, cancel=cancel
        )
    elif layout == "app":
        df = export_table(
            catalog,
            model_key,
            policy,
            image_ids,
            defaults=defaults,
            columns=columns,
            progress=first,
            cancel=cancel,
        )
    else:
        raise ExportError(f"unknown export layout {layout!r} (use 'app' or 'seed')")
    n = len(df)
    second = (lambda d, t: progress(n + d, 2 * n)) if progress else None
    write_table(df, path, second, cancel)
    return n


# -- import -------------------------------------------------------------------------------------
@dataclass
class ImportReport:
    """What an import did; row numbers are spreadsheet rows (the header is row 1)."""

    path: Path
    rows: int = 0
    matched: int = 0
    decisions: int = 0
    unmatched: list[tuple[int, str]] = field(default_factory=list)
    unknown_labels: list[tuple[int, str]] = field(default_factory=list)
    ambiguous: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        """A few lines for a person: counts, then the first problems with their row numbers."""
        lines = [
            f"{self.path}: {self.rows} rows, {self.matched} matched photos, {self.decisions} decisions recorded"
        ]
        for title, items in (
            ("rows matching no photo in the catalog", self.unmatched),
            ("labels not in the label list", self.unknown_labels),
            ("rows matching several photos (skipped)", self.ambiguous),
        ):
            if items:
                shown = ", ".join(f"row {r}: {v!r}" for r, v in items[:10])
                more = f" and {len(items) - 10} more" if len(items) > 10 else ""
                lines.append(f"{len(items)} {title}: {shown}{more}")
        return "\n".join(lines)


def read_table(
    path: str | os.PathLike, required: Sequence[str] = (), one_of: Sequence[str] = ()
) -> pd.DataFrame:
    """Read a CSV (comma or semicolon separated, UTF-8 with or without BOM) or XLSX file as text cells.

    Column names are matched case-insensitively and returned as given in ``required``/``one_of``.
    Neutralised cells (``'=...``) are restored. Raises ExportError naming the file for unreadable
    files and for missing columns (listing them).
    """
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: file not found")
    suffix = path.suffix.lower()
    wanted = [*required, *one_of]
    try:
        if suffix in (".xlsx", ".xlsm"):
            df = pd.read_excel(path, dtype=str, keep_default_na=False, sheet_name=0)
        elif suffix in (".csv", ".txt"):
            df = _read_csv(path, wanted)
        else:
            raise ExportError(f"{path}: unsupported file type {suffix or '(none)'}; use .csv or .xlsx")
    except ExportError:
        raise
    except UnicodeDecodeError as exc:
        raise ExportError(
            f"{path}: cannot read: not UTF-8 text ({exc.reason}); save it as CSV UTF-8"
        ) from exc
    except OSError as exc:
        raise ExportError(f"{path}: cannot read: {os_reason(exc)}") from exc
    except Exception as exc:  # pandas / openpyxl parse errors come in many types
        raise ExportError(f"{path}: cannot read as a spreadsheet ({type(exc).__name__}: {exc})") from exc
    by_key = {str(c).strip().casefold(): c for c in df.columns}
    missing = [c for c in required if c.casefold() not in by_key]
    if one_of and not any(c.casefold() in by_key for c in one_of):
        missing.append(" or ".join(one_of))
    if missing:
        found = ", ".join(str(c) for c in df.columns) or "none"
        raise ExportError(f"{path}: missing column(s) {', '.join(missing)} (found: {found})")
    df = df.rename(columns={by_key[c.casefold()]: c for c in wanted if c.casefold() in by_key})
    for col in df.columns:
        df[col] = df[col].map(lambda v: unneutralise(str(v).strip()))
    return df


def _read_csv(path: Path, wanted: Sequence[str]) -> pd.DataFrame:
    # Excel's plain "CSV" on Windows is cp1252, and uses ";" where the decimal mark is a comma.
    try:
        encoding = "utf-8-sig"
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
    except UnicodeDecodeError:
        encoding = "cp1252"
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
    if wanted and not _has_columns(df, wanted) and len(df.columns) == 1 and ";" in str(df.columns[0]):
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding, sep=";")
    return df


def _has_columns(df: pd.DataFrame, names: Sequence[str]) -> bool:
    keys = {str(c).strip().casefold() for c in df.columns}
    return any(n.casefold() in keys for n in names)


def _stem(path: str) -> str:
    name = _parts(path)[-1] if _parts(path) else path
    stem, _ = os.path.splitext(name)
    return stem or name


def _parts(value: str) -> list[str]:
    """Path components of a value that may come from Windows or POSIX."""
    return [p for p in value.replace("\\", "/").split("/") if p]


def _folder_roots(catalog: Catalog) -> list[str]:
    return sorted(catalog.folders(), key=len, reverse=True)


def _relative(path: str, folders: Sequence[str]) -> str | None:
    for folder in folders:
        try:
            return Path(path).relative_to(folder).as_posix()
        except ValueError:
            continue
    return None


class _Matcher:
    """Finds catalog images from what a spreadsheet says: full path, relative path, file name or stem.

    Keys are case-folded path tails of one and two components, by file name and by stem (the seed's
    ImageId has no extension), so a 100k-row sheet matches in a few seconds.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.by_path: dict[str, int] = {}
        self.parts: dict[int, tuple[list[str], list[str]]] = {}
        self.tail1: tuple[dict[str, list[int]], dict[str, list[int]]] = ({}, {})
        self.tail2: tuple[dict[tuple[str, str], list[int]], dict[tuple[str, str], list[int]]] = ({}, {})
        for rec in catalog.images():
            self.by_path[os.path.normcase(rec.path)] = rec.id
            named = [p.casefold() for p in _parts(rec.path)]
            if not named:
                continue
            stemmed = [*named[:-1], os.path.splitext(named[-1])[0]]
            self.parts[rec.id] = (named, stemmed)
            for kind, parts in enumerate((named, stemmed)):
                self.tail1[kind].setdefault(parts[-1], []).append(rec.id)
                if len(parts) > 1:
                    self.tail2[kind].setdefault((parts[-2], parts[-1]), []).append(rec.id)

    def match(self, value: str) -> tuple[int | None, int]:
        """(image id or None, number of equally good candidates)."""
        exact = self.by_path.get(os.path.normcase(value))
        if exact is not None:
            return exact, 1
        query = [p.casefold() for p in _parts(value)]
        if not query:
            return None, 0
        for kind in (0, 1):  # the file name as written first, then the stem
            if len(query) > 1:
                ids = self.tail2[kind].get((query[-2], query[-1]))
                if ids:
                    return self._best(query, ids, kind)
            ids = self.tail1[kind].get(query[-1])
            if ids:
                # A longer query whose folder matched no photo is only trusted when the name is unique.
                return (ids[0], 1) if len(ids) == 1 else (None, len(ids))
        return None, 0

    def _best(self, query: list[str], ids: list[int], kind: int) -> tuple[int | None, int]:
        if len(ids) == 1:
            return ids[0], 1
        # Several photos share the last two components: the one matching the most folders wins.
        scored = [(_common_tail(query, self.parts[i][kind]), i) for i in ids]
        best = max(s for s, _ in scored)
        winners = [i for s, i in scored if s == best]
        return (winners[0], 1) if len(winners) == 1 else (None, len(winners))


def _common_tail(a: list[str], b: list[str]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def _split_tags(cell: str) -> list[str]:
    return [t.strip() for t in cell.split(TAG_SEPARATOR) if t.strip()]


def _parse_ids(cell: str) -> list[str]:
    for ch in "[]();":
        cell = cell.replace(ch, ",")
    return [t.strip() for t in cell.replace(" ", ",").split(",") if t.strip()]


def _apply_import(
    catalog: Catalog,
    report: ImportReport,
    rows: list[tuple[int, str, list[str], str | None]],
    vocabulary: Sequence[str],
    absent_negative: bool,
    mark_reviewed: bool,
    cancel: CancelFlag,
    progress: Progress = None,
) -> ImportReport:
    """Match rows to images, then write every decision in one transaction (nothing if anything fails)."""
    matcher = _Matcher(catalog)
    changes: list[tuple[int, str, bool | None]] = []
    splits: list[tuple[int, str | None]] = []
    matched: list[int] = []
    for n, (row_no, key, tags, split) in enumerate(rows):
        if n % 1000 == 0:
            if is_cancelled(cancel):
                raise ExportCancelled(f"{report.path}: import cancelled; nothing was changed")
            if progress is not None:
                progress(n, len(rows))
        image_id, count = matcher.match(key)
        if image_id is None:
            (report.ambiguous if count > 1 else report.unmatched).append((row_no, key))
            continue
        matched.append(image_id)
        on = set(tags)
        changes += [(image_id, t, True) for t in tags]
        if absent_negative:
            changes += [(image_id, label, False) for label in vocabulary if label not in on]
        if split is not None:
            splits.append((image_id, split.strip().lower() or None))
    report.matched = len(matched)
    report.decisions = len(changes)
    if changes:
        catalog.set_decisions(changes)
    if splits:
        catalog.set_splits(splits)
    if mark_reviewed and matched:
        catalog.set_reviewed(matched, True)
    if progress is not None:
        progress(len(rows), len(rows))
    return report


def import_seed(
    catalog: Catalog,
    path: str | os.PathLike,
    *,
    taxonomy: Sequence[str] | None = None,
    absent_negative: bool = True,
    mark_reviewed: bool = True,
    progress: Progress = None,
    cancel: CancelFlag = None,
) -> ImportReport:
    """Import a seed-layout spreadsheet (``ImageId`` + ``Category`` ids and/or ``CategoryName``) as decisions.

    ImageId is matched to catalog photos by file name, stem or (relative) path. Each matched photo
    gets an on-decision per listed category and, with ``absent_negative``, an off-decision for every
    other taxonomy category (the seed's annotations are complete); ``Split`` is stored when present.
    Unmatched rows and unknown categories are reported with row numbers, not fatal. Raises
    ExportError for unreadable files or missing columns (the catalog untouched).
    """
    taxonomy = list(taxonomy) if taxonomy is not None else taxonomy_labels()
    df = read_table(path, required=("ImageId",), one_of=("Category", "CategoryName"))
    report = ImportReport(Path(path), rows=len(df))
    known = set(taxonomy)
    rows: list[tuple[int, str, list[str], str | None]] = []
    has_split = "Split" in df.columns
    for n, rec in enumerate(df.to_dict("records")):
        row_no = n + 2
        key = str(rec["ImageId"])
        if not key:
            report.unmatched.append((row_no, ""))
            continue
        tags: list[str] = []
        ids_cell = str(rec.get("Category", "") or "")
        if ids_cell:
            for tok in _parse_ids(ids_cell):
                try:
                    idx = int(float(tok))
                except ValueError:
                    idx = -1
                if 0 <= idx < len(taxonomy) and float(tok) == idx:
                    tags.append(taxonomy[idx])
                else:
                    report.unknown_labels.append((row_no, tok))
        else:
            for name in _split_tags(str(rec.get("CategoryName", "") or "")):
                if name in known:
                    tags.append(name)
                else:
                    report.unknown_labels.append((row_no, name))
        rows.append((row_no, key, list(dict.fromkeys(tags)), str(rec["Split"]) if has_split else None))
    return _apply_import(catalog, report, rows, taxonomy, absent_negative, mark_reviewed, cancel, progress)


def import_tags(
    catalog: Catalog,
    path: str | os.PathLike,
    *,
    labels: Sequence[str] | None = None,
    absent_negative: bool = True,
    mark_reviewed: bool = True,
    progress: Progress = None,
    cancel: CancelFlag = None,
) -> ImportReport:
    """Import the app's own CSV/XLSX (``path`` + ``tags`` joined with ``|``) as decisions.

    ``labels`` is the label list tags must come from (e.g. the model's); others are reported with
    their row numbers and skipped. Without it every tag in the file counts. With ``absent_negative``
    a label of that list missing from a row becomes an off-decision (the row states the photo's
    complete tags, as an edited export does). A ``split`` column is stored when present. Raises
    ExportError for unreadable files or missing columns (the catalog untouched).
    """
    df = read_table(path, required=(PATH_COLUMN, TAGS_COLUMN))
    report = ImportReport(Path(path), rows=len(df))
    split_col = next((c for c in df.columns if str(c).strip().casefold() == SPLIT_COLUMN), None)
    known = set(labels) if labels is not None else None
    rows: list[tuple[int, str, list[str], str | None]] = []
    seen: dict[str, None] = {}
    for n, rec in enumerate(df.to_dict("records")):
        row_no = n + 2
        key = str(rec[PATH_COLUMN])
        if not key:
            report.unmatched.append((row_no, ""))
            continue
        tags = []
        for t in _split_tags(str(rec[TAGS_COLUMN])):
            if known is not None and t not in known:
                report.unknown_labels.append((row_no, t))
            else:
                tags.append(t)
                seen.setdefault(t, None)
        rows.append((row_no, key, list(dict.fromkeys(tags)), str(rec[split_col]) if split_col else None))
    vocabulary = list(labels) if labels is not None else list(seen)
    return _apply_import(catalog, report, rows, vocabulary, absent_negative, mark_reviewed, cancel, progress)


def iter_rows_for_sidecars(items: Iterable[TaggedImage]) -> Iterator[tuple[str, list[str]]]:
    """(photo path, keywords) pairs for :func:`fashion_desktop.core.xmp.write_xmp_sidecars`."""
    for item in items:
        yield item.image.path, item.tags
