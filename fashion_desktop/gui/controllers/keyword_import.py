"""File > Import Keywords from Photos: read off the GUI thread, a preview, then one undo step."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QObject, Slot
from PySide6.QtWidgets import QMessageBox

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.exiftool import find_exiftool
from fashion_desktop.core.keyword_import import KeywordImportReport, keyword_import_steps
from fashion_desktop.core.tags import new_label_problem
from fashion_desktop.gui.controllers.library import LibraryController
from fashion_desktop.gui.controllers.messages import Messages
from fashion_desktop.gui.controllers.review import ReviewController
from fashion_desktop.gui.tag import commands
from fashion_desktop.gui.worker import Worker

EXIFTOOL_MISSING = (
    "Reading the keywords of photos needs ExifTool, a free program that is not installed here.\n\n"
    "Install it (on Debian or Ubuntu: the package “libimage-exiftool-perl”; on macOS: “exiftool” from "
    "Homebrew; on Windows: from exiftool.org), then choose Import Keywords from Photos again."
)


def _photos(n: int) -> str:
    return f"{n:,} photo" if n == 1 else f"{n:,} photos"


def preview_lines(report: KeywordImportReport) -> list[str]:
    """What the preview says of a dry run: the counts, then the new tags by name."""
    kept = report.decisions - report.added - report.changed
    lines = [
        f"Photos matched: {len(report.matched_ids):,} of {report.rows:,} (none marked reviewed)",
        f"Decisions: {report.added:,} added, {report.changed:,} changed ({kept:,} already so)",
    ]
    if report.new_tags:
        names = [f"{t} ({g})" for t, g in report.new_tags.items()]
        more = f" and {len(names) - 12:,} more" if len(names) > 12 else ""
        lines.append(f"New tags: {', '.join(names[:12])}{more}")
    for title, count in (
        ("Keywords this app wrote (skipped)", report.ours_skipped),
        ("Files that could not be read", len(report.unreadable)),
        ("Keywords naming tags of two groups (skipped)", len(report.ambiguous_keywords)),
        ("Keywords that cannot be tags (skipped)", len(report.unusable)),
        ("Photos with two values of a one-value group (that group skipped)", len(report.conflicts)),
    ):
        if count:
            lines.append(f"{title}: {count:,}")
    return lines


class KeywordImportController(QObject):
    """Reads the keywords of the open library's photos in a worker thread (a thousand photos take a few
    seconds of ExifTool), shows what importing them would change, and records it as one undo step."""

    def __init__(self, library_ctl: LibraryController, review_ctl: ReviewController, messages: Messages):
        super().__init__(messages.window)
        self.library_ctl, self.review_ctl, self.messages = library_ctl, review_ctl, messages
        self._worker: Worker | None = None
        self._for: str | None = None  # the catalog path the running read is for
        self.preview_box: QMessageBox | None = None
        self.import_button = None
        library_ctl.leaving.connect(self.stop)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop)

    @Slot()
    def stop(self) -> None:
        """Stop a running read (another library, or quitting): nothing was changed."""
        if self._worker is not None:
            self._worker.cancel()
            self._worker.wait(10_000)
            self._worker = None

    @Slot()
    def import_dialog(self) -> None:
        """Read the photos' keywords off the GUI thread; the preview opens when they are read."""
        m, catalog = self.review_ctl.library, self.library_ctl.catalog
        if m is None or catalog is None:
            return
        if self._worker is not None:
            self.messages.say("Still reading the keywords of the photos…", 3000)
            return
        if find_exiftool() is None:
            self.messages.warn(EXIFTOOL_MISSING)
            return
        path, model_key = catalog.path, m.model_key or None

        def job(cancel):
            with Catalog(path, read_only=True) as cat:
                return (
                    yield from keyword_import_steps(cat, model_key=model_key, dry_run=True, cancel=cancel)
                )

        self._for = str(path)
        self.messages.say("Reading the keywords of the photos…", 0)
        self._worker = Worker(job, "keyword-import", self).wired(self._progressed, self._read, self._failed)
        self._worker.start()

    def _progressed(self, step: tuple[int, int]) -> None:
        done, total = step
        self.messages.say(f"Reading the keywords of the photos… {done:,} of {total:,}", 0)

    def _failed(self, message: str) -> None:
        stopped = self._worker is None or self._worker.cancelled
        self._worker = None
        if not stopped:
            self.messages.warn(f"Cannot read the keywords of the photos: {message.split(': ', 1)[-1]}")

    def _read(self, report: KeywordImportReport) -> None:
        self._worker = None
        catalog, m = self.library_ctl.catalog, self.review_ctl.library
        if catalog is None or m is None or str(catalog.path) != self._for:
            return  # another library is open now
        self.messages.say(f"Read the keywords of {_photos(report.rows)}", 5000)
        box = QMessageBox(self.messages.window)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Import keywords from photos")
        box.setText("Record the keywords your photos carry as your tags?")
        after = (
            "A keyword that matches a tag becomes your yes; where it differs from your earlier decision, the"
            " keyword wins. Keywords matching no tag become new tags. Nothing becomes a no and no photo is"
            " marked reviewed. Undo takes the import back."
        )
        box.setInformativeText("\n".join(preview_lines(report)) + f"\n\n{after}")
        box.setDetailedText(report.summary())
        self.import_button = box.addButton("Import", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(self.import_button)
        self.import_button.setEnabled(bool(report.changes))

        def done() -> None:
            if box.clickedButton() is self.import_button and self.review_ctl.library is m:
                self._apply(report)

        box.finished.connect(done)
        self.preview_box = box
        box.open()

    def _apply(self, report: KeywordImportReport) -> None:
        m = self.review_ctl.library
        if m is None:
            return
        clash = [p for t in report.new_tags if (p := new_label_problem(t, m.all_labels()))]
        if clash:  # a tag of that name was made since the preview
            self.messages.warn(f"Nothing was imported: {clash[0]}. Import the keywords again.")
            return
        photos = _photos(len(report.matched_ids))
        self.review_ctl.push(
            commands.ImportCommand(m, report.changes, [], f"Import keywords on {photos}", report.new_tags)
        )
        self.review_ctl.pane.refresh()
        self.messages.say(f"Imported {report.decisions:,} decisions on {photos} from their keywords")
