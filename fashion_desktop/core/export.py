"""Tags out of the catalog: the app's table layout, the seed's spreadsheet layout, sidecar rows."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..model.bundle_format import TAG_SEPARATOR
from ..model.resources import taxonomy_labels
from .adapted_scores import tuned_defaults
from .catalog import Catalog, ImageRecord
from .catalog_records import ModelRecord
from .scan import CancelFlag, is_cancelled
from .spreadsheet import ExportCancelled, ExportError, Progress, write_table
from .tags import decision_matrix, default_thresholds, final_tag_matrix, tag_lists
from .thresholds import ThresholdPolicy

if TYPE_CHECKING:
    from .adapter import Adapter

PATH_COLUMN = "path"
FILE_COLUMN = "file"
FOLDER_COLUMN = "folder"
TAGS_COLUMN = "tags"
REVIEWED_COLUMN = "reviewed"
TO_CONFIRM = "to confirm"  # the reviewed column of a photo whose picture changed after it was decided
SPLIT_COLUMN = "split"
ERROR_COLUMN = "error"  # `fashion tag`'s column of photos that could not be read
SCORE_PREFIX = "score:"
DECIDED_PREFIX = "decided_by:"
# A decided_by cell: the label's final state and who set it, text a spreadsheet filter can pick.
DECIDED_VALUES = ("yes (person)", "no (person)", "yes (model)", "no (model)")
SEED_COLUMNS = ("ImageId", "Category", "CategoryName", "Split")
_CHUNK_ROWS = 2000  # catalog rows read at a time: memory stays flat for big libraries


@dataclass(frozen=True)
class ExportColumns:
    """Which optional columns an app-layout export has (``path`` and ``tags`` are always there)."""

    groups: bool = True
    scores: bool = False
    review: bool = False
    split: bool = False
    files: bool = False  # ``file`` (name) and ``folder`` beside the full path
    provenance: bool = False  # per label, who decided (``decided_by:<label>``) and the score


@dataclass(frozen=True)
class TaggedImage:
    """One image with its final tags (decision if any, else score against threshold)."""

    image: ImageRecord
    tags: list[str]
    scores: np.ndarray | None
    split: str | None
    decisions: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoreSource:
    """Whose scores an export writes: the library's adapter (when one is in use) and, for its "About"
    sheet, a sentence saying so or why the model's own scores stand."""

    adapter: Adapter | None
    note: str


def score_source(catalog: Catalog, model_key: str, use_adapter: bool = True) -> ScoreSource:
    """The library's adapter for ``model_key`` when it is stored, switched on and better than the model
    (``core.adapter_library``), unless ``use_adapter`` is False; else None, saying why."""
    from .adapter import AdapterError
    from .adapter_library import adapter_enabled, stored_adapter

    model = catalog.model(model_key)
    name = (model.name or model.key) if model is not None else model_key
    if not use_adapter:
        return ScoreSource(None, "the model's own (the adapter was left out of this export)")
    if not adapter_enabled(catalog, model_key):
        return ScoreSource(None, "the model's own (the adapter is switched off in this library)")
    try:
        fitted = stored_adapter(catalog, model_key)
    except AdapterError:
        return ScoreSource(None, "the model's own (the stored adapter could not be read)")
    if fitted is None:
        return ScoreSource(None, "the model's own (no adapter fitted to this library)")
    if not fitted.useful:
        return ScoreSource(None, "the model's own (the adapter was not better than the model on held-out "
                           "reviewed photos)")  # fmt: skip
    when = datetime.fromtimestamp(fitted.fitted_at).strftime("%Y-%m-%d %H:%M")
    return ScoreSource(
        fitted, f"{name} adapted to {fitted.reviewed} reviewed photos of this library (adapter fitted {when})"
    )


def _adapter_of(catalog: Catalog, model_key: str | None, adapter: bool | Adapter) -> Adapter | None:
    """The adapter an export applies: ``adapter`` itself, the library's (True) or none (False)."""
    if model_key is None or adapter is False:
        return None
    return score_source(catalog, model_key).adapter if adapter is True else adapter


def adapted_thresholds(defaults: Sequence[float], adapter: Adapter | None) -> np.ndarray:
    """The model's thresholds with the adapter's tuned ones in their place (NaN: the model's stays)."""
    return tuned_defaults(defaults, adapter.thresholds if adapter is not None else None)


# -- final tags from the catalog ------------------------------------------------------------------
def iter_final_tags(
    catalog: Catalog,
    model_key: str | None = None,
    policy: ThresholdPolicy | None = None,
    image_ids: Sequence[int] | None = None,
    defaults: Sequence[float] | None = None,
    cancel: CancelFlag = None,
    *,
    adapter: bool | Adapter = True,
) -> Iterator[TaggedImage]:
    """Yield each image (all present ones, or exactly ``image_ids``) with its final tags, in path order.

    ``model_key`` names the model whose scores count (None: decisions only); ``defaults`` are the
    model's per-label thresholds (None: as the catalog recorded them, ``core.tags.default_thresholds``).
    ``adapter``: True applies the library's adapter when one is in use (``score_source``), False never,
    an Adapter that one: its scores for unreviewed photos, its tuned thresholds in place of ``defaults``
    (a policy's own thresholds still win). Tags follow the one rule of ``core.tags``. Raises ExportError
    for an unknown model and ExportCancelled when ``cancel`` is set.
    """
    policy = policy or ThresholdPolicy()
    labels: tuple[str, ...] = ()
    model = None
    if model_key is not None:
        model = catalog.model(model_key)
        if model is None:
            raise ExportError(
                f"{catalog.path}: model {model_key!r} is not in this catalog (no photo tagged with it)"
            )
        labels = model.labels
    if defaults is None or len(defaults) != len(labels):
        defaults = default_thresholds(model)
    fitted = _adapter_of(catalog, model_key, adapter)
    defaults = adapted_thresholds(defaults, fitted)
    rescore = None
    if fitted is not None and model_key is not None:
        from .adapter_library import AdaptedScorer  # scipy and the adapter load only for an adapted export

        rescore = AdaptedScorer(catalog, model_key, fitted)
    thresholds = policy.thresholds(labels, defaults, model.exclusive_labels() if model is not None else ())
    exclusive = model.exclusive_columns() if model is not None else ()
    required = model.at_least_one_columns() if model is not None else ()
    if image_ids is None:
        images = catalog.images()
    else:
        wanted = set(image_ids)
        images = [r for r in catalog.images(include_missing=True) if r.id in wanted]
    splits = catalog.splits()
    # Scores and decisions are read a chunk at a time so memory stays flat for big libraries.
    for start in range(0, len(images), _CHUNK_ROWS):
        if is_cancelled(cancel):
            raise ExportCancelled("export cancelled")
        chunk = images[start : start + _CHUNK_ROWS]
        ids = [r.id for r in chunk]
        scores = catalog.scores(model_key, ids) if model_key is not None else {}
        if rescore is not None:
            scores = rescore(scores)
        decisions = catalog.decisions_for(ids)
        # Decisions on a picture that changed since wait for the person: the new picture's tags are the model's.
        waiting = {r.id for r in chunk if r.to_confirm}
        decisions = {i: d for i, d in decisions.items() if i not in waiting}
        found = [scores.get(rec.id) for rec in chunk]
        # Scores from an older label list cannot be trusted label by label: such a photo is unscored.
        found = [s if s is not None and len(s) == len(labels) else None for s in found]
        matrix = np.full((len(chunk), len(labels)), np.nan, np.float32)
        for i, s in enumerate(found):
            if s is not None:
                matrix[i] = s
        decided = [decisions.get(rec.id, {}) for rec in chunk]
        final = final_tag_matrix(
            matrix, decision_matrix(labels, decided), thresholds, policy, exclusive, required
        )
        for rec, tags, s in zip(chunk, tag_lists(labels, final, decided), found, strict=True):
            yield TaggedImage(rec, tags, s, splits.get(rec.id), decisions.get(rec.id, {}))


def _group_columns(groups: Mapping[str, str], labels: Sequence[str]) -> dict[str, str]:
    """Group name -> column name, in label order; a group named like a fixed column gets a prefix."""
    out: dict[str, str] = {}
    fixed = {
        PATH_COLUMN,
        FILE_COLUMN,
        FOLDER_COLUMN,
        TAGS_COLUMN,
        REVIEWED_COLUMN,
        SPLIT_COLUMN,
        ERROR_COLUMN,
    }
    taken = {c.casefold() for c in fixed}
    for label in labels:
        g = groups.get(label)
        if g and g not in out:
            prefixed = g.startswith((SCORE_PREFIX, DECIDED_PREFIX))
            name = f"group:{g}" if g.casefold() in taken or prefixed else g
            base, n = name, 1
            while name.casefold() in taken:  # "group:path" as a group's own name, or two that differ in case
                n += 1
                name = f"{base} ({n})"
            taken.add(name.casefold())
            out[g] = name
    return out


def export_table(
    catalog: Catalog,
    model_key: str | None = None,
    policy: ThresholdPolicy | None = None,
    image_ids: Sequence[int] | None = None,
    *,
    defaults: Sequence[float] | None = None,
    columns: ExportColumns = ExportColumns(),
    progress: Progress = None,
    cancel: CancelFlag = None,
    adapter: bool | Adapter = True,
) -> pd.DataFrame:
    """The app's export table: one row per image (``path``, optional ``file`` and ``folder``, ``tags``
    joined with ``|``, then optional one column per label group, ``reviewed``, ``split``,
    ``score:<label>`` and, with ``columns.provenance``, ``decided_by:<label>`` columns: one of
    ``DECIDED_VALUES``, or empty where the label is unknown (neither scored nor decided)).

    Takes the scope as ``image_ids`` (None: every present image); ``adapter`` as ``iter_final_tags``.
    Calls ``progress(done, total)``. Raises ExportError (unknown model) or ExportCancelled.
    """
    model = catalog.model(model_key) if model_key else None
    labels = model.labels if model else ()
    # Labels a person created join their group's column (the model's group wins for its own labels).
    created = catalog.person_labels()
    groups = {**created, **(model.groups if model else {})}
    grouped = [*labels, *(lab for lab in created if lab not in set(labels))]
    group_cols = _group_columns(groups, grouped) if columns.groups else {}
    total = len(image_ids) if image_ids is not None else catalog.count()
    records: list[dict[str, object]] = []
    items = iter_final_tags(catalog, model_key, policy, image_ids, defaults, cancel, adapter=adapter)
    for n, item in enumerate(items):
        row: dict[str, object] = {PATH_COLUMN: item.image.path}
        if columns.files:
            row[FILE_COLUMN] = os.path.basename(item.image.path)
            row[FOLDER_COLUMN] = os.path.dirname(item.image.path)
        row[TAGS_COLUMN] = TAG_SEPARATOR.join(item.tags)
        for group, col in group_cols.items():
            row[col] = TAG_SEPARATOR.join(t for t in item.tags if groups.get(t) == group)
        if columns.review:
            # A changed picture's decisions are the old one's until the person confirms them: said so.
            row[REVIEWED_COLUMN] = TO_CONFIRM if item.image.to_confirm else item.image.reviewed
        if columns.split:
            row[SPLIT_COLUMN] = item.split or ""
        if (columns.scores or columns.provenance) and model:
            for i, label in enumerate(labels):
                row[SCORE_PREFIX + label] = (
                    round(float(item.scores[i]), 4) if item.scores is not None else math.nan
                )
        if columns.provenance and model:
            on = set(item.tags)
            for label in labels:
                who = "person" if label in item.decisions else "model" if item.scores is not None else ""
                row[DECIDED_PREFIX + label] = f"{'yes' if label in on else 'no'} ({who})" if who else ""
        records.append(row)
        if progress is not None and n % 500 == 0:
            progress(n, total)
    order = [PATH_COLUMN, *((FILE_COLUMN, FOLDER_COLUMN) if columns.files else ()), TAGS_COLUMN]
    order += group_cols.values()
    if columns.review:
        order.append(REVIEWED_COLUMN)
    if columns.split:
        order.append(SPLIT_COLUMN)
    if columns.provenance and model:
        # Side by side per label (who, then score), so a filter on one column shows its neighbour.
        for label in labels:
            order += [DECIDED_PREFIX + label, SCORE_PREFIX + label]
    elif columns.scores and model:
        order += [SCORE_PREFIX + label for label in labels]
    if progress is not None:
        progress(len(records), len(records))
    return pd.DataFrame.from_records(records, columns=order)


def column_count(
    labels: Sequence[str], groups: Mapping[str, str], columns: ExportColumns, extra: int = 0
) -> int:
    """How many columns an app-layout export of a model with ``labels`` has (``extra``: added ones)."""
    n = 2 + (2 if columns.files else 0) + (len(_group_columns(groups, labels)) if columns.groups else 0)
    n += int(columns.review) + int(columns.split) + extra
    per_label = 2 if columns.provenance else 1 if columns.scores else 0
    return n + per_label * len(labels)


def path_parts(value: str) -> list[str]:
    """Path components of a value that may come from Windows or POSIX."""
    return [p for p in value.replace("\\", "/").split("/") if p]


def file_stem(path: str) -> str:
    name = path_parts(path)[-1] if path_parts(path) else path
    stem, _ = os.path.splitext(name)
    return stem or name


def folder_roots(catalog: Catalog) -> list[str]:
    return sorted(catalog.folders(), key=len, reverse=True)


def relative_to_folders(path: str, folders: Sequence[str]) -> str | None:
    for folder in folders:
        try:
            return Path(path).relative_to(folder).as_posix()
        except ValueError:
            continue
    return None


def seed_table(
    catalog: Catalog,
    model_key: str | None = None,
    policy: ThresholdPolicy | None = None,
    image_ids: Sequence[int] | None = None,
    *,
    defaults: Sequence[float] | None = None,
    taxonomy: Sequence[str] | None = None,
    progress: Progress = None,
    cancel: CancelFlag = None,
    adapter: bool | Adapter = True,
) -> pd.DataFrame:
    """The seed's spreadsheet layout: ``ImageId`` (file stem), ``Category`` (comma-joined taxonomy ids,
    id = position in the 46-category taxonomy), ``CategoryName`` (``|``-joined), ``Split``.

    Tags outside the taxonomy cannot be expressed in this layout and are left out. Two photos with the
    same stem get their folder-relative path (without extension) as ImageId so ids stay unique.
    ``adapter`` as ``iter_final_tags``. Raises ExportError (unknown model) or ExportCancelled.
    """
    taxonomy = list(taxonomy) if taxonomy is not None else taxonomy_labels()
    index = {name: i for i, name in enumerate(taxonomy)}
    items = list(iter_final_tags(catalog, model_key, policy, image_ids, defaults, cancel, adapter=adapter))
    stems: dict[str, int] = {}
    for item in items:
        stem = file_stem(item.image.path)
        stems[stem] = stems.get(stem, 0) + 1
    folders = folder_roots(catalog)
    rows = []
    for n, item in enumerate(items):
        ids = sorted(index[t] for t in item.tags if t in index)
        stem = file_stem(item.image.path)
        if stems[stem] > 1:
            rel = relative_to_folders(item.image.path, folders)
            stem = str(PurePosixPath(rel).with_suffix("")) if rel else item.image.path
        rows.append(
            {
                "ImageId": stem,
                "Category": ",".join(str(i) for i in ids),
                "CategoryName": TAG_SEPARATOR.join(taxonomy[i] for i in ids),
                "Split": item.split or "",
            }
        )
        if progress is not None and n % 500 == 0:
            progress(n, len(items))
    if progress is not None:
        progress(len(rows), len(rows))
    return pd.DataFrame.from_records(rows, columns=list(SEED_COLUMNS))


# -- writers --------------------------------------------------------------------------------------
def export_about(
    catalog: Catalog,
    model_key: str | None,
    policy: ThresholdPolicy | None,
    defaults: Sequence[float] | None,
    *,
    rows: int,
    layout: str = "app",
    scope: str = "",
    app_version: str = "",
    source: ScoreSource | None = None,
) -> list[tuple[str, str]]:
    """What produced an export, as (field, value) pairs for its "About this export" sheet / header.

    Model name and id, whose scores (``source``: the model's or the library's adapter; None: as
    ``score_source`` finds the library), the threshold policy (global threshold, per-label overrides,
    top-k, at least one), the thresholds in effect per label, date, app version (``app_version``: the
    caller's ``fashion_desktop.__version__``; core does not import the package root), library path and rows.
    """
    policy = policy or ThresholdPolicy()
    model = catalog.model(model_key) if model_key else None
    about = [
        ("Exported", datetime.now().astimezone().isoformat(timespec="seconds")),
        ("App", f"Fashion Finder {app_version or 'unknown version'}"),
        ("Library", str(catalog.path)),
        ("Rows", str(rows)),
        ("Layout", layout),
    ]
    if scope:
        about.append(("Photos", scope))
    if model is None:
        about.append(("Model", "none (the person's decisions only)"))
    else:
        about += [("Model", model.name or model.key), ("Model id", model.key)]
        if model.path:
            about.append(("Model file", model.path))
        source = source or score_source(catalog, model.key)
        about.append(("Scores", source.note))
    about += [
        (
            "Global threshold",
            "the model's own per-label thresholds"
            if policy.global_threshold is None
            else f"{policy.global_threshold:g}",
        ),
        (
            "Per-label overrides",
            "; ".join(f"{k}={v:g}" for k, v in sorted(policy.per_label.items())) or "none",
        ),
        ("Top-k", str(policy.top_k) if policy.top_k else "no cap"),
        ("At least one tag", "yes" if policy.at_least_one else "no"),
        ("Policy", policy.to_json()),
        (
            "Reviewed photos",
            "settled: their tags are the person's decisions and do not follow thresholds",
        ),
    ]
    if model is not None:
        about += _model_about(model, policy, defaults, source.adapter if source else None)
    return about


def _model_about(
    model: ModelRecord, policy: ThresholdPolicy, defaults: Sequence[float] | None, adapter: Adapter | None
) -> list[tuple[str, str]]:
    """The About rows of a model's groups and of the threshold in effect per label."""
    about = []
    if defaults is None or len(defaults) != len(model.labels):
        defaults = default_thresholds(model)
    floors = model.exclusive_labels()
    for g in model.exclusive:
        about.append(
            (f"Exclusive group: {g}", "one value per photo: its top value, when it reaches the floor")
        )
    for g in model.at_least_one:
        rule = "on" if policy.group_at_least_one else "off in this view"
        about.append((f"At least one: {g}", f"{rule}: a photo with no {g} passing gets its most likely one"))
    in_effect = policy.thresholds(model.labels, adapted_thresholds(defaults, adapter), floors)
    if adapter is not None:
        # Where the adapter's tuned threshold is in effect (neither the model's nor a person's own).
        models = policy.thresholds(model.labels, defaults, floors)
        tuned = [
            f"{lab}={t:.4g}" for lab, t, m in zip(model.labels, in_effect, models, strict=True) if t != m
        ]
        about.append(("Adapter thresholds", "; ".join(tuned) or "none in effect (the model's stay)"))
    for label, t in zip(model.labels, in_effect, strict=True):
        kind = "Floor" if label in floors else "Threshold"
        about.append((f"{kind}: {label}", f"{float(t):.4g}"))
    return about


def export_file(
    catalog: Catalog,
    path: str | os.PathLike,
    model_key: str | None = None,
    policy: ThresholdPolicy | None = None,
    image_ids: Sequence[int] | None = None,
    *,
    layout: str = "app",
    defaults: Sequence[float] | None = None,
    columns: ExportColumns = ExportColumns(),
    progress: Progress = None,
    cancel: CancelFlag = None,
    about: bool = True,
    scope: str = "",
    app_version: str = "",
    adapter: bool = True,
) -> int:
    """Build the table (``layout`` ``"app"`` or ``"seed"``) and write it to ``path`` (.csv / .xlsx).

    With ``adapter`` (the default) the library's adapter applies when one is in use (``score_source``:
    stored, switched on, better than the model); False writes the model's own scores. With ``about``,
    what produced it (``export_about``, which says whose scores) goes along: an "About this export" sheet
    in XLSX, ``# field: value`` lines above the header in an app-layout CSV (a seed-layout CSV stays
    bare: the seed's own tools read it). ``scope`` says which photos (e.g. "the selection"),
    ``app_version`` which version of the app wrote it.
    Returns the number of rows. ``progress(done, total)`` covers both stages (total = 2 x rows).
    Raises ExportError (nothing written, catalog untouched) or ExportCancelled.
    """
    if Path(path).suffix.lower() not in (".csv", ".xlsx", ".xlsm"):
        raise ExportError(f"{path}: unsupported file type; use .csv or .xlsx")
    # Decided once, so the table and its About sheet agree even if the adapter is refitted meanwhile.
    source = score_source(catalog, model_key, adapter) if model_key and catalog.model(model_key) else None
    fitted: bool | Adapter = (source.adapter or False) if source else False
    first = (lambda d, t: progress(d, 2 * t)) if progress else None
    if layout == "seed":
        df = seed_table(
            catalog,
            model_key,
            policy,
            image_ids,
            defaults=defaults,
            progress=first,
            cancel=cancel,
            adapter=fitted,
        )
    elif layout == "app":
        df = export_table(
            catalog,
            model_key,
            policy,
            image_ids,
            defaults=defaults,
            columns=columns,
            progress=first,
            cancel=cancel,
            adapter=fitted,
        )
    else:
        raise ExportError(f"unknown export layout {layout!r} (use 'app' or 'seed')")
    n = len(df)
    second = (lambda d, t: progress(n + d, 2 * n)) if progress else None
    info: list[tuple[str, str]] = []
    if about and (layout == "app" or Path(path).suffix.lower() != ".csv"):
        info = export_about(
            catalog, model_key, policy, defaults, rows=n, layout=layout, scope=scope, app_version=app_version,
            source=source,
        )  # fmt: skip
    write_table(df, path, second, cancel, about=info)
    return n


def iter_rows_for_sidecars(items: Iterable[TaggedImage]) -> Iterator[tuple[str, list[str]]]:
    """(photo path, keywords) pairs for :func:`fashion_desktop.core.xmp.write_xmp_sidecars`."""
    for item in items:
        yield item.image.path, item.tags


def two_value_photos(catalog: Catalog, model_key: str | None) -> list[tuple[str, str]]:
    """(path, "colour: Grey|White") of each photo a person gave two values of one of the model's
    one-value groups (a catalog from before edits kept one value per group): an export writes both, so
    the export and the app's review filter "Two values in a one-value group" say so."""
    record = catalog.model(model_key) if model_key else None
    if record is None or not record.exclusive:
        return []
    groups = {**catalog.person_labels(), **dict(record.groups)}
    one = set(record.exclusive)
    out: list[tuple[str, str]] = []
    paths: dict[int, str] | None = None
    for image_id, decided in catalog.all_decisions().items():
        by_group: dict[str, list[str]] = {}
        for label, value in decided.items():
            g = groups.get(label)
            if value and g in one:
                by_group.setdefault(g, []).append(label)
        clashes = [f"{g}: {TAG_SEPARATOR.join(sorted(v))}" for g, v in by_group.items() if len(v) > 1]
        if clashes:
            if paths is None:
                paths = {r.id: r.path for r in catalog.images(include_missing=True)}
            out.append((paths.get(image_id, f"image {image_id}"), "; ".join(clashes)))
    return out
