"""The app's name for the spreadsheet reader and writer, which live in the model layer for the trainer too."""

from __future__ import annotations

from ..model.spreadsheet import (
    ABOUT_SHEET,
    COMMENT_PREFIX,
    XLSX_MAX_COLUMNS,
    About,
    ExportCancelled,
    ExportError,
    Progress,
    atomic_write_bytes,
    comment_lines,
    has_columns,
    neutralise,
    read_about,
    read_table,
    require_columns,
    unneutralise,
    write_csv,
    write_table,
    write_xlsx,
    xlsx_columns_problem,
)

__all__ = [
    "ABOUT_SHEET",
    "COMMENT_PREFIX",
    "About",
    "ExportCancelled",
    "ExportError",
    "Progress",
    "atomic_write_bytes",
    "comment_lines",
    "has_columns",
    "neutralise",
    "read_about",
    "read_table",
    "require_columns",
    "unneutralise",
    "write_csv",
    "write_table",
    "write_xlsx",
    "XLSX_MAX_COLUMNS",
    "xlsx_columns_problem",
]
