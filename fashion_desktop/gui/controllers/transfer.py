"""Tags in and out of the library: the export dialog, and importing a spreadsheet after a preview."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, Qt, Slot
from PySide6.QtWidgets import QCheckBox, QFileDialog, QMessageBox, QWidget

from fashion_desktop.gui.controllers.keyword_import import KeywordImportController
from fashion_desktop.gui.controllers.library import LibraryController
from fashion_desktop.gui.controllers.messages import Messages
from fashion_desktop.gui.controllers.review import ReviewController
from fashion_desktop.gui.tag import commands
from fashion_desktop.gui.worker import Worker


def import_preview_job(db: str | os.PathLike, path: str | os.PathLike, labels, model_key, separator):
    """A worker job: the table read once and the dry runs of both import modes ({reviewed: report}), with
    the catalog opened in the worker; a table it cannot import comes back as its ExportError."""
    from fashion_desktop.core.catalog import Catalog
    from fashion_desktop.core.label_import import import_spreadsheet, one_value_groups, read_import_table
    from fashion_desktop.core.spreadsheet import ExportError

    def job(cancel):
        yield None
        try:
            table = read_import_table(path)
            with Catalog(db, read_only=True) as cat:
                one_value = one_value_groups(cat, model_key)
                return {
                    reviewed: import_spreadsheet(
                        cat,
                        path,
                        model_labels=labels,
                        dry_run=True,
                        cancel=cancel,
                        reviewed=reviewed,
                        one_value=one_value,
                        separator=separator,
                        table=table,
                    )  # fmt: skip
                    for reviewed in (True, False)
                }
        except ExportError as exc:  # the window asks (separators) or says why
            return exc

    return job


OFF_THREAD_CHANGES = 20_000  # an import this large is recorded in a worker (100,000 rows: ~2 s of writing)


def import_write_job(db: str | os.PathLike, changes, reviewed_ids):
    """A worker job: record an import's ``changes`` (marking ``reviewed_ids`` reviewed) through a connection
    of its own, reading first what the photos held (for undo); returns commands.WrittenImport."""
    from fashion_desktop.core.catalog import Catalog

    def job(cancel):
        yield None
        with Catalog(db) as cat:
            before = cat.decisions_for(list(dict.fromkeys(i for i, _, _ in changes)))
            old = [(i, label, before.get(i, {}).get(label)) for i, label, _ in changes]
            wanted = list(dict.fromkeys(reviewed_ids))
            already: set[int] = set()
            for start in range(0, len(wanted), 900):
                chunk = wanted[start : start + 900]
                marks = ",".join("?" * len(chunk))
                already.update(
                    r[0]
                    for r in cat.query(
                        f"SELECT id FROM images WHERE reviewed_at IS NOT NULL AND id IN ({marks})", chunk
                    )
                )
            marked = [i for i in wanted if i not in already]
            if marked:
                cat.set_reviewed(marked, True, changes)
            else:
                cat.set_decisions(changes)
        return commands.WrittenImport(old, marked)

    return job


def import_notes(report) -> list[str]:
    """The preview's lines on what the table's cells said: new labels, rows without tags, cells split."""
    lines = []
    new = list(dict.fromkeys(label for _, label in report.new_labels))
    if new:
        more = f" and {len(new) - 8:,} more" if len(new) > 8 else ""
        lines.append(f"New labels (kept as your own): {len(new):,}: {', '.join(new[:8])}{more}")
    if report.no_tags:
        lines.append(f"Rows with no readable tags (skipped, not marked reviewed): {len(report.no_tags):,}")
    for mark, cells in report.split_at.items():
        row, cell = cells[0]
        lines.append(f"Cells split at “{mark}”: {len(cells):,} (row {row}: “{cell}”)")
    return lines


class TransferController(QObject):
    """Export and import for the open library; an import is one undo step of the review controller."""

    def __init__(
        self, library_ctl: LibraryController, review_ctl: ReviewController, policy, messages: Messages
    ):
        super().__init__(messages.window)
        self.library_ctl = library_ctl
        self.review_ctl = review_ctl
        self._policy = policy  # () -> the ThresholdPolicy the Tag tab shows
        self.messages = messages
        self.export_window: QWidget | None = None
        self.import_box: QMessageBox | None = None
        self.import_button = None
        self.import_preview = None
        self.import_mode: QCheckBox | None = None
        self.separator_box: QMessageBox | None = None  # the question how a table separates tags
        self._reading: Worker | None = None  # the read of the table to import
        self._reading_for = ("", "")  # (catalog, table) of that read
        self._writing: Worker | None = None  # the recording of a large confirmed import
        self._writing_for = ""  # the catalog it writes
        self.keywords = KeywordImportController(library_ctl, review_ctl, messages)
        library_ctl.leaving.connect(self.stop)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop)

    @Slot()
    def export_dialog(self) -> QWidget | None:
        """Open the export dialog for the library, the photos the grid shows and the selection."""
        m, catalog = self.review_ctl.library, self.library_ctl.catalog
        if m is None or catalog is None:
            return None
        from fashion_desktop.gui.tag.export_dialog import ExportDialog

        dlg = ExportDialog(
            catalog,
            m.model_key,
            self._policy(),
            self.review_ctl.filtered_ids(),
            self.review_ctl.selected_ids(),
            self.messages.window,
            defaults=[float(x) for x in m.defaults] if m.model_key else None,
        )
        dlg.exported.connect(lambda msg: self.messages.say(msg))
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.export_window = dlg
        dlg.open()
        return dlg

    @Slot()
    def stop(self) -> None:
        """Stop a running read of a table (another library, or quitting): nothing was changed. A recording
        the person confirmed is let finish (one transaction): the import is in the library either way."""
        if self._reading is not None:
            self._reading.cancel()
            self._reading.wait(10_000)
            self._reading = None
        if self._writing is not None:
            self._writing.wait(120_000)

    @Slot()
    def import_tags_dialog(self, path: str | os.PathLike | None = None, separator: str | None = None) -> None:
        """Read a spreadsheet off the GUI thread and preview what importing it would change; the person
        confirms before anything is recorded (one undo step). ``separator``: the person's answer to how
        its tag cells separate tags, asked when the cells do not tell."""
        m, catalog = self.review_ctl.library, self.library_ctl.catalog
        if m is None or catalog is None:
            return
        if self._reading is not None:
            self.messages.say("Still reading the table to import…", 3000)
            return
        if not path:
            path, _ = QFileDialog.getOpenFileName(
                self.messages.window,
                "Import tags",
                str(Path.home()),
                "Spreadsheets (*.csv *.xlsx *.xlsm *.txt *.tsv)",
            )
            if not path:
                return
        self.import_box = self.separator_box = None
        self._reading_for = (str(catalog.path), str(path))
        job = import_preview_job(catalog.path, path, list(m.labels), m.model_key or None, separator)
        self.messages.say(f"Reading {Path(path).name}…", 0)
        self._reading = Worker(job, "import-tags", self).wired(lambda _: None, self._read, self._read_failed)
        self._reading.start()

    def _read_failed(self, message: str) -> None:
        stopped = self._reading is None or self._reading.cancelled
        self._reading = None
        if not stopped:
            self.messages.warn(f"Cannot import the table: {message.split(': ', 1)[-1]}")

    def _read(self, result) -> None:
        from fashion_desktop.core.label_import import SeparatorUnclear
        from fashion_desktop.core.spreadsheet import ExportCancelled, ExportError

        self._reading = None
        m, catalog = self.review_ctl.library, self.library_ctl.catalog
        if m is None or catalog is None or str(catalog.path) != self._reading_for[0]:
            return  # another library is open now
        self.messages.say("", 1)
        path = self._reading_for[1]
        if isinstance(result, SeparatorUnclear):
            self._ask_separator(result)
            return
        if isinstance(result, ExportCancelled):
            return
        if isinstance(result, ExportError):
            self.messages.warn(str(result))
            return
        box = self._preview_box(result[True], path)
        mode = QCheckBox("Mark the listed photos reviewed (the table lists each photo's complete tags)")
        mode.setChecked(True)
        mode.setToolTip(
            "Ticked: the listed photos become reviewed, their listed tags yes and the model's other labels no."
            "\nUnticked: the listed tags become your yes (in a one-value group such as colour, the group's"
            " other values no) and nothing else is decided."
        )
        box.setCheckBox(mode)
        self.import_mode = mode
        mode.toggled.connect(lambda checked: self._fill_preview(box, result[bool(checked)], bool(checked)))

        def done() -> None:
            if box.clickedButton() is self.import_button and self.review_ctl.library is m:
                self._apply_import(self.import_preview, mode.isChecked())

        box.finished.connect(done)
        box.open()

    def _ask_separator(self, unclear) -> None:
        """Ask how the table's cells separate tags; the answer reads the table again."""
        names = {",": "comma", ";": "semicolon"}
        box = QMessageBox(self.messages.window)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Import tags")
        box.setText(f"How are the tags in a cell of {unclear.path.name} separated?")
        marks = " or ".join(f"the {names.get(m, m)} (“{m}”)" for m in unclear.marks)
        box.setInformativeText(
            f"Row {unclear.row} holds “{unclear.cell}”, and no label name tells whether {marks} there separates"
            " two tags or belongs to one tag's name."
        )
        answers = {box.addButton(f"A {names.get(m, m)} separates tags", QMessageBox.ButtonRole.AcceptRole): m
                   for m in unclear.marks}  # fmt: skip
        answers[box.addButton("Each cell is one tag", QMessageBox.ButtonRole.AcceptRole)] = "none"
        box.addButton(QMessageBox.StandardButton.Cancel)

        def answered() -> None:
            choice = answers.get(box.clickedButton())
            if choice is not None:
                self.import_tags_dialog(str(unclear.path), separator=choice)

        box.finished.connect(answered)
        self.separator_box = box
        box.open()

    def _preview_box(self, report, path) -> QMessageBox:
        box = QMessageBox(self.messages.window)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Import tags")
        box.setText(f"Import tags from {Path(path).name}?")
        self.import_button = box.addButton("Import", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(self.import_button)
        self.import_box = box
        self._fill_preview(box, report)
        return box

    def _fill_preview(self, box: QMessageBox, report, reviewed: bool = True) -> None:
        """The counts of what importing ``report`` (the dry run of one import mode) would change."""
        lines = [
            f"Photos matched: {len(report.matched_ids):,} "
            + (f"({report.newly_reviewed:,} not reviewed yet)" if reviewed else "(none marked reviewed)"),
            f"Decisions: {report.added:,} added, {report.changed:,} changed"
            f" ({report.decisions - report.added - report.changed:,} already so)",
            f"Rows matching no photo: {len(report.unmatched):,}",
            f"Rows matching several photos (skipped): {len(report.ambiguous):,}",
            f"Unknown labels (skipped): {len(report.unknown_labels):,}",
        ]
        if report.conflicts:
            lines.append(
                f"Rows with two values of a one-value group (that group skipped): {len(report.conflicts):,}"
            )
        lines += import_notes(report)
        after = (
            "The matched photos are marked reviewed with these tags as your decisions."
            if reviewed
            else "The listed tags become your decisions; nothing else is decided and no photo is marked reviewed."
        )
        box.setInformativeText("\n".join(lines) + f"\n\n{after} Undo takes the import back.")
        box.setDetailedText(report.summary())
        self.import_preview = report
        self.import_button.setEnabled(bool(report.changes) or report.newly_reviewed > 0)

    def _apply_import(self, report, reviewed: bool = True) -> None:
        m, catalog = self.review_ctl.library, self.library_ctl.catalog
        if m is None or catalog is None:
            return
        marked = report.matched_ids if reviewed else []
        if len(report.changes) >= OFF_THREAD_CHANGES:  # recorded in a worker; the grid takes it after
            job = import_write_job(str(catalog.path), report.changes, marked)
            self.messages.say(f"Recording {len(report.changes):,} imported decisions…")
            done = lambda written: self._imported(report, marked, written)  # noqa: E731
            failed = lambda message: self.messages.warn(f"The import was not recorded: {message}")  # noqa: E731
            self._writing = Worker(job, "import-write", self).wired(lambda _: None, done, failed)
            self._writing_for = str(catalog.path)
            self._writing.start()
            return
        self._imported(report, marked)

    def _imported(self, report, marked, written=None) -> None:
        """The import as one undo step (``written``: a worker recorded it already, the grid follows)."""
        m, catalog = self.review_ctl.library, self.library_ctl.catalog
        if written is not None:
            self._writing = None
            if m is None or catalog is None or str(catalog.path) != self._writing_for:
                return  # another library is open now; the import is in its catalog
        if m is None or catalog is None:
            return
        photos = len(report.matched_ids)
        self.review_ctl.push(
            commands.ImportCommand(
                m,
                report.changes,
                marked,
                f"Import tags on {photos} photo{'s' * (photos != 1)}",
                written=written,
            )
        )
        if report.splits:
            catalog.set_splits(report.splits)  # dataset splits are not shown here: no undo needed
        self.review_ctl.pane.refresh()
        self.messages.say(
            f"Imported {report.decisions:,} decisions on {photos:,} photos from {report.path.name}"
        )
