"""One open library: its catalog, item model, scan queue, tagging process and the updates they stream."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.catalog_reader import CatalogReader, ImageColumns
from fashion_desktop.core.library_columns import LibraryColumns
from fashion_desktop.core.tag_process import TagRequest
from fashion_desktop.gui.tag.library_model import LibraryModel, name_ranks
from fashion_desktop.gui.tag.view_jobs import ASYNC_VIEW_PHOTOS
from fashion_desktop.gui.window_words import for_window
from fashion_desktop.gui.worker import ProcessWorker, Worker
from fashion_desktop.model.badge import read_badge
from fashion_desktop.model.bundle_file import read_bundle_file
from fashion_desktop.model.bundle_format import BundleError
from fashion_desktop.model.protocol import ImageError, ModelInfo, Summary, TagScores

log = logging.getLogger(__name__)
REFRESH_MS = 250  # how often a running scan or tagging job is reflected in the grid


@dataclass(frozen=True)
class ScanUpdate:
    """One step of a scan, with the photos it added, read in the worker (the GUI thread only shows them)."""

    progress: object  # core.scan.ScanProgress
    new: ImageColumns | None = None


@dataclass(frozen=True)
class ScanOutcome:
    """The end of a scan: every present photo and its rank in name order, computed in the worker."""

    progress: object
    present: ImageColumns | None = None
    ranks: object = None


def _scan_job(catalog_path: Path, folder: str, after_id: int):
    def job(cancel: threading.Event):
        from fashion_desktop.core.scan import sync_folder

        cat = Catalog(catalog_path)
        reader = CatalogReader(catalog_path)
        last_id = after_id
        try:
            last = None
            # Width, height and content hash come later, in a job of their own: the photos show first.
            for progress in sync_folder(cat, folder, cancel=cancel, describe=False):
                last = progress
                new = reader.images(after_id=last_id)
                if len(new):
                    last_id = int(new.ids.max())
                yield ScanUpdate(progress, new)
            present = reader.images()
            return ScanOutcome(last, present, name_ranks(present.paths))
        finally:
            reader.close()
            cat.close()

    return job


def _describe_job(catalog_path: Path, folders: list[str]):
    def job(cancel: threading.Event):
        from fashion_desktop.core.scan import describe_folder

        cat = Catalog(catalog_path)
        described = 0
        try:
            for folder in folders:
                if cancel.is_set():
                    break
                described += describe_folder(cat, folder, cancel)
                yield described
            return described
        finally:
            cat.close()

    return job


def _load_job(catalog: Catalog, choice: tuple, fallback: tuple, spec):
    """A big library's columns read and scored off the GUI thread: the chosen model's scores when it has
    tagged photos here (else the catalog's latest model's), under the threshold view saved for it, with the
    label counts and the grid's first view computed too. Returns (columns, view, spec, bundle path)."""

    def job(cancel: threading.Event):
        yield  # a generator: the worker runs it off the GUI thread
        columns = LibraryColumns(catalog)
        key, bundle = choice
        if key is None or key != fallback[0] and not columns.reader.scored_count(key):
            key, bundle = fallback
        if key:
            saved = catalog.view_state(key)
            if saved is not None:
                columns.policy = saved
            columns.set_active_model(key, badge=read_badge(bundle, key) if bundle else None)
        if cancel.is_set():
            return None
        columns.reload()
        if cancel.is_set():
            return None
        columns.counts()
        return columns, columns.view(spec), spec, bundle

    return job


def _relink_job(catalog_path: Path, old: str, new: str):
    def job(cancel: threading.Event):
        from fashion_desktop.core.relink import relink_folder

        cat = Catalog(catalog_path)
        try:
            return relink_folder(cat, old, new)
            yield  # a generator: the worker runs it off the GUI thread
        finally:
            cat.close()

    return job


class LibrarySession(QObject):
    """Owns an open catalog and everything that runs against it; widgets only listen to its signals.

    Scans run one folder at a time in a thread worker; tagging runs in a child process. What they
    report is batched and applied to the item model at most every REFRESH_MS (one model update per tick).
    Signals: ``scan_started(folder)``, ``scan_progressed(found)``, ``scan_done(progress | None)``, ``scan_failed(message)``,
    ``scans_idle()``, ``tag_event(event)`` (every event of the tagging process, after the session has
    applied it), ``tag_done(summary | None, seconds)``, ``tag_failed(message)``.
    """

    scan_started = Signal(str)
    scan_progressed = Signal(int)
    scan_done = Signal(object)
    scan_failed = Signal(str)
    scans_idle = Signal()
    tag_event = Signal(object)
    tag_done = Signal(object, float)
    tag_failed = Signal(str)
    relinked = Signal(object)  # core.relink.RelinkReport
    relink_failed = Signal(str)
    loaded = Signal()  # a big library finished loading in the background (``loading`` is False again)

    def __init__(self, catalog: Catalog, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.library = LibraryModel(catalog, self)
        self.scan_worker: Worker | None = None
        self.describe_worker: Worker | None = None
        self.relink_worker: Worker | None = None
        self.tag_worker: ProcessWorker | None = None
        self.active_bundle: str | None = None
        self._tag_started = 0.0
        self._scan_queue: deque[str] = deque()
        self._pending_rows: list[ImageColumns] = []
        self._pending_scores: list[TagScores] = []
        self._pending_errors: list[tuple[str, str]] = []
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self._refresh_from_jobs)
        self.loading = False  # a big library loading in a worker (``loaded`` follows)
        self._load_worker: Worker | None = None
        models = catalog.models()
        if models:
            self.active_bundle = models[-1].path
        self._load_choice = (models[-1].key, models[-1].path) if models else (None, None)
        self._load_fallback = self._load_started_with = self._load_choice
        if self.library.reader.max_image_id() >= ASYNC_VIEW_PHOTOS:
            # Seconds of reading and scoring at a million photos: a worker loads it while the window stays
            # live; it starts after the window's controllers chose the model to show (``show_bundle``).
            self.loading = True
            QTimer.singleShot(0, self._start_load)
            return
        self._load_here()

    def _load_here(self) -> None:
        """Load the library on this thread: the catalog's latest model, with the thresholds the catalog
        recorded for it and its bundle's badge calibration."""
        key, bundle = self._load_fallback
        if key:
            self.library.set_active_model(key, badge=read_badge(bundle, key) if bundle else None)
        self.library.reload()

    @Slot()
    def _start_load(self) -> None:
        if not self.loading or self._load_worker is not None:
            return
        self._load_started_with = self._load_choice
        job = _load_job(self.catalog, self._load_choice, self._load_fallback, self.library.spec)
        self._load_worker = Worker(job, "open", self).wired(lambda _x: None, self._loaded, self._load_failed)
        self._load_worker.start()

    @Slot(object)
    def _loaded(self, result) -> None:
        self._load_worker = None
        if result is None or not self.loading:
            return
        columns, view, spec, bundle = result
        self.loading = False
        if bundle is not None:
            self.active_bundle = bundle
        # (No tagging run wrote scores meanwhile: none starts while a library opens. Reading them again here
        # scanned the whole predictions table on the GUI thread, 0.4 s at a million photos.)
        self.library.adopt(columns, view, spec)
        wanted_key, wanted_bundle = self._load_choice
        if (
            self._load_choice != self._load_started_with
            and wanted_bundle
            and wanted_key != self.library.model_key
        ):
            self.show_bundle(wanted_bundle)  # a model chosen after the load had started
        self._load_ended()

    @Slot(str)
    def _load_failed(self, message: str) -> None:
        self._load_worker = None
        self.loading = False
        log.warning("loading the library in the background failed (%s); loading it here", message)
        self._load_here()
        self._load_ended()

    def _load_ended(self) -> None:
        self.loaded.emit()
        if self._scan_queue and self.scan_worker is None:  # folders added while it loaded
            self._next_scan()

    @property
    def path(self) -> Path:
        return Path(self.catalog.path)

    def folder_count(self) -> int:
        return len(self.catalog.folders())

    # -- folders and scanning -------------------------------------------------------------------
    def add_folder(self, folder: str | os.PathLike) -> str:
        """Add a folder (resolved) to the library and queue its scan; returns the folder as stored."""
        folder = str(Path(folder).resolve())
        self.catalog.add_folder(folder)
        self.queue_scan(folder)
        return folder

    def scanning(self) -> bool:
        """Whether a scan runs or waits."""
        return self.scan_worker is not None or bool(self._scan_queue)

    def remove_folder(self, folder: str) -> int:
        """Take a folder out of the library (decisions kept, see ``Catalog.remove_folder``) and out of
        the grid; returns how many photos left. Not while a scan runs: it would add them back."""
        if self.loading:
            raise RuntimeError("wait until the library has opened before removing a folder")
        if self.scanning():
            raise RuntimeError("wait until the scan finishes before removing a folder")
        removed = self.catalog.remove_folder(folder)
        self.library.reload()
        return removed

    def relink_folder(self, old: str, new: str) -> Worker | None:
        """Point the library's photos of ``old`` (moved, renamed, a drive mounted elsewhere) at ``new``,
        matching them by content, in a background job; ``relinked(report)`` or ``relink_failed(message)``
        follows. None (nothing started) while a scan or another relink runs."""
        if self.scanning() or self.relink_worker is not None or self.loading:
            return None
        worker = Worker(_relink_job(self.path, old, new), "relink", self)
        worker.wired(lambda _x: None, self._relinked, self._relink_failed)
        self.relink_worker = worker
        worker.start()
        return worker

    @Slot(object)
    def _relinked(self, report) -> None:
        self.relink_worker = None
        self.library.reload()
        self.relinked.emit(report)

    @Slot(str)
    def _relink_failed(self, message: str) -> None:
        self.relink_worker = None
        self.relink_failed.emit(message)

    def rescan(self) -> None:
        """Scan every folder of the library again: new, changed and removed files are found."""
        for folder in self.catalog.folders():
            self.queue_scan(folder)

    def queue_scan(self, folder: str) -> None:
        if folder not in self._scan_queue:
            self._scan_queue.append(folder)
        if self.scan_worker is None and not self.loading:  # a loading library scans once it is loaded
            self._next_scan()

    def _next_scan(self) -> None:
        if not self._scan_queue:
            self.scan_worker = None
            self.scans_idle.emit()
            self._describe()
            return
        folder = self._scan_queue.popleft()
        job = _scan_job(self.path, folder, self.library.max_id())
        self.scan_worker = Worker(job, "scan", self).wired(
            self._scan_progressed, self._scan_done, self._scan_failed
        )
        self.scan_worker.start()
        self.scan_started.emit(folder)

    def _describe(self) -> None:
        """Content hashes (for relinking a moved folder) and sizes of new photos, after the scans."""
        if self.describe_worker is not None:
            self.describe_worker.cancel()
        worker = Worker(_describe_job(self.path, self.catalog.folders()), "describe", self)
        worker.wired(
            lambda _n: None, lambda _n: self._describe_ended(worker), lambda _m: self._describe_ended(worker)
        )
        self.describe_worker = worker
        worker.start()

    def _describe_ended(self, worker: Worker) -> None:
        if self.describe_worker is worker:
            self.describe_worker = None

    @Slot(object)
    def _scan_progressed(self, update: ScanUpdate) -> None:
        if update.new is not None and len(update.new):
            self._pending_rows.append(update.new)
        self._schedule_refresh()
        self.scan_progressed.emit(update.progress.found)

    @Slot(object)
    def _scan_done(self, outcome: ScanOutcome | None) -> None:
        self._flush_pending()
        if outcome is not None and outcome.present is not None:
            self.library.sync_finished(outcome.present, outcome.ranks)
        else:
            self.library.sync_finished()
        self.scan_done.emit(outcome.progress if outcome is not None else None)
        self._next_scan()

    @Slot(str)
    def _scan_failed(self, message: str) -> None:
        log.warning("scan stopped: %s", message)
        self.library.sync_finished()
        self.scan_failed.emit(message)
        self._next_scan()

    # -- the model shown ------------------------------------------------------------------------
    def show_bundle(self, bundle_path: str) -> bool | None:
        """Show the scores the bundle at ``bundle_path`` gave this library's photos, at once (no run).

        True: the grid shows its tags (now or already); False: it has not tagged any photo of this library
        (the grid stays as it is); None: the file is not a readable bundle."""
        try:
            key = read_bundle_file(bundle_path).model_id
        except (BundleError, OSError):
            return None
        if self.loading:  # the library is read in a worker: with this model's scores when it has any
            self._load_choice = (key, bundle_path)
            return True
        if key != self.library.model_key:
            if not self.library.reader.scored_count(key):
                return False
            self.library.set_active_model(key, badge=read_badge(bundle_path, key))  # labels_changed follows
        self.active_bundle = bundle_path
        return True

    # -- tagging --------------------------------------------------------------------------------
    def start_tagging(
        self,
        bundle_path: str,
        device: str = "auto",
        batch_size: int = 0,
        force: bool = False,
        fill: bool = False,
    ):
        """Start the tagging process over the whole library; returns its worker (None if one runs).
        ``fill``: also re-tag the photos the model tagged before embeddings were stored."""
        if self.tag_worker is not None:
            return None
        self.active_bundle = bundle_path
        self._tag_started = time.perf_counter()
        # the process reads the library's photos from the catalog itself
        request = TagRequest(
            str(self.path), str(bundle_path), device, int(batch_size or 0), bool(force), bool(fill)
        )
        self.tag_worker = ProcessWorker("tag", request.to_json(), "tagging", self).wired(
            self._tag_progressed, self._tag_done, self._tag_failed
        )
        self.tag_worker.start()
        return self.tag_worker

    @Slot(object)
    def _tag_progressed(self, event) -> None:
        if isinstance(event, ModelInfo):
            m = self.library
            key, labels, groups, defaults = event.key, event.labels, dict(event.groups), event.thresholds
            same = (
                m.model_key == key and m.labels == tuple(labels) and m.groups == groups
                and m.exclusive == event.exclusive and m.at_least_one == event.at_least_one
            )  # fmt: skip
            if not same or not np.allclose(m.defaults, np.asarray(defaults, np.float32)):
                # A re-run of the shown model keeps the scores in memory (no 100,000-row read-back).
                badge = read_badge(self.active_bundle)
                m.set_active_model(
                    key, labels, groups, defaults, event.exclusive, event.at_least_one, badge
                )  # labels_changed: the panel
        elif isinstance(event, ImageError):
            self._pending_errors.append((str(event.path), event.reason))
            self._schedule_refresh()
        elif isinstance(event, TagScores):
            self._pending_scores.append(event)
            self._schedule_refresh()
        self.tag_event.emit(event)

    @Slot(object)
    def _tag_done(self, summary: Summary | None) -> None:
        self.tag_worker = None
        self._flush_pending()  # the run reported every result; no need to read them back
        # From the click, model load included: what the person waited, not the engine's own clock.
        self.tag_done.emit(summary, time.perf_counter() - self._tag_started)

    @Slot(str)
    def _tag_failed(self, message: str) -> None:
        log.warning("tagging stopped: %s", message)
        self.tag_worker = None
        self._flush_pending()
        self.library.refresh_scores()
        self.tag_failed.emit(for_window(message))  # shown in the Tag tab: no command-line options

    def cancel_tagging(self) -> bool:
        """Ask the tagging process to stop after its batch; True if one was running."""
        if self.tag_worker is None:
            return False
        self.tag_worker.cancel()
        return True

    def cancel_jobs(self) -> None:
        self.cancel_tagging()
        self._scan_queue.clear()
        if self.scan_worker is not None:
            self.scan_worker.cancel()

    # -- streamed updates -----------------------------------------------------------------------
    def _schedule_refresh(self) -> None:
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    @Slot()
    def _refresh_from_jobs(self) -> None:
        """Show what running jobs reported since the last tick (throttled: one model update per tick)."""
        self._flush_pending()
        if self.scan_worker is not None or self.tag_worker is not None:
            self._refresh_timer.start()

    def _flush_pending(self) -> None:
        rows, self._pending_rows = self._pending_rows, []
        scores, self._pending_scores = self._pending_scores, []
        errors, self._pending_errors = self._pending_errors, []
        if rows:
            self.library.append_new_images(ImageColumns.concat(rows))
        if scores:
            self.library.apply_scores(
                np.concatenate([t.ids for t in scores]), np.concatenate([t.scores for t in scores])
            )
        if errors:
            self.library.apply_errors(errors)

    # -- closing --------------------------------------------------------------------------------
    def stop_jobs(self) -> None:
        """Stop scanning and tagging, waiting for them; committed batches stay in the catalog."""
        self._scan_queue.clear()
        self.loading = False  # a load under way is dropped (its worker checks between steps)
        for worker in (self.scan_worker, self.describe_worker, self.relink_worker, self._load_worker):
            if worker is not None:
                worker.cancel()
                worker.wait()
        self.describe_worker = None
        self.relink_worker = None
        self._load_worker = None
        if self.tag_worker is not None:
            self.tag_worker.cancel()
            if not self.tag_worker.wait(30_000):
                self.tag_worker.kill()  # stuck past its batch; the batches it committed stay
        self.scan_worker = None
        self.tag_worker = None

    def close(self) -> None:
        """Stop the jobs and close the item model's reader and the catalog."""
        self.stop_jobs()
        self._refresh_timer.stop()
        self.library.view_jobs.close()
        self.library.release()
        self.library.reader.close()
        self.catalog.close()
