"""Data readers: folders, spreadsheets, iMaterialist, COCO/Fashionpedia, the app's catalog -> one label table."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fashion_desktop.model.bundle_format import TAG_SEPARATOR, label_problem
from fashion_desktop.model.images import EXTENSIONS
from fashion_desktop.model.label_mapping import MappingFileError, read_mapping_rows
from fashion_desktop.model.label_mapping import mapping_key as _norm

POS, NEG, UNK = 1, 0, -1
IMAGE_EXTENSIONS = {f".{ext}" for ext in EXTENSIONS}  # the app's photo kinds: HEIC and raw files included
SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
}
CATEGORY = "category"


class DataError(ValueError):
    """Data that cannot be read; the message names the file or folder and says what to fix."""


@dataclass
class LabelTable:
    """One row per image: path, per-label state (1 / 0 / -1 unknown), split, grouping key, source.

    ``labels`` is the model's output order. ``groups`` maps label -> group name. ``split`` is
    ``train``/``val``/``test`` or ``""`` (not yet assigned). ``notes`` collects reader warnings.
    ``inputs`` describes each data entry read, in order: ``path``, ``source`` (its name in ``sources``),
    ``images`` (rows it gave) and ``labels`` (its own label names as the data spells them, before any
    mapping: what a mapping for it would list). ``exclusive_groups`` and ``at_least_one_groups`` are the
    rules the data itself brings (a library: its model's), ``dropped`` the labels pruned for too few
    training examples (``drop_rare_labels``).
    """

    paths: list[str]
    labels: list[str]
    groups: dict[str, str]
    targets: np.ndarray
    splits: list[str]
    keys: list[str]
    sources: list[str]
    notes: list[str] = field(default_factory=list)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    exclusive_groups: tuple[str, ...] = ()
    at_least_one_groups: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.targets = np.asarray(self.targets, dtype=np.int8).reshape(len(self.paths), len(self.labels))
        n = len(self.paths)
        if not (len(self.splits) == len(self.keys) == len(self.sources) == n):
            raise ValueError("paths, splits, keys and sources must have one entry per image")

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, rows: Sequence[int] | np.ndarray) -> LabelTable:
        rows = np.asarray(rows, dtype=np.int64)
        pick = rows.tolist()
        return dataclasses.replace(
            self,
            paths=[self.paths[i] for i in pick],
            labels=list(self.labels),
            groups=dict(self.groups),
            targets=self.targets[rows],
            splits=[self.splits[i] for i in pick],
            keys=[self.keys[i] for i in pick],
            sources=[self.sources[i] for i in pick],
            notes=list(self.notes),
            inputs=list(self.inputs),
        )

    def split_rows(self, split: str) -> np.ndarray:
        return np.array([i for i, s in enumerate(self.splits) if s == split], dtype=np.int64)

    def keep_labels(self, keep: Sequence[str]) -> LabelTable:
        idx = [self.labels.index(lab) for lab in keep]
        return dataclasses.replace(
            self,
            paths=list(self.paths),
            labels=list(keep),
            groups={k: v for k, v in self.groups.items() if k in keep},
            targets=self.targets[:, idx],
            splits=list(self.splits),
            keys=list(self.keys),
            sources=list(self.sources),
            notes=list(self.notes),
            inputs=list(self.inputs),
        )

    def summary(self) -> dict[str, Any]:
        """Counts for the ``run_started`` event and the bundle's provenance."""
        out: dict[str, Any] = {"images": len(self), "labels": len(self.labels), "splits": {}, "sources": {}}
        for split in ("train", "val", "test", ""):
            rows = self.split_rows(split)
            if len(rows) or split:
                out["splits"][split or "unassigned"] = int(len(rows))
        for s in sorted(set(self.sources)):
            out["sources"][s] = int(sum(1 for x in self.sources if x == s))
        groups: dict[str, int] = {}
        for lab in self.labels:
            g = self.groups.get(lab, "other")
            groups[g] = groups.get(g, 0) + 1
        out["label_groups"] = groups
        out["known_fraction"] = float((self.targets != UNK).mean()) if self.targets.size else 0.0
        if self.notes:
            out["notes"] = list(self.notes)
        return out


# ---------------------------------------------------------------- label mappings


@dataclass(frozen=True)
class LabelMapping:
    """Source label -> target label names (case-insensitive); an empty target means "exclude"."""

    table: Mapping[str, tuple[str, ...]]
    path: str = ""
    where: Mapping[str, str] = field(default_factory=dict)  # source key -> "row 4" / "entry 'x'"
    # Source labels looked up so far (normalised -> as the data spells it): what this data uses.
    seen: dict[str, str] = field(default_factory=dict, compare=False)

    def lookup(self, label: str) -> tuple[str, ...] | None:
        """Targets for ``label``: a tuple (empty = exclude on purpose) or None when not listed."""
        key = _norm(label)
        self.seen.setdefault(key, str(label).strip())
        return self.table.get(key)

    def targets(self) -> list[str]:
        seen: dict[str, None] = {}
        for tgt in self.table.values():
            for t in tgt:
                seen.setdefault(t, None)
        return list(seen)


def load_mapping(path: str | os.PathLike) -> LabelMapping:
    """Read a mapping file: CSV (first column source label, second column target name, several
    targets separated by ``|``, empty = exclude) or a YAML/JSON mapping ``{source: target | [targets]}``
    (``fashion_desktop.model.label_mapping`` owns the format).

    Raises DataError for a missing or unreadable file.
    """
    try:
        rows = read_mapping_rows(path)
    except MappingFileError as exc:
        raise DataError(str(exc)) from None
    table = {_norm(r.source): r.targets for r in rows}
    where = {_norm(r.source): r.where for r in rows}
    return LabelMapping(table, str(path), where)


def check_mapping_targets(mapping: LabelMapping, allow_new_labels: bool = False) -> list[str]:
    """Check the targets this data used (``mapping.seen``) against the known labels: the taxonomy and
    the data's own labels. A target a typo away from a known label (difflib) is refused unless
    ``allow_new_labels``; one far from all of them is a deliberate new label, named in the notes.

    Returns the notes. Raises DataError naming the mapping row and the closest known labels.
    """
    known = list(dict.fromkeys([*_taxonomy_order(), *mapping.seen.values()]))
    exact = set(known)
    # A comma-named taxonomy label ("shirt, blouse") is also found by each of its names.
    spelled: dict[str, str] = {}
    for name in known:
        for alias in [name, *name.split(",")]:
            spelled.setdefault(alias.strip().casefold(), name)
    new: dict[str, None] = {}
    for key in mapping.seen:
        for target in mapping.table.get(key) or ():
            if target in exact or target in new:
                continue
            close = difflib.get_close_matches(target.casefold(), list(spelled), n=3, cutoff=0.75)
            close_names = list(dict.fromkeys(spelled[c] for c in close))
            if close_names and not allow_new_labels:
                name = Path(mapping.path).name or "the label mapping"
                raise DataError(
                    f"{name} {mapping.where.get(key, '')}: {target!r} is not a known label; did you mean "
                    + " or ".join(repr(c) for c in close_names)
                    + "? (to add it as a new label anyway, pass --set allow_new_labels=true)"
                )
            new[target] = None
    if not new:
        return []
    return [f"{mapping.path}: new labels (in neither the taxonomy nor the data): {', '.join(new)}"]


def _map(label: str, mapping: LabelMapping | None) -> tuple[str, ...] | None:
    """Target names for a source label: identity without a mapping, None when unlisted."""
    if mapping is None:
        return (str(label).strip(),) if str(label).strip() else ()
    return mapping.lookup(label)


# ---------------------------------------------------------------- building tables


def _taxonomy_order() -> dict[str, int]:
    try:
        from fashion_desktop.model.resources import taxonomy_labels

        return {name: i for i, name in enumerate(taxonomy_labels())}
    except (OSError, ImportError):
        return {}


def _natural_key(text: str) -> list[Any]:
    return [int(p) if p.isdigit() else p.casefold() for p in re.split(r"(\d+)", text)]


def order_labels(names: Iterable[str], group: str, given: Sequence[str] | None = None) -> list[str]:
    """Label order: a given label-file order, else iMaterialist order for categories, else natural sort."""
    names = list(dict.fromkeys(names))
    if given:
        pos = {n: i for i, n in enumerate(given)}
        return sorted(names, key=lambda n: (pos.get(n, len(pos)), _natural_key(n)))
    tax = _taxonomy_order() if group == CATEGORY else {}
    return sorted(names, key=lambda n: (tax.get(n, len(tax)), _natural_key(n)))


@dataclass
class _Builder:
    """Collects rows of one source: per image the positives of each group it teaches."""

    source: str
    vocab: dict[str, list[str]] = field(default_factory=dict)  # group -> taught labels
    rows: list[tuple[str, dict[str, set[str] | None], str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    label_order: dict[str, Sequence[str]] = field(default_factory=dict)

    def teach(self, group: str, labels: Iterable[str]) -> None:
        known = self.vocab.setdefault(group, [])
        for lab in labels:
            if lab not in known:
                known.append(lab)

    def add(self, path: str, positives: dict[str, set[str] | None], split: str = "", key: str = "") -> None:
        """``positives[group]`` = set of positive labels (others in the group negative), or None = unknown."""
        for group, pos in positives.items():
            if pos:
                self.teach(group, pos)
        self.rows.append((path, positives, _split_name(split), key or path))

    def build(self) -> LabelTable:
        labels: list[str] = []
        groups: dict[str, str] = {}
        for group, names in self.vocab.items():
            for lab in order_labels(names, group, self.label_order.get(group)):
                labels.append(lab)
                groups[lab] = group
        col = {lab: j for j, lab in enumerate(labels)}
        targets = np.full((len(self.rows), len(labels)), UNK, dtype=np.int8)
        for i, (_path, positives, _split, _key) in enumerate(self.rows):
            for group, pos in positives.items():
                if pos is None:
                    continue
                for lab in self.vocab.get(group, []):
                    targets[i, col[lab]] = POS if lab in pos else NEG
        return LabelTable(
            [r[0] for r in self.rows],
            labels,
            groups,
            targets,
            [r[2] for r in self.rows],
            [r[3] for r in self.rows],
            [self.source] * len(self.rows),
            list(self.notes),
        )


def _split_name(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    text = str(value).strip().casefold()
    if not text:
        return ""
    if text not in SPLIT_NAMES:
        raise DataError(f"unknown split name {value!r}; use train, val/validation or test")
    return SPLIT_NAMES[text]


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def _read_json(path: Path, what: str) -> Any:
    """Parsed JSON from ``path``; raises DataError naming ``what`` and the file when missing or invalid."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise DataError(f"{what} not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None


def _need_dir(path: Path, what: str) -> None:
    if not path.is_dir():
        raise DataError(f"{what} not found: {path} (is the path right and the drive connected?)")


# ---------------------------------------------------------------- readers


def read_folders(
    root: str | os.PathLike, mapping: LabelMapping | None = None, group: str = CATEGORY
) -> LabelTable:
    """Folder-per-class (``root/<class>/*.jpg``), optionally under split folders (``root/train/<class>``).

    Each image is positive for its folder's (mapped) labels and negative for the other classes of this
    source. Classes the mapping excludes are skipped; classes it does not list are skipped with a note.
    Raises DataError when ``root`` is missing or holds no class folders.
    """
    root = Path(root)
    _need_dir(root, "image folder")
    b = _Builder(f"folders:{root.name}")
    subdirs = sorted(p for p in root.iterdir() if p.is_dir())
    split_dirs = [p for p in subdirs if p.name.casefold() in SPLIT_NAMES]
    layout = [(p, SPLIT_NAMES[p.name.casefold()]) for p in split_dirs] if split_dirs else [(root, "")]
    skipped: dict[str, int] = {}
    for base, split in layout:
        for cls in sorted(p for p in base.iterdir() if p.is_dir()):
            targets = _map(cls.name, mapping)
            images = _images_in(cls)
            if not targets:
                skipped[cls.name] = skipped.get(cls.name, 0) + len(images)
                continue
            for img in images:
                b.add(str(img), {group: set(targets)}, split)
    for name, count in skipped.items():
        b.notes.append(
            f"{root}: class folder {name!r} ({count} images) skipped: excluded or not in the mapping"
        )
    if not b.rows:
        classes = sorted({p.name for base, _ in layout for p in base.iterdir() if p.is_dir()})
        if mapping is not None and classes:
            raise DataError(_mapping_mismatch(mapping, root, classes))
        raise DataError(f"{root}: no class folders with images found (expected {root}/<class>/*.jpg)")
    return b.build()


def _mapping_mismatch(mapping: LabelMapping, root: Path, classes: list[str]) -> str:
    """Why ``mapping`` left no class folder of ``root`` to train: none listed, or all excluded."""
    name = Path(mapping.path).name or "the label mapping"

    def shown(items: Sequence[str]) -> str:
        return ", ".join(items[:8]) + (", ..." if len(items) > 8 else "")

    n = f"{len(classes)} class folder{'s' * (len(classes) != 1)}"
    if any(mapping.lookup(c) is not None for c in classes):
        return f"{name} excludes all {n} of {root} (folders: {shown(classes)})"
    return f"{name} maps none of the {n} of {root} (folders: {shown(classes)}; mapping keys: {shown(list(mapping.table))})"


def _resolve_image(base: Path, name: str, image_dir: Path | None) -> Path:
    p = Path(str(name).strip())
    if not p.is_absolute():
        p = (image_dir or base) / p
    if not p.suffix:
        for ext in (".jpg", ".jpeg", ".png"):
            if p.with_suffix(ext).exists():
                return p.with_suffix(ext)
        return p.with_suffix(".jpg")
    return p


def _read_frame(path: Path):
    """The sheet as text cells, read as the app reads it (``;`` CSVs, ``#`` header lines, ``'=`` cells)."""
    from fashion_desktop.model.spreadsheet import ExportError, read_table

    try:
        return read_table(path)
    except ExportError as exc:
        raise DataError(str(exc)) from None


def _column(df, name: str, path: Path) -> str:
    lower = {c.strip().casefold(): c for c in df.columns}
    if name.casefold() not in lower:
        raise DataError(f"{path}: missing column {name!r} (columns are: {', '.join(map(str, df.columns))})")
    return lower[name.casefold()]


def read_table(
    path: str | os.PathLike, spec: Mapping[str, Any] | None = None, mapping: LabelMapping | None = None
) -> LabelTable:
    """A CSV/XLSX spreadsheet in one of three layouts, chosen by its columns or by ``spec``:

    * the seed's ``ImageId, Category, CategoryName, Split`` (one row per image and category; class
      order = the numeric ``Category`` ids);
    * generic ``image, tags`` (``spec['separator']``, default ``;``; group ``spec['group']``);
    * ``spec['columns'] = {group: column or [column, fallback column...]}`` with optional
      ``spec['mappings'] = {column: mapping file}`` (e.g. fashion-products' articleType/subCategory).

    Other ``spec`` keys: ``images`` (folder the image names are relative to; default the sheet's
    folder), ``image_column``, ``split_column``, ``key_column``. Rows whose image file is missing are
    dropped with a note. Raises DataError for missing files/columns or a missing image folder.
    """
    path = Path(path)
    spec = dict(spec or {})
    df = _read_frame(path)
    image_dir = Path(spec["images"]) if spec.get("images") else None
    if image_dir is not None and not image_dir.is_absolute():
        image_dir = path.parent / image_dir
    if image_dir is not None:
        _need_dir(image_dir, "image folder")
    cols = {c.strip().casefold() for c in df.columns}
    b = _Builder(f"table:{path.name}")
    if "columns" in spec:
        _table_columns(df, path, spec, image_dir, b)
    elif {"imageid", "split"} <= cols and ("categoryname" in cols or "category" in cols):
        _table_seed(df, path, image_dir, mapping, b)
    elif (
        {"path", "tags"} <= cols and "image" not in cols and not spec.keys() & {"image_column", "tags_column"}
    ):
        _table_app_export(df, path, image_dir, mapping, b)
    else:
        _table_tags(df, path, spec, image_dir, mapping, b)
    missing = [r for r in b.rows if not Path(r[0]).is_file()]
    if missing:
        if len(missing) == len(b.rows):
            folder = Path(missing[0][0]).parent
            raise DataError(
                f"{path}: none of the {len(missing)} images exist (first: {missing[0][0]}); "
                f"missing image folder {folder}? Set 'images' to the folder holding them"
            )
        b.rows = [r for r in b.rows if Path(r[0]).is_file()]
        b.notes.append(
            f"{path}: {len(missing)} rows skipped because the image file is missing (e.g. {missing[0][0]})"
        )
    if not b.rows:
        raise DataError(f"{path}: no usable rows")
    return b.build()


def _table_seed(df, path: Path, image_dir: Path | None, mapping: LabelMapping | None, b: _Builder) -> None:
    image_col = _column(df, "ImageId", path)
    split_col = _column(df, "Split", path)
    cols = {c.strip().casefold(): c for c in df.columns}
    name_col = cols.get("categoryname") or cols["category"]
    id_col = cols.get("category")
    order: dict[str, float] = {}
    per_image: dict[str, tuple[set[str], str]] = {}
    for _, row in df.iterrows():
        raw = str(row[name_col]).strip()
        if not raw:
            continue
        if id_col is not None and id_col != name_col:
            try:
                order.setdefault(raw, float(row[id_col]))  # numeric id order, never the string sort
            except ValueError:
                order.setdefault(raw, float(len(order)))
        targets = _map(raw, mapping) or ()
        img = str(_resolve_image(path.parent, row[image_col], image_dir))
        pos, split = per_image.setdefault(img, (set(), str(row[split_col])))
        pos.update(targets)
    if order and mapping is None:
        b.label_order[CATEGORY] = sorted(order, key=lambda n: order[n])
    for img, (pos, split) in per_image.items():
        b.add(img, {CATEGORY: pos}, split)


def _table_tags(
    df, path: Path, spec: Mapping[str, Any], image_dir: Path | None, mapping: LabelMapping | None, b: _Builder
) -> None:
    image_col = _column(df, str(spec.get("image_column", "image")), path)
    tags_col = _column(df, str(spec.get("tags_column", "tags")), path)
    sep = str(spec.get("separator", ";"))
    group = str(spec.get("group", CATEGORY))
    split_col = spec.get("split_column") or (
        "split" if "split" in {c.casefold() for c in df.columns} else None
    )
    split_col = _column(df, split_col, path) if split_col else None
    key_col = _column(df, spec["key_column"], path) if spec.get("key_column") else None
    for _, row in df.iterrows():
        pos: set[str] = set()
        for tag in str(row[tags_col]).split(sep):
            if tag.strip():
                pos.update(_map(tag, mapping) or ())
        img = str(_resolve_image(path.parent, row[image_col], image_dir))
        b.add(img, {group: pos}, row[split_col] if split_col else "", str(row[key_col]) if key_col else "")


_APP_FIXED_COLUMNS = {"path", "file", "folder", "tags", "reviewed", "split", "error"}


def _table_app_export(
    df, path: Path, image_dir: Path | None, mapping: LabelMapping | None, b: _Builder
) -> None:
    """The app's own export (File > Export, ``fashion export``, ``fashion tag``): ``path``, ``tags`` joined by
    ``|`` and one column per label group; tags in no group column form the group ``category``."""
    lower = {str(c).strip().casefold(): c for c in df.columns}
    group_cols = [
        c
        for c in df.columns
        if str(c).strip().casefold() not in _APP_FIXED_COLUMNS
        and not str(c).startswith(("score:", "decided_by:"))
    ]
    names = {c: str(c).removeprefix("group:") for c in group_cols}

    def cell(row: Any, col: Any) -> list[str]:
        return [t.strip() for t in str(row[col]).split(TAG_SEPARATOR) if t.strip()]

    def mapped(values: Iterable[str]) -> set[str]:
        return {m for v in values for m in (_map(v, mapping) or ())}

    ungrouped = any(
        set(cell(row, lower["tags"])) - {v for c in group_cols for v in cell(row, c)}
        for _, row in df.iterrows()
    )
    split_col, reviewed_col = lower.get("split"), lower.get("reviewed")
    guessed = 0
    for _, row in df.iterrows():
        positives: dict[str, set[str] | None] = {}
        grouped: set[str] = set()
        for c in group_cols:
            values = cell(row, c)
            grouped.update(values)
            positives[names[c]] = mapped(values) if values else None  # an empty group cell says nothing
        if ungrouped or not group_cols:
            positives[CATEGORY] = mapped(t for t in cell(row, lower["tags"]) if t not in grouped)
        if reviewed_col is not None and str(row[reviewed_col]).strip().casefold() not in ("true", "1", "yes"):
            guessed += 1
        img = str(_resolve_image(path.parent, row[lower["path"]], image_dir))
        b.add(img, positives, row[split_col] if split_col else "")
    if guessed:
        b.notes.append(
            f"{path}: {guessed} of {len(df)} rows are not reviewed: their tags are the model's suggestions"
        )


def _table_columns(df, path: Path, spec: Mapping[str, Any], image_dir: Path | None, b: _Builder) -> None:
    image_col = _column(df, str(spec.get("image_column", "image")), path)
    split_col = _column(df, spec["split_column"], path) if spec.get("split_column") else None
    key_col = _column(df, spec["key_column"], path) if spec.get("key_column") else None
    groups: dict[str, list[str]] = {}
    for group, names in dict(spec["columns"]).items():
        names = [names] if isinstance(names, str) else list(names)
        groups[str(group)] = [_column(df, n, path) for n in names]
    mappings = {
        _column(df, col, path): load_mapping(_relative(path, m))
        for col, m in dict(spec.get("mappings") or {}).items()
    }
    unmapped: dict[str, int] = {}
    for _, row in df.iterrows():
        positives: dict[str, set[str] | None] = {}
        for group, columns in groups.items():
            found: tuple[str, ...] | None = None
            for col in columns:  # first column with a usable (mapped) value wins
                value = str(row[col]).strip()
                if not value:
                    continue
                found = _map(value, mappings.get(col))
                if found:
                    break
                unmapped[f"{col}={value}"] = unmapped.get(f"{col}={value}", 0) + 1
            positives[group] = set(found) if found else None  # unmapped: this group stays unknown
        img = str(_resolve_image(path.parent, row[image_col], image_dir))
        b.add(img, positives, row[split_col] if split_col else "", str(row[key_col]) if key_col else "")
    for m in mappings.values():
        b.notes += check_mapping_targets(m, bool(spec.get("allow_new_labels")))
    if unmapped:
        top = sorted(unmapped.items(), key=lambda kv: -kv[1])[:8]
        b.notes.append(
            f"{path}: {sum(unmapped.values())} values not in a mapping (left unknown), e.g. "
            + ", ".join(f"{k} ({v})" for k, v in top)
        )


def _relative(base_file: Path, other: str | os.PathLike) -> Path:
    p = Path(other)
    return p if p.is_absolute() or p.exists() else base_file.parent / p


def read_imaterialist(
    train_csv: str | os.PathLike,
    label_descriptions: str | os.PathLike | None = None,
    images: str | os.PathLike | None = None,
    attributes: bool = False,
    mapping: LabelMapping | None = None,
) -> LabelTable:
    """iMaterialist 2019 ``train.csv`` (``ImageId, EncodedPixels, Height, Width, ClassId`` with ClassId
    ``category[_attr_attr...]``) and ``label_descriptions.json`` -> categories per image (class order =
    the json's category ids); with ``attributes=True`` also the attributes (group ``attribute``).

    Images are looked up in ``images`` (default ``<csv folder>/train``). Raises DataError for missing
    files, columns or image folder.
    """
    train_csv = Path(train_csv)
    desc_path = (
        Path(label_descriptions) if label_descriptions else train_csv.parent / "label_descriptions.json"
    )
    desc = _read_json(desc_path, "label_descriptions.json")
    cats = {int(c["id"]): c["name"] for c in desc.get("categories", [])}
    attrs = {int(a["id"]): a["name"] for a in desc.get("attributes", [])}
    image_dir = Path(images) if images else train_csv.parent / "train"
    _need_dir(image_dir, "image folder")
    df = _read_frame(train_csv)
    image_col = _column(df, "ImageId", train_csv)
    class_col = _column(df, "ClassId", train_csv)
    b = _Builder(f"imaterialist:{train_csv.name}")
    cat_names = [cats[k] for k in sorted(cats)]
    if mapping is None:
        b.label_order[CATEGORY] = cat_names
        b.teach(CATEGORY, cat_names)  # every category was annotated: absence is a real negative
    else:
        b.teach(CATEGORY, [t for n in cat_names for t in (_map(n, mapping) or ())])
    if attributes:
        b.label_order["attribute"] = [attrs[k] for k in sorted(attrs)]
    per_image: dict[str, tuple[set[str], set[str]]] = {}
    for _, row in df.iterrows():
        parts = str(row[class_col]).split("_")
        try:
            ids = [int(p) for p in parts if p.strip()]
        except ValueError:
            raise DataError(f"{train_csv}: bad ClassId {row[class_col]!r}") from None
        if not ids or ids[0] not in cats:
            raise DataError(f"{train_csv}: ClassId {row[class_col]!r} names no category in {desc_path.name}")
        img = str(_resolve_image(image_dir, row[image_col], image_dir))
        c, a = per_image.setdefault(img, (set(), set()))
        c.update(_map(cats[ids[0]], mapping) or ())
        a.update(attrs[i] for i in ids[1:] if i in attrs)
    for img, (c, a) in per_image.items():
        pos: dict[str, set[str] | None] = {CATEGORY: c}
        if attributes:
            b.teach("attribute", a)
            pos["attribute"] = a
        b.add(img, pos)
    return _drop_missing(b, image_dir).build()


def _drop_missing(b: _Builder, folder: Path) -> _Builder:
    present = [r for r in b.rows if Path(r[0]).is_file()]
    if len(present) < len(b.rows):
        b.notes.append(f"{folder}: {len(b.rows) - len(present)} listed images are missing and were skipped")
    b.rows = present
    if not b.rows:
        raise DataError(f"{folder}: none of the listed images exist")
    return b


def read_coco(
    json_path: str | os.PathLike, images: str | os.PathLike | None = None, mapping: LabelMapping | None = None
) -> LabelTable:
    """Fashionpedia / COCO instances JSON: an image is positive for the categories of its annotations.

    Categories are matched by NAME (Fashionpedia releases renumber ids), optionally through a mapping.
    Every category the file defines is taught, so absent categories are negatives. Images are looked up
    in ``images`` (default ``<json folder>/images``, then the json's folder).
    """
    json_path = Path(json_path)
    data = _read_json(json_path, "annotation file")
    if not isinstance(data, dict) or "images" not in data or "categories" not in data:
        raise DataError(f"{json_path}: not a COCO-style file (needs 'images' and 'categories')")
    if images:
        image_dir = Path(images)
    else:
        image_dir = json_path.parent / "images"
        if not image_dir.is_dir():
            image_dir = json_path.parent
    _need_dir(image_dir, "image folder")
    names = {int(c["id"]): str(c["name"]) for c in data["categories"]}
    b = _Builder(f"coco:{json_path.name}")
    # Ids differ between Fashionpedia releases: names decide, in iMaterialist order like other sources.
    b.teach(CATEGORY, [t for c in sorted(names) for t in (_map(names[c], mapping) or ())])
    pos: dict[int, set[str]] = {int(im["id"]): set() for im in data["images"]}
    for ann in data.get("annotations", []):
        cid = int(ann["category_id"])
        if cid in names and int(ann["image_id"]) in pos:
            pos[int(ann["image_id"])].update(_map(names[cid], mapping) or ())
    for im in data["images"]:
        b.add(str(image_dir / im["file_name"]), {CATEGORY: pos[int(im["id"])]})
    return _drop_missing(b, image_dir).build()


def read_catalog(
    path: str | os.PathLike,
    model_key: str | None = None,
    confident_predictions: bool = False,
    mapping: LabelMapping | None = None,
) -> LabelTable:
    """Reviewed images from the app's catalog (read-only, never migrated): per label 1 when it is a
    final tag by the app's tag rule (a person's decision, else the model's score against the
    thresholds the catalog recorded for it), 0 when decided or scored otherwise, -1 unknown.

    ``model_key`` picks the model whose scores count (default: the one registered last). With
    ``confident_predictions`` unreviewed photos join with the model's confident answers only
    (``core.training_table``). A ``mapping`` renames or merges labels (a target is a yes where any of
    its labels is, a no where all of them are known and none is); labels it excludes or does not list
    are left out. A label's group is the model's where it recorded one, else the one a person created
    it in, else ``category`` for taxonomy labels and ``tags`` for the rest. The model's one-value and
    at-least-one groups come along (``exclusive_groups``, ``at_least_one_groups``). Raises DataError
    when the catalog file is unusable or has no reviewed image.
    """
    from fashion_desktop.core.training_table import DEFAULT_GROUP, TrainingTableError, training_table

    path = Path(path)
    try:
        table = training_table(path, model_key, confident_predictions=confident_predictions)
    except TrainingTableError as exc:
        raise DataError(str(exc)) from None
    rows = [(r.path, set(r.positives), set(r.known) | set(r.positives)) for r in table.rows]
    if not rows:
        raise DataError(f"{path}: the catalog has no reviewed images yet")
    tax = set(_taxonomy_order())
    model_groups = dict(table.model_groups)
    if mapping is not None:
        rows, model_groups, dropped = _map_catalog_rows(rows, mapping, model_groups)
        if not any(known for _, _, known in rows):
            raise DataError(
                f"{Path(mapping.path).name or 'the label mapping'} keeps none of the labels of {path}"
            )
    all_labels = {lab for _, _, known in rows for lab in known}
    labels = order_labels([lab for lab in all_labels if lab in tax], CATEGORY)
    labels += order_labels([lab for lab in all_labels if lab not in tax], "tags")
    person = {
        lab: g for lab, g in table.groups.items() if lab not in table.model_groups and g != DEFAULT_GROUP
    }
    groups = {
        lab: model_groups.get(lab) or person.get(lab) or (CATEGORY if lab in tax else "tags")
        for lab in labels
    }
    col = {lab: j for j, lab in enumerate(labels)}
    targets = np.full((len(rows), len(labels)), UNK, dtype=np.int8)
    for i, (_img, pos, known) in enumerate(rows):
        for lab in known:  # only what a person decided (or the model covered) is known
            targets[i, col[lab]] = POS if lab in pos else NEG
    paths = [r[0] for r in rows]
    source = f"catalog:{path.name}"
    out = LabelTable(
        paths,
        labels,
        groups,
        targets,
        [""] * len(rows),
        list(paths),
        [source] * len(rows),
        # The rules the photos were reviewed under: without them a run on a library learnt colours as
        # independent yes/no labels and tagged a photo White and Pink and Grey.
        exclusive_groups=tuple(table.exclusive),
        at_least_one_groups=tuple(table.at_least_one),
    )
    if mapping is not None and dropped:
        out.notes.append(f"{path}: labels left out (excluded or not in the mapping): {', '.join(dropped)}")
    return out


def _map_catalog_rows(
    rows: list[tuple[str, set[str], set[str]]], mapping: LabelMapping, groups: Mapping[str, str]
) -> tuple[list[tuple[str, set[str], set[str]]], dict[str, str], list[str]]:
    """``rows`` (path, positives, known) through ``mapping``; returns the rows, the targets' groups (a
    target takes its first source label's group) and the source labels left out."""
    sources_of: dict[str, list[str]] = {}
    dropped: list[str] = []
    for lab in sorted({lab for _, _, known in rows for lab in known}):
        targets = mapping.lookup(lab)
        if not targets:
            dropped.append(lab)
        for t in targets or ():
            sources_of.setdefault(t, []).append(lab)
    out = []
    for img, pos, known in rows:
        mpos = {t for t, srcs in sources_of.items() if pos.intersection(srcs)}
        mknown = mpos | {t for t, srcs in sources_of.items() if known.issuperset(srcs)}
        out.append((img, mpos, mknown))
    mgroups = {t: groups[srcs[0]] for t, srcs in sources_of.items() if srcs[0] in groups}
    return out, mgroups, dropped


# ---------------------------------------------------------------- sources, combining, splitting


def source_spec(
    entry: Any, default_mapping: str | None = None, data_root: str | None = None
) -> dict[str, Any]:
    """Normalise a ``--data`` value or config entry into a dict with at least ``path`` and ``format``.

    With ``data_root``, a relative ``path``, ``mapping`` or ``images`` is read from that folder (a
    spreadsheet's per-column ``mappings`` stay relative to the spreadsheet)."""
    spec = {"path": entry} if isinstance(entry, (str, os.PathLike)) else dict(entry)
    if "path" not in spec:
        raise DataError(f"data entry {entry!r} has no 'path'")
    spec["path"] = str(spec["path"])
    if default_mapping and "mapping" not in spec and "columns" not in spec:
        spec["mapping"] = default_mapping
    if data_root:
        for key in ("path", "mapping"):
            if spec.get(key) and not Path(str(spec[key])).is_absolute():
                spec[key] = str(Path(data_root) / str(spec[key]))
    spec.setdefault("format", "auto")
    return spec


# The app's libraries are ``.ffcat`` files (SQLite); the others are names people give catalogs by hand.
CATALOG_SUFFIXES = (".ffcat", ".db", ".sqlite", ".sqlite3", ".fcat", ".catalog")


def _is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def detect_format(path: Path) -> str:
    """folders | imaterialist | table | coco | catalog, from what is at ``path``."""
    if path.is_dir():
        if (path / "train.csv").is_file() and (path / "label_descriptions.json").is_file():
            return "imaterialist"
        return "folders"
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "coco"
    if suffix in CATALOG_SUFFIXES or _is_sqlite(path):  # .ffcat: the app's own
        return "catalog"
    if suffix in (".csv", ".tsv", ".xlsx", ".xlsm", ".xls"):
        if suffix == ".csv" and path.is_file():
            with open(path, encoding="utf-8-sig", errors="replace") as fh:
                header = fh.readline().casefold()
            if "encodedpixels" in header and "classid" in header:
                return "imaterialist"
        return "table"
    if not path.exists():
        raise DataError(f"data not found: {path}")
    raise DataError(f"{path}: unknown data format (give a folder, .csv/.xlsx, COCO .json or a catalog)")


def read_source(
    entry: Any,
    default_mapping: str | None = None,
    allow_new_labels: bool = False,
    data_root: str | None = None,
) -> LabelTable:
    """Read one data source (path or spec dict; relative paths from ``data_root`` when given); a label
    mapping's targets are checked with ``check_mapping_targets``. A catalog takes only the mapping given
    in its own entry, and ``confident_predictions: true`` adds unreviewed photos with the model's
    confident answers (default: reviewed photos only). Raises DataError with a plain explanation."""
    spec = source_spec(entry, default_mapping, data_root)
    spec.setdefault("allow_new_labels", allow_new_labels)  # for a spreadsheet's per-column mappings
    path = Path(spec["path"])
    if not path.exists():
        what = "image folder" if not path.suffix else "data file"
        raise DataError(f"{what} not found: {path}")
    fmt = spec["format"] if spec["format"] != "auto" else detect_format(path)
    if fmt == "catalog" and not (isinstance(entry, Mapping) and entry.get("mapping")):
        spec.pop("mapping", None)  # a run's --mapping is written for the other sources, not the library
    mapping = load_mapping(spec["mapping"]) if spec.get("mapping") else None
    if fmt == "folders":
        table = read_folders(path, mapping, spec.get("group", CATEGORY))
    elif fmt in ("table", "seed", "tags"):
        table = read_table(path, spec, mapping)
    elif fmt == "imaterialist":
        csv_path = path / "train.csv" if path.is_dir() else path
        table = read_imaterialist(
            csv_path,
            spec.get("label_descriptions"),
            spec.get("images"),
            bool(spec.get("attributes")),
            mapping,
        )
    elif fmt == "coco":
        table = read_coco(path, spec.get("images"), mapping)
    elif fmt == "catalog":
        table = read_catalog(path, spec.get("model"), bool(spec.get("confident_predictions")), mapping)
    else:
        raise DataError(f"unknown data format {fmt!r} for {path}")
    if spec.get("name"):
        table.sources = [str(spec["name"])] * len(table)
    own_labels = list(mapping.seen.values()) if mapping is not None else list(table.labels)
    if mapping is not None:
        table.notes += check_mapping_targets(mapping, allow_new_labels)
    source = table.sources[0] if len(table) else ""
    table.inputs = [{"path": str(path), "source": source, "images": len(table), "labels": own_labels}]
    return table


def combine(tables: Sequence[LabelTable]) -> LabelTable:
    """Stack sources; each teaches only its own labels, everything else is unknown (-1).

    Categories follow the iMaterialist order, other groups keep their order of first appearance. A
    label name taught under two different groups is renamed ``group:name`` in the later group. The
    sources' one-value and at-least-one groups add up.
    """
    if not tables:
        raise DataError("no data given (use --data PATH)")
    groups: dict[str, str] = {}
    per_group: dict[str, list[str]] = {}
    renames: list[dict[str, str]] = []
    for t in tables:
        ren: dict[str, str] = {}
        for lab in t.labels:
            g = t.groups.get(lab, CATEGORY)
            name = lab
            if name in groups and groups[name] != g:
                name = f"{g}:{lab}"
            ren[lab] = name
            if name not in groups:
                groups[name] = g
                per_group.setdefault(g, []).append(name)
        renames.append(ren)
    labels: list[str] = []
    group_order = ([CATEGORY] if CATEGORY in per_group else []) + [g for g in per_group if g != CATEGORY]
    for g in group_order:
        names = per_group[g]
        labels += order_labels(names, g) if g == CATEGORY else names
    col = {lab: j for j, lab in enumerate(labels)}
    n = sum(len(t) for t in tables)
    targets = np.full((n, len(labels)), UNK, dtype=np.int8)
    at = 0
    paths: list[str] = []
    splits: list[str] = []
    keys: list[str] = []
    sources: list[str] = []
    notes: list[str] = []
    inputs: list[dict[str, Any]] = []
    for t, ren in zip(tables, renames, strict=True):
        idx = [col[ren[lab]] for lab in t.labels]
        targets[at : at + len(t)][:, idx] = t.targets
        at += len(t)
        paths += t.paths
        splits += t.splits
        keys += [f"{s}|{k}" for s, k in zip(t.sources, t.keys, strict=True)]
        sources += t.sources
        notes += t.notes
        inputs += t.inputs
    return LabelTable(
        paths,
        labels,
        groups,
        targets,
        splits,
        keys,
        sources,
        notes,
        inputs,
        _union(t.exclusive_groups for t in tables),
        _union(t.at_least_one_groups for t in tables),
    )


def _union(names: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    """The names of all ``names``, each once, in order of first appearance."""
    return tuple(dict.fromkeys(n for some in names for n in some))


def _unit_hash(text: str, seed: int) -> float:
    digest = hashlib.sha1(f"{seed}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_splits(table: LabelTable, val_fraction: float, test_fraction: float, seed: int = 0) -> LabelTable:
    """Give rows without a split one, deterministically by their group key (all images of one product
    or contributor land in the same split). Sources that came with train/test but no validation rows
    get validation carved out of their train rows the same way.
    """
    splits = list(table.splits)
    by_source: dict[str, set[str]] = {}
    for s, sp in zip(table.sources, splits, strict=True):
        by_source.setdefault(s, set()).add(sp)
    for i, (sp, key, src) in enumerate(zip(splits, table.keys, table.sources, strict=True)):
        u = _unit_hash(key, seed)
        if sp == "":
            splits[i] = (
                "test" if u < test_fraction else "val" if u < test_fraction + val_fraction else "train"
            )
        elif sp == "train" and "val" not in by_source[src] and u < val_fraction:
            splits[i] = "val"
    out = table.subset(np.arange(len(table)))
    out.splits = splits
    return out


def limit_per_source(table: LabelTable, max_images: int, seed: int = 0) -> LabelTable:
    """A deterministic subset of at most ``max_images`` rows per source (0 = all)."""
    if max_images <= 0:
        return table
    keep: list[int] = []
    for src in dict.fromkeys(table.sources):
        rows = [i for i, s in enumerate(table.sources) if s == src]
        rows.sort(key=lambda i: _unit_hash(table.paths[i], seed))
        keep += sorted(rows[:max_images])
    return table.subset(sorted(keep))


def drop_rare_labels(table: LabelTable, min_count: int) -> tuple[LabelTable, list[str]]:
    """Remove labels with fewer than ``min_count`` known positives in the train split; returns the
    table and the dropped names. Rows left with no known label are removed too."""
    train = table.split_rows("train")
    counts = (table.targets[train] == POS).sum(0) if len(train) else np.zeros(len(table.labels), dtype=int)
    keep = [lab for lab, c in zip(table.labels, counts, strict=True) if c >= max(min_count, 1)]
    dropped = [lab for lab in table.labels if lab not in keep]
    out = table.keep_labels(keep)
    rows = np.nonzero((out.targets != UNK).any(1))[0]
    return out.subset(rows), dropped


def dropped_note(dropped: Sequence[str], min_count: int) -> str:
    """The run's warning about the labels ``drop_rare_labels`` pruned."""
    return (
        f"{len(dropped)} labels dropped (fewer than {max(min_count, 1)} positive training examples): "
        + ", ".join(dropped[:12])
        + ("..." if len(dropped) > 12 else "")
    )


def _refuse_unusable_labels(table: LabelTable, entries: Sequence[Any]) -> None:
    """Refuse, before any training, labels a model bundle cannot hold (a bar ``|`` joins tags in one cell)."""
    bad = [(lab, problem) for lab in table.labels if (problem := label_problem(lab))]
    if bad:
        shown = "; ".join(problem for _lab, problem in bad[:5]) + (
            f"; and {len(bad) - 5} more" if len(bad) > 5 else ""
        )
        sources = ", ".join(str(e.get("path", e) if isinstance(e, Mapping) else e) for e in entries[:3])
        raise DataError(
            f"{sources}: {len(bad)} label name(s) cannot be a model's labels ({shown}); rename them in the data "
            "or map them with a label-mapping file"
        )


def load_dataset(
    entries: Sequence[Any],
    mapping: str | None,
    val_fraction: float,
    test_fraction: float,
    seed: int = 0,
    min_label_count: int = 1,
    max_images: int = 0,
    allow_new_labels: bool = False,
    data_root: str | None = None,
) -> LabelTable:
    """Read, combine, split and prune all sources. Raises DataError for unusable or empty data."""
    if data_root and mapping and not Path(mapping).is_absolute():
        mapping = str(Path(data_root) / mapping)
    tables = [
        limit_per_source(read_source(e, mapping, allow_new_labels, data_root), max_images, seed)
        for e in entries
    ]
    table = assign_splits(combine(tables), val_fraction, test_fraction, seed)
    table, dropped = drop_rare_labels(table, min_label_count)
    if dropped:
        table.notes.append(dropped_note(dropped, min_label_count))
        table.dropped = tuple(dropped)
    _refuse_unusable_labels(table, entries)
    if not len(table.split_rows("train")):
        raise DataError("the dataset is empty: no training images with usable labels were found")
    if not table.labels:
        raise DataError("the dataset has no labels with training examples")
    return table
