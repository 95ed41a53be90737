"""``fashion similar``: the photos of a catalog nearest one photo by their stored embeddings."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fashion_desktop.model import exit_codes


def add_similar_parser(sub: Any, user_error: type[Exception]) -> None:
    """Register ``fashion similar`` on the subcommand parser ``sub``; ``user_error`` is the CLI's error type."""
    from fashion_desktop.cli import _positive_int  # the CLI's own check (cli imports this module first)

    p = sub.add_parser(
        "similar",
        help="list the photos of a catalog most similar to a photo",
        description="List the photos of a catalog nearest PHOTO by the cosine similarity of the embeddings "
        "stored when they were tagged (no model is run): PHOTO itself first, then its nearest, best first, "
        "one per line as 'path<TAB>similarity' (cosine, 1.0 at most). Photos tagged before embeddings were stored have none: "
        "re-tag them with 'fashion tag ... --force'. Exit 0: listed; 1: PHOTO or the model has none.",
    )
    p.add_argument("photo", metavar="PHOTO", help="a photo of the catalog")
    p.add_argument("--catalog", required=True, metavar="DB")
    p.add_argument("-k", type=_positive_int, default=10, metavar="N", help="how many others to list (10)")
    p.add_argument(
        "--model", metavar="KEY", help="model whose embeddings count (default: the latest that has some)"
    )
    p.set_defaults(func=lambda args: cmd_similar(args, user_error))


def cmd_similar(args: argparse.Namespace, user_error: type[Exception]) -> int:
    from fashion_desktop.core.catalog import Catalog, CatalogError
    from fashion_desktop.core.similar import SimilarError, similar_photos

    db = Path(args.catalog)
    if not db.is_file():
        raise user_error(f"{db}: catalog not found")
    try:
        catalog = Catalog(db, read_only=True)
    except CatalogError as exc:
        raise user_error(str(exc)) from None
    try:
        found = similar_photos(catalog, args.photo, args.k, args.model)
    except SimilarError as exc:
        raise user_error(str(exc)) from None
    finally:
        catalog.close()
    for neighbour in found:
        print(f"{neighbour.path}\t{neighbour.similarity:.4f}")
    print(f"{len(found) - 1} similar photos listed", file=sys.stderr)
    return exit_codes.OK
