"""Keywords photos already carry (embedded, or in XMP sidecars beside them) into the catalog as decisions."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..model.bundle_format import label_problem
from .catalog import Catalog
from .exiftool import ExifTool, PhotoKeywords
from .label_import import (
    ImportReport,
    KeywordRules,
    OneValueGroups,
    apply_import,
    one_value_groups,
    problem_lines,
)
from .scan import CancelFlag, is_cancelled
from .spreadsheet import ExportCancelled
from .xmp import HIERARCHY_SEPARATOR, sidecars_of

NEW_TAG_GROUP = "keywords"  # the group of a new tag whose keyword names none (a flat keyword)
BATCH = 200  # photos per ExifTool call: progress and cancel between batches

Found = tuple[list[str], list[str], int]  # a photo's (flat, hierarchical) keywords, and how many were ours


@dataclass
class KeywordImportReport(ImportReport):
    """What importing the keywords of a catalog's photos did (``path``: the catalog); ``rows`` counts the
    photos read, ``files`` names them by row number."""

    files: list[str] = field(default_factory=list)
    new_tags: dict[str, str] = field(default_factory=dict)  # label -> group, the person's new tags
    ours_skipped: int = 0  # keywords the app wrote itself (its private XMP list names them)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (file, one-line reason)
    ambiguous_keywords: list[tuple[str, str]] = field(default_factory=list)  # (photo, keyword)
    unusable: list[tuple[str, str]] = field(default_factory=list)  # (photo, keyword that cannot be a tag)

    def summary(self) -> str:
        """A few lines for a person: counts, the new tags, then the first problems with their files."""
        verb = "would be recorded" if self.dry_run else "recorded"
        lines = [
            f"{self.path}: keywords of {self.rows} photos read, {len(self.matched_ids)} matched photos, "
            f"{self.decisions} decisions {verb} ({self.added} new, {self.changed} changed); "
            "no photo marked reviewed"
        ]
        if self.new_tags:
            names = ", ".join(f"{t} ({g})" for t, g in self.new_tags.items())
            lines.append(f"{len(self.new_tags)} new tags: {names}")
        if self.ours_skipped:
            lines.append(f"{self.ours_skipped} keywords the app wrote itself (skipped)")
        conflicts = [(self.files[r], v) for r, v in self.conflicts]
        problems = (
            ("files could not be read", self.unreadable),
            ("keywords naming labels of two groups (skipped)", self.ambiguous_keywords),
            ("keywords that cannot be tag names (skipped)", self.unusable),
            ("photos with two values of a one-value group (that group skipped)", conflicts),
        )
        return "\n".join(lines + problem_lines(problems, lambda path: Path(path).name))


class _Vocabulary:
    """Labels by name and by (group, name), ignoring case; keywords matching none become new tags."""

    def __init__(self, groups: Mapping[str, str]) -> None:
        self.by_name: dict[str, list[str]] = {}
        self.by_pair: dict[tuple[str, str], str] = {}
        self.new: dict[str, str] = {}
        for label, group in groups.items():
            self._add(label, group)

    def _add(self, label: str, group: str) -> None:
        self.by_name.setdefault(label.casefold(), []).append(label)
        self.by_pair[(group.casefold(), label.casefold())] = label

    def candidates(self, name: str, group: str | None) -> list[str]:
        """The label ``group|name`` names; else the labels called ``name`` in any group (a hierarchy of
        another app's, ``Colours|Black``, still means our Black: label names are unique)."""
        if group is not None:
            exact = self.by_pair.get((group.casefold(), name.casefold()))
            if exact is not None:
                return [exact]
        return self.by_name.get(name.casefold(), [])

    def add_new(self, name: str, group: str | None) -> None:
        """A new tag for a keyword no label matches, in its hierarchy's group (else ``keywords``)."""
        if self.candidates(name, group) or label_problem(name) is not None:
            return
        usable = group is not None and label_problem(group) is None
        self.new[name] = group if usable else NEW_TAG_GROUP
        self._add(name, self.new[name])


def _parsed(flat: list[str], tree: list[str]) -> list[tuple[str, str | None]]:
    """(name, group or None) per keyword: ``a|b|c`` is ``c`` of group ``b`` (the last two levels). A flat
    keyword naming a level of one of the photo's hierarchies is left out: Lightroom writes each level
    of ``colour|Black`` as a flat keyword too, and ``colour`` is not a tag."""
    out: list[tuple[str, str | None]] = []
    levels: set[str] = set()
    # Some tools put ``group|value`` among the flat keywords: a hierarchy all the same.
    tree = [*tree, *(k for k in flat if HIERARCHY_SEPARATOR in k)]
    flat = [k for k in flat if HIERARCHY_SEPARATOR not in k]
    for keyword in tree:
        parts = [p.strip() for p in keyword.split(HIERARCHY_SEPARATOR) if p.strip()]
        if len(parts) > 1:
            out.append((parts[-1], parts[-2]))
            levels |= {p.casefold() for p in parts}
        elif parts:
            flat = [*flat, parts[0]]
    for keyword in dict.fromkeys(flat):
        if keyword.casefold() not in levels:
            out.append((keyword, None))
    return out


def _merge(found: Iterable[PhotoKeywords]) -> Found:
    """One photo's keywords from its file and sidecars: (theirs flat, theirs hierarchical, ours counted)."""
    flat: list[str] = []
    tree: list[str] = []
    ours: set[str] = set()
    for kw in found:
        their_flat, their_tree = kw.theirs()
        flat += their_flat
        tree += their_tree
        mine = set(kw.ours) | set(kw.our_hierarchy)
        ours |= {
            k.split(HIERARCHY_SEPARATOR)[-1] for k in [*kw.subject, *kw.iptc, *kw.hierarchy] if k in mine
        }
    return list(dict.fromkeys(flat)), list(dict.fromkeys(tree)), len(ours)


def read_photo_keywords(
    paths: list[str], cancel: CancelFlag = None
) -> Generator[tuple[int, int], None, tuple[dict[str, Found], list[tuple[str, str]]]]:
    """Read the keywords of ``paths`` and of their sidecars (``core.xmp.sidecars_of``) with one ExifTool
    process; yields (photos read, of total); returns ({path: Found}, [(unreadable file, reason)]).
    Raises ExifToolMissing (before reading anything), ExportCancelled."""
    sidecars = sidecars_of(paths)
    found: dict[str, Found] = {}
    unreadable: list[tuple[str, str]] = []
    with ExifTool() as et:
        for start in range(0, len(paths), BATCH):
            if is_cancelled(cancel):
                raise ExportCancelled("reading keywords cancelled; nothing was changed")
            batch = paths[start : start + BATCH]
            files = [*batch, *(str(s) for p in batch for s in sidecars.get(p, []))]
            read = et.read_keywords(files)
            for p in batch:
                own = [p, *(str(s) for s in sidecars.get(p, []))]
                unreadable += [(f, read[f]) for f in own if isinstance(read[f], str)]
                kept = [k for k in (read[f] for f in own) if isinstance(k, PhotoKeywords)]
                if kept:
                    found[p] = _merge(kept)
            yield min(start + BATCH, len(paths)), len(paths)
    return found, unreadable


def _known_labels(catalog: Catalog, model_key: str | None) -> dict[str, str]:
    """label -> group, every label the window shows (``LibraryColumns.all_labels``): the model's
    (``model_key``, else the one registered last; its groups win), the person's own, and labels only
    people's decisions hold (say from an earlier table import), in the group another model gave them."""
    models = catalog.models()
    record = catalog.model(model_key) if model_key else (models[-1] if models else None)
    model = {lab: record.groups.get(lab, "") for lab in record.labels} if record is not None else {}
    earlier = {lab: g for m in models for lab, g in m.groups.items()}
    used = {lab: earlier.get(lab, "") for (lab,) in catalog.query("SELECT DISTINCT label FROM decisions")}
    return {**used, **catalog.person_labels(), **model}


def keyword_import_steps(
    catalog: Catalog, *, model_key: str | None = None, dry_run: bool = False, cancel: CancelFlag = None
) -> Generator[tuple[int, int], None, KeywordImportReport]:
    """Import the keywords of the catalog's present photos as the person's decisions; yields (photos read,
    of total) and returns the report (``dry_run``: what would change, nothing changed).

    Keywords match labels of the model ``model_key`` (else the latest) and the person's own by name,
    ignoring case (``group|name`` the label of that group). A match is a yes; keywords never make a
    "no" nor mark a photo reviewed; in a one-value group the value replaces another the person said yes
    to. Keywords matching no label become the person's new tags. Files that cannot be read are listed.
    Writes decisions and new tags in one transaction. Raises ExifToolMissing, ExportCancelled."""
    paths = [r.path for r in catalog.images()]
    found, unreadable = yield from read_photo_keywords(paths, cancel)
    report = KeywordImportReport(Path(catalog.path), rows=len(paths), files=paths, unreadable=unreadable)
    report.ours_skipped = sum(n for _, _, n in found.values())
    parsed = {p: _parsed(flat, tree) for p, (flat, tree, _) in found.items()}
    vocab = _Vocabulary(_known_labels(catalog, model_key))
    for hierarchical in (True, False):  # a hierarchy names a new tag's group, wherever the name is flat
        for items in parsed.values():
            for name, group in items:
                if (group is not None) == hierarchical:
                    vocab.add_new(name, group)
    rows: list[tuple[int, str, list[str], str | None]] = []
    for n, p in enumerate(paths):
        tags: list[str] = []
        for name, group in parsed.get(p, []):
            labels = vocab.candidates(name, group)
            if len(labels) == 1:
                tags.append(labels[0])
            else:
                (report.ambiguous_keywords if labels else report.unusable).append((p, name))
        if tags:
            rows.append((n, p, list(dict.fromkeys(tags)), None))
    one_value = _with_new_tags(one_value_groups(catalog, model_key), vocab.new)
    kept = {t for _, _, tags, _ in rows for t in (one_value.resolve(tags)[0] if one_value else tags)}
    report.new_tags = {t: g for t, g in vocab.new.items() if t in kept}  # none only in a skipped group
    rules = KeywordRules(dict(report.new_tags))
    return apply_import(catalog, report, rows, (), False, False, cancel, None, dry_run, one_value, rules)


def _with_new_tags(one_value: OneValueGroups | None, new: Mapping[str, str]) -> OneValueGroups | None:
    """The one-value groups with the new tags in their groups (a new colour is one more colour)."""
    if one_value is None:
        return None
    return OneValueGroups({**new, **one_value.groups}, one_value.exclusive)


def import_photo_keywords(
    catalog: Catalog,
    *,
    model_key: str | None = None,
    dry_run: bool = False,
    cancel: CancelFlag = None,
    progress: Callable[[int, int], None] | None = None,
) -> KeywordImportReport:
    """``keyword_import_steps`` run to its end, with ``progress(done, total)``; raises as it does."""
    steps = keyword_import_steps(catalog, model_key=model_key, dry_run=dry_run, cancel=cancel)
    while True:
        try:
            done, total = next(steps)
        except StopIteration as stop:
            return stop.value
        if progress is not None:
            progress(done, total)
