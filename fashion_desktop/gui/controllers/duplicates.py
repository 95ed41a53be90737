"""Duplicates: the grid shows photos that are copies of one another (same file, resized or re-encoded), group
after group."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QObject, Signal, Slot

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.duplicates import DuplicateReport, find_duplicates
from fashion_desktop.gui.worker import Worker

if TYPE_CHECKING:
    from fashion_desktop.gui.controllers.similar import SimilarController


def _photos(n: int) -> str:
    return f"{n:,} photo" if n == 1 else f"{n:,} photos"


def report_text(report: DuplicateReport) -> str:
    """What the grid's header says of a search that found groups."""
    groups = len(report.groups)
    text = f"{groups:,} group{'' if groups == 1 else 's'} of duplicates ({_photos(report.duplicate_photos)})"
    text += ", group after group, the largest photo first"
    return text + _missing_text(report)


def _missing_text(report: DuplicateReport) -> str:
    n = report.without_embedding
    if not n:
        return ""
    have = "has" if n == 1 else "have"
    return (
        f". {_photos(n)} {have} no embedding yet: only exact copies of them are found."
        " Tag them (or re-tag them) to find their resized or re-encoded copies too"
    )


class DuplicatesController(QObject):
    """Looks for duplicates off the GUI thread (a search of every pair of photos takes seconds on a large
    library) and shows them in the grid until "Show all". ``shown`` is emitted once the window shows what
    was found, groups or none."""

    shown = Signal()

    def __init__(self, views: SimilarController) -> None:
        """``views``: the Find similar controller, whose library, grid, filter bar and status bar it shares."""
        super().__init__(views)
        self.library_ctl, self.review_ctl = views.library_ctl, views.review_ctl
        self.filters, self.messages = views.filters, views.messages
        self._search: Worker | None = None
        self._for: str | None = None  # the catalog path the running search reads
        self.library_ctl.leaving.connect(self.stop)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop)

    @Slot()
    def stop(self) -> None:
        """Stop a running search (another library, or quitting): it ends at its next tile."""
        if self._search is not None:
            self._search.cancel()
            self._search.wait(5000)
            self._search = None

    @Slot()
    def find_duplicates(self) -> None:
        """Search the open library for duplicates; the grid shows them once found."""
        catalog, m = self.library_ctl.catalog, self.library_ctl.library
        if catalog is None or m is None or not m.image_count():
            self.messages.say("Add a folder of photos first, then look for duplicates", 5000)
            return
        if self._search is not None:
            self.messages.say("Still looking for duplicates…", 3000)
            return
        path, model_key = catalog.path, m.model_key or None

        def job(cancel):
            with Catalog(path, read_only=True) as cat:
                return (yield from find_duplicates(cat, model_key, cancel=cancel))

        self._for = str(path)
        self.messages.say("Looking for duplicates…", 0)
        self._search = Worker(job, "duplicates", self).wired(self._progressed, self._found, self._failed)
        self._search.start()

    def _progressed(self, done: float) -> None:
        self.messages.say(f"Looking for duplicates… {done:.0%}", 0)

    def _failed(self, message: str) -> None:
        self._search = None
        self.messages.say(f"Cannot look for duplicates: {message}", 8000)

    def _found(self, report: DuplicateReport | None) -> None:
        self._search = None
        catalog = self.library_ctl.catalog
        if catalog is None or str(catalog.path) != self._for:
            return  # another library is open now: what was found is not in its grid
        if report is None:
            self.messages.say("Stopped looking for duplicates", 5000)
            return
        if not report.groups:
            self.filters.clear_similar()
            text = f"No duplicates among the {_photos(report.photos)}" + _missing_text(report)
            self.messages.say(text, 10_000)
            self.shown.emit()
            return
        ids = [i for group in report.groups for i in group]
        text = report_text(report)
        self.filters.set_similar(ids, text)
        self.review_ctl.show_first_photo()
        self.messages.say(text.split(",")[0], 8000)
        self.shown.emit()
