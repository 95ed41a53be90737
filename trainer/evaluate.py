"""``fashion evaluate MODEL DATA``: score a bundle on labelled data; overall/per-class tables and per-image scores."""

from __future__ import annotations

import argparse
import csv
import io
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import protocol
from .bundle import Bundle, BundleError, atomic_write_bytes, load_bundle
from .data import UNK, DataError, LabelTable, assign_splits, combine, read_source
from .metrics import compute_metrics, metrics_by_group

log = logging.getLogger("trainer")

OVERALL_COLUMNS = (
    "scope", "images", "f1_micro", "f1_macro", "f1_samples", "exact_match",
    "precision_micro", "recall_micro", "map", "top1_accuracy", "labels_with_support",
)  # fmt: skip
PER_CLASS_COLUMNS = ("label", "group", "precision", "recall", "f1", "support", "known", "ap", "threshold")


def align_targets(table: LabelTable, labels: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Targets [N, len(labels)] in the bundle's label order (-1 where the data says nothing about a
    label); returns them and the data's labels the model does not know."""
    col = {lab: j for j, lab in enumerate(table.labels)}
    out = np.full((len(table), len(labels)), UNK, dtype=np.int8)
    for j, lab in enumerate(labels):
        if lab in col:
            out[:, j] = table.targets[:, col[lab]]
    return out, [lab for lab in table.labels if lab not in set(labels)]


def write_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], csv_path: Path, sheet: str
) -> Path:
    """Write ``rows`` as ``csv_path`` and a formatted ``.xlsx`` beside it (bold frozen header, fitted
    widths, autofilter, 3-decimal numbers). Returns the xlsx path. Raises OSError when a file is locked."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _cell(r.get(k)) for k in columns})
    atomic_write_bytes(csv_path, buf.getvalue().encode("utf-8"))
    wb = Workbook()
    ws = wb.active
    ws.title = sheet[:31]
    ws.append(list(columns))
    for r in rows:
        ws.append([_cell(r.get(k)) for k in columns])
    for c in ws[1]:
        c.font = Font(bold=True)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    for j, name in enumerate(columns, start=1):
        values = [name] + [str(_cell(r.get(name))) for r in rows]
        ws.column_dimensions[get_column_letter(j)].width = min(60, max(len(v) for v in values) + 2)
        for row in ws.iter_rows(min_row=2, min_col=j, max_col=j):
            if isinstance(row[0].value, float):
                row[0].number_format = "0.000"
    xlsx = csv_path.with_suffix(".xlsx")
    out = io.BytesIO()
    wb.save(out)
    atomic_write_bytes(xlsx, out.getvalue())
    return xlsx


def _cell(v: Any) -> Any:
    if isinstance(v, float) and not np.isfinite(v):
        return ""
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return "" if v is None else v


def metric_tables(
    targets: np.ndarray, scores: np.ndarray, bundle: Bundle
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(overall rows: all labels then one per group, per-class rows) at the bundle's thresholds."""
    labels, th = list(bundle.labels), np.asarray(bundle.thresholds)
    m = compute_metrics(targets, scores, th, labels)
    overall = [{"scope": "all labels", **m["overall"]}]
    for group, values in metrics_by_group(targets, scores, th, labels, dict(bundle.groups)).items():
        overall.append({"scope": group, **values})
    per = [{**row, "group": bundle.groups.get(row["label"], "")} for row in m["per_label"]]
    return overall, per


@torch.no_grad()
def score_images(
    bundle: Bundle, paths: Sequence[str], cache_dir: Path, batch_size: int = 64, events=None
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities [N, L] for ``paths`` and a mask of images that could be decoded."""
    from .pipeline import CachedImages, DecodeCache, resolve_precision, to_model_input

    cache = DecodeCache.open_or_build(cache_dir, paths, bundle.input_size, bundle.resize, os.cpu_count() or 1)
    model = bundle.build_model().to(memory_format=torch.channels_last)
    dtype = resolve_precision("auto", torch.device("cpu"))
    rows = np.nonzero(cache.ok)[0]
    ds = CachedImages(cache, rows, np.zeros((len(paths), 1), np.int8))
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False)
    scores = np.full((len(paths), len(bundle.labels)), np.nan, dtype=np.float32)
    done = 0
    for img, _y, idx in loader:
        x = to_model_input(img, bundle.mean, bundle.std, "none", None, True)
        with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            logits = model(x)
        scores[rows[idx.numpy()]] = torch.sigmoid(logits.float()).numpy()
        done += len(img)
        if events is not None:
            events.progress(phase="evaluate", step=done, steps=len(rows))
    return scores, cache.ok


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fashion evaluate", description="Metrics of a model bundle on labelled data."
    )
    p.add_argument("model", help="model bundle (.fmodel)")
    p.add_argument(
        "data", nargs="+", help="image folder, spreadsheet, COCO json or catalog (several allowed)"
    )
    p.add_argument("--mapping", help="label mapping file for the data")
    p.add_argument("--out", help="folder for the tables (default: evaluation-<model name> here)")
    p.add_argument(
        "--split", default="all", choices=("all", "train", "val", "test"), help="which split to score"
    )
    p.add_argument("--batch-size", type=int, default=64)
    return p


def evaluate_cli(argv: Sequence[str] | None = None) -> int:
    """Run ``fashion evaluate``; returns 0 on success, 1 on failure (with a ``run_failed`` event)."""
    ns = _parser().parse_args(argv)
    events = protocol.EventWriter()
    try:
        return _evaluate(ns, events)
    except (BundleError, DataError, OSError) as exc:
        log.error("%s", exc)
        events.emit(protocol.RUN_FAILED, message=str(exc))
        return 1


def _evaluate(ns: argparse.Namespace, events: protocol.EventWriter) -> int:
    t0 = time.time()
    bundle = load_bundle(ns.model)
    table = combine([read_source(d, ns.mapping) for d in ns.data])
    if ns.split != "all":
        table = assign_splits(table, 0.1, 0.1)
        table = table.subset(table.split_rows(ns.split))
        if not len(table):
            raise DataError(f"the data has no {ns.split!r} images")
    out = Path(ns.out or f"evaluation-{Path(ns.model).stem}")
    out.mkdir(parents=True, exist_ok=True)
    targets, ignored = align_targets(table, bundle.labels)
    shared = [lab for lab in bundle.labels if lab in set(table.labels)]
    if not shared:
        raise DataError(
            f"none of the data's labels ({', '.join(table.labels[:5])}...) are labels of the model "
            f"({', '.join(bundle.labels[:5])}...); pass --mapping to translate them"
        )
    events.emit(
        protocol.RUN_STARTED,
        config={"model": str(ns.model), "data": list(ns.data), "split": ns.split},
        dataset=table.summary(),
        labels=list(bundle.labels),
        ignored_labels=ignored,
    )
    scores, ok = score_images(bundle, table.paths, out / "cache", ns.batch_size, events)
    overall, per = metric_tables(targets[ok], scores[ok], bundle)
    write_table(overall, OVERALL_COLUMNS, out / "overall_metrics.csv", "overall")
    write_table(per, PER_CLASS_COLUMNS, out / "per_class_metrics.csv", "per class")
    _write_scores(out, table.paths, bundle.labels, scores, targets, ok)
    failed = int((~ok).sum())
    log.info(
        "evaluated %d images (%d unreadable) in %.0fs -> %s", int(ok.sum()), failed, time.time() - t0, out
    )
    events.emit(
        protocol.RUN_FINISHED,
        metrics={"overall": overall[0], "groups": {r["scope"]: r for r in overall[1:]}},
        out=str(out),
        unreadable=failed,
    )
    return 0


def _write_scores(out: Path, paths: Sequence[str], labels: Sequence[str], scores, targets, ok) -> None:
    """Per-image scores (CSV for people, NPZ for the app to recompute metrics at other thresholds)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "readable", *labels])
    for p, good, row in zip(paths, ok, scores, strict=True):
        w.writerow([p, int(good), *("" if not good else f"{v:.4f}" for v in row)])
    atomic_write_bytes(out / "per_image_scores.csv", buf.getvalue().encode("utf-8"))
    npz = io.BytesIO()
    np.savez_compressed(
        npz,
        paths=np.array(paths, dtype=str),
        labels=np.array(labels, dtype=str),
        scores=scores,
        targets=targets,
        readable=ok,
    )
    atomic_write_bytes(out / "evaluation.npz", npz.getvalue())
