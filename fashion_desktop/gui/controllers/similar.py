"""Find similar: the grid shows the chosen photo(s) and their nearest photos by stored embedding, best first."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from fashion_desktop.core.similar import SimilarError, SimilarityIndex
from fashion_desktop.gui.controllers.duplicates import DuplicatesController
from fashion_desktop.gui.controllers.library import LibraryController
from fashion_desktop.gui.controllers.messages import Messages
from fashion_desktop.gui.controllers.review import ReviewController
from fashion_desktop.gui.tag.filter_bar import FilterBar
from fashion_desktop.gui.worker import Worker

NEAREST = 50  # photos shown besides the chosen ones
NOT_TAGGED = "This photo is not tagged by this model yet: tag the photos first, then Find similar"
NO_EMBEDDING = "This photo has no embedding yet: re-tag it with 'Re-tag photos this model already tagged'"


class SimilarController(QObject):
    """Loads the active model's similarity index when first needed (off the GUI thread) and keeps it until
    the library, the model or its embeddings change. ``shown`` is emitted once the grid shows the result.
    ``duplicates`` shows the library's duplicates in the same place of the grid."""

    shown = Signal()

    def __init__(
        self,
        library_ctl: LibraryController,
        review_ctl: ReviewController,
        filters: FilterBar,
        messages: Messages,
    ) -> None:
        super().__init__(messages.window)
        self.library_ctl = library_ctl
        self.review_ctl = review_ctl
        self.filters = filters
        self.messages = messages
        self.index: SimilarityIndex | None = None
        self._index_for: tuple[str, str] | None = None  # (catalog path, model key) of ``index``
        self._loader: Worker | None = None
        self._wanted: list[int] = []  # the photos asked about while the index loads
        self.duplicates = DuplicatesController(self)
        library_ctl.session_changed.connect(self._new_library)

    @Slot(object)
    def _new_library(self, _session) -> None:
        """Another library: its photos are not the ones found similar, and its index is another."""
        self.forget()
        self.filters.clear_similar()

    @Slot()
    def forget(self) -> None:
        """Drop the index (another library, or the embeddings changed): the next search loads it again."""
        self.index = None
        self._index_for = None

    def _key(self) -> tuple[str, str] | None:
        catalog, m = self.library_ctl.catalog, self.library_ctl.library
        if catalog is None or m is None or not m.model_key:
            return None
        return str(catalog.path), m.model_key

    @Slot()
    def find_similar(self) -> None:
        """Show the current photo (or the selection) and its nearest photos, best first."""
        ids = self.review_ctl.selected_ids()
        key = self._key()
        if not ids:
            self.messages.say("Choose a photo first, then Find similar", 5000)
            return
        if key is None:
            self.messages.say("Tag the photos first: similar photos are found from their tags' model", 5000)
            return
        self._wanted = ids
        if self.index is not None and self._index_for == key:
            self._show(ids)
            return
        if self._loader is not None:
            return  # the photos asked about now are shown once it has loaded
        catalog, model_key = self.library_ctl.catalog, key[1]

        def job(_cancel):
            return key, SimilarityIndex.load(catalog, model_key)
            yield  # a generator: the worker sends what it returns with ``finished``

        self.messages.say("Looking for similar photos…")
        self._loader = Worker(job, "similar-index", self).wired(lambda _x: None, self._loaded, self._failed)
        self._loader.start()

    def _loaded(self, result: tuple[tuple[str, str], SimilarityIndex]) -> None:
        self._loader = None
        key, index = result
        if key != self._key():  # the library or the model changed meanwhile
            return
        self.index, self._index_for = index, key
        self._show(self._wanted)

    def _failed(self, message: str) -> None:
        self._loader = None
        self.messages.say(f"Cannot find similar photos: {message}", 8000)

    def _show(self, ids: list[int]) -> None:
        index, m = self.index, self.library_ctl.library
        if index is None or m is None:
            return
        rows = [index.row_of(i) for i in ids]
        known = [(i, r) for i, r in zip(ids, rows, strict=True) if r is not None]
        if not known:
            scored = any(m.scores_of(i) for i in ids)
            self.messages.say(NO_EMBEDDING if scored else NOT_TAGGED, 8000)
            return
        if len(known) == 1:
            try:
                found = index.similar_to(known[0][0], NEAREST)[0].tolist()
            except SimilarError as exc:
                self.messages.say(str(exc), 8000)
                return
        else:
            rows_k = [r for _, r in known]
            unit = index.codes[rows_k].astype(np.float32) * index.inv_norms[rows_k, None]
            near, _sims = index.nearest(unit.mean(axis=0), NEAREST + len(rows_k))
            chosen = {i for i, _ in known}
            found = [i for i, _ in known] + [i for i in near.tolist() if i not in chosen][:NEAREST]
        name = Path(m.path_of(known[0][0]) or "?").name
        what = name if len(known) == 1 else f"{len(known):,} selected photos"
        text = f"Similar to {what}: the {len(found) - len(known):,} nearest photos, best first"
        if len(known) < len(ids):
            text += f" ({len(ids) - len(known):,} of the selection have no embedding yet)"
        self.filters.set_similar(found, text)
        first = self.review_ctl.view_index(found[0])
        if first.isValid():
            self.review_ctl.grid.setCurrentIndex(first)
            self.review_ctl.grid.scrollTo(first)
        self.messages.say(text, 5000)
        self.shown.emit()
