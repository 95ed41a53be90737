"""``fashion adapt``: fit a catalog's adapter to its reviewed photos, report it per group and store it."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from fashion_desktop.model import exit_codes


def add_adapt_parser(sub: Any, user_error: type[Exception]) -> None:
    """Register ``fashion adapt`` on the subcommand parser ``sub``; ``user_error`` is the CLI's error type."""
    p = sub.add_parser(
        "adapt",
        help="adapt a model to a catalog's reviewed photos (no training run)",
        description="Fit a small correction of the model's scores to the decisions made in the catalog "
        "(yes and no; photos settled by review), from the embeddings stored when the photos were tagged: "
        "no model is run. For each group it prints the cross-validated top-1 and log loss of the model and "
        "of the adapted scores on the reviewed photos, and whether the correction is used (only where it "
        "beats the model). The adapter is stored in the catalog; the app and 'fashion export' then show "
        "adapted scores for the unreviewed photos ('fashion export --no-adapter' for the model's own). "
        "Photos tagged before embeddings were stored have none: re-tag them with 'fashion tag ... --force'. "
        "Exit 0: fitted and stored (used or not); 1: nothing to learn from, or the catalog cannot be used.",
    )
    p.add_argument("--catalog", required=True, metavar="DB")
    p.add_argument(
        "--model", metavar="KEY", help="model whose scores to adapt (default: the latest that has embeddings)"
    )
    p.set_defaults(func=lambda args: cmd_adapt(args, user_error))


def cmd_adapt(args: argparse.Namespace, user_error: type[Exception]) -> int:
    from fashion_desktop.cli import _open_catalog  # the CLI's own (cli imports this module first)
    from fashion_desktop.core.adapter_library import adapter_enabled, fit_library, store_adapter
    from fashion_desktop.core.similar import SimilarError, pick_model

    db = Path(args.catalog)
    if not db.is_file():
        raise user_error(f"{db}: catalog not found")
    catalog = _open_catalog(db)
    try:
        try:
            key = pick_model(catalog, args.model)
        except SimilarError as exc:
            raise user_error(str(exc)) from None
        waiting = catalog.to_confirm_ids()  # changed pictures: their decisions wait for the person
        decided = sum(1 for i, d in catalog.all_decisions().items() if d and i not in waiting)
        if not decided:
            raise user_error(
                f"{db}: no decisions yet; review some photos in the app (or 'fashion import TABLE --catalog "
                f"{db} --reviewed') and run this again"
            )
        print(f"fitting the adapter of {key} to {decided} decided photos ...", file=sys.stderr)
        start = time.perf_counter()
        fit = fit_library(catalog, key, store=False)
        seconds = time.perf_counter() - start
        adapter = fit.adapter
        if not adapter.reviewed:
            raise user_error(
                f"{db}: none of the {decided} decided photos has an embedding from model {key!r} (tagged "
                f"before embeddings were stored); re-tag them: fashion tag FOLDER --catalog {db} --force"
            )
        store_adapter(catalog, adapter)
        enabled = adapter_enabled(catalog, key)
        record = catalog.model(key)
        name = f"{record.name} ({key})" if record is not None and record.name else key
    finally:
        catalog.close()
    print(f"{name}: learnt from {adapter.reviewed} reviewed photos in {seconds:.1f} s")
    for correction in adapter.corrections:
        print(f"  {correction.summary()}")
    if fit.skipped:
        print(
            f"{fit.skipped} decided photos have no embedding from this model (tagged before embeddings were "
            f"stored) and were left out; re-tag them to learn from them too: fashion tag FOLDER --catalog {db} "
            "--force"
        )
    if not adapter.useful:
        print(
            "no group beats the model on held-out reviewed photos: the model's scores stay (adapter not used)"
        )
    elif enabled:
        used = ", ".join(c.group or "other" for c in adapter.used)
        print(f"the adapter will be used ({used}): the app and 'fashion export' show adapted scores for "
              "the unreviewed photos ('fashion export --no-adapter' for the model's own)")  # fmt: skip
    else:
        print("the adapter beats the model but is switched off in this library (the app's Model box): "
              "the model's scores stay until it is switched on")  # fmt: skip
    print(f"stored in {db}", file=sys.stderr)
    return exit_codes.OK
