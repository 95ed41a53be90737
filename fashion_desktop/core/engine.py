"""Tagging engine: a Qt-free generator of events over the model layer's one scoring path."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path

from ..model.bundle import Bundle
from ..model.problems import PathProblem
from ..model.protocol import BatchResult, ImageError, ImageResult, Notice, Progress, Summary
from ..model.scoring import EngineError, ModelRunner, ScoreOptions, as_runner, score_paths
from .catalog import Catalog, CatalogError, CatalogWriteError, write_reason
from .embeddings import encode
from .scan import CancelFlag, is_cancelled

__all__ = ["EngineError", "Event", "ModelRunner", "ScoreOptions", "tag_images", "tag_into_catalog"]

Event = Progress | BatchResult | ImageError | Notice | Summary


def tag_images(
    paths: Iterable[str | os.PathLike],
    bundle: Bundle | ModelRunner | str | os.PathLike,
    options: ScoreOptions | None = None,
    cancel: CancelFlag = None,
    skip: Collection[str] | Callable[[Path], bool] | None = None,
) -> Iterator[Event]:
    """Score photos with a model bundle.

    Takes paths, a Bundle (or a bundle file, or a ready ModelRunner to reuse a loaded model), options,
    an optional cancel flag (callable or threading.Event, checked between batches) and ``skip``
    (paths as strings, or a predicate) to leave out. Yields BatchResult per model batch, ImageError
    per photo that cannot be used (the run goes on), Notice for recoverable trouble, and Progress
    (rate-limited, and always once at the end). Raises DeviceError/BundleError before any work and
    EngineError when even a single image does not fit in memory.
    """
    options = options or ScoreOptions()
    runner = as_runner(bundle, options)
    # Strings, not Path objects: 100,000 Paths are GC-tracked and every full collection of the run
    # would walk them holding the GIL (a desktop app's GUI thread then stalls).
    todo = [str(p) for p in paths]
    if skip is not None:
        if callable(skip):
            todo = [p for p in todo if not skip(Path(p))]
        else:
            skipped = frozenset(map(str, skip))
            todo = [p for p in todo if p not in skipped]
    total = len(todo)
    start = time.perf_counter()
    done = 0
    yield Progress(0, total, 0.0, None)
    if not todo:
        return
    stop = threading.Event()
    last_report = start
    scored = score_paths(todo, runner, stop)
    try:
        while not is_cancelled(cancel):
            batch = next(scored, None)
            if batch is None:
                break
            for failure in batch.failures:
                yield ImageError(failure.path, failure.reason)
            for notice in batch.notices:
                yield Notice(notice)
            if batch.scores is not None:
                yield BatchResult(
                    tuple(ImageResult(p, s) for p, s in zip(batch.paths, batch.scores, strict=True)),
                    batch.features,
                )
            done += len(batch.paths) + len(batch.failures)
            now = time.perf_counter()
            if now - last_report >= options.progress_interval_s and done < total:
                last_report = now
                yield _progress(done, total, now - start)
    finally:
        stop.set()
        scored.close()
    yield _progress(done, total, time.perf_counter() - start)


def _progress(done: int, total: int, elapsed: float) -> Progress:
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = (total - done) / rate if rate > 0 else None
    return Progress(done, total, rate, eta)


def tag_into_catalog(
    catalog: Catalog,
    paths: Iterable[str | os.PathLike],
    bundle: Bundle | ModelRunner | str | os.PathLike,
    options: ScoreOptions | None = None,
    cancel: CancelFlag = None,
    force: bool = False,
    fill_embeddings: bool = False,
) -> Iterator[Event]:
    """Score photos and store the scores in ``catalog``, resuming where an earlier run stopped.

    Registers the model (key = ``bundle.model_id``), skips photos that already have its predictions
    unless ``force``, commits scores batch by batch (a crash loses at most one batch), each photo's compact
    embedding (``core.embeddings``) with its scores, and records each failed photo's reason.
    ``fill_embeddings`` also re-scores the photos that have scores but no embedding (tagged before
    embeddings were stored; ``Catalog.without_embeddings`` counts them). Yields tag_images' events, then one Summary. Raises as tag_images does, and
    CatalogWriteError when the catalog cannot be written (disk full ...): what was stored stays stored.
    """
    t0 = time.perf_counter()
    options = options or ScoreOptions()
    runner = as_runner(bundle, options)
    b = runner.bundle
    key = b.model_id
    tagged = 0
    try:
        catalog.register_model(
            key, b.labels, b.name, str(b.path) if b.path else None, dict(b.groups), thresholds=b.thresholds,
            exclusive=b.exclusive_groups, at_least_one=b.at_least_one_groups,
        )  # fmt: skip
        ordered = list(dict.fromkeys(os.path.normpath(os.fspath(p)) for p in paths))
        ids = catalog.ensure_images(ordered)
        if force:
            already: set[str] = set()
        else:
            already = catalog.embedded_paths(key) if fill_embeddings else catalog.predicted_paths(key)
    except sqlite3.OperationalError as exc:
        raise _write_failure(catalog, exc, tagged) from None
    todo = [p for p in ordered if p not in already]
    failed: list[PathProblem] = []
    errors: list[tuple[int, str]] = []

    def flush_errors() -> None:
        if errors:
            catalog.set_errors(errors)
            errors.clear()

    write_failed = False
    try:
        for event in tag_images(todo, runner, options, cancel):
            if isinstance(event, BatchResult):
                vectors = encode(event.features, key) if event.features is not None else None
                catalog.add_predictions(key, [(ids[str(r.path)], r.scores) for r in event.results], vectors)
                tagged += len(event.results)
                flush_errors()
            elif isinstance(event, ImageError):
                failed.append(PathProblem(event.path, event.reason))
                errors.append((ids[str(event.path)], event.reason))
            yield event
    except (sqlite3.OperationalError, CatalogWriteError) as exc:
        write_failed = True
        raise _write_failure(catalog, exc, tagged) from None
    finally:
        # Also when cancelled or interrupted: the reasons of photos that failed are kept too.
        if not write_failed:
            try:
                flush_errors()
            except sqlite3.OperationalError as exc:
                raise _write_failure(catalog, exc, tagged) from None
    yield Summary(
        tagged=tagged,
        skipped=len(ordered) - len(todo),
        failed=failed,
        cancelled=tagged + len(failed) < len(todo),
        seconds=time.perf_counter() - t0,
    )


def _write_failure(catalog: Catalog, exc: Exception, tagged: int) -> CatalogError:
    """The catalog could not be written: a message naming it, the reason, and that earlier work is kept."""
    reason = exc.reason if isinstance(exc, CatalogWriteError) else write_reason(exc)  # type: ignore[arg-type]
    kept = (
        f"the {tagged} photos tagged so far are kept" if tagged else "no photo was tagged; nothing was lost"
    )
    return CatalogWriteError(f"{catalog.path}: {reason}; {kept}", reason)
