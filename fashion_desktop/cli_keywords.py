"""``fashion write-keywords``: a catalog's final tags written as keywords into the photos (or sidecars)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fashion_desktop.model import exit_codes


def add_write_keywords_parser(sub: Any, user_error: type[Exception]) -> None:
    """Register ``fashion write-keywords`` on ``sub``; ``user_error`` is the CLI's error type."""
    from fashion_desktop.cli import add_final_tag_options  # the CLI's own (cli imports this module first)

    p = sub.add_parser(
        "write-keywords",
        help="write a catalog's tags as keywords into the photos, where Lightroom, Finder and Windows see them",
        description="Write the final tags of a catalog (as 'fashion export' computes them) as keywords: XMP "
        "dc:subject and lr:hierarchicalSubject (group|value) inside JPEG, TIFF, PNG and DNG photos, and IPTC "
        "Keywords inside JPEG, TIFF and DNG; raw and HEIC files get XMP sidecars. The photos' pixels and other "
        "metadata are never changed, nor the keywords someone else put there: a re-write swaps only the "
        "keywords this app wrote before. Links, read-only photos and photos changed since the last scan are "
        "skipped and listed. Writing into photos needs ExifTool. Exit 0: every photo written or already up to "
        "date; 3: some skipped (listed); 1: nothing written.",
    )
    p.add_argument("--catalog", required=True, metavar="DB")
    p.add_argument(
        "--into",
        choices=("photos", "sidecars"),
        default="photos",
        help="photos (default; raw and HEIC files get sidecars) or sidecars for every photo",
    )
    p.add_argument(
        "--naming",
        choices=("adobe", "appended"),
        default="adobe",
        help="sidecar names: adobe (IMG_1.xmp, the default) or appended (IMG_1.CR2.xmp, darktable, digiKam)",
    )
    p.add_argument("--reviewed-only", action="store_true", help="only the photos a person reviewed")
    p.add_argument("--dry-run", action="store_true", help="list the files that would change; change nothing")
    add_final_tag_options(p)
    p.set_defaults(func=lambda args: cmd_write_keywords(args, user_error))


def cmd_write_keywords(args: argparse.Namespace, user_error: type[Exception]) -> int:
    from fashion_desktop.cli import _open_catalog, final_tags_choice
    from fashion_desktop.core.catalog import Catalog
    from fashion_desktop.core.exiftool import ExifToolMissing
    from fashion_desktop.core.export import score_source
    from fashion_desktop.core.photo_keywords import write_catalog_keywords
    from fashion_desktop.core.spreadsheet import ExportError

    db = Path(args.catalog)
    if not db.is_file():
        raise user_error(f"{db}: catalog not found")
    # A dry run only reads; a real one records each written photo's new size and hash in the catalog.
    catalog = Catalog(db, read_only=True) if args.dry_run else _open_catalog(db)
    try:
        key, policy = final_tags_choice(catalog, db, args)
        try:
            report = write_catalog_keywords(
                catalog, key, policy, adapter=not args.no_adapter, reviewed_only=args.reviewed_only,
                into=args.into, naming=args.naming, dry_run=args.dry_run,
            )  # fmt: skip
        except (ExifToolMissing, ExportError) as exc:
            raise user_error(str(exc)) from None
        if key is not None:
            print(f"scores: {score_source(catalog, key, not args.no_adapter).note}", file=sys.stderr)
    finally:
        catalog.close()
    print(report.summary(), file=sys.stderr)
    if args.dry_run:
        for path in report.would_change:
            print(path)
    done = report.written or report.sidecars or report.unchanged or report.would_change
    if not done:
        return exit_codes.ERROR
    return exit_codes.PARTIAL if report.skipped else exit_codes.OK
