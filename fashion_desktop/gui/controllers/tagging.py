"""Tagging runs: start, cancel, queue behind training, their events; the recent bundles; *Use this model*."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from fashion_desktop.core.catalog import CatalogError
from fashion_desktop.gui import settings
from fashion_desktop.gui.controllers.library import LibraryController
from fashion_desktop.gui.controllers.messages import Messages
from fashion_desktop.gui.job_queue import JobQueue
from fashion_desktop.gui.library_session import LibrarySession
from fashion_desktop.gui.tag.tag_panel import TagPanel
from fashion_desktop.model.protocol import Devices, ImageError, ModelInfo, Notice, Progress, Summary
from fashion_desktop.model.resources import default_model_path


class TaggingController(QObject):
    """Runs the Tag tab's tagging through the job queue and reports back to its panel.

    Signals: ``finished(summary | None)`` after a run, ``counts_changed`` when the photos' tags changed,
    ``bundles_listed(paths)`` (the Models tab's list), ``bundle_added(path)``, ``model_used(path, photos)``
    (the Train tab's offer to re-tag) and ``tag_tab_wanted``.
    """

    finished = Signal(object)
    counts_changed = Signal()
    bundles_listed = Signal(list)
    bundle_added = Signal(str)
    model_used = Signal(str, int)
    tag_tab_wanted = Signal()

    def __init__(self, library_ctl: LibraryController, panel: TagPanel, jobs: JobQueue, messages: Messages):
        super().__init__(messages.window)
        self.library_ctl = library_ctl
        self.panel = panel
        self.jobs = jobs
        self.messages = messages
        jobs.add_kind("tagging", "Tagging", lambda: self.worker is not None, self._progress)
        jobs.started_waiting.connect(self._waiting_job_started)
        panel.run_requested.connect(self.start_tagging)
        panel.cancel_requested.connect(self.cancel_tagging)
        panel.resume_requested.connect(panel.request_run)
        panel.retag_default_requested.connect(self.retag_with_default)
        panel.fill_embeddings_requested.connect(self.fill_embeddings)
        # The Model box's choice shows in the grid at once (its stored scores), not only after a run.
        panel.model_combo.currentIndexChanged.connect(self.show_chosen_model)
        library_ctl.leaving.connect(self._library_leaving)
        library_ctl.session_changed.connect(self._watch)

    @property
    def session(self) -> LibrarySession | None:
        return self.library_ctl.session

    @property
    def worker(self):
        return self.session.tag_worker if self.session is not None else None

    def running_job(self) -> str:
        """What quitting would stop ("Tagging is running (242 of 300 done)"), or ""."""
        return f"Tagging is running ({self.panel.progress_text()})" if self.worker is not None else ""

    def _progress(self) -> str:
        last = self.panel.last_progress
        return f"{last[0]:,}/{last[1]:,}" if last else "starting"

    @Slot(str)
    def _waiting_job_started(self, kind: str) -> None:
        if kind == "tagging" and self.worker is not None:
            self.panel.say("Loading the model…")

    @Slot()
    def _library_leaving(self) -> None:
        if self.jobs.withdraw("tagging"):  # it was for the library being left
            self.panel.show_finished("Not started: another library was opened")

    @Slot(object)
    def _watch(self, session: LibrarySession) -> None:
        session.tag_event.connect(self._tag_progressed)
        session.tag_done.connect(self._tag_done)
        session.tag_failed.connect(self._tag_failed)
        self.jobs.update()  # the old library's tagging ended with it: a waiting job may start
        self.refresh_bundles()

    # -- runs -------------------------------------------------------------------------------------
    @Slot(str, str, int, bool)
    def start_tagging(
        self,
        bundle_path: str,
        device: str = "auto",
        batch_size: int = 0,
        force: bool = False,
        fill: bool = False,
    ) -> None:
        """Tag every photo of the library with the bundle (skipping those it already tagged unless ``force``;
        ``fill``: not those tagged before embeddings were stored)."""
        session = self.session
        if session is None or session.tag_worker is not None:
            return
        if session.loading:
            self.messages.say("The library is still opening: tag its photos once they are shown", 5000)
            return
        if not session.library.image_count():
            self.messages.say("No photos to tag: add a folder first", 5000)
            return
        settings.push_recent(settings.RECENT_BUNDLES, bundle_path)
        settings.set_value(settings.DEVICE, device)
        settings.set_value(settings.BATCH_SIZE, batch_size)
        if "tagging" in self.jobs.waiting():
            return
        self.panel.set_running(True)

        def start() -> None:
            if self.session is session and session.tag_worker is None:
                session.start_tagging(bundle_path, device, batch_size, force, fill)

        if not self.jobs.submit("tagging", start):
            waits = " and ".join(self.jobs.blocked_by("tagging")).lower()
            self.panel.say(f"Waiting for {waits} to finish (Run now anyway: status bar)…")

    @Slot(object)
    def _tag_progressed(self, event) -> None:
        if isinstance(event, ModelInfo):
            self.panel.say("Tagging…")
        elif isinstance(event, Devices):
            self.panel.set_devices(event)
        elif isinstance(event, Progress):
            self.panel.show_progress(event.done, event.total, event.img_per_s, event.eta_s)
        elif isinstance(event, ImageError):
            self.panel.add_failures([(str(event.path), event.reason)])
        elif isinstance(event, Notice):
            self.messages.say(event.message)

    @Slot(object, float)
    def _tag_done(self, summary, seconds: float) -> None:
        if isinstance(summary, Summary):
            what = "Cancelled" if summary.cancelled else "Done"
            text = f"{what}: {summary.tagged:,} tagged, {summary.skipped:,} already tagged, {len(summary.failed)} failed"
            text += f" in {seconds:.1f}s"
        else:
            text = "Cancelled"
        self.panel.show_finished(text)
        self.messages.say(text)
        self.counts_changed.emit()
        self.refresh_bundles()
        self.jobs.update()
        self.finished.emit(summary)

    @Slot(str)
    def _tag_failed(self, message: str) -> None:
        self.panel.show_finished(f"Tagging stopped: {message}")
        self.messages.warn(f"Tagging stopped: {message}\nEverything tagged so far is kept.")
        self.jobs.update()
        self.finished.emit(None)

    @Slot()
    def cancel_tagging(self) -> None:
        if self.jobs.withdraw("tagging"):
            self.panel.show_finished("Not started: cancelled while it waited")
        elif self.session is not None and self.session.cancel_tagging():
            self.panel.say("Cancelling… (what is done is kept)")

    @Slot()
    def cancel_jobs(self) -> None:
        self.cancel_tagging()
        if self.session is not None:
            self.session.cancel_jobs()

    # -- models -----------------------------------------------------------------------------------
    def refresh_bundles(self) -> None:
        """The recent bundles on the Tag tab and the Models tab; the library's own model is chosen first."""
        bundles = [p for p in settings.recent(settings.RECENT_BUNDLES) if Path(p).is_file()]
        default = default_model_path()
        active = self.session.active_bundle if self.session is not None else None
        # The default model is chosen only when no other was: this library's model, else the last used.
        self.panel.set_bundles(
            bundles, str(default) if default else None, active if active and Path(active).is_file() else None
        )
        self.bundles_listed.emit(([str(default)] if default else []) + bundles)
        self.show_chosen_model()  # the choice may have stayed while the library changed

    @Slot()
    def show_chosen_model(self, *_args) -> None:
        """The grid shows the tags of the model chosen in the Model box where it has tagged this library's
        photos (from the catalog, no run); else the panel says it has not, and the grid keeps its tags."""
        session, path = self.session, self.panel.current_bundle()
        if session is None or session.tag_worker is not None or "tagging" in self.jobs.waiting():
            return  # a run (or one waiting its turn) shows its own model
        shown = session.show_bundle(path) if path else None
        if shown is not False or not session.library.image_count():
            self.panel.show_chosen_untagged(None)
            return
        key = session.library.model_key
        rec = session.catalog.model(key) if key else None
        self.panel.show_chosen_untagged((rec.name or rec.key) if rec is not None else "")

    @Slot(list)
    def bundles_changed(self, paths: list) -> None:
        """Bundles added or removed on the Models tab become the recent bundles of the Tag tab."""
        default = default_model_path()
        settings.set_value(
            settings.RECENT_BUNDLES, [str(p) for p in paths if not default or str(p) != str(default)]
        )
        bundles = [p for p in settings.recent(settings.RECENT_BUNDLES) if Path(p).is_file()]
        self.panel.set_bundles(bundles, str(default) if default else None)

    @Slot(str)
    def use_trained_model(self, bundle_path: str) -> bool:
        """Register ``bundle_path`` in the library, list it on the Models tab (with its metrics) and make
        it the Tag tab's model; the Train tab then offers to tag the library with it. False (with a
        message naming the file) when the bundle cannot be read or the library refuses it."""
        from fashion_desktop.model.bundle_file import read_bundle_file
        from fashion_desktop.model.bundle_format import BundleError

        catalog = self.library_ctl.catalog
        if catalog is None:
            return False
        try:
            bundle = read_bundle_file(bundle_path)
            d = bundle.description
            name = str(d.provenance.get("name") or Path(bundle_path).parent.name)
            # With its group rules: registered without them, the library's tag rule let a photo keep
            # several colours of a one-value model.
            catalog.register_model(
                bundle.model_id,
                d.labels,
                name,
                str(bundle_path),
                dict(d.groups),
                thresholds=d.thresholds,
                exclusive=d.exclusive_groups,
                at_least_one=d.at_least_one_groups,
            )
        except (BundleError, OSError, CatalogError) as exc:
            self.messages.warn(f"{bundle_path}: cannot be used: {exc}")
            return False
        settings.push_recent(settings.RECENT_BUNDLES, str(bundle_path))
        self.bundle_added.emit(str(bundle_path))
        self.panel.select_bundle(str(bundle_path))
        photos = self.session.library.image_count() if self.session is not None else 0
        self.model_used.emit(str(bundle_path), photos)
        self.messages.say(f"{name} is now the Tag tab's model")
        return True

    @Slot(str)
    def retag_library(self, bundle_path: str) -> None:
        """Tag the library with ``bundle_path`` (the Tag tab shows the run)."""
        self.show_model(bundle_path)
        self.start_tagging(bundle_path, self.panel.device(), self.panel.batch_spin.value(), False)

    @Slot()
    def retag_with_default(self) -> None:
        """Tag the library with the default model this version ships (the default-changed notice)."""
        default = default_model_path()
        if default is not None:
            self.retag_library(str(default))

    @Slot()
    def fill_embeddings(self) -> None:
        """Re-tag the photos the grid's model tagged before embeddings were stored (the Tag panel's notice)."""
        session = self.session
        key = session.library.model_key if session is not None else None
        rec = session.catalog.model(key) if session is not None and key else None
        paths = [p for p in (session and session.active_bundle, rec and rec.path) if p and Path(p).is_file()]
        if not paths:
            self.messages.warn(
                "The model file that tagged these photos cannot be found: choose it in the Model box"
            )
            return
        self.panel.select_bundle(paths[0])
        self.start_tagging(paths[0], self.panel.device(), self.panel.batch_spin.value(), False, True)

    @Slot(str)
    def show_model(self, bundle_path: str) -> None:
        """A model chosen on another tab becomes the Tag tab's, and the Tag tab comes to the front."""
        self.panel.select_bundle(bundle_path)
        self.tag_tab_wanted.emit()
