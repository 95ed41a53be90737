"""Undoable edits (QUndoStack commands): label decisions and review marks, on one photo or a selection."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from PySide6.QtGui import QUndoCommand

from fashion_desktop.gui.tag.library_model import LibraryModel

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


class NewLabelCommand(DecisionsCommand):
    """Create a label the model does not have, in a group, as the person's "yes" on the photos: the same
    decisions command as a label key, plus the label itself, so undo takes both away in one step."""

    def __init__(self, model: LibraryModel, image_ids: Sequence[int], label: str, group: str) -> None:
        changes: list[Change] = [(i, label, True) for i in image_ids]
        if group in model.exclusive:  # a new colour replaces the colour the photos show
            others = [lab for lab, g in model.label_groups().items() if g == group]
            for i in image_ids:
                shown = set(model.tags_of(i))
                changes += [(i, lab, False) for lab in others if lab in shown]
        super().__init__(model, changes, f"New tag “{label}” on {_photos(len(image_ids))}")
        self._label = label
        self._group = group

    def redo(self) -> None:
        self._model.create_label(self._label, self._group, self._new)

    def undo(self) -> None:
        self._model.forget_label(self._label, self._old)


class ReviewedCommand(QUndoCommand):
    """Mark photos reviewed (or not); undo restores each photo's earlier state exactly.

    Marking settles a photo: the tags it shows become the person's decisions (``core.tags``), so no
    later threshold or model change alters it. Undo forgets exactly those decisions and the mark.
    Marking *not* reviewed keeps every decision: they are what the person confirmed, and the photo
    only goes back into the queue of photos to look at (Undo is the way back to the model's opinion).
    """

    def __init__(self, model: LibraryModel, image_ids: Sequence[int], reviewed: bool, text: str) -> None:
        super().__init__(text)
        self._model = model
        self._ids = list(image_ids)
        self._value = reviewed
        self._before_on = [i for i in self._ids if model.is_reviewed(i)]
        self._before_off = [i for i in self._ids if not model.is_reviewed(i)]
        # Photos already reviewed are settled already: only the others record decisions.
        self._settle = model.review_changes(self._before_off) if reviewed else []

    def redo(self) -> None:
        self._model.write_reviewed(self._ids, self._value, self._settle)

    def undo(self) -> None:
        forget = [(i, label, None) for i, label, _ in self._settle]
        if self._before_on:
            self._model.write_reviewed(self._before_on, True)
        if self._before_off:
            self._model.write_reviewed(self._before_off, False, forget)


@dataclass(frozen=True)
class WrittenImport:
    """An import a worker already recorded in the catalog: what the photos held before (for undo) and the
    photos it marked reviewed (those not reviewed before)."""

    old: Sequence[Change]
    marked: Sequence[int]


class ImportCommand(QUndoCommand):
    """Record imported decisions and mark the photos ``reviewed_ids`` reviewed (none: tags only), as one
    undo step (undo puts back each photo's earlier decisions and review state). ``new_labels``
    (``{label: group}``, an import's new tags) are created with the decisions and forgotten on undo."""

    def __init__(
        self,
        model: LibraryModel,
        changes: Sequence[Change],
        reviewed_ids: Sequence[int],
        text: str,
        new_labels: Mapping[str, str] | None = None,
        written: WrittenImport | None = None,
    ) -> None:
        super().__init__(text)
        self._model = model
        self._new = list(changes)
        self._labels = dict(new_labels or {})
        self._written = written
        if written is not None:  # recorded in a worker, which read what the photos held before
            self._old, self._mark = list(written.old), list(written.marked)
            return
        self._old = [(i, lab, model.decision(i, lab)) for i, lab, _ in changes]
        self._mark = [i for i in dict.fromkeys(reviewed_ids) if not model.is_reviewed(i)]

    def redo(self) -> None:
        if self._written is not None:  # the first time: the catalog has it, the grid takes it
            self._written = None
            self._model.mirror_written(self._mark, True, self._new)
            return
        if self._labels:  # the new tags and every decision in one transaction
            self._model.create_labels(self._labels, self._new)
        decisions = [] if self._labels else self._new
        if self._mark:
            self._model.write_reviewed(self._mark, True, decisions)
        elif decisions:  # tags only, or every photo reviewed already: no photo's review state changes
            self._model.write_decisions(decisions)

    def undo(self) -> None:
        decisions = [] if self._labels else self._old
        if self._mark:
            self._model.write_reviewed(self._mark, False, decisions)
        elif decisions:
            self._model.write_decisions(decisions)
        if self._labels:
            self._model.forget_labels(list(self._labels), self._old)


def exclusive_group(model: LibraryModel, label: str) -> list[str]:
    """The labels of ``label``'s group when that group holds one value per photo (the active model's
    exclusive groups: gender, colour, season, usage), ``label`` included; [] otherwise."""
    groups = model.label_groups()
    group = groups.get(label)
    if group is None or group not in model.exclusive:
        return []
    return [lab for lab, g in groups.items() if g == group]


def exclusive_changes(model: LibraryModel, image_ids: Sequence[int], label: str, value: bool) -> list[Change]:
    """The decisions that give each photo ``label`` as its one value of an exclusive group (``value``
    True: the group's other values a photo shows or a person said yes to become no), or take the
    person's value away (False: an unreviewed photo goes back to the model's suggestion, a reviewed one
    has no value in the group; a value only the model gave becomes a no)."""
    members = exclusive_group(model, label)
    changes: list[Change] = []
    for i in image_ids:
        shown = set(model.tags_of(i))  # once per photo: a selection may hold thousands
        if value:
            changes.append((i, label, True))
            for other in members:
                if other != label and (other in shown or model.decision(i, other)):
                    changes.append((i, other, False))
        elif model.decision(i, label) and not model.is_reviewed(i):
            changes += [(i, lab, None) for lab in members if model.decision(i, lab) is not None]
        else:
            changes.append((i, label, False))
            changes += [(i, lab, False) for lab in members if lab != label and lab in shown]
    return changes


def _changes(model: LibraryModel, image_ids: Sequence[int], label: str, value: bool) -> list[Change]:
    if exclusive_group(model, label):
        return exclusive_changes(model, image_ids, label, value)
    return [(i, label, value) for i in image_ids]


def toggle_label(model: LibraryModel, image_ids: Sequence[int], label: str) -> DecisionsCommand:
    """Turn ``label`` off on all photos if every one has it, else on on all of them (in an exclusive
    group: on replaces the group's other values; off takes the person's value away)."""
    value = not all(model.has_tag(i, label) for i in image_ids)
    verb = "Add" if value else "Remove"
    return DecisionsCommand(
        model, _changes(model, image_ids, label, value), f"{verb} “{label}” on {_photos(len(image_ids))}"
    )


def set_label(model: LibraryModel, image_ids: Sequence[int], label: str, value: bool) -> DecisionsCommand:
    verb = "Add" if value else "Remove"
    return DecisionsCommand(
        model, _changes(model, image_ids, label, value), f"{verb} “{label}” on {_photos(len(image_ids))}"
    )


def toggle_reviewed(model: LibraryModel, image_ids: Sequence[int]) -> ReviewedCommand:
    value = not all(model.is_reviewed(i) for i in image_ids)
    text = f"Mark {_photos(len(image_ids))} {'reviewed' if value else 'not reviewed'}"
    return ReviewedCommand(model, image_ids, value, text)


def accept_predictions(model: LibraryModel, image_ids: Sequence[int]) -> ReviewedCommand:
    """Mark the photos reviewed (never un-mark): the same settling as Space, for a whole selection."""
    return ReviewedCommand(model, image_ids, True, f"Accept predictions on {_photos(len(image_ids))}")


def _photos(n: int) -> str:
    return "1 photo" if n == 1 else f"{n} photos"
