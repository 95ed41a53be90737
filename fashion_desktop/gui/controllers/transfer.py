"""Tags in and out of the library: the export dialog, and importing a spreadsheet after a preview."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QCheckBox, QFileDialog, QMessageBox, QWidget

from fashion_desktop.gui.controllers.keyword_import import KeywordImportController
from fashion_desktop.gui.controllers.library import LibraryController
from fashion_desktop.gui.controllers.messages import Messages
from fashion_desktop.gui.controllers.review import ReviewController
from fashion_desktop.gui.tag import commands


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
        self.keywords = KeywordImportController(library_ctl, review_ctl, messages)

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
    def import_tags_dialog(self, path: str | os.PathLike | None = None) -> QMessageBox | None:
        """Preview what importing a spreadsheet would change; the person confirms before anything is
        recorded. The import is one undo step."""
        m, catalog = self.review_ctl.library, self.library_ctl.catalog
        if m is None or catalog is None:
            return None
        if not path:
            path, _ = QFileDialog.getOpenFileName(
                self.messages.window,
                "Import tags",
                str(Path.home()),
                "Spreadsheets (*.csv *.xlsx *.xlsm *.txt)",
            )
            if not path:
                return None
        from fashion_desktop.core.label_import import import_spreadsheet, one_value_groups
        from fashion_desktop.core.spreadsheet import ExportError

        one_value = one_value_groups(catalog, m.model_key)
        reports = {}

        def preview(reviewed: bool):
            if reviewed not in reports:
                reports[reviewed] = import_spreadsheet(
                    catalog, path, model_labels=m.labels, dry_run=True, reviewed=reviewed, one_value=one_value
                )
            return reports[reviewed]

        try:
            report = preview(True)
        except ExportError as exc:
            return self.messages.warn(str(exc))
        own = sorted(report.labels_seen.difference(m.labels)) if m.labels else []
        box = self._preview_box(report, path, own)
        mode = QCheckBox("Mark the listed photos reviewed (the table lists each photo's complete tags)")
        mode.setChecked(True)
        mode.setToolTip(
            "Ticked: the listed photos become reviewed, their listed tags yes and the model's other labels no."
            "\nUnticked: the listed tags become your yes (in a one-value group such as colour, the group's"
            " other values no) and nothing else is decided."
        )
        box.setCheckBox(mode)
        self.import_mode = mode

        def mode_changed(checked: bool) -> None:
            try:
                self._fill_preview(box, preview(bool(checked)), own, bool(checked))
            except ExportError as exc:
                box.setInformativeText(str(exc))
                self.import_button.setEnabled(False)

        mode.toggled.connect(mode_changed)

        def done() -> None:
            if box.clickedButton() is self.import_button and self.review_ctl.library is m:
                self._apply_import(self.import_preview, mode.isChecked())

        box.finished.connect(done)
        box.open()
        return box

    def _preview_box(self, report, path, own: list[str]) -> QMessageBox:
        box = QMessageBox(self.messages.window)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Import tags")
        box.setText(f"Import tags from {Path(path).name}?")
        self.import_button = box.addButton("Import", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(self.import_button)
        self.import_box = box
        self._fill_preview(box, report, own)
        return box

    def _fill_preview(self, box: QMessageBox, report, own: list[str], reviewed: bool = True) -> None:
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
        if own:
            lines.append(f"Labels the model does not have (kept as your own): {', '.join(own[:8])}")
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
        photos = len(report.matched_ids)
        marked = report.matched_ids if reviewed else []
        self.review_ctl.push(
            commands.ImportCommand(
                m, report.changes, marked, f"Import tags on {photos} photo{'s' * (photos != 1)}"
            )
        )
        if report.splits:
            catalog.set_splits(report.splits)  # dataset splits are not shown here: no undo needed
        self.review_ctl.pane.refresh()
        self.messages.say(
            f"Imported {report.decisions:,} decisions on {photos:,} photos from {report.path.name}"
        )
