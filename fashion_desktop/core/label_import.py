"""Labels a person already has, from a spreadsheet into the catalog as their decisions."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..model.resources import taxonomy_labels
from .catalog import Catalog
from .export import (
    PATH_COLUMN,
    SPLIT_COLUMN,
    TAG_SEPARATOR,
    TAGS_COLUMN,
    path_parts,
)
from .scan import CancelFlag, is_cancelled
from .spreadsheet import (
    ExportCancelled,
    ExportError,
    Progress,
    has_columns,
    read_about,
    read_table,
    require_columns,
)

IMAGE_COLUMN = "image"  # the simplest layout a person may have: ``image, tags``


@dataclass
class ImportReport:
    """What an import did; row numbers are spreadsheet rows (the header is row 1)."""

    path: Path
    rows: int = 0
    matched: int = 0
    decisions: int = 0
    unmatched: list[tuple[int, str]] = field(default_factory=list)
    unknown_labels: list[tuple[int, str]] = field(default_factory=list)
    ambiguous: list[tuple[int, str]] = field(default_factory=list)
    dry_run: bool = False
    added: int = 0  # decisions on labels the photo had none for
    changed: int = 0  # decisions that turn a person's earlier decision around
    newly_reviewed: int = 0  # matched photos that were not reviewed yet
    # ``matched`` counts rows (two rows may name one photo); ``matched_ids`` the photos.
    labels_seen: set[str] = field(default_factory=set)
    # What the import writes (or, in a dry run, would write): (image id, label, value), last row wins.
    changes: list[tuple[int, str, bool]] = field(default_factory=list)
    matched_ids: list[int] = field(default_factory=list)
    splits: list[tuple[int, str | None]] = field(default_factory=list)
    # rows listing two values of a one-value group (e.g. colour "Grey|White"): that group is skipped there
    conflicts: list[tuple[int, str]] = field(default_factory=list)
    # tags in no label list the import knows, recorded as the person's own labels
    new_labels: list[tuple[int, str]] = field(default_factory=list)
    # rows whose tag cell is empty (where the layout does not say that means "none") or an Excel error
    no_tags: list[tuple[int, str]] = field(default_factory=list)
    separators: tuple[str, ...] = (TAG_SEPARATOR,)  # what the tag cells were split at (() : not split)
    # the cells split at another mark than the app's own: mark -> [(row, cell)]
    split_at: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def summary(self) -> str:
        """A few lines for a person: counts, then the first problems with their row numbers."""
        verb = "would be recorded" if self.dry_run else "recorded"
        lines = [
            f"{self.path}: {self.rows} rows, {self.matched} matched photos, {self.decisions} decisions {verb}"
            f" ({self.added} new, {self.changed} changed)"
        ]
        problems = (
            ("rows matching no photo in the catalog", self.unmatched),
            ("labels not in the label list", self.unknown_labels),
            ("rows matching several photos (skipped)", self.ambiguous),
            ("rows with two values of a one-value group (that group skipped)", self.conflicts),
            ("labels not in the label list (kept as your own)", self.new_labels),
            ("rows with no readable tags (skipped, not marked reviewed)", self.no_tags),
            *((f"tag cells split at {mark!r}", cells) for mark, cells in self.split_at.items()),
        )
        return "\n".join(lines + problem_lines(problems, lambda row: f"row {row}"))


def problem_lines(
    problems: Iterable[tuple[str, Sequence[tuple[Any, str]]]], where: Callable[[Any], str]
) -> list[str]:
    """A line per (title, [(place, value)]) with items: the count, the title and the first ten, each
    as ``where(place): value``."""
    lines = []
    for title, items in problems:
        if items:
            shown = ", ".join(f"{where(p)}: {v!r}" for p, v in items[:10])
            more = f" and {len(items) - 10} more" if len(items) > 10 else ""
            lines.append(f"{len(items)} {title}: {shown}{more}")
    return lines


class _Matcher:
    """Finds catalog images from what a spreadsheet says: full path, relative path, file name or stem.

    Keys are case-folded path tails of one and two components, by file name and by stem (the seed's
    ImageId has no extension), so a 100k-row sheet matches in a few seconds.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.by_path: dict[str, int] = {}
        self.parts: dict[int, tuple[list[str], list[str]]] = {}
        self.tail1: tuple[dict[str, list[int]], dict[str, list[int]]] = ({}, {})
        self.tail2: tuple[dict[tuple[str, str], list[int]], dict[tuple[str, str], list[int]]] = ({}, {})
        for rec in catalog.images():
            self.by_path[os.path.normcase(rec.path)] = rec.id
            named = [p.casefold() for p in path_parts(rec.path)]
            if not named:
                continue
            stemmed = [*named[:-1], os.path.splitext(named[-1])[0]]
            self.parts[rec.id] = (named, stemmed)
            for kind, parts in enumerate((named, stemmed)):
                self.tail1[kind].setdefault(parts[-1], []).append(rec.id)
                if len(parts) > 1:
                    self.tail2[kind].setdefault((parts[-2], parts[-1]), []).append(rec.id)

    def match(self, value: str) -> tuple[int | None, int]:
        """(image id or None, number of equally good candidates)."""
        exact = self.by_path.get(os.path.normcase(value))
        if exact is not None:
            return exact, 1
        query = [p.casefold() for p in path_parts(value)]
        if not query:
            return None, 0
        for kind in (0, 1):  # the file name as written first, then the stem
            if len(query) > 1:
                ids = self.tail2[kind].get((query[-2], query[-1]))
                if ids:
                    return self._best(query, ids, kind)
            ids = self.tail1[kind].get(query[-1])
            if ids:
                # A longer query whose folder matched no photo is only trusted when the name is unique.
                return (ids[0], 1) if len(ids) == 1 else (None, len(ids))
        return None, 0

    def _best(self, query: list[str], ids: list[int], kind: int) -> tuple[int | None, int]:
        if len(ids) == 1:
            return ids[0], 1
        # Several photos share the last two components: the one matching the most folders wins.
        scored = [(_common_tail(query, self.parts[i][kind]), i) for i in ids]
        best = max(s for s, _ in scored)
        winners = [i for s, i in scored if s == best]
        return (winners[0], 1) if len(winners) == 1 else (None, len(winners))


def _common_tail(a: list[str], b: list[str]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


@dataclass(frozen=True)
class OneValueGroups:
    """The exclusive groups of the labels an import writes: ``groups`` label -> group, ``exclusive``
    the groups that hold one value per photo (gender, colour, season, usage)."""

    groups: dict[str, str]
    exclusive: tuple[str, ...]

    def members(self, group: str) -> list[str]:
        return [lab for lab, g in self.groups.items() if g == group]

    def resolve(self, tags: Sequence[str]) -> tuple[list[str], list[str]]:
        """(the tags to record, a "group: a|b" text per one-value group the row lists twice)."""
        by_group: dict[str, list[str]] = {}
        for t in tags:
            g = self.groups.get(t)
            if g in self.exclusive:
                by_group.setdefault(g, []).append(t)
        clashing = {g: v for g, v in by_group.items() if len(v) > 1}
        kept = [t for t in tags if self.groups.get(t) not in clashing]
        return kept, [f"{g}: {TAG_SEPARATOR.join(v)}" for g, v in clashing.items()]

    def others(self, tags: Sequence[str]) -> list[str]:
        """The other values of each one-value group ``tags`` set a value of."""
        out: list[str] = []
        for t in tags:
            g = self.groups.get(t)
            if g in self.exclusive:
                out += [lab for lab in self.members(g) if lab != t]
        return out


OTHER_SEPARATORS = (";", ",")  # what a person's own table may separate tags with
NO_SEPARATOR = "none"  # the person's answer "one tag per cell"
# Excel's error values: a cell showing one of these could not be calculated, so it says nothing of the tags.
_EXCEL_ERRORS = frozenset(
    ("#N/A", "#VALUE!", "#REF!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!", "#GETTING_DATA")
)


class SeparatorUnclear(ExportError):
    """The tag cells hold a mark that may separate tags or be part of a name, and the known labels do not
    tell which; ``row`` and ``cell`` are the first such cell."""

    def __init__(self, path: str | os.PathLike, row: int, cell: str) -> None:
        marks = " or ".join(repr(m) for m in OTHER_SEPARATORS if m in cell)
        super().__init__(
            f"{path}: cannot tell how the tag cells separate tags: row {row} holds {cell!r}, and {marks} "
            "there may separate tags or be part of a name"
        )
        self.path, self.row, self.cell = Path(path), row, cell
        self.marks = tuple(m for m in OTHER_SEPARATORS if m in cell)


@dataclass
class TagCells:
    """How a table's tag cells become tags: split at ``separators``, a run of pieces that together name a
    known label (``shirt, blouse``) kept as that label; what was split where is kept for the report."""

    separators: tuple[str, ...]
    known: frozenset[str]
    split_at: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    @classmethod
    def recognise(
        cls,
        path: str | os.PathLike,
        cells: Sequence[tuple[int, str]],
        known: Iterable[str],
        separator: str | None,
    ) -> TagCells:
        """The separators ``cells`` (row, text) use: the person's ``separator`` when given ("none": one tag
        per cell), else ``|`` when a cell holds it, and ``;`` / ``,`` where splitting a cell there finds a
        known label. Raises SeparatorUnclear when a cell holds ``;`` or ``,`` that neither is decided."""
        known = KnownLabels(known)
        if separator is not None:
            return cls(() if separator == NO_SEPARATOR else (separator,), known)
        base = (TAG_SEPARATOR,) if any(TAG_SEPARATOR in c for _, c in cells) else ()
        chosen = list(base)
        for mark in OTHER_SEPARATORS:
            if any(_names_known(cell, base, mark, known) for _, cell in cells if mark in cell):
                chosen.append(mark)
        found = cls(tuple(chosen), known)
        if not base:  # the app's own mark decides a file; without it, a mark no label explains is a question
            for row, cell in cells:
                if any(m in cell for m in OTHER_SEPARATORS):
                    tags, _ = found.pieces(cell)
                    if any(t not in known and any(m in t for m in OTHER_SEPARATORS) for t in tags):
                        raise SeparatorUnclear(path, row, cell)
        return found

    def pieces(self, cell: str) -> tuple[list[str], set[str]]:
        """(the tags of ``cell``, the marks it was split at)."""
        return _split_known(cell, self.separators, self.known)

    def split(self, row: int, cell: str) -> list[str]:
        tags, marks = self.pieces(cell)
        for mark in sorted(marks - {TAG_SEPARATOR}):
            self.split_at.setdefault(mark, []).append((row, cell))
        return tags


def _names_known(cell: str, base: Sequence[str], mark: str, known: frozenset[str]) -> bool:
    """Whether splitting ``cell`` (split at ``base`` first) at ``mark`` gives a known label it did not."""
    return any(
        mark in piece
        and piece not in known
        and any(t in known for t in _split_known(piece, (mark,), known)[0])
        for piece in _split_known(cell, base, known)[0]
    )


def _split_known(cell: str, marks: Sequence[str], known: frozenset[str]) -> tuple[list[str], set[str]]:
    """``cell`` split at ``marks``, longest known labels first: consecutive pieces that with the marks
    between them name a known label (spaces aside: ``shirt,blouse``) stay that label. Returns (tags, the
    marks split at)."""
    if not marks or not any(m in cell for m in marks):
        return ([cell.strip()] if cell.strip() else []), set()
    names = known if isinstance(known, KnownLabels) else KnownLabels(known)
    parts = re.split("(" + "|".join(re.escape(m) for m in marks) + ")", cell)
    pieces, between = parts[0::2], parts[1::2]
    tags: list[str] = []
    used: set[str] = set()
    i = 0
    while i < len(pieces):
        end, text = i, pieces[i].strip()
        for j in range(min(len(pieces) - 1, i + _LONGEST_RUN), i, -1):
            label = names.run(
                "".join(p + m for p, m in zip(pieces[i:j], between[i:j], strict=True)) + pieces[j]
            )
            if label is not None:
                end, text = j, label
                break
        if text:
            tags.append(text)
        if end + 1 < len(pieces):
            used.add(between[end])
        i = end + 1
    return tags, used


class KnownLabels(frozenset):
    """Label names; ``run`` also finds a name that holds a separator when a cell spaces it differently."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        super().__init__()
        self.squeezed = {_squeeze(n): n for n in self if any(m in n for m in OTHER_SEPARATORS)}

    def run(self, text: str) -> str | None:
        """The label ``text`` names, or None."""
        text = text.strip()
        return text if text in self else self.squeezed.get(_squeeze(text))


def _squeeze(text: str) -> str:
    return "".join(text.split())


_LONGEST_RUN = 8  # marks inside one label name ("top, t-shirt, sweatshirt" has 2): plenty


def _unreadable(cell: str) -> bool:
    return cell.strip().upper() in _EXCEL_ERRORS


def _parse_ids(cell: str) -> list[str]:
    for ch in "[]();":
        cell = cell.replace(ch, ",")
    return [t.strip() for t in cell.replace(" ", ",").split(",") if t.strip()]


def apply_import(
    catalog: Catalog,
    report: ImportReport,
    rows: list[tuple[int, str, list[str], str | None]],
    vocabulary: Sequence[str],
    absent_negative: bool,
    mark_reviewed: bool,
    cancel: CancelFlag,
    progress: Progress = None,
    dry_run: bool = False,
    one_value: OneValueGroups | None = None,
    keywords: KeywordRules | None = None,
) -> ImportReport:
    """Match rows to images, then write every decision in one transaction (nothing if anything fails);
    with ``dry_run`` only count what would change. ``one_value`` (the exclusive groups): a listed value
    makes the group's other values "no"; a row listing two values of one group skips that group.
    ``keywords`` (an import of keywords read from photos) changes that rule and creates new labels."""
    matcher = _Matcher(catalog)
    planned: dict[tuple[int, str], bool] = {}
    others: list[tuple[int, str]] = []  # other values of one-value groups the rows set a value of
    splits: dict[int, str | None] = {}
    matched: dict[int, None] = {}
    matched_rows = 0
    for n, (row_no, key, tags, split) in enumerate(rows):
        if n % 1000 == 0:
            if is_cancelled(cancel):
                raise ExportCancelled(f"{report.path}: import cancelled; nothing was changed")
            if progress is not None:
                progress(n, len(rows))
        image_id, count = matcher.match(key)
        if image_id is None:
            (report.ambiguous if count > 1 else report.unmatched).append((row_no, key))
            continue
        matched.setdefault(image_id, None)
        matched_rows += 1
        if one_value is not None:
            tags, clashes = one_value.resolve(tags)
            report.conflicts += [(row_no, clash) for clash in clashes]
            others += [(image_id, other) for other in one_value.others(tags)]
        on = set(tags)
        report.labels_seen |= on
        for t in tags:
            planned[(image_id, t)] = True
        if absent_negative:
            for label in vocabulary:
                if label not in on:
                    planned[(image_id, label)] = False
        if split is not None:
            splits[image_id] = split.strip().lower() or None
    report.matched = matched_rows
    report.splits = list(splits.items())
    _record(catalog, report, planned, others, list(matched), mark_reviewed, dry_run, keywords)
    if progress is not None:
        progress(len(rows), len(rows))
    return report


@dataclass(frozen=True)
class KeywordRules:
    """How an import of keywords read from photos differs from a table's: keywords say what a photo
    shows, never what it does not, so in a one-value group only another value the person said yes to
    becomes no (the tag rule already shows one value: ``core.tags.apply_decisions``); and keywords
    matching no label become the person's ``new_labels`` (label -> group), created with the decisions."""

    new_labels: dict[str, str] = field(default_factory=dict)


def _record(
    catalog: Catalog,
    report: ImportReport,
    planned: dict[tuple[int, str], bool],
    others: list[tuple[int, str]],
    matched: list[int],
    mark_reviewed: bool,
    dry_run: bool,
    keywords: KeywordRules | None,
) -> None:
    """Count what ``planned`` (and the one-value ``others``) change against the catalog; write it unless
    ``dry_run``."""
    before = catalog.decisions_for(matched)
    for image_id, other in others:
        if planned.get((image_id, other)):
            continue  # the rows set this value too (that group was listed twice: skipped, or last wins)
        if keywords is None or before.get(image_id, {}).get(other):
            planned[(image_id, other)] = False
    reviewed = {r.id for r in catalog.images(include_missing=True) if r.reviewed}
    for (image_id, label), value in planned.items():
        old = before.get(image_id, {}).get(label)
        if old is None:
            report.added += 1
        elif old != value:
            report.changed += 1
    report.matched_ids = matched
    report.newly_reviewed = sum(1 for i in matched if i not in reviewed) if mark_reviewed else 0
    report.changes = [(i, lab, v) for (i, lab), v in planned.items()]
    report.decisions = len(report.changes)
    report.dry_run = dry_run
    if dry_run:
        return
    if keywords is not None and keywords.new_labels:
        # The person's new tags and their first decisions in one transaction (nothing is marked reviewed)
        catalog.add_person_labels(keywords.new_labels, report.changes)
    else:
        # Decisions and review marks in one transaction: a photo is never reviewed without them.
        catalog.set_reviewed(matched if mark_reviewed else [], True, report.changes)
    if report.splits:
        catalog.set_splits(report.splits)


def import_seed(
    catalog: Catalog,
    path: str | os.PathLike,
    *,
    taxonomy: Sequence[str] | None = None,
    absent_negative: bool = True,
    mark_reviewed: bool = True,
    progress: Progress = None,
    cancel: CancelFlag = None,
    dry_run: bool = False,
    one_value: OneValueGroups | None = None,
    separator: str | None = None,
    table: pd.DataFrame | None = None,
) -> ImportReport:
    """Import a seed-layout spreadsheet (``ImageId`` + ``Category`` ids and/or ``CategoryName``) as decisions.

    ImageId is matched to catalog photos by file name, stem or (relative) path. Each matched photo
    gets an on-decision per listed category and, with ``absent_negative``, an off-decision for every
    other taxonomy category (the seed's annotations are complete, so empty category cells mean "none of
    them"; a cell holding an Excel error is skipped and listed); ``Split`` is stored when present.
    CategoryName cells are split as :meth:`TagCells.recognise` says (``separator`` overrides it).
    Unmatched rows and unknown categories are reported with row numbers, not fatal. ``dry_run``
    changes nothing and reports what would change. ``table``: the file already read. Raises ExportError
    for unreadable files, missing columns or unclear separators (the catalog untouched).
    """
    taxonomy = list(taxonomy) if taxonomy is not None else taxonomy_labels()
    needs = {"required": ("ImageId",), "one_of": ("Category", "CategoryName")}
    df = read_table(path, **needs) if table is None else require_columns(table, path, **needs)
    report = ImportReport(Path(path), rows=len(df))
    first = int(df.attrs.get("header_row", 1)) + 1
    known = set(taxonomy)
    records = df.to_dict("records")
    names = [(n + first, str(r.get("CategoryName", "") or "")) for n, r in enumerate(records)]
    cells = TagCells.recognise(path, [(r, c) for r, c in names if c and not _unreadable(c)], known, separator)
    rows: list[tuple[int, str, list[str], str | None]] = []
    has_split = "Split" in df.columns
    for n, rec in enumerate(records):
        row_no = n + first
        key = str(rec["ImageId"])
        if not key:
            report.unmatched.append((row_no, ""))
            continue
        tags: list[str] = []
        ids_cell = str(rec.get("Category", "") or "")
        if _unreadable(ids_cell) or _unreadable(names[n][1]):
            report.no_tags.append((row_no, key))
            continue
        if ids_cell:
            for tok in _parse_ids(ids_cell):
                try:
                    idx = int(float(tok))
                except ValueError:
                    idx = -1
                if 0 <= idx < len(taxonomy) and float(tok) == idx:
                    tags.append(taxonomy[idx])
                else:
                    report.unknown_labels.append((row_no, tok))
        else:
            for name in cells.split(row_no, names[n][1]):
                if name in known:
                    tags.append(name)
                else:
                    report.unknown_labels.append((row_no, name))
        rows.append((row_no, key, list(dict.fromkeys(tags)), str(rec["Split"]) if has_split else None))
    report.separators, report.split_at = cells.separators, cells.split_at
    return apply_import(
        catalog, report, rows, taxonomy, absent_negative, mark_reviewed, cancel, progress, dry_run, one_value
    )


def known_labels(catalog: Catalog, model_labels: Iterable[str] = ()) -> set[str]:
    """The labels a table's tags may name without being new: ``model_labels``, the person's own labels and
    every label the catalog holds decisions on."""
    decided = {lab for (lab,) in catalog.query("SELECT DISTINCT label FROM decisions")}
    return {*model_labels, *catalog.person_labels(), *decided}


def _lists_complete_tags(path: str | os.PathLike) -> bool:
    """Whether the file is the app's own export, whose rows list every tag of a photo (an empty cell:
    none); a person's own table says nothing by an empty cell."""
    return read_about(path).get("App", "").startswith("Fashion Finder")


def import_tags(
    catalog: Catalog,
    path: str | os.PathLike,
    *,
    labels: Sequence[str] | None = None,
    absent_negative: bool = True,
    mark_reviewed: bool = True,
    progress: Progress = None,
    cancel: CancelFlag = None,
    dry_run: bool = False,
    one_value: OneValueGroups | None = None,
    negatives: Sequence[str] = (),
    known: Iterable[str] | None = None,
    separator: str | None = None,
    table: pd.DataFrame | None = None,
) -> ImportReport:
    """Import the app's own CSV/XLSX (``path`` or ``image``, and ``tags`` joined with ``|``) or a person's
    table like it (tags joined with ``;`` or ``,``: :meth:`TagCells.recognise`; ``separator`` overrides
    it) as decisions.

    ``labels`` is the label list tags must come from (e.g. the model's); others are reported with
    their row numbers and skipped. Without it every tag in the file counts, and those not in ``known``
    (default: :func:`known_labels`) are listed as new labels. With ``absent_negative``
    a label of that list missing from a row becomes an off-decision (the row states the photo's
    complete tags, as an edited export does); ``negatives`` (e.g. the model's labels) are added to
    that list. A row whose tag cell is empty (except in the app's own export, where that means no
    tags) or an Excel error is skipped and listed: it decides nothing and is not marked reviewed.
    A ``split`` column is stored when present. ``dry_run`` changes nothing and reports what
    would change. ``table``: the file already read. Raises ExportError for unreadable files, missing
    columns or unclear separators (the catalog untouched).
    """
    needs = {"required": (TAGS_COLUMN,), "one_of": (PATH_COLUMN, IMAGE_COLUMN)}
    df = read_table(path, **needs) if table is None else require_columns(table, path, **needs)
    key_col = PATH_COLUMN if PATH_COLUMN in df.columns else IMAGE_COLUMN
    report = ImportReport(Path(path), rows=len(df))
    first = int(df.attrs.get("header_row", 1)) + 1
    split_col = next((c for c in df.columns if str(c).strip().casefold() == SPLIT_COLUMN), None)
    listed = set(labels) if labels is not None else None
    names = listed if listed is not None else set(known if known is not None else known_labels(catalog))
    records = df.to_dict("records")
    tag_cells = [(n + first, str(r[TAGS_COLUMN])) for n, r in enumerate(records)]
    cells = TagCells.recognise(
        path, [(r, c) for r, c in tag_cells if c and not _unreadable(c)], names, separator
    )
    empty_is_none = _lists_complete_tags(path)
    rows: list[tuple[int, str, list[str], str | None]] = []
    seen: dict[str, None] = {}
    for n, rec in enumerate(records):
        row_no, cell = tag_cells[n]
        key = str(rec[key_col])
        if not key:
            report.unmatched.append((row_no, ""))
            continue
        if _unreadable(cell) or not (cell or empty_is_none):
            report.no_tags.append((row_no, key))
            continue
        tags = []
        for t in cells.split(row_no, cell):
            if listed is not None and t not in listed:
                report.unknown_labels.append((row_no, t))
                continue
            if t not in names and t not in seen:
                report.new_labels.append((row_no, t))
            tags.append(t)
            seen.setdefault(t, None)
        rows.append((row_no, key, list(dict.fromkeys(tags)), str(rec[split_col]) if split_col else None))
    report.separators, report.split_at = cells.separators, cells.split_at
    vocabulary = list(dict.fromkeys([*(labels if labels is not None else seen), *negatives]))
    return apply_import(
        catalog,
        report,
        rows,
        vocabulary,
        absent_negative,
        mark_reviewed,
        cancel,
        progress,
        dry_run,
        one_value,
    )


def import_spreadsheet(
    catalog: Catalog,
    path: str | os.PathLike,
    *,
    model_labels: Sequence[str] = (),
    dry_run: bool = False,
    cancel: CancelFlag = None,
    reviewed: bool = True,
    one_value: OneValueGroups | None = None,
    separator: str | None = None,
    table: pd.DataFrame | None = None,
) -> ImportReport:
    """Import any layout the app knows, chosen by its columns: the seed's (``ImageId``) or the app's
    own (``path``/``image`` + ``tags``), as the person's decisions on the photos it matches.

    ``reviewed``: the matched photos are then reviewed and settled (a row lists a photo's complete
    tags: ``model_labels`` it leaves out become "no"). Without it the listed tags become the person's
    yes and nothing else is decided, except that in a one-value group (``one_value``) the group's
    other values become no. Either way a row listing two values of a one-value group skips that group
    and says so, and a row without readable tags is skipped and listed. Tag cells are split at the
    separators they use (``separator``: the person's answer, "none" for one tag per cell); tags that are
    neither ``model_labels`` nor labels the catalog knows are listed as new. ``table``: the file as
    :func:`read_import_table` read it. ``dry_run`` reports what would change and changes nothing.
    Raises ExportError as the importers do (SeparatorUnclear where the separator needs an answer)."""
    head = read_import_table(path) if table is None else table
    options = {
        "dry_run": dry_run,
        "cancel": cancel,
        "one_value": one_value,
        "absent_negative": reviewed,
        "mark_reviewed": reviewed,
        "separator": separator,
        "table": head,
    }
    if has_columns(head, ("ImageId",)):
        return import_seed(catalog, path, **options)
    negatives = model_labels if reviewed else ()
    return import_tags(
        catalog, path, negatives=negatives, known=known_labels(catalog, model_labels), **options
    )


def read_import_table(path: str | os.PathLike) -> pd.DataFrame:
    """The table an import reads (once: the importers take it as ``table``); raises ExportError."""
    return read_table(path)


def one_value_groups(catalog: Catalog, model_key: str | None = None) -> OneValueGroups | None:
    """The one-value groups of a catalog's model (``model_key``, else the one registered last) with the
    groups of the labels people created; None when it has no model with exclusive groups."""
    models = catalog.models()
    record = catalog.model(model_key) if model_key else (models[-1] if models else None)
    if record is None or not record.exclusive:
        return None
    return OneValueGroups({**catalog.person_labels(), **dict(record.groups)}, tuple(record.exclusive))
