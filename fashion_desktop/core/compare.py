"""Models side by side on a library's reviewed photos that a training run did not learn from."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..model.metrics import UNKNOWN, compute_metrics
from ..model.protocol import Comparison, ImageError, Notice, Progress
from ..model.run_folder import LEARNT_FROM, SplitsError, load_splits
from .catalog import connect_read_only
from .compare_verdict import both_models_labels, verdict, verdict_of
from .training_table import TrainingRow, TrainingTableError, training_table

PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True)
class Exclusion:
    """The reviewed photos a comparison leaves out, because a run learnt from them.

    ``splits_file``: a run's splits.json (``model.run_folder.write_splits``: ``{"splits": {name: [path]}}``),
    whose ``splits`` are left out. Without one (older runs): photos under ``folders`` and, when
    ``reviewed_until`` is set, photos reviewed at or before that time (the run read them from the library).
    """

    splits_file: str | None = None
    splits: tuple[str, ...] = LEARNT_FROM
    folders: tuple[str, ...] = ()
    reviewed_until: float | None = None

    @classmethod
    def from_job(cls, job: Mapping[str, Any] | None) -> Exclusion:
        """From a comparison job's ``exclude`` mapping (missing keys: nothing of that kind is left out)."""
        job = job or {}
        until = job.get("reviewed_until")
        return cls(
            str(job["splits_file"]) if job.get("splits_file") else None,
            tuple(str(s) for s in job.get("splits") or LEARNT_FROM),
            tuple(str(f) for f in job.get("folders") or ()),
            float(until) if isinstance(until, (int, float)) and not isinstance(until, bool) else None,
        )


def _key(path: str) -> str:
    return os.path.normcase(os.path.normpath(os.path.abspath(path)))


def _learnt_paths(exclusion: Exclusion) -> set[str]:
    """The paths of the excluded splits of ``exclusion.splits_file``. Raises TrainingTableError when the
    file cannot be read or is not a splits file (the message names it)."""
    if not exclusion.splits_file:
        return set()
    try:
        splits = load_splits(exclusion.splits_file)
    except SplitsError as exc:
        raise TrainingTableError(str(exc)) from None
    return {_key(p) for name in exclusion.splits for p in splits.get(name, [])}


def _reviewed_by(catalog: Path, until: float) -> set[str]:
    try:
        db = connect_read_only(catalog)
        try:
            rows = db.execute(
                "SELECT path FROM images WHERE reviewed_at IS NOT NULL AND reviewed_at <= ?", (until,)
            ).fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise TrainingTableError(f"{catalog}: cannot be read as a Fashion Finder catalog ({exc})") from None
    return {_key(r[0]) for r in rows}


def held_out(catalog: str | os.PathLike, exclusion: Exclusion) -> tuple[list[TrainingRow], int]:
    """(the reviewed, present photos of library ``catalog`` that ``exclusion`` leaves in, how many it
    left out), with their final tags by the one tag rule. Raises TrainingTableError for an unreadable
    catalog or splits file."""
    table = training_table(catalog)
    learnt = _learnt_paths(exclusion)
    if exclusion.reviewed_until is not None:
        learnt |= _reviewed_by(Path(catalog), exclusion.reviewed_until)
    folders = tuple(_key(f) + os.sep for f in exclusion.folders)
    kept = [r for r in table.rows if _key(r.path) not in learnt and not _key(r.path).startswith(folders)]
    return kept, len(table.rows) - len(kept)


def targets_for(rows: Sequence[TrainingRow], labels: Sequence[str]) -> np.ndarray:
    """[N, labels] int8: 1 a final tag, 0 known and not a tag, -1 unknown (the library says nothing)."""
    out = np.full((len(rows), len(labels)), UNKNOWN, np.int8)
    col = {lab: j for j, lab in enumerate(labels)}
    for i, r in enumerate(rows):
        for lab in r.known | r.positives:
            j = col.get(lab)
            if j is not None:
                out[i, j] = 1 if lab in r.positives else 0
    return out


def compare_models(
    catalog: str | os.PathLike,
    models: Sequence[tuple[str, str]],
    exclusion: Exclusion,
    options: Any = None,
    cancel: threading.Event | None = None,
) -> Iterator[Progress | ImageError | Notice | Comparison]:
    """Score the held-out reviewed photos of ``catalog`` with each of ``models`` ((name, bundle path)
    pairs) and measure the tags each gives by the tag rule at its own thresholds against the photos'
    final tags, per label group; of two models, judge whether the second tags better than the first
    (``Comparison.verdict``). Yields Progress, ImageError per photo that cannot be scored, Notice, then
    one Comparison (nothing more when cancelled). Raises TrainingTableError, BundleError, DeviceError or
    EngineError when the comparison as a whole cannot run.
    """
    from ..model.bundle import load_bundle_converting
    from ..model.scoring import ModelRunner, ScoreOptions, score_paths

    cancel = cancel or threading.Event()
    rows, excluded = held_out(catalog, exclusion)
    paths = [r.path for r in rows]
    total = len(paths) * len(models)
    yield Progress(0, total, 0.0, None)
    if not rows:
        empty = tuple({"name": n, "bundle": p, "groups": {}} for n, p in models)
        yield Comparison(0, excluded, 0, empty, verdict(0, {}) if len(models) == 2 else {})
        return
    ok = np.ones(len(paths), bool)
    where = {_key(p): i for i, p in enumerate(paths)}
    scored: list[tuple[Any, np.ndarray]] = []
    done, t0, last = 0, time.perf_counter(), 0.0
    for _name, bundle_path in models:
        notes: list[str] = []
        bundle = load_bundle_converting(bundle_path, notes.append)
        yield from (Notice(n) for n in notes)
        runner = ModelRunner(bundle, options or ScoreOptions())
        scores = np.full((len(paths), len(bundle.labels)), np.nan, np.float32)
        batches = score_paths(paths, runner, threading.Event())  # it sets its stop flag when done
        for batch in batches:
            if cancel.is_set():
                batches.close()
                return
            yield from (Notice(n) for n in batch.notices)
            for failure in batch.failures:
                ok[where[_key(str(failure.path))]] = False
                yield ImageError(failure.path, failure.reason)
            if batch.scores is not None:
                for p, s in zip(batch.paths, batch.scores, strict=True):
                    scores[where[_key(str(p))]] = s
            done += len(batch.paths) + len(batch.failures)
            now = time.perf_counter()
            if now - last >= PROGRESS_EVERY_S:
                last = now
                rate = done / (now - t0) if now > t0 else 0.0
                yield Progress(done, total, rate, (total - done) / rate if rate else None)
        scored.append((bundle, scores))
    ok &= np.all([np.isfinite(s).all(1) for _b, s in scored], axis=0)
    kept = [r for r, good in zip(rows, ok, strict=True) if good]
    out = []
    for (name, path), (bundle, scores) in zip(models, scored, strict=True):
        targets = targets_for(kept, bundle.labels)
        groups = compute_metrics(
            targets,
            scores[ok],
            bundle.thresholds,
            bundle.labels,
            dict(bundle.groups),
            bundle.exclusive_columns(),
            required=bundle.at_least_one_columns(),
        )["groups"]
        out.append({"name": name, "bundle": str(path), "model_id": bundle.model_id, "groups": groups})
    judged: dict[str, Any] = {}
    if len(scored) == 2:  # the run's model against the one in use: who wins, and is it sure
        labels, label_groups = both_models_labels(scored[0][0], scored[1][0])
        judged = verdict_of(targets_for(kept, labels), labels, label_groups, [(b, s[ok]) for b, s in scored])
    elapsed = time.perf_counter() - t0
    yield Progress(total, total, total / elapsed if elapsed > 0 else 0.0, 0.0)
    yield Comparison(len(kept), excluded, int((~ok).sum()), tuple(out), judged)
