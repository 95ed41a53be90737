"""The model bundle's format as data: its description, the checks every reader applies, the model-id rule.

Standard library only, so the app can check a bundle without importing torch
(``fashion_desktop.model.bundle_file``) with the same rules and messages as ``fashion_desktop.model.bundle``.

A bundle (format 2) is a safetensors file: weights as ``state_dict.<name>`` tensors, evaluation arrays as
``evaluation.<name>`` tensors, and the description below as JSON in the header metadata under
``METADATA_KEY``. Format 1 was a torch zip (a pickle); it is only ever converted (``fashion convert``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

FORMAT = "fashion-finder-bundle"
FORMAT_VERSION = 2
SUFFIX = ".fmodel"
METADATA_KEY = "fashion_finder"  # safetensors metadata values are strings: the description's JSON
WEIGHTS_PREFIX = "state_dict."
EVALUATION_PREFIX = "evaluation."

DEFAULT_THRESHOLD = 0.5  # a label without a tuned threshold
RESIZE_MODES = ("squash", "center_crop", "pad")
INPUT_SIZE_RANGE = (32, 1024)
TAG_SEPARATOR = "|"  # joins a photo's tags in one spreadsheet cell: a label cannot contain it


def label_problem(label: object) -> str | None:
    """Why ``label`` cannot be a label name (empty, not text, or holding the tag separator), or None.

    One rule for bundles, a person's new tags and imported spreadsheets: a photo's tags are joined with
    TAG_SEPARATOR in one spreadsheet cell, so a label holding it could not be split back.
    """
    if not isinstance(label, str) or not label.strip():
        return f"empty or non-text label {label!r}"
    if TAG_SEPARATOR in label:
        return f"{label!r} contains the tag separator {TAG_SEPARATOR!r}"
    return None


# A stranger's file must not make a reader allocate more than it holds, nor more than this.
MAX_HEADER_BYTES = 32 * 1024 * 1024  # evaluation paths of ~200k photos fit
MAX_FILE_BYTES = 4 * 1024**3


class BundleError(ValueError):
    """A file that is not a usable model bundle; the message names the file and the problem."""


class OldBundleFormat(BundleError):
    """A format-1 bundle (a torch zip): the app does not read it; ``fashion convert`` turns it into format 2."""


def old_format_message(path: str | os.PathLike) -> str:
    return (
        f"{path}: this model bundle is in the old format (torch zip); convert it once with "
        f"'fashion convert {path} NEW.fmodel'"
    )


def require(cond: object, path: str | os.PathLike, problem: str) -> None:
    """Raise BundleError ``"{path}: not a valid model bundle: {problem}"`` unless ``cond``."""
    if not cond:
        raise BundleError(f"{path}: not a valid model bundle: {problem}")


def refused_message(path: str | os.PathLike, detail: str) -> str:
    """What to say when a file holds Python objects or code instead of plain data."""
    return (
        f"{path}: refused to load: the file contains Python objects or code, not just weights "
        f"and plain data ({detail[:160]})"
    )


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _finite(x: object) -> bool:
    return _is_number(x) and math.isfinite(x)  # type: ignore[arg-type]


def _triple(raw: Mapping[str, Any], key: str, path: str | os.PathLike) -> tuple[float, float, float]:
    value = raw.get(key)
    require(
        isinstance(value, (list, tuple)) and len(value) == 3 and all(_finite(v) for v in value),
        path,
        f"{key} must be 3 finite numbers, not {str(value)[:80]}",
    )
    return (float(value[0]), float(value[1]), float(value[2]))


def _format_version(raw: object, path: str | os.PathLike) -> int:
    if not isinstance(raw, Mapping) or raw.get("format") != FORMAT:
        raise BundleError(
            f"{path}: not a valid model bundle: it is not a Fashion Finder bundle "
            "(plain checkpoints must be converted with the trainer)"
        )
    version = raw.get("format_version")
    require(isinstance(version, int) and not isinstance(version, bool), path, "format_version missing")
    require(
        version <= FORMAT_VERSION,
        path,
        f"format_version {version} is newer than this app understands ({FORMAT_VERSION}); update the app",
    )
    return version


def _labels(raw: Mapping[str, Any], path: str | os.PathLike) -> list[str]:
    labels = raw.get("labels")
    require(isinstance(labels, list) and labels, path, "labels: label list missing or empty")
    for label in labels:
        problem = label_problem(label)
        require(problem is None, path, f"labels: {problem}")
    dupes = sorted(x for x, n in Counter(labels).items() if n > 1)
    require(not dupes, path, f"labels: duplicate label names {dupes[:3]}")
    return labels


def _thresholds(raw: Mapping[str, Any], labels: list[str], path: str | os.PathLike) -> list[float]:
    thresholds = raw.get("thresholds")
    if thresholds is None or thresholds == []:
        thresholds = [DEFAULT_THRESHOLD] * len(labels)
    require(isinstance(thresholds, list), path, "thresholds must be a list")
    require(
        len(thresholds) == len(labels),
        path,
        f"thresholds: {len(thresholds)} thresholds for {len(labels)} labels",
    )
    bad = next((t for t in thresholds if not (_finite(t) and 0.0 <= t <= 1.0)), None)
    require(bad is None, path, f"thresholds: {bad!r} is not a number between 0 and 1")
    return thresholds


def _input_size(raw: Mapping[str, Any], path: str | os.PathLike) -> int:
    size = raw.get("input_size")
    lo, hi = INPUT_SIZE_RANGE
    require(
        isinstance(size, int) and not isinstance(size, bool) and lo <= size <= hi,
        path,
        f"input_size {size!r} is not a whole number of pixels between {lo} and {hi}",
    )
    return size


def _groups(raw: Mapping[str, Any], labels: list[str], path: str | os.PathLike) -> dict[str, str]:
    groups = raw.get("groups") or {}
    require(
        isinstance(groups, Mapping)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in groups.items()),
        path,
        "groups must map label names to group names",
    )
    known = set(labels)
    return {k: v for k, v in groups.items() if k in known}  # others name nothing: harmless


def _exclusive_groups(
    raw: Mapping[str, Any],
    labels: list[str],
    groups: Mapping[str, str],
    thresholds: list[float],
    path: str | os.PathLike,
) -> tuple[str, ...]:
    exclusive = raw.get("exclusive_groups") or []
    require(
        isinstance(exclusive, list) and all(isinstance(g, str) and g for g in exclusive),
        path,
        "exclusive_groups must be a list of group names",
    )
    for g in exclusive:
        members = [lab for lab in labels if groups.get(lab) == g]
        require(len(members) >= 2, path, f"exclusive group {g!r} needs at least two labels")
        floors = {thresholds[labels.index(lab)] for lab in members}
        require(
            len(floors) == 1,
            path,
            f"the labels of exclusive group {g!r} must share one threshold (the group's floor)",
        )
    return tuple(dict.fromkeys(exclusive))


def _at_least_one_groups(
    raw: Mapping[str, Any], labels: list[str], groups: Mapping[str, str], path: str | os.PathLike
) -> tuple[str, ...]:
    names = raw.get("at_least_one_groups") or []
    require(
        isinstance(names, list) and all(isinstance(g, str) and g for g in names),
        path,
        "at_least_one_groups must be a list of group names",
    )
    known = list(dict.fromkeys(groups[lab] for lab in labels if lab in groups))
    for g in names:
        require(
            g in known,
            path,
            f"at_least_one_groups: no label of this bundle is in group {g!r} (its groups: "
            f"{', '.join(known) or 'none'})",
        )
    return tuple(dict.fromkeys(names))


def _provenance(raw: Mapping[str, Any], path: str | os.PathLike) -> dict[str, Any]:
    provenance = raw.get("provenance") or {}
    require(isinstance(provenance, Mapping), path, "provenance must be a mapping")
    mid = provenance.get("model_id")
    require(
        mid is None or (isinstance(mid, str) and mid.strip() and len(mid) <= 200),
        path,
        f"provenance.model_id must be a short text, not {str(mid)[:40]!r}",
    )
    return dict(provenance)


def _evaluation(raw: Mapping[str, Any], path: str | os.PathLike) -> dict[str, Any] | None:
    evaluation = raw.get("evaluation")
    if evaluation is None:
        return None
    require(isinstance(evaluation, Mapping), path, "evaluation must be a mapping")
    split = evaluation.get("split", "evaluation")
    require(isinstance(split, str), path, "evaluation.split must be text")
    paths = evaluation.get("paths")
    require(
        paths is None or (isinstance(paths, list) and all(isinstance(p, str) for p in paths)),
        path,
        "evaluation.paths must be a list of file names",
    )
    # Arrays are tensors of the file; what a format-1 dict held inline is not description.
    return {k: v for k, v in evaluation.items() if isinstance(v, (str, int, float, list, dict, type(None)))}


_BADGE_SHARES = ("target_share", "flagged", "wrong_flagged", "wrong_rest", "caught")


def _badge(raw: Mapping[str, Any], path: str | os.PathLike) -> dict[str, Any] | None:
    """The "?" badge's calibration (``fashion_desktop.model.badge.calibrate``), or None when absent."""
    badge = raw.get("badge")
    if badge is None:
        return None
    require(isinstance(badge, Mapping), path, "badge must be a mapping")
    cutoff = badge.get("cutoff")
    require(
        _finite(cutoff) and 0.0 <= cutoff <= 1.0,
        path,
        f"badge.cutoff must be a number between 0 and 1, not {str(cutoff)[:40]!r}",
    )
    for key in _BADGE_SHARES:  # NaN: nothing to count (no wrongly tagged photo, say)
        v = badge.get(key)
        ok = v is None or (_is_number(v) and (math.isnan(v) or 0.0 <= v <= 1.0))
        require(ok, path, f"badge.{key} must be a share between 0 and 1, not {str(v)[:40]!r}")
    for key in ("photos", "judged"):
        n = badge.get(key, 0)
        require(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0,
            path,
            f"badge.{key} must be a whole number of photos, not {str(n)[:40]!r}",
        )
    for key in ("score", "chosen_on", "measured_on"):
        require(isinstance(badge.get(key, ""), str), path, f"badge.{key} must be text")
    return dict(badge)


@dataclass(frozen=True, kw_only=True)
class BundleDescription:
    """What a bundle says about its model: everything but the tensors. Each field is declared here once;
    ``fashion_desktop.model.bundle.Bundle`` adds the weights to these fields.

    ``groups`` maps each label to a group name (e.g. ``category``, ``colour``) or is empty;
    ``thresholds`` holds one default threshold per label (DEFAULT_THRESHOLD each when left empty).
    ``evaluation`` holds the evaluation's plain values (``split``, ``paths``), or None when the bundle
    carries no evaluation; its arrays are tensors of the file. ``from_raw`` validates a stored one.
    """

    arch: str
    labels: tuple[str, ...]
    thresholds: tuple[float, ...] = ()
    input_size: int = 224
    resize: str = "squash"  # "squash": resize to input_size x input_size, as the seed did
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    groups: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)
    evaluation: Mapping[str, Any] | None = None
    format_version: int = FORMAT_VERSION
    # Groups whose labels exclude each other (one value per photo: softmax over the group, tagged with
    # its top value at the group's floor); see fashion_desktop.model.groups. Absent: every label sigmoid.
    exclusive_groups: tuple[str, ...] = ()
    # Groups every scored photo gets a value of: when none of its labels passes, the top-scoring one (a
    # model trained on one item per photo: every photo has a category). Absent: no such rule (as before).
    at_least_one_groups: tuple[str, ...] = ()
    # The "?" badge's calibration (``fashion_desktop.model.badge.calibrate``): its cutoff and what it
    # flags on the evaluated photos. Absent: computed from the evaluation arrays, else the old margin rule.
    badge: Mapping[str, Any] | None = None
    # Score each photo and its mirror image and average the scores (``scoring.logits_for_batch``).
    tta_flip: bool = False

    def __post_init__(self) -> None:
        if not self.thresholds:
            object.__setattr__(self, "thresholds", tuple(DEFAULT_THRESHOLD for _ in self.labels))

    @classmethod
    def from_raw(cls, raw: object, path: str | os.PathLike) -> BundleDescription:
        """Validate a bundle's description (a dict as stored) and return it typed.

        Missing ``thresholds`` mean DEFAULT_THRESHOLD for every label; missing groups, metrics and
        provenance mean empty. Raises BundleError naming ``path`` and the first field that is wrong.
        """
        version = _format_version(raw, path)
        raw = cast(Mapping[str, Any], raw)  # _format_version refused anything else
        arch = raw.get("arch")
        require(isinstance(arch, str) and arch, path, f"arch must be an architecture name, not {arch!r}")
        labels = _labels(raw, path)
        thresholds = _thresholds(raw, labels, path)
        size = _input_size(raw, path)
        resize = raw.get("resize", "squash")
        require(resize in RESIZE_MODES, path, f"resize {resize!r} is not one of {', '.join(RESIZE_MODES)}")
        mean = _triple(raw, "mean", path)
        std = _triple(raw, "std", path)
        require(all(s > 0 for s in std), path, f"std must be above 0, not {list(std)}")
        groups = _groups(raw, labels, path)
        exclusive = _exclusive_groups(raw, labels, groups, thresholds, path)
        at_least_one = _at_least_one_groups(raw, labels, groups, path)
        tta_flip = raw.get("tta_flip", False)
        require(isinstance(tta_flip, bool), path, f"tta_flip must be true or false, not {tta_flip!r}")
        metrics = raw.get("metrics") or {}
        require(isinstance(metrics, Mapping), path, "metrics must be a mapping")
        return cls(
            arch=arch,
            labels=tuple(labels),
            thresholds=tuple(float(t) for t in thresholds),
            input_size=size,
            mean=mean,
            std=std,
            resize=resize,
            groups=groups,
            metrics=dict(metrics),
            provenance=_provenance(raw, path),
            evaluation=_evaluation(raw, path),
            format_version=version,
            exclusive_groups=exclusive,
            at_least_one_groups=at_least_one,
            badge=_badge(raw, path),
            tta_flip=tta_flip,
        )

    def to_raw(self) -> dict[str, Any]:
        """The description as stored (written as the current format version)."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "arch": self.arch,
            "labels": list(self.labels),
            "groups": dict(self.groups),
            "exclusive_groups": list(self.exclusive_groups),
            "at_least_one_groups": list(self.at_least_one_groups),
            "tta_flip": bool(self.tta_flip),
            "thresholds": [float(t) for t in self.thresholds],
            "input_size": int(self.input_size),
            "resize": self.resize,
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
            "metrics": dict(self.metrics),
            "provenance": dict(self.provenance),
            "evaluation": dict(self.evaluation) if self.evaluation is not None else None,
            "badge": dict(self.badge) if self.badge is not None else None,
        }

    def exclusive_columns(self) -> tuple[Any, ...]:
        """Column indices of each exclusive group (``fashion_desktop.model.groups.exclusive_columns``)."""
        from .groups import exclusive_columns

        return exclusive_columns(self.labels, self.groups, self.exclusive_groups)

    def at_least_one_columns(self) -> tuple[Any, ...]:
        """Column indices of each at-least-one group (``model.groups.at_least_one_columns``)."""
        from .groups import at_least_one_columns

        return at_least_one_columns(self.labels, self.groups, self.at_least_one_groups)

    @property
    def stored_model_id(self) -> str | None:
        """The id written in the bundle (None when it has none: then it is derived from the content)."""
        mid = self.provenance.get("model_id")
        return str(mid) if mid else None


def content_model_id(
    weights: Iterable[tuple[str, str, tuple[int, ...], Iterable[bytes]]], labels: Iterable[str]
) -> str:
    """A model id derived from the content, for bundles that carry none: ``sha256:<16 hex>``.

    ``weights`` yields ``(name, safetensors dtype, shape, chunks of little-endian C-order bytes)`` for
    each weight without the ``state_dict.`` prefix, in any order (they are hashed sorted by name).
    Two bundles get the same id only when their weights and labels are equal.
    """
    h = hashlib.sha256()
    for name, dtype, shape, chunks in sorted(weights, key=lambda w: w[0]):
        h.update(json.dumps([name, dtype, list(shape)]).encode())
        for chunk in chunks:
            h.update(chunk)
    h.update(json.dumps(list(labels), ensure_ascii=False).encode())
    return f"sha256:{h.hexdigest()[:16]}"
