"""The Tag tab's threshold view: saved per library and model, applied to the grid; filters, counts, first launch."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QLabel

from fashion_desktop.core.catalog import CatalogError
from fashion_desktop.core.catalog_reader import CatalogReader
from fashion_desktop.core.thresholds import ThresholdPolicy
from fashion_desktop.gui import settings
from fashion_desktop.gui.controllers.library import LibraryController
from fashion_desktop.gui.controllers.messages import Messages
from fashion_desktop.gui.library_session import LibrarySession
from fashion_desktop.gui.tag.first_launch import NO_PHOTOS_TIP
from fashion_desktop.gui.tag.library_model import LibraryModel
from fashion_desktop.gui.tag.tag_page import TagPage
from fashion_desktop.gui.tag.view_jobs import ASYNC_VIEW_PHOTOS
from fashion_desktop.gui.worker import Worker
from fashion_desktop.model.resources import default_model_header, earlier_default

OPENING_TEXT = "The library is still opening…"


class ThresholdViewState(QObject):
    """Keeps the threshold panel, the filters and the counts in step with the open library.

    The threshold view is saved in the catalog, per model, a moment after it stops changing (a slider
    drag emits many policies); leaving the library or quitting saves at once. Signals: ``policy_applied``
    (the Models tab shows the same view), ``photos_available(bool)`` (actions that need photos).
    """

    policy_applied = Signal(object)
    photos_available = Signal(bool)

    def __init__(self, library_ctl: LibraryController, page: TagPage, messages: Messages, status: QLabel):
        super().__init__(messages.window)
        self.library_ctl = library_ctl
        self.page = page
        self.panel = page.thresholds
        self.messages = messages
        self.status_label = status
        self._panel_model: tuple | None = None
        self._view_state_for: tuple[str, str] | None = None  # (catalog path, model key) the panel shows
        self._missing: tuple[tuple[str, str], int] | None = None  # photos without an embedding, per model
        self._missing_shown = 0  # shown while a big library's count is under way
        self._counting: Worker | None = None
        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(300)
        self._counts_timer.timeout.connect(self.update_counts)
        # Needs attention's answers, a block of photos per turn of the event loop after a change of model
        # or threshold, so that its count and the filter are ready without a stall
        self._queue_timer = QTimer(self)
        self._queue_timer.setSingleShot(True)
        self._queue_timer.setInterval(0)
        self._queue_timer.timeout.connect(self._warm_queue)
        self._attention_text = ""
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(400)
        self._save_timer.timeout.connect(self.save)
        page.filters.spec_changed.connect(self._spec_changed)
        self.panel.policy_changed.connect(self._policy_changed)
        # Only the panel's explicit "filter by this label" action asks this; a plain click selects.
        self.panel.label_filter_requested.connect(lambda lab: page.filters.set_tags([lab]))
        library_ctl.leaving.connect(self.save)
        library_ctl.session_changed.connect(self._show_session)
        library_ctl.counts_changed.connect(self.update_counts)

    @property
    def library(self) -> LibraryModel | None:
        return self.library_ctl.library

    @Slot(object)
    def _show_session(self, session: LibrarySession) -> None:
        self._view_state_for = None
        self._attention_text = ""
        self._missing = None
        lib = session.library
        lib.counts_changed.connect(self._counts_timer.start)
        # The grid replaces the first-launch page as soon as a photo is in (not a counts tick later).
        lib.rowsInserted.connect(self.update_first_launch)
        lib.modelReset.connect(self.update_first_launch)
        lib.labels_changed.connect(self.labels_changed)
        # The search over tags last typed in this library (another library's text does not carry over).
        self.page.filters.set_tag_search(settings.get_str(self._search_key(session.catalog.path)))
        lib.set_spec(self.page.filters.spec())
        self.labels_changed()
        self.update_counts()

    # -- the saved view -------------------------------------------------------------------------
    @Slot()
    def save(self) -> None:
        """Store the threshold view the panel shows in the catalog, for the model it belongs to."""
        self._save_timer.stop()
        catalog = self.library_ctl.catalog
        if catalog is None or self._view_state_for is None:
            return
        path, key = self._view_state_for
        if path != str(catalog.path):
            return
        try:
            catalog.set_view_state(key, self.panel.policy())
        except CatalogError as exc:  # a read-only or vanished file: say so, the view still works
            self.messages.say(str(exc))

    def _restore(self) -> None:
        """Show the threshold view last saved for the active model of this library (else defaults)."""
        m, catalog = self.library, self.library_ctl.catalog
        if m is None or catalog is None or not m.model_key:
            return
        key = (str(catalog.path), m.model_key)
        if key == self._view_state_for:
            return
        self._view_state_for = key
        self.panel.set_policy(catalog.view_state(m.model_key) or ThresholdPolicy())

    @Slot(object)
    def _policy_changed(self, policy: ThresholdPolicy) -> None:
        if self._view_state_for is not None:
            self._save_timer.start()
        if self.library is not None:
            self.library.set_policy(policy)
        self.page.review.refresh()
        self.policy_applied.emit(policy)

    @Slot(object)
    def _spec_changed(self, spec) -> None:
        if self.library is not None:
            self.library.set_spec(spec)
            self._show_shown()  # the per-label counts are the library's, not the view's: not recounted
        catalog = self.library_ctl.catalog
        if catalog is not None:
            key = self._search_key(catalog.path)
            if settings.get_str(key) != spec.search:
                settings.set_value(key, spec.search)

    @staticmethod
    def _search_key(path) -> str:
        return f"{settings.TAG_SEARCH}/{settings.library_key(path)}"

    @Slot()
    def labels_changed(self) -> None:
        m = self.library
        if m is None:
            return
        self.page.filters.set_labels(m.all_labels(), m.label_groups())
        self.page.review.rebuild_labels()
        self.page.grid.view.label_keys = {key: lab for lab, key in self.page.review.keys.items()}
        if self._view_state_for is not None and self._view_state_for[1] != m.model_key:
            self.save()  # another model: keep the old one's view with it, before the panel moves
        shown = (
            m.labels, tuple(float(x) for x in m.defaults), tuple(sorted(m.groups.items())), m.exclusive,
            m.at_least_one,
        )  # fmt: skip
        if m.labels and shown != self._panel_model:
            # Only a new model resets the threshold panel; a person adding a new tag must not.
            self._panel_model = shown
            self.panel.set_model(list(m.labels), list(shown[1]), dict(m.groups), m.exclusive, m.at_least_one)
        self._restore()
        if m.labels:
            m.set_policy(self.panel.policy())

    # -- counts and first launch ----------------------------------------------------------------
    @Slot()
    def update_counts(self) -> None:
        m = self.library
        if m is None:
            return
        predicted, confirmed = m.counts()
        if predicted:
            self.panel.set_counts(predicted, confirmed)
        self._show_shown()
        self.update_first_launch()
        self._show_untagged()

    def _show_shown(self) -> None:
        """How many photos the view shows, and the status bar."""
        m = self.library
        if m is None:
            return
        session = self.library_ctl.session
        if session is not None and session.loading:
            self.page.grid.count_label.setText(OPENING_TEXT)
        else:
            self.page.grid.count_label.setText(f"{m.rowCount():,} of {m.image_count():,} photos shown")
        self._show_status()

    def _show_status(self) -> None:
        """Photos and folders, and how many photos need attention once that is known without a stall."""
        m, session = self.library, self.library_ctl.session
        if m is None:
            return
        folders = session.folder_count() if session is not None else 0
        if session is not None and session.loading:  # a big library read in the background
            self.status_label.setText(f"Opening the library's {folders} folder{'' if folders == 1 else 's'}…")
            return
        text = f"{m.image_count():,} photos in {folders} folder{'' if folders == 1 else 's'}"
        if m.columns.queue_ready() or m.spec.review == "attention":
            count = m.attention_count()
            self._attention_text = f" · Needs attention: {count:,}" if count else " · Nothing needs attention"
        else:  # the count shown until then stays while the answers come (no flicker)
            self._queue_timer.start()
        self.status_label.setText(text + self._attention_text)

    @Slot()
    def _warm_queue(self) -> None:
        m = self.library
        if m is None:
            return
        if m.columns.warm_queue():
            self._queue_timer.start()
        else:
            self._show_status()

    @Slot()
    def update_first_launch(self, *_args) -> None:
        """The first-launch page and a disabled *Tag photos* while the library has no photo; the grid and
        tagging once it has one (and again the page when its last folder is removed)."""
        session = self.library_ctl.session
        loading = session is not None and session.loading  # a big library read in a worker: not empty
        empty = self.library is None or (self.library.image_count() == 0 and not loading)
        self.page.show_first_launch(empty)
        self.page.tag_panel.set_unavailable(NO_PHOTOS_TIP if empty else OPENING_TEXT if loading else "")
        self.photos_available.emit(not empty and not loading)

    def _show_untagged(self) -> None:
        """The notice of photos the active model has not tagged yet (none while a run or scan goes on)."""
        m, session = self.library, self.library_ctl.session
        panel = self.page.tag_panel
        if m is None or session is None or session.tag_worker is not None or session.scan_worker is not None:
            panel.show_untagged(0)
            panel.show_default_changed(0)
            panel.show_missing_embeddings(0)
            return
        name, rec = "", None
        if m.model_key:
            rec = session.catalog.model(m.model_key)
            name = rec.name if rec is not None and rec.name else ""
        panel.show_untagged(m.untagged_count(), name)
        shipped = default_model_header()
        earlier = rec is not None and earlier_default(rec.key, rec.name, rec.path, shipped)
        panel.show_default_changed(
            m.image_count() if earlier and shipped else 0, shipped[1] if shipped else ""
        )
        self._missing_shown = self._missing_embeddings()
        panel.show_missing_embeddings(self._missing_shown)

    def _missing_embeddings(self) -> int:
        """Photos the active model tagged without an embedding (counted once per library and model, and
        again after a run: ``embeddings_changed``)."""
        m, catalog = self.library, self.library_ctl.catalog
        if m is None or catalog is None or not m.model_key:
            return 0
        key = (str(catalog.path), m.model_key)
        if self._missing is not None and self._missing[0] == key:
            return self._missing[1]
        if m.image_count() < ASYNC_VIEW_PHOTOS:
            self._missing = (key, catalog.without_embeddings(m.model_key))
            return self._missing[1]
        # A million photos' count is a second of SQLite: counted in a worker, shown when done
        if self._counting is not None:
            self._counting.cancel()
        reader_path, model_key = catalog.path, m.model_key

        def job(_cancel):
            yield
            reader = CatalogReader(reader_path)
            try:
                return reader.without_embeddings(model_key)
            finally:
                reader.close()

        worker = Worker(job, "count-embeddings", self)
        worker.wired(
            lambda _x: None, lambda n: self._counted(worker, key, n), lambda _m: self._counted(worker, key, 0)
        )
        self._counting = worker
        worker.start()
        return self._missing_shown

    def _counted(self, worker: Worker, key: tuple[str, str], count: int) -> None:
        if self._counting is not worker:
            return  # a newer count is on its way
        self._counting = None
        self._missing = (key, count)
        self._show_untagged()

    @Slot()
    def embeddings_changed(self, *_args) -> None:
        """A tagging run stored embeddings: count again."""
        self._missing = None
        self._show_untagged()
