"""Spreadsheets for the app and the trainer: CSV/XLSX written atomically, formulas neutralised, read back."""

from __future__ import annotations

import math
import os
import re
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .cancel import CancelFlag, is_cancelled
from .fileio import WriteError, atomic_write, os_reason
from .problems import printable

# A cell starting with one of these is a formula to Excel / LibreOffice (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CHUNK_ROWS = 2000
_XLSX_MAX_ROWS = 1_048_576
COMMENT_PREFIX = "#"  # a CSV's leading lines starting with this describe the file (read_table skips them)
ABOUT_SHEET = "About this export"

About = Sequence[tuple[str, str]]

Progress = Callable[[int, int], None] | None


class ExportError(RuntimeError):
    """An export or import that cannot be done; the message names the file and the problem."""


class ExportCancelled(ExportError):
    """The person cancelled a long export; no file was written."""


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


def _comment(text: str) -> str:
    line = " ".join(printable(str(text)).split())  # one line each, whatever the value held
    # Excel splits the line at commas and semicolons: a piece that would start a formula gets a quote.
    return re.sub(r"([,;])(\s*)([=+\-@])", r"\1\2'\3", line)


def write_csv(
    df: pd.DataFrame,
    path: str | os.PathLike,
    progress: Progress = None,
    cancel: CancelFlag = None,
    about: About = (),
    bom: bool = True,
) -> Path:
    """Write ``df`` as UTF-8 CSV with a BOM (so Excel reads accents right), formulas neutralised, atomically.

    ``about`` (field, value) pairs go first as ``# field: value`` lines; ``bom=False`` leaves the BOM out
    (tables scripts read). Raises ExportError (the existing file untouched) or ExportCancelled.
    """
    safe = _safe_frame(df)
    total = len(safe)

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
            for key, value in about:
                fh.write(f"{COMMENT_PREFIX} {_comment(key)}: {_comment(value)}\r\n")
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


def _xlsx_cell(ws: object, value: object, float_format: str | None) -> object:
    """A row's cell: the plain value, or a cell carrying ``float_format`` when it is a float."""
    value = _xlsx_value(value)
    if float_format is None or not isinstance(value, float):
        return value
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    cell.number_format = float_format
    return cell


def _discard_sheet(ws: object) -> None:
    """Close an abandoned write-only sheet and delete its scratch file (else it leaks until exit)."""
    try:
        ws.close()  # type: ignore[attr-defined]
        ws._writer.cleanup()  # type: ignore[attr-defined]
    except Exception:
        pass


XLSX_MAX_COLUMNS = 16_384  # Excel's limit (column XFD); openpyxl writes more, which Excel cannot open


def xlsx_columns_problem(path: str | os.PathLike, columns: int) -> str:
    """The one message for a table wider than an Excel sheet."""
    return (
        f"{path}: {columns:,} columns do not fit in an Excel sheet ({XLSX_MAX_COLUMNS:,} at most); "
        "write a .csv file instead (or leave out the score columns)"
    )


def write_xlsx(
    df: pd.DataFrame,
    path: str | os.PathLike,
    progress: Progress = None,
    cancel: CancelFlag = None,
    sheet_name: str = "Tags",
    about: About = (),
    float_format: str | None = None,
) -> Path:
    """Write ``df`` as a formatted workbook (bold frozen header, column widths, autofilter), atomically.

    ``about`` (field, value) pairs make a second sheet, "About this export"; ``float_format`` (an Excel
    number format such as ``"0.000"``) is how float cells are shown. Formulas are neutralised. Raises
    ExportError (the existing file untouched) or ExportCancelled.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    if len(df) + 1 > _XLSX_MAX_ROWS:
        raise ExportError(
            f"{path}: {len(df)} rows do not fit in an Excel sheet ({_XLSX_MAX_ROWS - 1}); use .csv"
        )
    if len(df.columns) > XLSX_MAX_COLUMNS:
        raise ExportError(xlsx_columns_problem(path, len(df.columns)))
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
                ws.append([_xlsx_cell(ws, v, float_format) for v in row])
        except BaseException:
            _discard_sheet(ws)
            raise
        if about:
            info = wb.create_sheet(ABOUT_SHEET)
            info.column_dimensions["A"].width = 24
            info.column_dimensions["B"].width = 80
            for key, value in about:
                name = WriteOnlyCell(info, value=_xlsx_value(neutralise(str(key))))
                name.font = bold
                info.append([name, _xlsx_value(neutralise(str(value)))])
        wb.save(tmp)
        if progress is not None:
            progress(total, total)

    return _atomic_write(path, write)


def write_table(
    df: pd.DataFrame,
    path: str | os.PathLike,
    progress: Progress = None,
    cancel: CancelFlag = None,
    about: About = (),
) -> Path:
    """Write ``df`` as CSV or XLSX according to the file's extension, with ``about`` (field, value)
    pairs as header comment lines / an "About this export" sheet. Raises ExportError / ExportCancelled."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return write_csv(df, path, progress, cancel, about)
    if suffix in (".xlsx", ".xlsm"):
        return write_xlsx(df, path, progress, cancel, about=about)
    raise ExportError(f"{path}: unsupported file type {suffix or '(none)'}; use .csv or .xlsx")


def has_columns(df: pd.DataFrame, names: Sequence[str]) -> bool:
    keys = {str(c).strip().casefold() for c in df.columns}
    return any(n.casefold() in keys for n in names)


def read_table(
    path: str | os.PathLike, required: Sequence[str] = (), one_of: Sequence[str] = ()
) -> pd.DataFrame:
    """Read a CSV (comma, semicolon or tab separated; UTF-8 with or without BOM, UTF-16 with a BOM as
    Excel's "Unicode text" writes it, or cp1252), TSV or XLSX file as text cells (the app's imports and
    the trainer's data sources both read through here).

    Column names are matched case-insensitively and returned as given in ``required``/``one_of``.
    Neutralised cells (``'=...``) are restored. A CSV's leading ``#`` lines (an export's "About" header)
    are skipped; ``df.attrs["header_row"]`` is the file line of the header (1 without them). Raises
    ExportError naming the file for unreadable files, for missing columns (listing them) and for a
    workbook whose formula cells hold no saved value (naming the first).
    """
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: file not found")
    suffix = path.suffix.lower()
    wanted = [*required, *one_of]
    try:
        if suffix in (".xlsx", ".xlsm", ".xls"):
            df = pd.read_excel(path, dtype=str, keep_default_na=False, sheet_name=0)
            if suffix != ".xls" and (df == "").to_numpy().any():
                _refuse_unsaved_formulas(path)  # such a cell reads as empty: never a silent "no tags"
        elif suffix in (".csv", ".txt", ".tsv"):
            df = _read_csv(path, wanted, "\t" if suffix == ".tsv" else ",")
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
    header_row = int(df.attrs.get("header_row", 1))
    df = require_columns(df, path, required, one_of)
    for col in df.columns:
        df[col] = df[col].map(lambda v: unneutralise(str(v).strip()))
    df.attrs["header_row"] = header_row
    return df


def require_columns(
    df: pd.DataFrame, path: str | os.PathLike, required: Sequence[str] = (), one_of: Sequence[str] = ()
) -> pd.DataFrame:
    """``df`` with the columns named in ``required``/``one_of`` spelled as given there (matched
    case-insensitively); raises ExportError naming ``path`` and the missing columns."""
    by_key = {str(c).strip().casefold(): c for c in df.columns}
    missing = [c for c in required if c.casefold() not in by_key]
    if one_of and not any(c.casefold() in by_key for c in one_of):
        missing.append(" or ".join(one_of))
    if missing:
        found = ", ".join(str(c) for c in df.columns) or "none"
        needs = [*required, *([" or ".join(one_of)] if one_of else [])]
        raise ExportError(
            f"{path}: missing column(s) {', '.join(missing)} (found: {found}; needs: {', '.join(needs)})"
        )
    attrs = dict(df.attrs)
    df = df.rename(columns={by_key[c.casefold()]: c for c in [*required, *one_of] if c.casefold() in by_key})
    df.attrs.update(attrs)
    return df


_FORMULA_ELEMENT = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _has_formulas(path: Path) -> bool:
    """Whether any sheet of the workbook holds a formula element (a quick look at its XML that spares
    parsing a sheet without formulas again)."""
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
                continue
            with z.open(name) as fh:
                tail = b""
                while chunk := fh.read(1 << 20):
                    if _FORMULA_ELEMENT.search(tail + chunk):
                        return True
                    tail = chunk[-16:]
    return False


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _refuse_unsaved_formulas(path: Path) -> None:
    """Raise ExportError naming the first cell of the first sheet that holds a formula and no saved value
    (a workbook written by a program that does not calculate, e.g. openpyxl or a script).

    Read from the sheet's XML, because openpyxl gives None both for such a cell and for a formula whose
    saved result is empty text (``t="str"`` and an empty ``<v>``: Excel's ``=IF(..., "", ...)``)."""
    import xml.etree.ElementTree as ET

    from openpyxl import load_workbook

    if not _has_formulas(path):
        return
    wb = load_workbook(path, read_only=True)
    try:
        sheet = wb.worksheets[0]
        title, member = sheet.title, sheet._worksheet_path  # type: ignore[attr-defined]
    finally:
        wb.close()
    with zipfile.ZipFile(path) as z, z.open(member) as fh:
        for _event, el in ET.iterparse(fh):
            if _local(el.tag) == "row":
                el.clear()
            if _local(el.tag) != "c":
                continue
            parts = {_local(k.tag): k for k in el}
            value = parts.get("v")
            unsaved = value is None or (not value.text and el.get("t") not in ("str", "inlineStr"))
            if "f" in parts and unsaved:
                raise ExportError(
                    f"{path}: cell {title}!{el.get('r', '?')} holds a formula without a saved value (the program "
                    "that wrote the file did not calculate it); open the file in Excel or LibreOffice and save "
                    "it, or paste the cells as values, then try again"
                )


def comment_lines(path: str | os.PathLike, encoding: str = "utf-8-sig") -> int:
    """How many lines at the top of a CSV start with ``#`` (an export's "About" header)."""
    n = 0
    with open(path, encoding=encoding, newline="") as fh:
        for line in fh:
            if not line.startswith(COMMENT_PREFIX):
                break
            n += 1
    return n


def read_about(path: str | os.PathLike, limit: int = 200) -> dict[str, str]:
    """The (field -> value) lines an export or a tag output carries about what produced it: a CSV's leading
    ``# field: value`` lines, an XLSX's "About this export" sheet. Empty when there are none; never raises
    for a file that has none (unreadable files are the table reader's to report)."""
    about: dict[str, str] = {}
    try:
        if Path(path).suffix.lower() in (".xlsx", ".xlsm"):
            from openpyxl import load_workbook

            wb = load_workbook(path, read_only=True)
            try:
                if ABOUT_SHEET in wb.sheetnames:
                    for row in wb[ABOUT_SHEET].iter_rows(max_row=limit, max_col=2, values_only=True):
                        if row and row[0] is not None:
                            about[unneutralise(str(row[0]))] = unneutralise(
                                str(row[1] if len(row) > 1 else "")
                            )
            finally:
                wb.close()
            return about
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
            for _ in range(limit):
                line = fh.readline(10_000)
                if not line.startswith(COMMENT_PREFIX):
                    break
                key, sep, value = line[len(COMMENT_PREFIX) :].strip().partition(": ")
                if sep:
                    about[key.strip()] = value.strip()
    except Exception:  # a damaged workbook or an unreadable file: the table reader says why
        return about
    return about


def _utf16(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) in (b"\xff\xfe", b"\xfe\xff")  # Excel's "Unicode text" starts with a BOM


def _read_csv(path: Path, wanted: Sequence[str], sep: str = ",") -> pd.DataFrame:
    # Excel's plain "CSV" on Windows is cp1252, and uses ";" where the decimal mark is a comma.
    encodings = ["utf-16"] if _utf16(path) else ["utf-8-sig", "cp1252"]
    while True:
        encoding = encodings.pop(0)
        try:
            return _read_text_table(path, wanted, sep, encoding)
        except UnicodeDecodeError:
            if not encodings:
                raise


def _read_text_table(path: Path, wanted: Sequence[str], sep: str, encoding: str) -> pd.DataFrame:
    skip = comment_lines(path, encoding)
    with open(path, encoding=encoding, newline="") as fh:
        for _ in range(skip):
            fh.readline()
        header = fh.readline(100_000)
    if sep == "," and "\t" in header and header.count("\t") >= header.count(","):
        sep = "\t"  # Excel's "Unicode text" and other tab-separated text, whatever the file's name
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding, skiprows=skip, sep=sep)
    # Without the columns it needs, a one-column frame whose header holds ";" was split at the wrong mark.
    semicolons = sep == "," and len(df.columns) == 1 and ";" in str(df.columns[0])
    if semicolons and not (wanted and has_columns(df, wanted)):
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding, sep=";", skiprows=skip)
    df.attrs["header_row"] = skip + 1
    return df
