"""Undoable edits (QUndoStack commands): label decisions and review marks, on one photo or a selection."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QUndoCommand

from .library_model import LibraryModel

Change = tuple[int, str, bool | None]  # image id, label, decision (None: no decision, the model decides)


class DecisionsCommand(QUndoCommand):
    """Set label decisions on many photos at once; undo puts back each photo's earlier decision."""

    def __init__(self, model: LibraryModel, changes: Sequence[Change], text: str) -> None:
        super().__init__(text)
        self._model = model
        self._new = list(changes)
        self._old = [(i, lab, model.decision(i, lab)) for i, lab, _ in changes]

    def redo(self) -> None:
        self._model.write_decisions(self._new)

    def undo(self) -> None:
        self._model.write_decisions(self._old)


class ReviewedCommand(QUndoCommand):
    """Mark photos reviewed (or not); undo restores each photo's earlier state."""

    def __init__(self, model: LibraryModel, image_ids: Sequence[int], reviewed: bool, text: str) -> None:
        super().__init__(text)
        self._model = model
        self._ids = list(image_ids)
        self._value = reviewed
        self._before_on = [i for i in self._ids if model.is_reviewed(i)]
        self._before_off = [i for i in self._ids if not model.is_reviewed(i)]

    def redo(self) -> None:
        self._model.write_reviewed(self._ids, self._value)

    def undo(self) -> None:
        if self._before_on:
            self._model.write_reviewed(self._before_on, True)
        if self._before_off:
            self._model.write_reviewed(self._before_off, False)


def toggle_label(model: LibraryModel, image_ids: Sequence[int], label: str) -> DecisionsCommand:
    """Turn ``label`` off on all photos if every one has it, else on on all of them."""
    value = not all(model.has_tag(i, label) for i in image_ids)
    verb = "Add" if value else "Remove"
    return DecisionsCommand(
        model, [(i, label, value) for i in image_ids], f"{verb} “{label}” on {_photos(len(image_ids))}"
    )


def set_label(model: LibraryModel, image_ids: Sequence[int], label: str, value: bool) -> DecisionsCommand:
    verb = "Add" if value else "Remove"
    return DecisionsCommand(
        model, [(i, label, value) for i in image_ids], f"{verb} “{label}” on {_photos(len(image_ids))}"
    )


def toggle_reviewed(model: LibraryModel, image_ids: Sequence[int]) -> ReviewedCommand:
    value = not all(model.is_reviewed(i) for i in image_ids)
    text = f"Mark {_photos(len(image_ids))} {'reviewed' if value else 'not reviewed'}"
    return ReviewedCommand(model, image_ids, value, text)


class CompositeCommand(QUndoCommand):
    """Several commands as one undo step (redo in order, undo in reverse)."""

    def __init__(self, text: str, parts: Sequence[QUndoCommand]) -> None:
        super().__init__(text)
        self._parts = list(parts)

    def redo(self) -> None:
        for part in self._parts:
            part.redo()

    def undo(self) -> None:
        for part in reversed(self._parts):
            part.undo()


def accept_predictions(model: LibraryModel, image_ids: Sequence[int]) -> CompositeCommand:
    """Turn the current predicted tags into decisions (for labels not yet decided) and mark reviewed."""
    changes: list[Change] = []
    for i in image_ids:
        tags = set(model.tags_of(i))
        changes += [(i, label, label in tags) for label in model.labels if model.decision(i, label) is None]
    parts: list[QUndoCommand] = [DecisionsCommand(model, changes, "decisions")] if changes else []
    parts.append(ReviewedCommand(model, image_ids, True, "reviewed"))
    return CompositeCommand(f"Accept predictions on {_photos(len(image_ids))}", parts)


def _photos(n: int) -> str:
    return "1 photo" if n == 1 else f"{n} photos"
