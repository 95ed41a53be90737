"""The library's adapter in the window: refits in the background while a person reviews, shows its scores."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal, Slot

from fashion_desktop.core.adapted_file import AdaptedFile
from fashion_desktop.core.adapter import MIN_EXAMPLES, Adapter, AdapterError
from fashion_desktop.core.adapter_library import has_adapter, set_adapter_enabled, stored_adapter
from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.catalog_reader import CatalogReader
from fashion_desktop.core.catalog_records import CatalogError
from fashion_desktop.core.tag_process import child_environment, command
from fashion_desktop.gui.controllers.library import LibraryController
from fashion_desktop.gui.controllers.messages import Messages
from fashion_desktop.gui.tag.tag_panel import TagPanel
from fashion_desktop.gui.tag.thresholds_panel import ThresholdPanel
from fashion_desktop.gui.worker import Worker
from fashion_desktop.model.protocol import TAGGING, Failure, LineDecoder, Notice
from fashion_desktop.model.resources import default_model_header

REFIT_DELAY_MS = 1500  # quiet time after a decision before the adapter learns from it
REFIT_AFTER = 5  # decisions that start a refit at once (a person going fast still sees it follow)
APPLY_ROWS = 5_000  # photos whose adapted scores (or tags) are shown per turn of the event loop (~12 ms)
# Between two blocks: a zero-time timer ran the next block before the window's other timers and paints
APPLY_PAUSE_MS = 5


@dataclass
class _Outcome:
    key: tuple[str, str]
    adapter: Adapter | None
    enabled: bool
    # The photos re-scored (unreviewed, with an embedding), their adapted scores and [n, P] scores of the
    # person's own labels, read a block at a time; None: the model's own scores
    rescored: AdaptedFile | None = None
    problem: str = ""

    def discard(self) -> None:
        if self.rescored is not None:
            _close_later(self.rescored)


def _close_later(rescored: AdaptedFile) -> None:
    """Close and remove the scores file in the thread pool: deleting a million photos' scores (300 MB)
    took up to 96 ms, a stall of the window when the GUI thread did it."""
    QThreadPool.globalInstance().start(rescored.close)


def _job(path: Path, key: tuple[str, str], fit: bool):
    """Fit (or read) the library's adapter and re-score every unreviewed photo in the tagging process's
    ``adapt`` mode: a child process, as tagging is, because the fit's and the re-scoring's Python held the
    interpreter lock the window needs (a thread doing them made the window's own work twice as slow and
    stalled it for 66 ms at 100,000 photos). This thread only waits and then reads the scores file."""

    def job(_cancel):
        tmp = Path(tempfile.mkdtemp(prefix="fashion-adapt-"))  # the outcome's AdaptedFile removes it
        rescored = None
        try:
            out = tmp / "scores.npz"
            request = {"catalog": str(path), "model_key": key[1], "fit": fit, "out": str(out)}
            done = _ask_child(request)
            if bool(done.get("rescored")) and out.is_file():
                rescored = AdaptedFile(tmp)
            with Catalog(path, read_only=True) as catalog:
                try:
                    adapter = stored_adapter(catalog, key[1])
                except AdapterError:
                    adapter = None
        except BaseException:
            if rescored is not None:
                rescored.close()
            raise
        finally:
            if rescored is None:
                shutil.rmtree(tmp, ignore_errors=True)
        problem = str(done.get("problem") or "")
        return _Outcome(key, adapter, bool(done.get("enabled", True)), rescored, problem)
        yield  # a generator: the worker sends what it returns with ``finished``

    return job


def _ask_child(request: dict) -> dict:
    """Run the tagging process in ``adapt`` mode on ``request``; what it reports (raises RuntimeError with the
    child's message when it failed)."""
    program, args = command("adapt")
    done = subprocess.run(
        [program, *args],
        input=(json.dumps(request) + "\n").encode("utf-8"),
        capture_output=True,
        env=child_environment(),
        check=False,
    )
    decoder = LineDecoder(TAGGING)
    events = [*decoder.feed(done.stdout), *decoder.finish()]
    for event in events:
        if isinstance(event, Failure):
            raise RuntimeError(event.message)
        if isinstance(event, Notice):
            return json.loads(event.message)
    tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [
        f"exit status {done.returncode}"
    ]
    raise RuntimeError(tail[0])


def _restore_job(path: Path, key: tuple[str, str]):
    """The model's own scores read back from the catalog, ``APPLY_ROWS`` photos a chunk (the window keeps no
    copy of them while it shows adapted ones); returns ``key``."""

    def job(cancel):
        reader = CatalogReader(path)
        try:
            for ids, mat, _newest in reader.score_chunks(key[1], chunk=APPLY_ROWS):
                if cancel.is_set():
                    break
                yield ids, mat
        finally:
            reader.close()
        return key

    return job


class AdapterController(QObject):
    """Refits the library's adapter a moment after a person's decisions (debounced, in a thread), then shows
    the adapted scores of unreviewed photos a block at a time, so the window never stalls. ``shown`` is
    emitted once a fit's (or a switch's) scores are all in the grid."""

    shown = Signal()

    def __init__(
        self,
        library_ctl: LibraryController,
        panel: TagPanel,
        messages: Messages,
        thresholds: ThresholdPanel | None = None,
    ) -> None:
        super().__init__(messages.window)
        self.library_ctl = library_ctl
        self.panel = panel
        self.thresholds = thresholds
        self.messages = messages
        self.adapter: Adapter | None = None
        self.enabled = True
        self._key: tuple[str, str] | None = None
        self._worker: Worker | None = None
        self._restore: Worker | None = None  # reads the model's own scores back (switched off)
        self._restore_switches = 0
        self._again: bool | None = None  # a job asked for while one runs: None none, True a fit
        self._pending = 0  # decisions since the last fit started
        # the adapter's scores being shown, the next row to show
        self._apply: tuple[AdaptedFile, int] | None = None
        self._retag: int | None = None  # the next slot whose tags new thresholds change, before ``_apply``
        # The switch's turns: a job started before the person switched reports what is no longer wanted
        self._switches = 0
        self._worker_switches = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFIT_DELAY_MS)
        self._timer.timeout.connect(self.refit)
        library_ctl.session_changed.connect(self._new_library)
        panel.adapter_switched.connect(self.set_enabled)

    # -- what the controller listens to ---------------------------------------------------------------
    @Slot(object)
    def _new_library(self, _session) -> None:
        m = self.library_ctl.library
        self._forget()
        if m is not None:
            m.decided.connect(self._decided)
            m.labels_changed.connect(self._model_maybe_changed)
        self._model_maybe_changed()

    def _forget(self) -> None:
        self._timer.stop()
        if self._restore is not None:
            self._restore.cancel()
        self._drop_apply()
        self.adapter, self._key, self._pending = None, None, 0
        self._retag = None

    def _drop_apply(self) -> None:
        if self._apply is not None:
            _close_later(self._apply[0])
            self._apply = None

    def _current_key(self) -> tuple[str, str] | None:
        """(catalog path, model key) of the model the grid shows, once the catalog has it (a tagging run
        shows its model before its first scores are saved: its end starts the adapter then)."""
        catalog, m = self.library_ctl.catalog, self.library_ctl.library
        if catalog is None or m is None or not m.model_key or catalog.model(m.model_key) is None:
            return None
        return str(catalog.path), m.model_key

    @property
    def busy(self) -> bool:
        """A fit is waiting, running, or its scores are still being shown."""
        return (
            self._timer.isActive()
            or self._worker is not None
            or self._apply is not None
            or self._restore is not None
        )

    @Slot()
    def _model_maybe_changed(self) -> None:
        key = self._current_key()
        if key == self._key:
            return
        self._forget()
        self._key = key
        self._show_state()
        self._show_stored()

    def _show_stored(self) -> None:
        """Show the stored adapter's scores (a child process re-scores the photos), if the library has one."""
        catalog = self.library_ctl.catalog
        if self._key is not None and catalog is not None and has_adapter(catalog, self._key[1]):
            self._start(fit=False)

    @Slot()
    def scores_changed(self) -> None:
        """A tagging run wrote scores and embeddings: show the adapter's scores of them."""
        if self._key is None:
            self._model_maybe_changed()
        else:
            self._show_stored()

    @Slot()
    def _decided(self) -> None:
        self._pending += 1
        if self._pending >= REFIT_AFTER and self._worker is None:
            self.refit()
        else:
            self._timer.start()

    # -- fitting and showing ------------------------------------------------------------------------
    @Slot()
    def refit(self) -> None:
        """Learn from every decision now (in the background)."""
        self._timer.stop()
        if self._key is not None:
            self._pending = 0
            self._start(fit=True)

    def _start(self, fit: bool) -> None:
        if self._worker is not None:
            self._again = bool(self._again) or fit
            return
        catalog = self.library_ctl.catalog
        if catalog is None or self._key is None:
            return
        self._show_state(busy=fit)
        self._worker_switches = self._switches
        job = _job(catalog.path, self._key, fit)
        self._worker = Worker(job, "adapter", self).wired(lambda _x: None, self._done, self._failed)
        self._worker.start()

    def _next(self) -> None:
        self._worker = None
        again, self._again = self._again, None
        if again is not None:
            self._start(fit=again)

    def _done(self, out: _Outcome) -> None:
        if out.key != self._key or self._worker_switches != self._switches:
            out.discard()
            self._next()  # another library or model, or switched since: the job queued after it counts
            return
        self.adapter, self.enabled = out.adapter, out.enabled
        if out.problem:
            self.messages.say(out.problem, 10_000)
        if out.rescored is not None:
            showing = self._apply is not None  # a chain of blocks runs already: it goes on with these
            self._drop_apply()
            self._apply = (out.rescored, 0)
            m = self.library_ctl.library
            moved = m is not None and m.set_tuned_thresholds(out.adapter.thresholds, recompute=False)
            self._retag = 0 if moved else self._retag  # a retag half done under these thresholds goes on
            self._show_tuned()
            if not showing:
                QTimer.singleShot(APPLY_PAUSE_MS, self._apply_some)
        else:
            self._restore_model()
        self._next()

    def _failed(self, message: str) -> None:
        self.messages.say(f"The library's adapter could not learn: {message}", 10_000)
        self._show_state()
        self._next()

    @Slot()
    def _apply_some(self) -> None:
        """Show the next block of tags under new thresholds, then of adapted scores; the event loop runs
        between blocks."""
        m, todo = self.library_ctl.library, self._apply
        if m is None or todo is None:
            return
        if self._retag is not None:
            m.recompute_rows(self._retag, self._retag + APPLY_ROWS)
            self._retag += APPLY_ROWS
            if self._retag >= m.image_count():
                self._retag = None
            QTimer.singleShot(APPLY_PAUSE_MS, self._apply_some)
            return
        rescored, start = todo
        stop = min(start + APPLY_ROWS, len(rescored))
        try:
            ids, scores, person = rescored.block(start, stop)
        except (OSError, ValueError) as exc:
            self._drop_apply()
            self.messages.say(f"The adapter's scores could not be read: {exc}", 10_000)
            self._show_state()
            return
        a = self.adapter
        own = (a.person_labels, person, a.person_thresholds) if a is not None else ()
        m.apply_adapted(ids, scores, own)
        if stop < len(rescored):
            self._apply = (rescored, stop)
            QTimer.singleShot(APPLY_PAUSE_MS, self._apply_some)
            return
        self._drop_apply()
        m.counts_changed.emit()
        self._show_state()
        self.shown.emit()

    @Slot(bool)
    def set_enabled(self, on: bool) -> None:
        """The person's switch: off shows the model's own scores at once; on shows the adapter's again."""
        catalog, key = self.library_ctl.catalog, self._key
        if catalog is None or key is None:
            return
        try:
            set_adapter_enabled(catalog, key[1], on)
        except CatalogError as exc:
            self.messages.warn(str(exc))
        self.enabled = on
        self._switches += 1
        if on:
            self._start(fit=False)
            return
        self._restore_model()

    def _restore_model(self) -> None:
        """The model's own scores and thresholds everywhere: suggestions and tuned thresholds go at once, the
        adapted photos' scores as a worker reads them back from the catalog (``shown`` once all are)."""
        self._drop_apply()
        self._retag = None
        m, catalog = self.library_ctl.library, self.library_ctl.catalog
        if m is not None:
            m.drop_suggestions()
        self._show_thresholds(None)
        self._show_state()
        if self._restore is not None:
            self._restore.cancel()
            self._restore = None
        if m is None or catalog is None or self._key is None or not m.columns.adapted_any():
            self.shown.emit()
            return
        self._restore_switches = self._switches
        job = _restore_job(catalog.path, self._key)
        worker = Worker(job, "adapter-restore", self)
        self._restore = worker.wired(
            lambda chunk: self._restore_some(worker, chunk),
            lambda key: self._restored(worker, key),
            lambda message: self._restore_failed(worker, message),
        )
        worker.start()

    def _restore_some(self, worker: Worker, chunk: tuple[np.ndarray, np.ndarray]) -> None:
        m = self.library_ctl.library
        if worker is self._restore and self._restore_switches == self._switches and m is not None:
            m.restore_model_scores(*chunk)

    def _restored(self, worker: Worker, key: tuple[str, str] | None) -> None:
        if worker is not self._restore:
            return  # cancelled: switched again, or another library or model
        self._restore = None
        m = self.library_ctl.library
        if m is not None and key == self._key and self._restore_switches == self._switches:
            m.counts_changed.emit()
            self._show_state()
            self.shown.emit()

    def _restore_failed(self, worker: Worker, message: str) -> None:
        if worker is self._restore:
            self._restore = None
            self.messages.say(
                f"The model's own scores could not be read back from the library: {message}", 10_000
            )

    def _show_thresholds(self, adapter: Adapter | None) -> None:
        m = self.library_ctl.library
        if m is None:
            return
        m.set_tuned_thresholds(adapter.thresholds if adapter is not None else None)
        self._show_tuned()

    def _show_tuned(self) -> None:
        """The threshold view marks the thresholds the adapter tuned."""
        m = self.library_ctl.library
        if m is not None and self.thresholds is not None:
            self.thresholds.set_tuned(m.columns.tuned_labels())

    def model_name(self) -> str:
        """The grid's model as the Model box names it: "Default model" for the shipped one."""
        catalog, key = self.library_ctl.catalog, self._key
        rec = catalog.model(key[1]) if catalog is not None and key is not None else None
        if rec is None:
            return "The model"
        default = default_model_header()
        if default is not None and rec.key == default[0]:
            return "Default model"
        return rec.name or "The model"

    def state_text(self, busy: bool = False) -> str:
        """What the Model box says of the adapter."""
        a = self.adapter
        if not self.enabled:
            text = "Off: the model's own scores"
        elif a is None or a.reviewed < MIN_EXAMPLES:
            text = f"Learns from your reviews once you have reviewed {MIN_EXAMPLES} photos"
        elif a.useful:
            n = a.reviewed
            groups = ", ".join(c.group or "other" for c in a.used)
            text = f"{self.model_name()} · adapted to {n:,} reviewed photo{'s' if n != 1 else ''} ({groups})"
        else:
            text = (
                f"Not adapted: learning from your {a.reviewed:,} reviewed photos did not beat the model "
                "on reviewed photos it had not learnt from, so the model's scores stay"
            )
        return text + (" · learning…" if busy else "")

    def details(self) -> str:
        """The tooltip: each group's cross-validated figures, model vs adapted."""
        a = self.adapter
        if a is None:
            return "Nothing learnt yet: review photos (correct their tags, then mark them reviewed)"
        lines = [c.summary() for c in a.corrections if c.examples]
        head = "Checked on reviewed photos each fit did not learn from (5-fold cross-validation):"
        return "\n".join([head, *lines]) if lines else head

    def _show_state(self, busy: bool = False) -> None:
        self.panel.show_adapter(self.state_text(busy), self.enabled, self._key is not None)
        self.panel.adapter_label.setToolTip(self.details())

    def stop(self) -> None:
        """Wait for a running fit (the window is closing)."""
        self._timer.stop()
        if self._worker is not None:
            self._worker.wait(30_000)
        if self._restore is not None:
            self._restore.cancel()
            self._restore.wait(30_000)
        self._drop_apply()
