"""``fashion import``: a table of tags, or the keywords photos carry, into a catalog as the person's decisions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fashion_desktop.model import exit_codes


def add_import_parser(sub: Any, user_error: type[Exception]) -> None:
    """Register ``fashion import`` on the subcommand parser ``sub``; ``user_error`` is the CLI's error type."""
    p = sub.add_parser(
        "import",
        help="import a table of tags into a catalog as your decisions",
        description="Import tags from a table into a catalog, with the app's own import code (File > Import "
        "Tags...). Tables: the app's export, the seed layout (ImageId, Category/CategoryName) or 'image,tags'. "
        "Rows are matched to the catalog's photos by path, relative path or file name. Without --reviewed the "
        "listed tags become your yes (and in a one-value group such as colour, the group's other values no) and "
        "nothing else is decided; with --reviewed the listed photos are marked reviewed, their listed tags yes "
        "and the model's other labels no. A row listing two values of a one-value group skips that group and "
        "is listed, and so is a row whose tag cell is empty (except in the app's own export, where that means no "
        "tags) or shows an Excel error: it decides nothing and is not marked reviewed. With --keywords-in-photos instead of a table, the keywords the library's photos already "
        "carry (embedded XMP/IPTC, or XMP sidecars beside them; read with ExifTool) are matched to labels by "
        "name, ignoring case ('group|value' names a group's label; of a deeper 'a|b|c' the last two levels "
        "count): each match becomes your yes, keywords matching no label become your own tags (in the group "
        "their hierarchy names, else 'keywords'); keywords this app wrote are skipped, nothing becomes no and "
        "no photo is marked reviewed. Exit 0: every row (photo) imported; 3: some skipped (listed); "
        "1: nothing imported.",
    )
    p.add_argument(
        "table",
        metavar="TABLE",
        nargs="?",
        help="CSV, XLSX or text file (UTF-8 or UTF-16; comma, semicolon or tab)",
    )
    p.add_argument(
        "--keywords-in-photos",
        action="store_true",
        help="import the keywords the library's photos carry instead of a table (needs ExifTool)",
    )
    p.add_argument("--catalog", required=True, metavar="DB")
    p.add_argument("--reviewed", action="store_true", help="mark the listed photos reviewed (complete tags)")
    p.add_argument("--model", metavar="KEY", help="model whose labels and groups apply (default: the latest)")
    p.add_argument("--dry-run", action="store_true", help="say what would change; change nothing")
    p.add_argument(
        "--separator",
        choices=("|", ";", ",", "none"),
        metavar="MARK",
        help="what separates tags in a cell: '|', ';', ',' or 'none' (one tag per cell); by default '|', and ';' "
        "or ',' where splitting a cell there names known labels (a label whose name holds a comma stays whole); "
        "when the cells do not tell, the import stops and names a cell",
    )
    p.set_defaults(func=lambda args: _source_checked(p, args) or cmd_import(args, user_error))


def _source_checked(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """0 when exactly one of TABLE and --keywords-in-photos is given, else the usage error's exit code."""
    if (args.table is not None) == bool(args.keywords_in_photos):
        both = args.table is not None
        parser.print_usage(sys.stderr)
        problem = (
            "a TABLE or --keywords-in-photos, not both" if both else "give a TABLE or --keywords-in-photos"
        )
        print(f"fashion import: error: {problem}", file=sys.stderr)
        return exit_codes.USAGE
    return 0


def cmd_import(args: argparse.Namespace, user_error: type[Exception]) -> int:
    from fashion_desktop.core.catalog import Catalog, CatalogError
    from fashion_desktop.core.label_import import SeparatorUnclear, import_spreadsheet, one_value_groups
    from fashion_desktop.core.spreadsheet import ExportError

    db = Path(args.catalog)
    if not db.is_file():
        raise user_error(f"{db}: catalog not found")
    if args.keywords_in_photos:
        return _import_keywords(args, db, user_error)
    if not Path(args.table).is_file():
        raise user_error(f"{args.table}: file not found")
    try:
        catalog = Catalog(db, read_only=bool(args.dry_run))
    except CatalogError as exc:
        raise user_error(str(exc)) from None
    try:
        models = catalog.models()
        if args.model is not None and catalog.model(args.model) is None:
            known = ", ".join(m.key for m in models) or "none"
            raise user_error(f"{db}: no model {args.model!r} in this catalog (known: {known})")
        record = catalog.model(args.model) if args.model else (models[-1] if models else None)
        try:
            report = import_spreadsheet(
                catalog,
                args.table,
                model_labels=record.labels if record is not None else (),
                dry_run=bool(args.dry_run),
                reviewed=bool(args.reviewed),
                one_value=one_value_groups(catalog, record.key if record is not None else None),
                separator=args.separator,
            )
        except SeparatorUnclear as exc:
            how = " or ".join(f"--separator '{m}'" for m in exc.marks)
            raise user_error(
                f"{exc}; say which with {how} (it separates tags) or --separator none (each cell is one tag)"
            ) from None
        except ExportError as exc:
            raise user_error(str(exc)) from None
    finally:
        catalog.close()
    print(report.summary(), file=sys.stderr)
    if args.reviewed and not args.dry_run:
        print(f"{len(report.matched_ids)} photos marked reviewed", file=sys.stderr)
    if not report.matched_ids:
        return exit_codes.ERROR
    skipped = (
        report.unmatched or report.ambiguous or report.unknown_labels or report.conflicts or report.no_tags
    )
    return exit_codes.PARTIAL if skipped else exit_codes.OK


def _import_keywords(args: argparse.Namespace, db: Path, user_error: type[Exception]) -> int:
    from fashion_desktop.core.catalog import Catalog, CatalogError
    from fashion_desktop.core.exiftool import ExifToolMissing
    from fashion_desktop.core.keyword_import import import_photo_keywords

    if args.reviewed:
        raise user_error("--reviewed is for tables: keywords say what a photo shows, not all it shows")
    if args.separator is not None:
        raise user_error("--separator is for tables: each keyword in a photo is one tag already")
    try:
        catalog = Catalog(db, read_only=bool(args.dry_run))
    except CatalogError as exc:
        raise user_error(str(exc)) from None
    try:
        if args.model is not None and catalog.model(args.model) is None:
            known = ", ".join(m.key for m in catalog.models()) or "none"
            raise user_error(f"{db}: no model {args.model!r} in this catalog (known: {known})")
        report = import_photo_keywords(catalog, model_key=args.model, dry_run=bool(args.dry_run))
    except ExifToolMissing as exc:
        raise user_error(str(exc)) from None
    finally:
        catalog.close()
    print(report.summary(), file=sys.stderr)
    if not report.matched_ids:
        return exit_codes.ERROR
    skipped = report.unreadable or report.ambiguous_keywords or report.unusable or report.conflicts
    return exit_codes.PARTIAL if skipped else exit_codes.OK
