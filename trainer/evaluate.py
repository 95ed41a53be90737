"""``fashion evaluate MODEL DATA``: score a bundle on labelled data; overall/per-class tables and per-image scores."""

from __future__ import annotations

import argparse
import errno
import io
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fashion_desktop.model import exit_codes
from fashion_desktop.model.bundle import Bundle, BundleError, load_bundle_converting
from fashion_desktop.model.devices import DeviceError
from fashion_desktop.model.fileio import WriteError, atomic_write_bytes
from fashion_desktop.model.metrics import compute_metrics
from fashion_desktop.model.protocol import RUN_FAILED, RUN_FINISHED, RUN_STARTED, EventWriter
from fashion_desktop.model.resources import model_file
from fashion_desktop.model.scoring import EngineError, ModelRunner, ScoreOptions, score_paths
from fashion_desktop.model.spreadsheet import ExportError, write_csv, write_xlsx

from .data import UNK, DataError, LabelTable, assign_splits, combine, read_source
from .report import event_output

log = logging.getLogger("trainer")

OVERALL_COLUMNS = (
    "scope", "images", "f1_micro", "f1_macro", "f1_samples", "exact_match",
    "precision_micro", "recall_micro", "map", "top1_accuracy", "balanced_accuracy", "labels_with_support",
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
    widths, autofilter, 3-decimal numbers), formulas neutralised as in the app's exports. Returns the xlsx
    path. Raises WriteError (an OSError) naming the file when it cannot be written."""
    df = pd.DataFrame([[_cell(r.get(k)) for k in columns] for r in rows], columns=list(columns))
    xlsx = csv_path.with_suffix(".xlsx")
    with _as_write_error():
        write_csv(df, csv_path, bom=False)
        write_xlsx(df, xlsx, sheet_name=sheet, float_format="0.000")
    return xlsx


@contextmanager
def _as_write_error() -> Iterator[None]:
    """The table writer's ExportError as the WriteError (an OSError) the run's failure handling expects."""
    try:
        yield
    except ExportError as exc:
        raise WriteError(errno.EIO, str(exc)) from exc


def _cell(v: Any) -> Any:
    if isinstance(v, float) and not np.isfinite(v):
        return ""
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return "" if v is None else v


def metric_tables(
    targets: np.ndarray, scores: np.ndarray, bundle: Bundle
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(overall rows: all labels then one per group, per-class rows) of the tags ``fashion tag`` gives at
    the bundle's thresholds (the tag rule: an exclusive group tags its top value only, an at-least-one group
    gives every scored photo a value)."""
    labels, th = list(bundle.labels), np.asarray(bundle.thresholds)
    m = compute_metrics(
        targets,
        scores,
        th,
        labels,
        dict(bundle.groups),
        bundle.exclusive_columns(),
        required=bundle.at_least_one_columns(),
    )
    overall = [{"scope": "all labels", **m["overall"]}]
    overall += [{"scope": group, **values} for group, values in m["groups"].items()]
    per = [{**row, "group": bundle.groups.get(row["label"], "")} for row in m["per_label"]]
    return overall, per


def score_images(
    bundle: Bundle,
    paths: Sequence[str],
    options: ScoreOptions | None = None,
    events: EventWriter | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities [N, L] for ``paths`` (NaN rows for photos that cannot be read) and a mask of the
    readable ones, scored on the model layer's one scoring path, exactly as ``fashion tag`` scores."""
    runner = ModelRunner(bundle, options or ScoreOptions())
    where: dict[str, list[int]] = {}
    for i, p in enumerate(paths):
        where.setdefault(str(Path(p)), []).append(i)
    scores = np.full((len(paths), len(bundle.labels)), np.nan, dtype=np.float32)
    ok = np.zeros(len(paths), dtype=bool)
    done = 0
    for batch in score_paths(list(where), runner):
        for notice in batch.notices:
            log.warning("%s", notice)
        for failure in batch.failures:
            log.warning("%s: %s", failure.path, failure.reason)
        if batch.scores is not None:
            for p, row in zip(batch.paths, batch.scores, strict=True):
                idx = where[str(p)]
                scores[idx] = row
                ok[idx] = True
        done += len(batch.paths) + len(batch.failures)
        if events is not None:
            events.progress(phase="evaluate", step=done, steps=len(where))
    return scores, ok


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fashion evaluate",
        description="Metrics of a model bundle on labelled data: tables in --out and a per-group summary "
        "(JSON events on stdout instead with --events).",
        epilog=exit_codes.TABLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", help="model bundle (.fmodel), or 'default' (the model shipped with the app)")
    p.add_argument(
        "data", nargs="+", help="image folder, spreadsheet, COCO json or catalog (several allowed)"
    )
    p.add_argument("--mapping", help="label mapping file for the data")
    p.add_argument("--out", help="folder for the tables (default: evaluation-<model name> here)")
    p.add_argument(
        "--split", default="all", choices=("all", "train", "val", "test"), help="which split to score"
    )
    p.add_argument("--batch-size", type=int, default=None, help="photos per batch (default as fashion tag)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    p.add_argument(
        "--tta-flip",
        default="bundle",
        choices=("bundle", "on", "off"),
        help="average each photo's scores with its mirror image's as the bundle says, or on or off for "
        "this evaluation (what flip averaging pays for its doubled scoring time)",
    )
    p.add_argument("--events", action="store_true", help="JSON events on stdout, one per line (for the app)")
    return p


def evaluate_cli(argv: Sequence[str] | None = None) -> int:
    """Run ``fashion evaluate``; returns 0 on success, 1 on failure (with a ``run_failed`` event).

    Shows a progress bar and a per-group summary, or writes JSON events on stdout with ``--events``.
    """
    ns = _parser().parse_args(argv)
    with event_output(ns.events) as events:
        try:
            return _evaluate(ns, events)
        except (BundleError, DataError, DeviceError, EngineError, OSError) as exc:
            log.error("%s", exc)
            events.emit(RUN_FAILED, message=str(exc))
            return 1


def _evaluate(ns: argparse.Namespace, events: EventWriter) -> int:
    t0 = time.time()
    path = model_file(ns.model)
    if path is None:
        raise BundleError("no default model is bundled with this build yet; pass a model bundle file")
    bundle = load_bundle_converting(path, log.warning)
    if ns.tta_flip != "bundle":
        bundle = replace(bundle, tta_flip=ns.tta_flip == "on")
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
        RUN_STARTED,
        config={
            "model": str(ns.model),
            "data": list(ns.data),
            "split": ns.split,
            "tta_flip": bundle.tta_flip,
        },
        dataset=table.summary(),
        labels=list(bundle.labels),
        ignored_labels=ignored,
    )
    options = ScoreOptions(device=ns.device, batch_size=ns.batch_size, precision=ns.precision)
    scores, ok = score_images(bundle, table.paths, options, events)
    overall, per = metric_tables(targets[ok], scores[ok], bundle)
    write_table(overall, OVERALL_COLUMNS, out / "overall_metrics.csv", "overall")
    write_table(per, PER_CLASS_COLUMNS, out / "per_class_metrics.csv", "per class")
    _write_scores(out, table.paths, bundle.labels, scores, targets, ok)
    failed = int((~ok).sum())
    log.info(
        "evaluated %d images (%d unreadable) in %.0fs -> %s", int(ok.sum()), failed, time.time() - t0, out
    )
    events.emit(
        RUN_FINISHED,
        metrics={"overall": overall[0], "groups": {r["scope"]: r for r in overall[1:]}},
        out=str(out),
        unreadable=failed,
    )
    return 0


def _write_scores(out: Path, paths: Sequence[str], labels: Sequence[str], scores, targets, ok) -> None:
    """Per-image scores (CSV for people, NPZ for the app to recompute metrics at other thresholds)."""
    cells = [
        [p, int(good), *("" if not good else f"{v:.4f}" for v in row)]
        for p, good, row in zip(paths, ok, scores, strict=True)
    ]
    with _as_write_error():
        write_csv(
            pd.DataFrame(cells, columns=["path", "readable", *labels]),
            out / "per_image_scores.csv",
            bom=False,
        )
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
