"""Models-tab data: bundle summaries, metrics at a threshold policy, and the table models that show them."""

from __future__ import annotations

import datetime as _dt
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractListModel, QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from fashion_desktop.core.thresholds import ThresholdPolicy
from fashion_desktop.gui.appearance import problem_colour
from fashion_desktop.model.badge import badge_of
from fashion_desktop.model.bundle_file import TensorRef, evaluation_dict, read_bundle_file
from fashion_desktop.model.bundle_format import BundleDescription, BundleError, OldBundleFormat
from fashion_desktop.model.groups import at_least_one_columns, exclusive_columns, exclusive_labels

_Index = QModelIndex | QPersistentModelIndex

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
PATH_ROLE = Qt.ItemDataRole.UserRole + 2

# Shown in this order wherever overall metrics appear; keys as fashion_desktop.model.metrics.compute_metrics names them.
OVERALL_KEYS: tuple[tuple[str, str], ...] = (
    ("f1_micro", "F1 micro"),
    ("f1_macro", "F1 macro"),
    ("precision_micro", "Precision (micro)"),
    ("recall_micro", "Recall (micro)"),
    ("exact_match", "Exact match"),
    ("f1_samples", "F1 samples"),
    ("map", "mAP"),
    ("images", "Images evaluated"),
)

# What each number on the Models tab means, in a merchandiser's words; keys are the names shown (any case).
METRIC_HELP: dict[str, str] = {
    "f1 micro": "F1 over every (photo, label) decision pooled: high when most tags are right, "
    "dominated by the common labels.",
    "f1 macro": "F1 of each label, averaged with equal weight: a rare label counts as much as a common "
    "one. Labels without examples are left out.",
    "f1 samples": "F1 of each photo's tags against its true tags, averaged over photos: how right a "
    "typical photo's tag list is.",
    "f1": "Harmonic mean of precision and recall (1 = every tag right and none missed).",
    "precision": "Of the tags the model gave, the share that were right (few wrong tags = high).",
    "precision (micro)": "Of all tags the model gave, the share that were right, pooled over labels.",
    "recall": "Of the true tags, the share the model found (few missed tags = high).",
    "recall (micro)": "Of all true tags, the share the model found, pooled over labels.",
    "exact match": "Share of photos whose tags were all exactly right: no tag missing, none extra.",
    "map": "Mean average precision: how well the scores rank photos with a label above photos "
    "without it, averaged over labels; it does not depend on the thresholds.",
    "ap": "Average precision of this label: how well its scores rank the photos that have it first; "
    "it does not depend on the threshold.",
    "support": "Photos in the evaluation set that truly have this label.",
    "threshold": "Score from which this label becomes a tag (the one in effect on the Tag tab).",
    "top-1 accuracy": "Share of photos whose highest-scoring label in this group is a true one.",
    "balanced accuracy": "One-value groups (gender, colour, ...): the mean over the group's values of the share "
    "of each value's photos tagged right, so a model that always answers the commonest value (Men on a "
    "catalogue of 62 % men's items) scores 1 / number of values, not 0.62.",
    "images": "Photos the metrics were computed on.",
    "images evaluated": "Photos the metrics were computed on.",
    "world size": "Processes (GPUs or CPU workers) training ran on at once; it says how the model "
    "was trained, not how good it is.",
    "label": "Label of the model.",
    "group": "Group of labels (category, colour...); tags of one group are measured together.",
    "metric": "Hover a metric's name for what it means.",
    "value": "The metric's value, between 0 and 1 unless it counts photos.",
    "f1 a": "F1 of this label for model A.",
    "f1 b": "F1 of this label for model B.",
    "a": "Value for model A (the one selected in the list).",
    "b": "Value for model B (the one chosen to compare with).",
    "δ (b − a)": "Model B minus model A: green where B is better.",
}


def metric_help(name: object) -> str | None:
    """The explanation of a metric or column as shown on the Models tab, None when there is none."""
    return METRIC_HELP.get(str(name).strip().lower())


@dataclass(frozen=True)
class Evaluation:
    """Per-image evaluation scores carried by a bundle, as numpy arrays."""

    split: str
    targets: np.ndarray  # int8 [N, L]: 1 positive, 0 negative, -1 unknown
    scores: np.ndarray  # float32 [N, L]
    paths: tuple[str, ...] = ()  # the evaluated images, when the bundle lists them


@dataclass(frozen=True)
class BundleInfo:
    """What the Models tab shows of a bundle file: no weights kept in memory."""

    path: str
    error: str | None = None
    name: str = ""
    arch: str = ""
    labels: tuple[str, ...] = ()
    groups: Mapping[str, str] = field(default_factory=dict)
    thresholds: tuple[float, ...] = ()
    exclusive: tuple[str, ...] = ()  # groups tagged with their top value only
    at_least_one: tuple[str, ...] = ()  # groups every scored photo gets a value of
    input_size: int = 0
    metrics: Mapping[str, Any] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)
    evaluation: Evaluation | None = None
    model_id: str = ""
    mtime: float | None = None  # of the file when read: a bundle rewritten in place is read again
    old_format: bool = False  # a format-1 (torch zip) bundle: it can be converted, not read
    badge: Mapping[str, Any] | None = None  # the "?" badge's calibration (``model.badge.badge_of``)

    @property
    def ok(self) -> bool:
        return self.error is None

    def group_names(self) -> list[str]:
        seen: dict[str, None] = {}
        for label in self.labels:
            if self.groups.get(label):
                seen.setdefault(self.groups[label], None)
        return list(seen)

    def created(self) -> str:
        """The bundle's creation date as text (from provenance, else the file's modification time)."""
        value = self.provenance.get("created") or self.provenance.get("date")
        if isinstance(value, (int, float)):
            return _dt.datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M")
        if isinstance(value, str) and value:
            try:  # the trainer writes ISO 8601 in UTC
                stamp = _dt.datetime.fromisoformat(value)
            except ValueError:
                return value
            if stamp.tzinfo is not None:
                return stamp.astimezone().strftime("%Y-%m-%d %H:%M")
            return (
                stamp.strftime("%Y-%m-%d %H:%M")
                if (stamp.hour or stamp.minute)
                else stamp.strftime("%Y-%m-%d")
            )
        if value:
            return str(value)
        try:
            return (
                _dt.datetime.fromtimestamp(os.path.getmtime(self.path)).strftime("%Y-%m-%d %H:%M") + " (file)"
            )
        except OSError:
            return ""


def _to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, TensorRef):
        return value.numpy()
    if hasattr(value, "detach"):  # a torch tensor; torch itself is never imported here
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _mtime(path: str) -> float | None:
    try:
        return os.path.getmtime(path)
    except OSError:
        return None


def _evaluation(ev: Any, num_labels: int) -> Evaluation | None:
    """The bundle's evaluation scores as arrays, or None when absent or not shaped [N, labels]."""
    if not isinstance(ev, Mapping) or ev.get("targets") is None or ev.get("scores") is None:
        return None
    try:
        targets = _to_numpy(ev["targets"]).astype(np.int8)
        scores = _to_numpy(ev["scores"]).astype(np.float32)
    except (TypeError, ValueError, RuntimeError):  # BundleError is a ValueError
        return None
    if targets.ndim != 2 or targets.shape != scores.shape or targets.shape[1] != num_labels:
        return None
    paths = ev.get("paths")
    paths = tuple(str(p) for p in paths) if isinstance(paths, (list, tuple)) else ()
    return Evaluation(str(ev.get("split") or "evaluation"), targets, scores, paths)


def read_bundle_info(path: str) -> BundleInfo:
    """What ``path`` says about its model, read without torch (``model.bundle_file``); no weights.

    Never raises for a bad file: a ``BundleError`` (or any read failure) becomes ``BundleInfo.error``;
    ``old_format`` is set for a format-1 bundle, which the Models tab offers to convert.
    """
    mtime = _mtime(path)
    try:
        bundle = read_bundle_file(path)
        model_id = bundle.model_id
    except OldBundleFormat as exc:
        return BundleInfo(path=str(path), error=str(exc), mtime=mtime, old_format=True)
    except BundleError as exc:
        return BundleInfo(path=str(path), error=str(exc), mtime=mtime)
    except Exception as exc:  # a bundle from a stranger must never take the app down
        return BundleInfo(
            path=str(path), error=f"{path}: cannot be read ({type(exc).__name__}: {exc})", mtime=mtime
        )
    d = bundle.description
    evaluation = _evaluation(evaluation_dict(bundle), len(d.labels))
    return BundleInfo(
        path=str(path),
        name=str(d.provenance.get("name") or Path(path).stem),
        arch=d.arch,
        labels=d.labels,
        groups=dict(d.groups),
        thresholds=d.thresholds,
        exclusive=d.exclusive_groups,
        at_least_one=d.at_least_one_groups,
        input_size=d.input_size,
        metrics=dict(d.metrics),
        provenance=dict(d.provenance),
        evaluation=evaluation,
        model_id=model_id,
        mtime=mtime,
        badge=_badge(d, evaluation),
    )


def _badge(d: BundleDescription, ev: Evaluation | None) -> dict[str, Any] | None:
    """The bundle's badge calibration: stored, else measured on its evaluation scores (``badge_of``)."""
    arrays = {"targets": ev.targets, "scores": ev.scores, "split": ev.split} if ev is not None else None
    return badge_of(
        d.badge, arrays, d.thresholds, d.labels, d.groups, d.exclusive_columns(), d.at_least_one_columns()
    )


@dataclass(frozen=True)
class MetricsView:
    """Metrics ready to show: overall numbers, per-label rows, per-group numbers, and where they come from."""

    overall: dict[str, float]
    per_label: list[dict[str, Any]]
    source: str  # "recomputed" or "as trained" or "none"
    note: str
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)


def _stored_metrics(
    metrics: Mapping[str, Any],
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, dict[str, Any]], str]:
    """Find ``overall`` / ``per_label`` / ``groups`` in stored bundle metrics, at the top or under a split."""
    for split in (None, "test", "val", "validation"):
        part = metrics if split is None else metrics.get(split)
        if isinstance(part, Mapping) and isinstance(part.get("overall"), Mapping):
            per = part.get("per_label") or []
            if isinstance(per, Mapping):  # {label: {...}}
                per = [{"label": k, **dict(v)} for k, v in per.items() if isinstance(v, Mapping)]
            groups = part.get("groups") or {}
            groups = {str(g): dict(v) for g, v in groups.items() if isinstance(v, Mapping)}
            return (
                dict(part["overall"]),
                [dict(r) for r in per if isinstance(r, Mapping)],
                groups,
                split or "",
            )
    flat = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return flat, [], {}, ""


def metrics_at_policy(info: BundleInfo, policy: ThresholdPolicy) -> MetricsView:
    """Metrics of ``info`` at ``policy``: recomputed from its evaluation scores when it has them.

    The one metrics function (``model.metrics.compute_metrics``) measures the tags the model's side of
    the tag rule gives (score at or above the threshold, an exclusive group's top value only, the model's
    at-least-one groups, then the top-k cap and "at least one"), exactly as the grid applies them; there
    are no decisions here, the evaluation split's targets are what the tags are scored against. Without
    evaluation scores the stored training metrics are returned as they are ("as trained").
    """
    from fashion_desktop.model.metrics import compute_metrics

    if info.evaluation is not None:
        ev = info.evaluation
        labels, groups = list(info.labels), dict(info.groups)
        th = policy.thresholds(labels, info.thresholds, exclusive_labels(labels, groups, info.exclusive))
        exclusive = exclusive_columns(labels, groups, info.exclusive)
        required = at_least_one_columns(labels, groups, info.at_least_one)
        result = compute_metrics(
            ev.targets, ev.scores, th, labels, groups or None, exclusive, policy, required
        )
        for row in result["per_label"]:
            row["group"] = groups.get(row["label"], "")
        n = len(ev.targets)
        return MetricsView(
            result["overall"],
            result["per_label"],
            "recomputed",
            f"Recomputed at the current thresholds on the {ev.split} split ({n} images)",
            result.get("groups", {}),
        )
    overall, per, stored_groups, split = _stored_metrics(info.metrics)
    if not overall and not per:
        return MetricsView({}, [], "none", "This bundle carries no metrics")
    defaults = dict(zip(info.labels, info.thresholds, strict=False))
    for row in per:
        row.setdefault("group", info.groups.get(str(row.get("label")), ""))
        row.setdefault("threshold", defaults.get(str(row.get("label"))))
    where = f" on the {split} split" if split else ""
    return MetricsView(
        overall,
        per,
        "as trained",
        f"As trained{where} (stored in the bundle; no evaluation scores)",
        stored_groups,
    )


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "–" if math.isnan(value) else f"{float(value):.3f}"
    return str(value)


class RowsTableModel(QAbstractTableModel):
    """A read-only table of rows of values; numbers shown with 3 decimals and sorted as numbers."""

    def __init__(self, headers: Sequence[str] = (), parent=None) -> None:
        super().__init__(parent)
        self._headers = list(headers)
        self._rows: list[list[Any]] = []
        self._colours: list[QColor | None] = []

    def set_rows(
        self,
        rows: Sequence[Sequence[Any]],
        headers: Sequence[str] | None = None,
        colours: Sequence[QColor | None] | None = None,
    ) -> None:
        self.beginResetModel()
        if headers is not None:
            self._headers = list(headers)
        width = len(self._headers)
        self._rows = [list(r)[:width] + [None] * (width - len(r)) for r in rows]
        self._colours = list(colours) if colours is not None else [None] * len(self._rows)
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._headers)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self._headers):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._headers[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return metric_help(self._headers[section])
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return None
        value = self._rows[index.row()][index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return _fmt(value)
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 0 and isinstance(value, str):
            return metric_help(value)  # a metric's name in the first column ("F1 samples", "world size")
        if role == SORT_ROLE:
            if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
                v = float(value)
                return -1.0 if math.isnan(v) else v
            return "" if value is None else str(value).lower()
        if role == Qt.ItemDataRole.TextAlignmentRole and isinstance(value, (int, float, np.number)):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == len(self._headers) - 1:
            colour = self._colours[index.row()] if index.row() < len(self._colours) else None
            return QBrush(colour) if colour is not None else None
        return None


class BundleListModel(QAbstractListModel):
    """Known bundle files: name and architecture once loaded, the error text for a broken one."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._paths: list[str] = []
        self._infos: dict[str, BundleInfo] = {}

    def set_paths(self, paths: Sequence[str]) -> None:
        self.beginResetModel()
        self._paths = list(dict.fromkeys(str(p) for p in paths))
        self.endResetModel()

    def add_path(self, path: str) -> int:
        """Append ``path`` unless known; return its row."""
        path = str(path)
        if path in self._paths:
            return self._paths.index(path)
        row = len(self._paths)
        self.beginInsertRows(QModelIndex(), row, row)
        self._paths.append(path)
        self.endInsertRows()
        return row

    def remove_row(self, row: int) -> None:
        if 0 <= row < len(self._paths):
            self.beginRemoveRows(QModelIndex(), row, row)
            path = self._paths.pop(row)
            self.endRemoveRows()
            self._infos.pop(path, None)

    def set_info(self, info: BundleInfo) -> None:
        self._infos[info.path] = info
        if info.path in self._paths:
            idx = self.index(self._paths.index(info.path), 0)
            self.dataChanged.emit(idx, idx, [])

    def paths(self) -> list[str]:
        return list(self._paths)

    def path_at(self, row: int) -> str:
        return self._paths[row]

    def info(self, path: str) -> BundleInfo | None:
        return self._infos.get(path)

    def forget_stale(self, path: str) -> bool:
        """Drop what was read of ``path`` if the file changed (or appeared/vanished) since; True if dropped."""
        info = self._infos.get(path)
        if info is None or _mtime(path) == info.mtime:
            return False
        del self._infos[path]
        if path in self._paths:
            idx = self.index(self._paths.index(path), 0)
            self.dataChanged.emit(idx, idx, [])
        return True

    def unloaded(self) -> list[str]:
        return [p for p in self._paths if p not in self._infos]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._paths)

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not (0 <= index.row() < len(self._paths)):
            return None
        path = self._paths[index.row()]
        info = self._infos.get(path)
        if role == Qt.ItemDataRole.DisplayRole:
            base = os.path.basename(path)
            if info is None:
                return f"{base}\nloading…"
            if not info.ok:
                return f"{base}\n⚠ {info.error}"
            return f"{info.name}\n{info.arch} · {len(info.labels)} labels"
        if role == Qt.ItemDataRole.ToolTipRole:
            return info.error if info is not None and not info.ok else path
        if role == Qt.ItemDataRole.ForegroundRole and info is not None and not info.ok:
            return QBrush(problem_colour())
        if role == PATH_ROLE:
            return path
        return None
